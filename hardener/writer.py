"""Every write hardener makes goes through here: atomic replacement behind one write gate.

Atomic: a reader (or a crash, or Ctrl-C) sees either the old file or the new one, never half
of each: the bytes go to a temp file in the same directory (same filesystem, so the rename is
atomic), are flushed to disk, get the original's permission bits, and only then replace it.

The gate (``Gate``): hardener runs on repositories it did not write, so a path a transform
asks for is only a wish. The real path of the target and of each parent directory must lie
inside the repository root (for the digest cache: inside the cache directory); a symlink is
never followed out of it; a target that is a symlink to another file of the run, to a file of
another kind (``.dockerignore -> .gitignore``) or to nothing (a dangling link), and a target
that is not a regular file (FIFO, device, directory) are refused; directories are created
one component at a time, each only after the one above it was checked. A refusal is a
``Refused`` (bad input, exit 2) naming the file and the reason; nothing is written then.

``HARDENER_FAULT_AT=N`` interrupts the Nth write of the process just before its rename (the
temp file exists, the target is still old): ``HARDENER_FAULT_ACTION`` is ``kill`` (SIGKILL,
the default: a crash), ``raise`` (an exception) or ``pause`` (prints ``hardener-fault: paused``
to stderr and waits until the file ``HARDENER_FAULT_RESUME`` exists, so a test can edit the
file or send a signal meanwhile). Tests use it to interrupt a run at every
write and check that no secret value is lost.
"""
from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hardener.errors import BadInput


class _Any:
    """``expect`` default: write whatever is on disk now."""


ANY = _Any()


class Refused(BadInput):
    """A write the gate will not make (or a target that changed since it was read)."""


class Changed(Refused):
    """The file on disk is no longer what hardener read: someone else saved it meanwhile."""


