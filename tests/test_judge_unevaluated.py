"""The Compose judge's shortcut for ``unevaluatedProperties`` (hardener/judges.py) gives
jsonschema's own answer: the same problems, in the same order, valid or not."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from hardener import judges

BASE = "services:\n  web:\n    image: nginx\n    ports: ['80:80']\n"
CASES = [
    BASE,
    BASE + "    bogus: 1\n",  # unevaluated by every branch
    BASE + "    x-note: hi\n",  # an extension key: evaluated by a pattern
    BASE + "    deploy: {resources: {limits: {cpus: '0.5'}}}\n",  # the service's own properties
    BASE + "    build: {context: ., bogus: 1}\n",  # a container-spec branch fails: its keys are unevaluated
    BASE + "    cap_drop: ALL\n    bogus: 1\n",
    BASE + "    image: 5\n",
    BASE + "    restart: 5\n    build: .\n",
    "services:\n  job:\n    image: x\n    post_start: [{command: ls, bogus: 1}]\n",
    "services:\n  a:\n    image: x\n    pre_start: [{image: y, bogus: 1}]\n",
    "services:\n  a: {image: x}\nx-a: 1\nbogus: 2\n",
    "services:\n  a:\n    image: x\n---\nservices:\n  b:\n    image: y\n    zz: 1\n",
    "services:\n  a:\n    <<: {image: x, bogus: 1}\n    ports: [1]\n",
    "services:\n  1: {image: x}\n",
]


def _jsonschemas_own(text: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    schema = judges._compose_validator().schema
    plain = jsonschema.validators.validator_for(schema)(schema)
    with monkeypatch.context() as m:
        m.setattr(judges, "_compose_validator", lambda: plain)
        return judges.compose_problems(text)


@pytest.mark.parametrize("text", CASES)
def test_problems_are_jsonschemas(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert judges.compose_problems(text) == _jsonschemas_own(text, monkeypatch)


def test_the_fixtures_compose_files_are_judged_as_jsonschema_judges_them(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parent.parent / "fixtures"
    texts = [p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.y*ml")) if "compose" in p.name][:150]
    assert len(texts) > 50
    for text in texts:
        mutated = text.replace("services:\n", "services:\n  zz:\n    image: x\n    bogus: 1\n", 1)
        for one in (text, mutated):
            assert judges.compose_problems(one) == _jsonschemas_own(one, monkeypatch)


def test_a_verdict_is_remembered_only_while_compose_problems_validates() -> None:
    validator = judges._compose_validator()
    instance = {"services": {"a": {"image": "x", "bogus": 1}}}
    assert judges._VALID.get() is None
    assert [e.message for e in validator.iter_errors(instance)]  # outside compose_problems: plain jsonschema
    assert judges._VALID.get() is None


def test_a_schema_with_references_elsewhere_is_not_context_free() -> None:
    assert judges._context_free({"$defs": {"a": {}}, "allOf": [{"$ref": "#/$defs/a"}]})
    assert not judges._context_free({"allOf": [{"$ref": "other.json#/a"}]})
    assert not judges._context_free({"$defs": {"a": {"$id": "x"}}})
    assert not judges._context_free({"$dynamicRef": "#meta"})
