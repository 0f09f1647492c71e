"""Text edits on a document's decoded text, applied back-to-front."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement`` (an insertion when start == end)."""

    start: int
    end: int
    replacement: str

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad edit span {self.start}..{self.end}")

    def overlaps(self, other: Edit) -> bool:
        if self.start == self.end == other.start == other.end:
            return True
        return self.start < other.end and other.start < self.end


class OverlappingEdits(ValueError):
    pass


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits; raises OverlappingEdits when two touch the same bytes."""
    ordered = sorted(edits)
    for before, after in zip(ordered, ordered[1:]):
        if before.overlaps(after):
            raise OverlappingEdits(f"edits {before} and {after} overlap")
    if ordered and ordered[-1].end > len(text):
        raise ValueError("edit beyond the end of the text")
    out = text
    for edit in reversed(ordered):
        out = out[: edit.start] + edit.replacement + out[edit.end :]
    return out
