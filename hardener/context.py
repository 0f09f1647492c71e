"""What transforms may know besides the document: the repo root and the configuration."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hardener.limits import HARD_MAX_FILE_SIZE, read_bounded
from hardener.model import FileWrite


class FileView:
    """Files as a run sees them: the disk, overlaid with the companion writes accepted so far
    and with the hardened text of the files the run has already processed.

    The engine gives each file a child view; the child's writes reach the run's view only
    when that file's result is accepted, so a rejected output leaves no companion behind.
    A file read across files (the Dockerfile a Compose `build:` uses, the other file of an
    override pair) is read here, so it is the text this run produces, in `diff` as in
    `apply`: one run reaches the state a second run would start from.
    The run's view also remembers what it read from the disk and what ``apply`` wrote, so a
    write can check that nobody else changed the file meanwhile, and the report can show the
    file as it was before the run.
    """

    def __init__(self, parent: FileView | None = None) -> None:
        self._parent = parent
        self._writes: dict[Path, FileWrite] = {}
        self._outputs: dict[Path, bytes] = {}  # the run view only: processed files' output
        self._disk: dict[Path, bytes | None] = {}  # first read of each file (run view only)
        self._written: dict[Path, bytes] = {}  # what apply put there since (run view only)

    def read(self, path: Path) -> bytes | None:
        if _READ_LOG is not None:
            _READ_LOG.add(_key(path))
        write = self._writes.get(path)
        if write is not None:
            return write.content
        if self._parent is not None:
            return self._parent.read(path)
        output = self._outputs.get(_key(path)) if self._outputs else None
        if output is not None:
            return output
        content = _read(path)
        self._disk.setdefault(path, content)
        return content

    def record_output(self, path: Path, content: bytes) -> None:
        """The run's result for a processed file, which later reads of it see (not a write)."""
        self.run_view()._outputs[_key(path)] = content

    def stage(self, write: FileWrite) -> None:
        self._writes[write.path] = write

    def child(self) -> FileView:
        return FileView(self)

    def run_view(self) -> FileView:
        """The view of the whole run (the top of the chain): a key for per-run caches."""
        view = self
        while view._parent is not None:
            view = view._parent
        return view

    def state(self) -> tuple[int, tuple[tuple[Path, bytes], ...]]:
        """What reads through this view depend on besides the disk: how many processed files
        the run has recorded, and the writes staged along the chain. Equal states read the
        same bytes, so a per-round computation over many files may be kept for the next round."""
        staged: dict[Path, bytes] = {}
        view: FileView | None = self
        while view is not None:
            for path, write in view._writes.items():
                staged.setdefault(path, write.content)
            view = view._parent
        return len(self.run_view()._outputs), tuple(sorted(staged.items()))

    def commit(self) -> None:
        if self._parent is not None:
            self._parent._writes.update(self._writes)

    def writes(self) -> list[FileWrite]:
        return [self._writes[p] for p in sorted(self._writes)]

    def discard(self, paths: Iterable[Path]) -> None:
        """Forget staged writes that could not be made: later files see the disk again."""
        for path in paths:
            self._writes.pop(path, None)

    def original(self, path: Path) -> bytes | None:
        """The file as it was before the run (read now if no transform read it)."""
        if path not in self._disk:
            self._disk[path] = _read(path)
        return self._disk[path]

    def on_disk(self, path: Path) -> bytes | None:
        """What the disk should hold now: the last write of this run, else the original."""
        return self._written[path] if path in self._written else self.original(path)

    def written(self, path: Path, content: bytes) -> None:
        self._written[path] = content


# Paths read through any view while a split run's worker logs them (hardener/split_run.py):
# a file that read what another part of the repository changed makes the split invalid.
_READ_LOG: set[Path] | None = None


def log_reads(into: set[Path] | None) -> None:
    """Add every path read through a file view to ``into`` from now on (None: stop)."""
    global _READ_LOG
    _READ_LOG = into


def view_key(path: Path) -> Path:
    """A path as the views compare them (normalised, absolute, symlinks not followed)."""
    return _key(path)


def _read(path: Path) -> bytes | None:
    """The file's bytes; None when absent, unreadable, not a regular file (a FIFO would block)
    or larger than any file hardener edits (``/dev/zero`` under a companion's name)."""
    try:
        return read_bounded(path, HARD_MAX_FILE_SIZE)
    except OSError:
        return None


def _key(path: Path) -> Path:
    # Cross-file reads build paths like `compose_dir/./web/../Dockerfile`; discovery gives
    # another spelling of the same file. Normalised, not resolved: a symlink is not followed.
    return Path(os.path.normpath(os.path.abspath(path)))


@dataclass(frozen=True)
class Context:
    """Read-only facts for transforms. One per repository root."""

    root: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    file: Path | None = None  # the file being transformed
    offline: bool = False  # no network: transforms that need it refuse
    files: FileView = field(default_factory=FileView, compare=False)
    resolver: Any = None  # digest resolver shared by a run (hardener.oci.digest_cache); None: per process
    scope: tuple[Path, ...] = ()  # the paths the run was asked about (empty: the whole root)
    compose_projects: tuple[tuple[str, ...], ...] = ()  # [tool.hardener] compose-projects

    def for_file(self, path: Path) -> Context:
        return replace(self, file=path)

    @property
    def build_context(self) -> Path | None:
        """The directory a Dockerfile is built from (its own, unless Compose says otherwise)."""
        return self.file.parent if self.file is not None else None

    def option(self, transform_name: str, key: str, default: Any = None) -> Any:
        """``[tool.hardener.<transform-name>] key = …`` from the configuration."""
        section = self.options.get(transform_name)
        if isinstance(section, Mapping):
            return section.get(key, default)
        return default
