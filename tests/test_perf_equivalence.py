"""The linear-time paths give exactly what the slower ones they replace gave.

Each fast path (all separator tabs replaced in one parse, the bisecting overlap check of
a round, the bisecting logical-to-source map) is compared with a plain re-statement of
the old algorithm on inputs built to hit its edge cases.
"""
from __future__ import annotations

import random

import pytest
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from hardener.compose import doc as compose_doc
from hardener.compose.doc import ComposeDoc
from hardener.dockerfile.doc import DockerfileDoc
from hardener.edits import Edit, OffsetMap, OverlappingEdits, apply_edits
from hardener.engine import _Origin, _Taken
from hardener.errors import BadInput


def _one_tab_at_a_time(text: str) -> tuple[object, ...] | str:
    """The old loop: re-parse after replacing each tab ruamel stops at."""
    shadow = text
    while True:
        try:
            documents, tokens = compose_doc._compose_and_scan(shadow)
            return _shape(documents), tuple(tokens)
        except MarkedYAMLError as exc:
            tab = compose_doc._separator_tab(shadow, exc)
            if tab is None:
                return "invalid"
            run = len(shadow) - len(shadow[tab:].lstrip("\t"))
            shadow = shadow[:tab] + " " * (run - tab) + shadow[run:]
        except YAMLError:
            return "invalid"


def _shape(nodes: object) -> object:
    if isinstance(nodes, list):
        return tuple(_shape(n) for n in nodes)
    if isinstance(nodes, tuple):
        return tuple(_shape(n) for n in nodes)
    value = getattr(nodes, "value", None)
    inner = _shape(value) if isinstance(value, list | tuple) else value
    return type(nodes).__name__, nodes.start_mark.index, nodes.end_mark.index, inner  # type: ignore[attr-defined]


def _parsed(text: str) -> tuple[object, ...] | str:
    try:
        doc = ComposeDoc.load(text.encode())
    except BadInput:
        return "invalid"
    return _shape(doc.documents), tuple(doc.tokens)


@pytest.mark.parametrize("text", [
    pytest.param("services:\n  a:\n    image: x\t# c\n", id="before-comment"),
    pytest.param("services:\n  a:\n    image: x\t\t# c\n    user: y\t# d\n", id="two-runs"),
    pytest.param("services:\n  a:\n    image: x\tb\n", id="inside-plain-scalar"),
    pytest.param("services:\n  a:\n    image: x\t# c\n    command: |\n      a\t# kept in the script\n",
                 id="tab-in-block-scalar"),
    pytest.param("services:\n  a:\n    image: x\t# c\n    command: \"a\tb\"\n", id="tab-in-quoted"),
    pytest.param("services:\n  a:\n    image: x\t# c\n    ports: [80,\t81]\n", id="tab-in-flow"),
    pytest.param("services:\n  a:\n    image: x\t# c\n    # note\there\n", id="tab-in-comment"),
    pytest.param("services:\n  a:\n    image: x\t# c\n    user:\t# bad\n", id="tab-after-colon-invalid"),
    pytest.param("services:\n  a:\n    image: x\t# c\n\tuser: y\n", id="tab-indent-invalid"),
    pytest.param("services:\n  a:\n    image: [x\ty]\t# c\n", id="flow-plain-tab"),
    pytest.param("services:\n  a: &a\n    image: x\t# c\n  b:\n    <<: *a\t# merge\n", id="alias"),
])
def test_all_tabs_at_once_parses_like_one_at_a_time(text: str) -> None:
    assert _parsed(text) == _one_tab_at_a_time(text)


def test_many_tabs_are_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = compose_doc._compose_and_scan
    monkeypatch.setattr(compose_doc, "_compose_and_scan", lambda t: calls.append(1) or real(t))
    text = "services:\n" + "".join(f"  s{i}:\n    image: x{i}\t# c\n" for i in range(300))
    doc = ComposeDoc.load(text.encode())
    assert len(doc.services()) == 300 and len(calls) == 2


