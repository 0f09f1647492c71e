"""hardener.edits: non-overlapping edits applied back-to-front on the original text."""
from __future__ import annotations

import pytest

from hardener.edits import Edit, OverlappingEdits, apply_edits, merge_inserts


@pytest.mark.parametrize(("text", "edits", "expected"), [
    pytest.param("FROM a\n", [Edit(5, 6, "b")], "FROM b\n", id="replace"),
    pytest.param("FROM a\n", [Edit(0, 0, "# x\n")], "# x\nFROM a\n", id="insert-at-start"),
    pytest.param("FROM a\n", [Edit(7, 7, "USER app\n")], "FROM a\nUSER app\n", id="insert-at-end"),
    pytest.param("FROM a\nRUN x\n", [Edit(7, 13, "")], "FROM a\n", id="delete"),
    pytest.param("", [Edit(0, 0, "x")], "x", id="empty-text"),
    pytest.param("abc", [], "abc", id="no-edits"),
    pytest.param("a b c", [Edit(4, 5, "Z"), Edit(0, 1, "X")], "X b Z", id="unsorted: offsets are the original's"),
    pytest.param("a b c", [Edit(0, 1, "long"), Edit(2, 3, "")], "long  c", id="earlier-growth-does-not-shift-later"),
    pytest.param("abcd", [Edit(0, 2, "X"), Edit(2, 4, "Y")], "XY", id="touching-spans"),
    pytest.param("ab", [Edit(1, 1, "-"), Edit(0, 1, "A")], "A-b", id="insert-right-after-a-replacement"),
    pytest.param("ab", [Edit(1, 1, "-"), Edit(1, 2, "B")], "a-B", id="insert-right-before-a-replacement"),
    pytest.param("a\r\nb\r\n", [Edit(3, 4, "B")], "a\r\nB\r\n", id="crlf-offsets-count-the-cr"),
    pytest.param("é✓x", [Edit(2, 3, "y")], "é✓y", id="offsets-are-characters-not-bytes"),
])
def test_apply_edits(text: str, edits: list[Edit], expected: str) -> None:
    assert apply_edits(text, edits) == expected


@pytest.mark.parametrize("edits", [
    pytest.param([Edit(0, 3, "x"), Edit(2, 4, "y")], id="crossing"),
    pytest.param([Edit(0, 4, "x"), Edit(1, 2, "y")], id="nested"),
    pytest.param([Edit(1, 1, "x"), Edit(1, 1, "y")], id="two-inserts-at-one-point"),
    pytest.param([Edit(0, 3, "x"), Edit(1, 1, "y")], id="insert-inside-a-replacement"),
    pytest.param([Edit(0, 2, "x"), Edit(0, 2, "x")], id="same-edit-twice"),
])
def test_overlapping_edits_are_refused(edits: list[Edit]) -> None:
    with pytest.raises(OverlappingEdits):
        apply_edits("abcdef", edits)


def test_edit_beyond_the_end() -> None:
    with pytest.raises(ValueError, match="beyond the end"):
        apply_edits("ab", [Edit(1, 3, "x")])


@pytest.mark.parametrize(("start", "end"), [pytest.param(-1, 0, id="negative"), pytest.param(3, 2, id="reversed")])
def test_bad_span(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="bad edit span"):
        Edit(start, end, "")


@pytest.mark.parametrize(("a", "b", "overlap"), [
    pytest.param(Edit(0, 2, ""), Edit(2, 4, ""), False, id="touching"),
    pytest.param(Edit(0, 3, ""), Edit(2, 4, ""), True, id="crossing"),
    pytest.param(Edit(2, 2, ""), Edit(2, 2, ""), True, id="same-insertion-point"),
    pytest.param(Edit(2, 2, ""), Edit(0, 2, ""), False, id="insertion-at-end-of-span"),
    pytest.param(Edit(1, 1, ""), Edit(0, 2, ""), True, id="insertion-inside-span"),
])
def test_overlaps_is_symmetric(a: Edit, b: Edit, overlap: bool) -> None:
    assert a.overlaps(b) is overlap
    assert b.overlaps(a) is overlap


def test_merge_inserts_joins_same_point_in_list_order() -> None:
    merged = merge_inserts([Edit(3, 3, "a"), Edit(0, 1, "X"), Edit(3, 3, "b"), Edit(5, 5, "c"), Edit(3, 3, "d")])
    assert merged == [Edit(3, 3, "abd"), Edit(0, 1, "X"), Edit(5, 5, "c")]
    assert apply_edits("012345", merged) == "X12abd34c5"


@pytest.mark.parametrize("edits", [
    pytest.param([Edit(1, 2, "x"), Edit(1, 2, "y")], id="replacements-are-not-merged"),
    pytest.param([Edit(1, 1, "x"), Edit(1, 2, "y")], id="insert-and-replacement-at-one-start"),
    pytest.param([], id="empty"),
])
def test_merge_inserts_leaves_the_rest(edits: list[Edit]) -> None:
    assert merge_inserts(edits) == edits
