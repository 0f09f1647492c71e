"""difflib's line alignment, computed without its quadratic searches.

Patches must stay byte-identical to ``difflib.SequenceMatcher(None, old, new,
autojunk=False)``, so this is the same algorithm, not another diff: find the longest
matching block of a rectangle (the earliest in ``old``, then in ``new``, among the longest),
recurse left and right of it. difflib answers each rectangle with a dynamic programme over
every pair of equal lines, and walks each line's occurrence list from its start: a Compose
file whose 2,000 services repeat ``    ports:`` pays millions of steps per rectangle, and
hardening touches thousands of places, so thousands of rectangles.

Two exact shortcuts. The maximal runs of at least ``_MIN_RUN`` equal lines are found once,
by hashing every window of that many lines. When they form a chain (each ends, in both
texts, before the next begins; the usual shape of an edited file) a rectangle's longest
match, if it is that long, is either the first or last run of the chain that meets the
rectangle, clipped, or the longest run between them, which a sparse table answers at once.
Shorter matches go to difflib's own programme, which here starts each occurrence list at
the rectangle (bisect) instead of at the top. Runs that do not form a chain (a file made of
repeated blocks) leave the whole file to that programme.
"""
from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Sequence

_MIN_RUN = 4
_PAIR_BUDGET = 8  # window matches per line before the text counts as repetitive


class LineMatcher(difflib.SequenceMatcher[str]):
    """``SequenceMatcher(None, a, b, autojunk=False)`` with the same blocks, found faster."""

    # set by SequenceMatcher, undeclared in its stubs
    a: Sequence[str]
    b: Sequence[str]
    b2j: dict[str, list[int]]
    matching_blocks: list[difflib.Match] | None

    def __init__(self, a: Sequence[str], b: Sequence[str]) -> None:
        super().__init__(None, a, b, autojunk=False)

    def get_matching_blocks(self) -> list[difflib.Match]:
        if self.matching_blocks is not None:
            return self.matching_blocks
        la, lb = len(self.a), len(self.b)
        chain = _Chain.of(self.a, self.b)
        queue = [(0, la, 0, lb, 0, len(chain))]
        blocks = []
        while queue:  # difflib's loop; each rectangle also carries the chain runs it may meet
            alo, ahi, blo, bhi, lo, hi = queue.pop()
            i, j, k, at = chain.longest(alo, ahi, blo, bhi, lo, hi)
            if k < _MIN_RUN:
                i, j, k = self._dp_longest(alo, ahi, blo, bhi)
                lo = hi = at = 0  # no run of _MIN_RUN lines meets this rectangle or its parts
            if k:
                blocks.append((i, j, k))
                if alo < i and blo < j:
                    queue.append((alo, i, blo, j, lo, max(lo, at)))
                if i + k < ahi and j + k < bhi:
                    queue.append((i + k, ahi, j + k, bhi, min(at + 1, hi), hi))
        found = [difflib.Match._make(b) for b in _joined(blocks, la, lb)]
        self.matching_blocks = found
        return found

    def _dp_longest(self, alo: int, ahi: int, blo: int, bhi: int) -> tuple[int, int, int]:
        """difflib's find_longest_match without junk, each occurrence list entered at ``blo``."""
        a, b2j = self.a, self.b2j
        besti, bestj, bestsize = alo, blo, 0
        j2len: dict[int, int] = {}
        for i in range(alo, ahi):
            js = b2j.get(a[i])
            new: dict[int, int] = {}
            if js:
                for x in range(bisect_left(js, blo), len(js)):
                    j = js[x]
                    if j >= bhi:
                        break
                    k = new[j] = j2len.get(j - 1, 0) + 1
                    if k > bestsize:
                        besti, bestj, bestsize = i - k + 1, j - k + 1, k
            j2len = new
        return besti, bestj, bestsize