def atomic_write(path: Path, data: bytes, new_mode: int | None = None, *, expect: bytes | None | _Any = ANY) -> None:
    """Replace ``path`` with ``data``; on any failure the original is left untouched.

    A symlink is written through to its target, so the link itself stays a link (callers
    that did not check the link go through ``Gate.write``). ``new_mode`` sets the permission
    bits of a file that does not exist yet (e.g. 0o600 for a secrets file); an existing file
    keeps its own. ``expect``: the content the file must still have just before the rename
    (``None``: it must not exist), else ``Changed`` and nothing is replaced.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    original = _stat(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _copy_metadata(original, tmp, new_mode)
        _fault_point()
        if not isinstance(expect, _Any) and _current(target) != expect:
            raise Changed("changed on disk while hardener was working on it; not written (run again)", None, str(path))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Gate:
    """Checks and makes writes below one root (a repository, or the digest cache)."""

    root: Path  # as the run spells it (absolute)
    real_root: Path
    others: frozenset[Path] = frozenset()  # the run's files (absolute): a link to one of them is refused

    @classmethod
    def at(cls, root: Path, others: Iterable[Path] = ()) -> Gate:
        absolute = Path(os.path.abspath(root))
        return cls(absolute, Path(os.path.realpath(absolute)), frozenset(Path(os.path.abspath(p)) for p in others))

    def check(self, path: Path) -> Path:
        """The real file a write of ``path`` replaces (it may not exist yet), else ``Refused``."""
        shown = str(path)
        parts = self._parts(path, shown)
        directory = self.real_root
        for index, part in enumerate(parts[:-1]):
            step = directory / part
            kind = _lstat_kind(step)
            if kind is None:  # missing: this and every directory below it will be created here
                return directory.joinpath(*parts[index:])
            if kind == "link":
                step = Path(os.path.realpath(step))
                if not self._inside(step):
                    raise Refused(f"refusing to write: {part}/ is a symlink leading outside {self.root}", None, shown)
                kind = _lstat_kind(step)
            if kind != "dir":
                raise Refused(f"refusing to write: {part} is not a directory", None, shown)
            directory = step
        return self._target(directory / parts[-1], Path(os.path.abspath(path)), shown)

    def write(self, path: Path, data: bytes, new_mode: int | None = None, *, expect: bytes | None | _Any = ANY) -> None:
        """Check ``path``, create its missing directories inside the root, then replace it atomically."""
        real = self.check(path)
        self._make_parents(real, str(path))
        real = self.check(path)  # again: a directory may have been swapped for a link meanwhile
        try:
            atomic_write(real, data, new_mode, expect=expect)
        except Changed as exc:
            raise Changed(exc.message, None, str(path)) from None

    def _parts(self, path: Path, shown: str) -> tuple[str, ...]:
        rel = os.path.relpath(os.path.abspath(path), self.root)
        parts = Path(rel).parts
        if not parts or rel == "." or parts[0] == ".." or os.path.isabs(rel):
            raise Refused(f"refusing to write outside {self.root}", None, shown)
        return parts

    def _target(self, target: Path, lexical: Path, shown: str) -> Path:
        kind = _lstat_kind(target)
        if kind is None or kind == "file":
            return target
        if kind != "link":
            raise Refused(f"refusing to write: not a regular file ({kind})", None, shown)
        real = Path(os.path.realpath(target))
        if not self._inside(real):
            raise Refused(f"refusing to write: a symlink leading outside {self.root}", None, shown)
        real_kind = _lstat_kind(real)
        if real_kind is None:
            raise Refused("refusing to write: a dangling symlink", None, shown)
        if real_kind != "file":
            raise Refused(f"refusing to write: a symlink to a {real_kind}, not a regular file", None, shown)
        if any(Path(os.path.realpath(other)) == real for other in self.others if other != lexical):
            raise Refused(f"refusing to write: a symlink to {real.relative_to(self.real_root)}, "
                          "another file this run writes", None, shown)
        if _kind_of(real.name) != _kind_of(target.name):
            raise Refused(f"refusing to write: a symlink to {real.relative_to(self.real_root)}, "
                          "a file of another kind", None, shown)
        return real

    def _inside(self, real: Path) -> bool:
        return real == self.real_root or self.real_root in real.parents

    def _make_parents(self, real: Path, shown: str) -> None:
        missing = []
        directory = real.parent
        while _lstat_kind(directory) is None and self._inside(directory) and directory != self.real_root:
            missing.append(directory)
            directory = directory.parent
        for step in reversed(missing):  # top down, each inside a directory checked above
            with contextlib.suppress(FileExistsError):
                os.mkdir(step)
            if _lstat_kind(step) != "dir":
                raise Refused(f"refusing to write: {step.name} is not a directory", None, shown)


def _lstat_kind(path: Path) -> str | None:
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "FIFO" if stat.S_ISFIFO(mode) else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file"


def _kind_of(name: str) -> str:
    """What a file is for, by name: a link may only stand for a file of the same kind."""
    lower = name.lower()
    if lower.endswith(".dockerignore"):
        return "dockerignore"
    if "dockerfile" in lower or "containerfile" in lower:
        return "dockerfile"
    if lower.endswith(".gitignore"):
        return "gitignore"
    suffix = os.path.splitext(lower)[1]
    return ".yaml" if suffix == ".yml" else suffix or lower


_FAULTS = {"count": 0}
_FAULT_LOCK = threading.Lock()


def _fault_point() -> None:
    """The fault-injection hook (see the module docstring); a no-op unless HARDENER_FAULT_AT is set."""
    wanted = os.environ.get("HARDENER_FAULT_AT")
    if not wanted:
        return
    with _FAULT_LOCK:
        _FAULTS["count"] += 1
        hit = str(_FAULTS["count"]) == wanted.strip()
    if not hit:
        return
    action = os.environ.get("HARDENER_FAULT_ACTION", "kill")
    if action == "raise":
        raise RuntimeError(f"HARDENER_FAULT_AT={wanted}: injected fault")
    if action == "pause":
        _pause(os.environ.get("HARDENER_FAULT_RESUME"))
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _pause(resume: str | None) -> None:
    """Say so on stderr, then wait (at most a minute) for the file ``resume`` to exist."""
    sys.stderr.write("hardener-fault: paused\n")
    sys.stderr.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (resume and os.path.exists(resume)):
        time.sleep(0.05)


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