def test_taken_overlaps_agree_with_asking_every_edit() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        taken, every = _Taken(), []
        for _ in range(rng.randint(1, 8)):
            start = rng.randint(0, 12)
            edit = Edit(start, start + rng.choice([0, 0, 1, 2, 3]), "")
            assert taken.overlaps(edit) == any(edit.overlaps(t) for t in every)
            if rng.random() < 0.7:
                group = [edit]
                if rng.random() < 0.2:  # one change carrying overlapping edits of its own
                    other = rng.randint(0, 12)
                    group.append(Edit(other, other + rng.choice([0, 1, 2]), ""))
                taken.extend(group)
                every.extend(group)


def test_source_offset_through_a_long_continuation() -> None:
    lines = "".join(f"    p{i} \\\n" + ("    # c\n" if i % 7 == 3 else "") for i in range(500))
    text = "FROM a\nRUN x \\\n" + lines + "    end\n"
    inst = DockerfileDoc.load(text.encode()).instructions[1]

    def linear(index: int) -> int:
        for logical_start, src_start, src_end in reversed(inst.pieces):
            if index >= logical_start:
                return min(src_start + (index - logical_start), src_end)
        return inst.pieces[0][1]

    for index in range(len(inst.logical) + 1):
        assert inst.source_offset(index) == linear(index)
    assert text[inst.source_offset(inst.logical.index("p499"))] == "p"


def test_shell_split_is_done_once_per_instruction(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardener.dockerfile import shell

    inst = DockerfileDoc.load(b"FROM a\nRUN apt-get update && apt-get install -y curl\n").instructions[1]
    calls = []
    real = shell._Lexer.tokens
    monkeypatch.setattr(shell._Lexer, "tokens", lambda self: calls.append(1) or real(self))
    first = shell.commands(inst)
    assert first is not None
    first.pop()  # a caller's list is its own: the memo must not change
    again = shell.commands(inst)
    assert again is not None and [c.argv for c in again] == [["apt-get", "update"],
                                                             ["apt-get", "install", "-y", "curl"]]
    shell.commands(inst, loose=True)
    assert len(calls) == 2  # strict once, loose once


def _random_edits(rng: random.Random, n: int) -> list[Edit]:
    points = sorted(rng.randint(0, n) for _ in range(rng.randint(0, 8)))
    return [Edit(s, e, "".join(rng.choice("xy\n") for _ in range(rng.randint(0, 4))))
            for s, e in zip(points[::2], points[1::2])]


def _offset_before_one_by_one(offset: int, edits: list[Edit]) -> int:
    """The old walk over every edit, per offset."""
    shift = 0
    for edit in sorted(edits):
        new_start = edit.start + shift
        if offset < new_start:
            break
        if offset < new_start + len(edit.replacement):
            return edit.start
        shift += len(edit.replacement) - (edit.end - edit.start)
    return offset - shift


def _apply_back_to_front(text: str, edits: list[Edit]) -> str:
    for edit in sorted(edits, reverse=True):
        text = text[: edit.start] + edit.replacement + text[edit.end :]
    return text


def test_offset_map_and_joined_apply_match_the_old_loops() -> None:
    rng = random.Random(21)
    checked = 0
    for _ in range(1500):
        text = "".join(rng.choice("ab\n") for _ in range(rng.randint(0, 30)))
        edits = _random_edits(rng, len(text))
        try:
            new = apply_edits(text, edits)
        except OverlappingEdits:
            continue  # two insertions at one point: refused by both versions
        assert new == _apply_back_to_front(text, edits)
        offsets = OffsetMap(edits)
        for offset in range(len(new) + 2):
            assert offsets.before(offset) == _offset_before_one_by_one(offset, edits)
        checked += 1
    assert checked > 1000


def test_origin_maps_lines_through_rounds_like_counting_newlines() -> None:
    original = "a\nbb\nccc\nd"  # no final newline: the last line still counts
    origin = _Origin.of(original)
    first = [Edit(2, 2, "new\n"), Edit(5, 9, "C\n")]
    text = apply_edits(original, first)
    origin.add_round(text, first)
    for line in range(1, text.count("\n") + 3):
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        offset = _offset_before_one_by_one(starts[min(max(line, 1), len(starts)) - 1], first)
        assert origin._line(line) == min(original.count("\n", 0, offset) + 1, 4)
