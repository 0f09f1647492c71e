"""Hunks of one file's change, shared by the markdown and SARIF reports.

A hunk knows its line ranges on both sides, its patch text (the same hunk ``hardener diff``
prints) and the exact replacement it stands for, so a report can put each hunk next to
the changes that made it and a SARIF fix can carry it as a ``replacement``.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hardener.model import Change
from hardener.output.linediff import LineMatcher
from hardener.patch import format_hunk as hunk_text  # one hunk format for diff, markdown and SARIF
from hardener.patch import split_lines


@dataclass(frozen=True)
class Replacement:
    """Old lines ``[old_start, old_end)`` (0-based) replaced by ``inserted``."""

    old_start: int
    old_end: int
    inserted: str


@dataclass(frozen=True)
class Hunk:
    old_first: int  # 1-based first line of the hunk's context on the old side
    old_last: int  # 1-based last line (inclusive); old_first - 1 when the old side is empty
    text: str  # "@@ … @@" plus its lines
    replacements: tuple[Replacement, ...]

    def touches(self, first: int, last: int) -> bool:
        """Whether old lines ``first..last`` (1-based) meet this hunk's changed lines."""
        for rep in self.replacements:
            # a pure insertion sits between old lines old_start and old_start + 1
            lo = rep.old_start + 1 if rep.old_end > rep.old_start else rep.old_start
            hi = max(rep.old_end, rep.old_start + 1)
            if first <= hi and lo <= last:
                return True
        return False


def hunks(before: str, after: str, context: int = 3) -> list[Hunk]:
    old = split_lines(before)
    new = split_lines(after)
    matcher = LineMatcher(old, new)
    out = []
    for group in matcher.get_grouped_opcodes(context):
        reps = tuple(
            Replacement(i1, i2, "".join(new[j1:j2])) for tag, i1, i2, j1, j2 in group if tag != "equal"
        )
        out.append(Hunk(group[0][1] + 1, group[-1][2], hunk_text(old, new, group), reps))
    return out


def change_lines(change: Change, text: str) -> tuple[int, int]:
    """The 1-based lines of ``text`` a change spans: its reported lines and its edits.

    A Compose change reports the service's line but inserts further down; its edits say
    where. Edits of changes found in a later engine round refer to an intermediate text,
    so those beyond the end of ``text`` are ignored.
    """
    first, last = change.line, change.last_line
    for edit in change.edits:
        if edit.end <= len(text):
            first = min(first, text.count("\n", 0, edit.start) + 1)
            last = max(last, text.count("\n", 0, edit.end) + 1)
    return first, last


def changes_of(hunk: Hunk, changes: Iterable[Change], text: str) -> list[Change]:
    return [c for c in changes if hunk.touches(*change_lines(c, text))]


def line_map(before: str, after: str) -> dict[int, int]:
    """1-based old line -> new line for lines that survive unchanged or are replaced in place.

    Used to move a change's line numbers from the text it was found on to a later text
    (the review PR's diff is taken against the safe branch, not the base).
    """
    old = split_lines(before)
    new = split_lines(after)
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in LineMatcher(old, new).get_opcodes():
        for k in range(i2 - i1):
            mapping[i1 + k + 1] = min(j1 + k, max(j2 - 1, j1)) + 1 if tag != "delete" else j1 + 1
    return mapping
