"""`safe` is a claim that needs an argument: ARCHITECTURE.md lists one per transform that can make it.

A transform can label a change `safe` when its usual applicability is SAFE or its module
passes ``Applicability.SAFE`` for one change. Either way it needs a row in the section
"Why each `safe` change cannot change behaviour", and a row without such a transform is stale.
"""
from __future__ import annotations

import inspect
import re
import sys

from conftest import ROOT

from hardener.model import Applicability
from hardener.transforms import REGISTRY

SECTION = "## Why each `safe` change cannot change behaviour"


def _rows() -> dict[str, list[str]]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    assert SECTION in text, "ARCHITECTURE.md lost its section on safe arguments"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if re.fullmatch(r"HD\d{3}", cells[0]):
            rows[cells[0]] = cells[1:]
    return rows


def _can_be_safe(cls: type) -> bool:
    if getattr(cls, "applicability", None) is Applicability.SAFE:
        return True
    return "Applicability.SAFE" in inspect.getsource(sys.modules[cls.__module__])


def test_every_safe_transform_states_its_argument() -> None:
    rows = _rows()
    safe = {cls.id for cls in REGISTRY if _can_be_safe(cls)}
    assert sorted(safe - rows.keys()) == [], "transforms that can label a change safe without an argument"
    assert sorted(rows.keys() - safe) == [], "arguments for transforms that never label a change safe"


def test_each_argument_is_filled_in() -> None:
    for ident, (change, argument, not_safe) in _rows().items():
        assert change and len(argument) > 40 and not_safe, ident