def _joined(blocks: list[tuple[int, int, int]], la: int, lb: int) -> list[tuple[int, int, int]]:
    """difflib's ending: sorted, adjacent blocks merged, the (la, lb, 0) sentinel appended."""
    out = []
    i1 = j1 = k1 = 0
    for i2, j2, k2 in sorted(blocks):
        if i1 + k1 == i2 and j1 + k1 == j2:
            k1 += k2
        else:
            if k1:
                out.append((i1, j1, k1))
            i1, j1, k1 = i2, j2, k2
    if k1:
        out.append((i1, j1, k1))
    return out + [(la, lb, 0)]


class _Chain:
    """The maximal runs of ``_MIN_RUN`` or more equal lines, when they form a chain."""

    def __init__(self, runs: list[tuple[int, int, int]]) -> None:
        self.runs = runs  # (start in a, start in b, length), rising in both
        self.table = _sparse_argmax([r[2] for r in runs])

    def __len__(self) -> int:
        return len(self.runs)

    @classmethod
    def of(cls, a: Sequence[str], b: Sequence[str]) -> _Chain:
        runs = _maximal_runs(a, b)
        chained = all(r[0] + r[2] <= s[0] and r[1] + r[2] <= s[1] for r, s in zip(runs, runs[1:]))
        return cls(runs if chained else [])

    def longest(self, alo: int, ahi: int, blo: int, bhi: int, lo: int, hi: int
                ) -> tuple[int, int, int, int]:
        """(i, j, size, index) of the rectangle's longest block among runs ``lo:hi``; size 0
        when none of them meets it. Runs inside the chain's first and last meeting runs lie
        wholly inside the rectangle, so only those two are clipped."""
        while lo < hi and self._clip(lo, alo, ahi, blo, bhi)[2] <= 0:
            lo += 1
        while hi > lo and self._clip(hi - 1, alo, ahi, blo, bhi)[2] <= 0:
            hi -= 1
        if lo == hi:
            return alo, blo, 0, lo
        best = (*self._clip(lo, alo, ahi, blo, bhi), lo)
        if hi - lo > 2:
            at = _query(self.table, lo + 1, hi - 1)
            if self.runs[at][2] > best[2]:
                best = (*self.runs[at], at)
        if hi - lo > 1:
            last = self._clip(hi - 1, alo, ahi, blo, bhi)
            if last[2] > best[2]:
                best = (*last, hi - 1)
        return best

    def _clip(self, index: int, alo: int, ahi: int, blo: int, bhi: int) -> tuple[int, int, int]:
        i, j, k = self.runs[index]
        shift = max(0, alo - i, blo - j)
        size = min(k, ahi - i, bhi - j) - shift
        return i + shift, j + shift, size


def _maximal_runs(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    """Every maximal diagonal run of at least ``_MIN_RUN`` equal lines, by start in ``a``;
    none when window matches exceed the budget (the text repeats itself too much)."""
    n = _MIN_RUN
    windows: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(b) - n + 1):
        windows.setdefault(tuple(b[j : j + n]), []).append(j)
    budget = _PAIR_BUDGET * (len(a) + len(b)) + 1000
    runs = []
    for i in range(len(a) - n + 1):
        for j in windows.get(tuple(a[i : i + n]), ()):
            budget -= 1
            if budget < 0:
                return []
            if i and j and a[i - 1] == b[j - 1]:
                continue  # inside a run that starts earlier
            k = n
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            runs.append((i, j, k))
    return runs


def _sparse_argmax(values: list[int]) -> list[list[int]]:
    """Sparse table: level p holds, for each start, the index of the largest value in the
    next 2**p (the earliest on a tie)."""
    table = [list(range(len(values)))]
    width = 1
    while 2 * width <= len(values):
        prev = table[-1]
        table.append([_better(values, prev[x], prev[x + width]) for x in range(len(values) - 2 * width + 1)])
        width *= 2
    table.append(values)  # the values ride along, last
    return table


def _query(table: list[list[int]], lo: int, hi: int) -> int:
    """Index of the largest value in ``lo:hi`` (non-empty), the earliest on a tie."""
    level = (hi - lo).bit_length() - 1
    row = table[level]
    return _better(table[-1], row[lo], row[hi - (1 << level)])


def _better(values: list[int], x: int, y: int) -> int:
    return y if values[y] > values[x] else x
