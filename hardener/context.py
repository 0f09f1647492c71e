"""What transforms may know besides the document: the repo root and the configuration."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hardener.limits import read_bounded
from hardener.model import FileWrite


class FileView:
    """Companion files as a run sees them: the disk, overlaid with the writes accepted so far.

    The engine gives each file a child view; the child's writes reach the run's view only
    when that file's result is accepted, so a rejected output leaves no companion behind.
    """

    def __init__(self, parent: FileView | None = None) -> None:
        self._parent = parent
        self._writes: dict[Path, FileWrite] = {}

    def read(self, path: Path) -> bytes | None:
        write = self._writes.get(path)
        if write is not None:
            return write.content
        if self._parent is not None:
            return self._parent.read(path)
        try:
            return read_bounded(path)  # a FIFO or /dev/zero under a companion's name reads as absent
        except OSError:
            return None

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

    def commit(self) -> None:
        if self._parent is not None:
            self._parent._writes.update(self._writes)

    def writes(self) -> list[FileWrite]:
        return [self._writes[p] for p in sorted(self._writes)]


@dataclass(frozen=True)
class Context:
    """Read-only facts for transforms. One per repository root."""

    root: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    file: Path | None = None  # the file being transformed
    offline: bool = False  # no network: transforms that need it refuse
    files: FileView = field(default_factory=FileView, compare=False)
    resolver: Any = None  # digest resolver shared by a run (hardener.oci.digest_cache); None: per process

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
