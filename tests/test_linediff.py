"""LineMatcher finds exactly difflib's blocks (so patches stay byte-identical), on edited
texts whose runs form a chain (the fast path) and on repetitive ones (difflib's programme)."""
from __future__ import annotations

import difflib
import random

import pytest

from hardener.output import linediff
from hardener.output.linediff import LineMatcher, _Chain


def _difflib(a: list[str], b: list[str]) -> list[difflib.Match]:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()


def _edited(rng: random.Random, a: list[str], alphabet: str) -> list[str]:
    b = list(a)
    for _ in range(rng.randint(0, 6)):
        at = rng.randint(0, len(b))
        roll = rng.random()
        if roll < 0.4:
            b[at:at] = [rng.choice(alphabet + "XY") for _ in range(rng.randint(1, 4))]
        elif roll < 0.7:
            del b[at : at + rng.randint(1, 5)]
        else:
            b[at : at + 2] = [rng.choice("XYZ")]
    return b


def _services(rng: random.Random) -> tuple[list[str], list[str]]:
    """Compose-like: each block repeats key lines, with values of its own, some shared."""
    a: list[str] = []
    for s in range(rng.randint(1, 40)):
        a += [f"svc{s}", "ports", f"p{s % 3}", "env", f"id{s}", "vol", "x"]
    b: list[str] = []
    for line in a:
        b.append(line)
        if line == "vol" and rng.random() < 0.7:
            b += ["sec", "nnp"]
        if rng.random() < 0.03:
            b.pop()
    return a, b


def test_same_blocks_as_difflib_on_random_edits() -> None:
    rng = random.Random(21)
    for _ in range(2500):
        alphabet = rng.choice(["ab", "abc", "abcdefgh", "abcdefghijklmnopqrstuvwxyz"])
        a = [rng.choice(alphabet) for _ in range(rng.randint(0, 60))]
        b = _edited(rng, a, alphabet)
        assert LineMatcher(a, b).get_matching_blocks() == _difflib(a, b), (a, b)


def test_same_blocks_and_opcodes_on_repeated_blocks() -> None:
    rng = random.Random(7)
    chained = 0
    for _ in range(300):
        a, b = _services(rng)
        chained += bool(len(_Chain.of(a, b)))
        assert LineMatcher(a, b).get_matching_blocks() == _difflib(a, b)
        assert LineMatcher(a, b).get_opcodes() == difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    assert chained > 250  # the fast path is what was tested


def test_chain_picks_the_earliest_of_equal_runs() -> None:
    # three runs of one length separated by edits: difflib takes the first, then recurses right
    runs = [[f"{key}{n}" for n in range(4)] for key in "kmn"]
    a = runs[0] + ["A"] + runs[1] + ["B"] + runs[2]
    b = runs[0] + ["C"] + runs[1] + ["D"] + runs[2]
    assert len(_Chain.of(a, b)) == 3
    assert LineMatcher(a, b).get_matching_blocks() == _difflib(a, b)


@pytest.mark.parametrize("budget", [0, linediff._PAIR_BUDGET])
def test_repetitive_text_falls_back_to_the_programme(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    monkeypatch.setattr(linediff, "_PAIR_BUDGET", budget)
    a = ["x", "y"] * 100 + ["end"]
    b = ["x", "y"] * 50 + ["new"] + ["x", "y"] * 50 + ["end"]
    assert LineMatcher(a, b).get_matching_blocks() == _difflib(a, b)
