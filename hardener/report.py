"""The report owns the outcome of a run: the summary line and the exit code (as black's does)."""
from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hardener.engine import FileResult
from hardener.errors import BadInput
from hardener.model import Refusal

EXIT_OK, EXIT_CHANGES, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class Mode(enum.Enum):
    DIFF = "diff"
    APPLY = "apply"
    CHECK = "check"


@dataclass(frozen=True)
class CompanionResult:
    """A companion file the run creates or changes (.dockerignore, a secrets file, …)."""

    path: str  # as shown
    original: bytes | None  # None: a new file
    content: bytes
    error: BadInput | None = None  # could not be written
    sensitive: bool = False  # a secret (compose-secrets): never shown

    def patch(self) -> str:
        """The file's patch as diff/json show it; a secret's content is replaced by its size."""
        from hardener.patch import unified_diff

        def shown(data: bytes, note: str) -> str:
            return f"<secret: {len(data)} bytes, not shown{note}>\n" if self.sensitive else data.decode("utf-8", "replace")

        before = None if self.original is None else shown(self.original, "")
        return unified_diff(self.path, before, shown(self.content, "; `hardener apply` writes it"))


@dataclass
class Report:
    mode: Mode
    results: list[FileResult] = field(default_factory=list)
    errors: list[BadInput] = field(default_factory=list)  # problems outside any one file's content
    companions: list[CompanionResult] = field(default_factory=list)
    exit_on_change: bool = False
    skipped: dict[str, int] = field(default_factory=dict)  # left out by discovery, per reason
    campaign: Any = None  # hardener.pr.campaign.Campaign when the run covered several repositories

    @property
    def changed(self) -> list[FileResult]:
        return [r for r in self.results if r.changed]

    @property
    def incomplete(self) -> list[tuple[str, Refusal]]:
        """Refusals caused by an outside failure (a registry that failed): a retry may succeed."""
        return [(r.path, f) for r in self.results for f in r.refusals if f.incomplete]

    def exit_code(self) -> int:
        """Worst first: hardener's bug, bad input, an incomplete run, then changes (when asked)."""
        if any(r.failure for r in self.results):
            return EXIT_INTERNAL
        if self.errors or any(r.error for r in self.results) or any(c.error for c in self.companions):
            return EXIT_BAD_INPUT
        if self.incomplete:
            return EXIT_PARTIAL
        wants_change_code = self.mode is Mode.CHECK or self.exit_on_change
        if wants_change_code and self.changed:
            return EXIT_CHANGES
        return EXIT_OK

    def summary(self) -> str:
        changed = self.changed
        levels = Counter(c.applicability.label for r in changed for c in r.changes)
        verb = "hardened" if self.mode is Mode.APPLY else "would be hardened"
        parts = [f"{_files(len(changed))} {verb}"]
        if levels:
            parts[0] += " (" + ", ".join(f"{n} {k}" for k, n in sorted(levels.items(), key=_level_order)) + ")"
        unchanged = sum(1 for r in self.results if not r.changed and not r.error and not r.failure)
        parts.append(f"{unchanged} unchanged")
        bad = len(self.errors) + sum(1 for r in self.results if r.error)
        if bad:
            parts.append(f"{bad} with errors")
        failed = sum(1 for r in self.results if r.failure)
        if failed:
            parts.append(f"{failed} failed")
        incomplete = len(self.incomplete)
        if incomplete:
            parts.append(f"{incomplete} left as they were because a registry failed (exit {EXIT_PARTIAL})")
        if self.skipped:
            parts.append("not discovered: " + ", ".join(f"{reason} ({n})" for reason, n in self.skipped.items()))
        return ", ".join(parts)


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _level_order(item: tuple[str, int]) -> int:
    return ["safe", "review", "unsafe"].index(item[0])
