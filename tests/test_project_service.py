"""compose/project_service.py: what a change does to a service, read from its own lines or the file."""
from __future__ import annotations

import pytest

from hardener.compose import project_service as ps
from hardener.compose.doc import ComposeDoc
from hardener.edits import Edit
from hardener.model import Applicability, Change

TEXT = """x-common: &common
  restart: always
services:
  db:
    image: postgres:16
    security_opt: [label:disable]
  cache:
    <<: *common
    image: redis:7.2
"""


def _change(doc: ComposeDoc, after: str, text: str) -> Change:
    at = doc.text.index(after) + len(after)
    return Change("HD000", "t", Applicability.REVIEW, "r", 1, (Edit(at, at, text),))


@pytest.mark.parametrize(("service", "after", "text", "own_lines"), [
    pytest.param("db", "image: postgres:16\n", "    user: '999'\n", True, id="added-key"),
    pytest.param("db", "label:disable", ", no-new-privileges:true", True, id="appended-item"),
    pytest.param("cache", "image: redis:7.2\n", "    read_only: true\n", False, id="merge-key-falls-back"),
])
def test_effect_from_own_lines_equals_whole_file(monkeypatch: pytest.MonkeyPatch, service: str, after: str,
                                                  text: str, own_lines: bool) -> None:
    doc = ComposeDoc.load(TEXT.encode())
    change = _change(doc, after, text)
    assert (ps._after_alone(doc, service, list(change.edits)) is not None) is own_lines
    quick = ps.effect(doc, service, [change])
    monkeypatch.setattr(ps, "_after_alone", lambda *_a: None)
    assert quick == ps.effect(doc, service, [change]) != {}


def test_effect_names_only_what_changed() -> None:
    doc = ComposeDoc.load(TEXT.encode())
    effect = ps.effect(doc, "db", [_change(doc, "label:disable", ", no-new-privileges:true")])
    assert effect == {"security_opt": ("list", ("'no-new-privileges:true'",), ())}
