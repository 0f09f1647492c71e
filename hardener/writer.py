"""Atomic file replacement for ``hardener apply``.

A reader (or a crash, or Ctrl-C) sees either the old file or the new one, never half of
each: the bytes go to a temp file in the same directory (same filesystem, so the rename is
atomic), are flushed to disk, get the original's permission bits, and only then replace it.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, new_mode: int | None = None) -> None:
    """Replace ``path`` with ``data``; on any failure the original is left untouched.

    A symlink is written through to its target, so the link itself stays a link.
    ``new_mode`` sets the permission bits of a file that does not exist yet (e.g. 0o600
    for a secrets file); an existing file keeps its own.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    original = _stat(target)
    if original is None:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _copy_metadata(original, tmp, new_mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _copy_metadata(original: os.stat_result | None, tmp: str, new_mode: int | None = None) -> None:
    """mkstemp makes 0o600 files; give the new file what the old one had (or a fresh file's mode)."""
    if original is None:
        os.chmod(tmp, (0o666 & ~_umask()) if new_mode is None else new_mode)
        return
    if hasattr(os, "chown") and (original.st_uid, original.st_gid) != _owner(tmp):
        # Only root (or the owner for a group it belongs to) may do this; elsewhere the
        # file becomes ours, as it would with any editor that saves by rename.
        with contextlib.suppress(OSError):
            os.chown(tmp, original.st_uid, original.st_gid)
    os.chmod(tmp, stat.S_IMODE(original.st_mode))  # after chown, which may clear set-id bits


def _owner(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_uid, info.st_gid


def _umask() -> int:
    """The process umask; reading it means setting it, so put it straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not possible on every platform, so best effort."""
    flags = getattr(os, "O_DIRECTORY", 0) | os.O_RDONLY
    with contextlib.suppress(OSError):
        fd = os.open(directory, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
