"""Transform ids are never reused, and every hole in a family is explained by ``RETIRED``.

A config, a ``# hardener: ignore=HD503`` comment or last month's SARIF may still name an old
id; giving it to a new transform would silently change what those mean.
"""
from __future__ import annotations

import re
from collections import defaultdict

import pytest
from conftest import ROOT

from hardener.transforms import REGISTRY, RETIRED


def unexplained_gaps(used: set[str], retired: set[str]) -> list[str]:
    """Ids below the highest of their family that neither a transform nor RETIRED accounts for."""
    numbers: dict[str, set[int]] = defaultdict(set)
    for tid in used | retired:
        numbers[tid[2]].add(int(tid[3:]))
    return sorted(f"HD{family}{n:02d}" for family, taken in numbers.items()
                  for n in range(1, max(taken) + 1) if n not in taken)


def test_retired_ids_are_well_formed_and_explained() -> None:
    for tid, why in RETIRED.items():
        assert re.fullmatch(r"HD[1-7]\d\d", tid), tid
        assert len(why.split()) >= 5, f"{tid}: say why it is retired"


def test_a_retired_id_is_never_reused() -> None:
    reused = set(RETIRED) & {cls.id for cls in REGISTRY}
    assert not reused, f"{sorted(reused)} are retired; take the next free id of the family"
    folders = {p.name.split("-", 1)[0] for p in (ROOT / "fixtures").glob("HD*-*")}
    assert not set(RETIRED) & folders


def test_every_gap_in_a_family_is_retired() -> None:
    gaps = unexplained_gaps({cls.id for cls in REGISTRY}, set(RETIRED))
    assert gaps == [], f"{gaps}: missing ids; list them in RETIRED (transforms/__init__.py) with the reason"


@pytest.mark.parametrize("used, retired, expected", [
    pytest.param({"HD501", "HD502", "HD504"}, set(), ["HD503"], id="hole"),
    pytest.param({"HD501", "HD502", "HD504"}, {"HD503"}, [], id="hole-retired"),
    pytest.param({"HD102", "HD201"}, set(), ["HD101"], id="first-missing"),
    pytest.param({"HD101"}, {"HD102"}, [], id="retired-at-the-end"),
])
def test_the_gap_check_sees_holes(used: set[str], retired: set[str], expected: list[str]) -> None:
    assert unexplained_gaps(used, retired) == expected


def test_architecture_lists_every_retired_id() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Retired transform ids", 1)[1].split("\n## ", 1)[0]
    assert sorted(re.findall(r"^\| (HD\d{3}) \|", section, re.M)) == sorted(RETIRED)
