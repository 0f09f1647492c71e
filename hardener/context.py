"""What transforms may know besides the document: the repo root and the configuration."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Context:
    """Read-only facts for transforms. One per repository root."""

    root: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    file: Path | None = None  # the file being transformed
    offline: bool = False  # no network: transforms that need it refuse

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
