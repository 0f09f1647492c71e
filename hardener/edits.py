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


def merge_inserts(edits: list[Edit]) -> list[Edit]:
    """Join insertions at the same offset into one edit (in list order): one change may not
    hold two edits at one point, and appending to the last list of a service lands exactly
    where a new key of that service goes."""
    out: list[Edit] = []
    for edit in edits:
        same = next((i for i, e in enumerate(out) if e.start == e.end == edit.start == edit.end), None)
        if same is None:
            out.append(edit)
        else:
            out[same] = Edit(edit.start, edit.end, out[same].replacement + edit.replacement)
    return out


def offset_before(offset: int, edits: Iterable[Edit]) -> int:
    """Where ``offset`` of the text ``apply_edits`` produced was in the text it was given.

    An offset inside replacement text maps to the start of the span it replaced: the
    inserted line did not exist before, the place it went to did.
    """
    shift = 0
    for edit in sorted(edits):
        new_start = edit.start + shift
        if offset < new_start:
            break
        if offset < new_start + len(edit.replacement):
            return edit.start
        shift += len(edit.replacement) - (edit.end - edit.start)
    return offset - shift
