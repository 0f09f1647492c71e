"""Bounded reads: every file hardener reads from a repository goes through here.

A repository is untrusted input. A file named like a Dockerfile or a `.dockerignore` may be
a FIFO (opening it blocks until a writer comes), `/dev/zero` behind a symlink or an
`env_file:` (reading never ends) or simply huge (parsing takes minutes). So a read opens
without blocking, accepts only a regular file, and never holds more than its cap in memory.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

# Dockerfiles and Compose files larger than this are refused before parsing; a repository's
# [tool.hardener] max-file-size may change it, never above HARD_MAX_FILE_SIZE.
DEFAULT_MAX_FILE_SIZE = 1 << 20
HARD_MAX_FILE_SIZE = 64 << 20
# Auxiliary files (env_file, .dockerignore, .gitignore, package.json, git metadata): what
# hardener reads from them is small, and more than this is not a file a human maintains.
AUX_LIMIT = 4 << 20

_CHUNK = 1 << 16


class ReadRefused(OSError):
    """The file is not a regular file or exceeds its cap: treated like an unreadable file."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(None, message)
        self.filename = str(path) if path is not None else None

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}" if self.filename else str(self.strerror)


def read_bounded(path: Path | str, limit: int = AUX_LIMIT, *, truncate: bool = False) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them.

    Raises ``ReadRefused`` for a FIFO, device, socket or directory, and for a file longer
    than ``limit`` unless ``truncate`` (then only its first ``limit`` bytes are read).
    Other ``OSError``s (missing, permission) pass through as ``read_bytes`` raises them.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReadRefused(f"not a regular file ({_kind(info.st_mode)})", path)
        if info.st_size > limit and not truncate:
            raise ReadRefused(too_large(info.st_size, limit), path)
        return _read_at_most(fd, limit, path, truncate)
    finally:
        os.close(fd)


def read_text_bounded(path: Path | str, limit: int = AUX_LIMIT, *, truncate: bool = False) -> str:
    """``read_bounded`` decoded as UTF-8, undecodable bytes replaced (facts, not documents)."""
    return read_bounded(path, limit, truncate=truncate).decode("utf-8", errors="replace")


def too_large(size: int, limit: int) -> str:
    return f"file is {_size(size)}, over the {_size(limit)} limit (max-file-size)"


def _read_at_most(fd: int, limit: int, path: Path | str, truncate: bool) -> bytes:
    # the size from fstat can be stale (a file growing while read): count what arrives
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        if truncate:
            return data[:limit]
        raise ReadRefused(too_large(len(data), limit), path)
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a file"


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n} bytes"


def walk_bounded(root: Path, depth: int, budget: int, descend: Callable[[Path], bool]) -> Iterator[Path]:
    """The regular files below ``root``, at most ``depth`` folders down and ``budget`` directory
    entries read in all, symlinks never followed; ``descend`` says which folders to enter.
    What a repository holds is not ours to bound: a walk that reads context must be."""
    stack = [(root, 0)]
    while stack and budget > 0:
        folder, level = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            budget -= 1
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if level < depth and descend(entry):
                    stack.append((entry, level + 1))
            elif entry.is_file():
                yield entry
