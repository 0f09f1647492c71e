"""Text edits on a document's decoded text, applied back-to-front."""
from __future__ import annotations

from bisect import bisect_right
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
    # one join, not a slice-and-concatenate per edit: 10,000 edits on a 1 MB text would copy 10 GB
    parts: list[str] = []
    at = 0
    for edit in ordered:
        parts += (text[at : edit.start], edit.replacement)
        at = edit.end
    parts.append(text[at:])
    return "".join(parts)


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
    return OffsetMap(edits).before(offset)


class OffsetMap:
    """``offset_before`` for one set of edits asked many times: sorted once, then O(log n)
    per offset (a round with 2,000 changes maps each of their offsets back)."""

    def __init__(self, edits: Iterable[Edit]) -> None:
        self.edits = sorted(edits)
        self.new_starts: list[int] = []  # where each edit's replacement begins in the new text
        self.shifts = [0]  # shifts[k]: how far edits[:k] moved the text after them
        for edit in self.edits:
            self.new_starts.append(edit.start + self.shifts[-1])
            self.shifts.append(self.shifts[-1] + len(edit.replacement) - (edit.end - edit.start))

    def before(self, offset: int) -> int:
        # replacements do not overlap in the new text and follow each other in order, so only
        # the last one starting at or before ``offset`` can hold it
        k = bisect_right(self.new_starts, offset)
        if k and offset < self.new_starts[k - 1] + len(self.edits[k - 1].replacement):
            return self.edits[k - 1].start
        return offset - self.shifts[k]
