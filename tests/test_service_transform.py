"""The Compose base: what it owns (legacy, gate, merged services) and what transforms declare.

``writes`` is held to the golden fixtures: the service keys whose values differ between a
case's ``input/`` and ``expected/`` Compose files (loaded as YAML, merge keys resolved) must
be keys the selected transforms declare, and each transform's declared keys must all show up
changed in its own cases. A key added to an edit but not declared, or declared but never
written, fails here.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_helpers import run_compose
from conftest import ROOT
from ruamel.yaml import YAML

from hardener.compose.anchors import SILENT, Silent
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_transform import ServiceTransform, WhyNot
from hardener.compose.splice import insert_mapping_entry, mapping_get, written_here
from hardener.context import Context
from hardener.model import Applicability, Finding
from hardener.source import SourceText
from hardener.transforms import REGISTRY

COMPOSE = [t for t in REGISTRY if "compose" in t.targets]
COMPOSE_FILE = re.compile(r"(docker-)?compose.*\.ya?ml")


def test_every_compose_transform_is_a_service_transform_declaring_its_keys() -> None:
    assert len(COMPOSE) >= 12
    for transform in COMPOSE:
        declared = transform.__dict__
        # a whole-file report edits no service, so per-service gating does not apply to it
        assert issubclass(transform, ServiceTransform) or (transform.report_only and not declared.get("writes")), \
            transform.name
        assert "reads" in declared and "writes" in declared, f"{transform.name} declares no reads/writes"
        assert all(isinstance(k, str) and k for k in (*transform.reads, *transform.writes)), transform.name


def _services(path: Path) -> dict[tuple[int, str], dict]:
    found = {}
    for index, root in enumerate(YAML(typ="safe", pure=True).load_all(path.read_text())):
        block = root.get("services") if isinstance(root, dict) else None
        for name, body in (block or {}).items():
            found[(index, name)] = body if isinstance(body, dict) else {}
    return found


def changed_keys(before: Path, after: Path) -> set[str]:
    """The service keys whose (merged) values differ between two Compose files."""
    old, new = _services(before), _services(after)
    keys: set[str] = set()
    for service in old.keys() | new.keys():
        a, b = old.get(service, {}), new.get(service, {})
        keys |= {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    return keys


def golden_changes() -> Iterator[tuple[str, tuple[str, ...], set[str]]]:
    """(case, selected transform names, changed service keys) per changed Compose file."""
    by_id = {t.id: t.name for t in REGISTRY}
    for expected in sorted(ROOT.glob("fixtures/HD*/*/expected")):
        case = expected.parent
        spec = tomllib.loads((case / "case.toml").read_text()) if (case / "case.toml").exists() else {}
        selected = tuple(by_id.get(s, s) for s in spec.get("select") or [case.parent.name.split("-", 1)[1]])
        for after in sorted(expected.rglob("*")):
            if after.is_file() and COMPOSE_FILE.fullmatch(after.name):
                before = case / "input" / after.relative_to(expected)
                yield f"{case.parent.name}/{case.name}", selected, changed_keys(before, after)


def test_golden_changes_are_declared_writes() -> None:
    writes = {t.name: set(t.writes) for t in COMPOSE}
    for case, selected, keys in golden_changes():
        declared = set().union(*(writes.get(name, set()) for name in selected))
        assert keys <= declared, f"{case}: changes {sorted(keys - declared)}, not declared by {selected}"


@pytest.mark.parametrize("transform", COMPOSE, ids=lambda t: t.name)
def test_declared_writes_show_in_own_goldens(transform: type[ServiceTransform]) -> None:
    seen: set[str] = set()
    for _case, selected, keys in golden_changes():
        if selected == (transform.name,):
            seen |= keys
    assert seen == set(transform.writes)


def test_changed_keys_sees_merged_values(tmp_path: Path) -> None:
    before, after = tmp_path / "a.yaml", tmp_path / "b.yaml"
    before.write_text("services:\n  a: &a\n    image: x\n  b:\n    <<: *a\n")
    after.write_text("services:\n  a: &a\n    image: x\n    user: '1'\n  b:\n    <<: *a\n")
    assert changed_keys(before, after) == {"user"}


# the base itself ----------------------------------------------------------------


class Labelled(ServiceTransform):
    """Test transform: adds `labels: {checked: "yes"}` to each service without labels."""

    id = "HD999"
    name = "labelled"
    applicability = Applicability.REVIEW
    reads = ("labels",)
    writes = ("labels",)

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        if mapping_get(service.node, "labels") is None:
            edit = insert_mapping_entry(doc, service.node, "labels", {"checked": "yes"})
            yield self.change([edit], f"service {service.name!r}: labelled", service.line)


class QuietLabelled(Labelled):
    """Test transform: passes over aliases silently and judges merged services one by one."""

    shared = False

    def gate(self, service: Service, why_not: WhyNot | None) -> str | None | Silent:
        return SILENT if service.alias else super().gate(service, why_not)


def test_legacy_file_refused_once(tmp_path: Path) -> None:
    out, reasons = run_compose(tmp_path, Labelled(), "web:\n  image: nginx:1.27\n")
    assert out == "web:\n  image: nginx:1.27\n"
    assert reasons == ["legacy v1 Compose file (no `services:`); migrate it to the Compose spec first"]


def test_merged_service_shares_the_change_alias_refused(tmp_path: Path) -> None:
    text = "services:\n  a: &a\n    image: x\n  b:\n    <<: *a\n  c: *a\n"
    out, reasons = run_compose(tmp_path, Labelled(), text)
    assert out == 'services:\n  a: &a\n    image: x\n    labels:\n      checked: "yes"\n  b:\n    <<: *a\n  c: *a\n'
    # b merges a: covered by a's one change; c is a itself under another name: refused
    assert reasons == ["service 'c': the service is an alias of another; changing it would change the anchor"]


def test_alias_of_an_unmerged_anchor_refused(tmp_path: Path) -> None:
    out, reasons = run_compose(tmp_path, Labelled(), "services:\n  a: &a\n    image: x\n  c: *a\n")
    assert out.count('checked: "yes"') == 1
    assert reasons == ["service 'c': the service is an alias of another; changing it would change the anchor"]


def test_gate_silences_and_unshared_loop(tmp_path: Path) -> None:
    text = "services:\n  a: &a\n    image: x\n  b:\n    <<: *a\n  c: *a\n"
    out, reasons = run_compose(tmp_path, QuietLabelled(), text)
    assert out.count('checked: "yes"') == 2  # a and b each get their own
    assert reasons == []


def test_pair_keys_leave_a_service_to_the_override(tmp_path: Path) -> None:
    class Paired(Labelled):
        pair_keys = ("labels",)

    override = "services:\n  web:\n    labels:\n      team: x\n"
    out, reasons = run_compose(tmp_path, Paired(), "services:\n  web:\n    image: x\n",
                               files={"compose.override.yaml": override})
    assert "checked" not in out
    assert reasons == ["service 'web': compose.override.yaml sets `labels:` for this service; change it there"]


@pytest.mark.parametrize(("text", "found"), [
    pytest.param("a:\n  k: [1]\n", "[1]", id="own"),
    pytest.param("x: &x [1]\na:\n  k: *x\n", None, id="alias"),
    pytest.param("x: &x\n  k: [1]\na:\n  <<: *x\n", None, id="merged"),
    pytest.param("a:\n  j: 1\n", None, id="absent"),
])
def test_written_here(text: str, found: str | None) -> None:
    doc = ComposeDoc(SourceText.decode(text.encode()), "t.yaml")
    node = mapping_get(doc.documents[0], "a")
    value = written_here(node, "k")
    assert (None if value is None else doc.text[value.start_mark.index:value.end_mark.index]) == found
