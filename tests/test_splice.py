"""hardener.compose.splice: look-ups in ruamel's node graph and lossless text edits.

Every edit is checked twice: the exact text (style kept, nothing else touched) and a YAML
load of the result (the value reads back as the value that was meant).
"""
from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from hardener.compose.doc import ComposeDoc
from hardener.compose.splice import (
    Value,
    append_sequence_item,
    insert_mapping_entry,
    mapping_get,
    mapping_has,
    mapping_own,
    merge_sources,
    render_flow,
    render_scalar,
    replace_scalar,
    scalar_value,
)
from hardener.edits import Edit, apply_edits


def _doc(text: str) -> ComposeDoc:
    return ComposeDoc.load(text.encode())


def _service(doc: ComposeDoc, name: str = "web") -> Any:
    return next(s.node for s in doc.services() if s.name == name)


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _apply(doc: ComposeDoc, edit: Edit) -> str:
    return apply_edits(doc.text, [edit])


# rendering: what YAML reads back is the string that was meant -------------------------

@pytest.mark.parametrize(("value", "rendered"), [
    pytest.param("nginx", "nginx", id="plain"),
    pytest.param("ALL", "ALL", id="plain-caps"),
    pytest.param("yes", '"yes"', id="yaml-1.1-bool"),
    pytest.param("off", '"off"', id="yaml-1.1-bool-off"),
    pytest.param("null", '"null"', id="null-word"),
    pytest.param("~", '"~"', id="tilde"),
    pytest.param("1.0", '"1.0"', id="float-like"),
    pytest.param("0755", '"0755"', id="octal-like"),
    pytest.param("10:30", '"10:30"', id="sexagesimal-int-in-yaml-1.1"),
    pytest.param("8080:80", "8080:80", id="not-sexagesimal-stays-plain"),
    pytest.param("", '""', id="empty"),
    pytest.param(" padded", '" padded"', id="leading-space"),
    pytest.param("*ref", '"*ref"', id="alias-indicator"),
    pytest.param("- x", '"- x"', id="dash-space"),
    pytest.param("a: b", '"a: b"', id="colon-space"),
    pytest.param("a #b", '"a #b"', id="space-hash"),
    pytest.param("key:", '"key:"', id="trailing-colon"),
    pytest.param('say "hi"\n', '"say \\"hi\\"\\n"', id="escapes"),
    pytest.param("tab\there", '"tab\\there"', id="tab"),
    pytest.param("${VAR:-x}", "${VAR:-x}", id="interpolation-kept-plain"),
    pytest.param(True, "true", id="bool"),
    pytest.param(512, "512", id="int"),
])
def test_render_scalar_reads_back(value: str | bool | int, rendered: str) -> None:
    assert render_scalar(value) == rendered
    assert _load(f"k: {rendered}\n")["k"] == value


@pytest.mark.parametrize(("value", "rendered"), [
    pytest.param("it's", "it's", id="apostrophe-needs-no-quotes"),
    pytest.param("a: b", "'a: b'", id="single-style"),
    pytest.param("it's: x", "'it''s: x'", id="single-style-doubles-the-quote"),
    pytest.param("é\u0007", '"é\\u0007"', id="non-printable-forces-double"),
])
def test_render_scalar_single_quote_style(value: str, rendered: str) -> None:
    assert render_scalar(value, quote="'") == rendered
    assert _load(f"k: {rendered}\n")["k"] == value


@pytest.mark.parametrize(("value", "rendered"), [
    pytest.param("a,b", '"a,b"', id="comma"),
    pytest.param("a]b", '"a]b"', id="bracket"),
    pytest.param("host:port", '"host:port"', id="colon-without-space"),
    pytest.param("plain", "plain", id="plain"),
])
def test_render_scalar_flow_context(value: str, rendered: str) -> None:
    assert render_scalar(value, flow=True) == rendered
    assert _load(f"k: [{rendered}]\n")["k"] == [value]


def test_render_scalar_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        render_scalar(1.5)  # type: ignore[arg-type]  # the wrong type is the point


@pytest.mark.parametrize(("value", "rendered"), [
    pytest.param(["ALL"], "[ALL]", id="list"),
    pytest.param([], "[]", id="empty-list"),
    pytest.param({}, "{}", id="empty-mapping"),
    pytest.param({"test": ["CMD", "true"], "retries": 3}, "{test: [CMD, \"true\"], retries: 3}", id="nested-true-string-quoted"),
    pytest.param(("a", "b"), "[a, b]", id="tuple-is-a-sequence"),
    pytest.param("x", "x", id="scalar"),
])
def test_render_flow(value: Value, rendered: str) -> None:
    assert render_flow(value) == rendered
    expected = list(value) if isinstance(value, tuple) else value
    assert _load(f"k: {rendered}\n")["k"] == expected


# look-ups: merge keys and anchors -----------------------------------------------------

ANCHORS = """\
x-base: &base
  restart: always
  image: base
x-more: &more
  image: more
  user: "1000"
services:
  web:
    <<: [*base, *more]
    image: own
  worker:
    <<: *more
  alias: *base
"""


@pytest.mark.parametrize(("service", "key", "get", "own"), [
    pytest.param("web", "image", "own", "own", id="own-key-wins-over-merges"),
    pytest.param("web", "restart", "always", None, id="merged-only"),
    pytest.param("web", "user", "1000", None, id="from-second-merge-source"),
    pytest.param("worker", "image", "more", None, id="single-merge"),
    pytest.param("worker", "missing", None, None, id="absent"),
    pytest.param("alias", "image", "base", "base", id="alias-service-is-the-anchor-node"),
])
def test_mapping_get_and_own(service: str, key: str, get: str | None, own: str | None) -> None:
    node = _service(_doc(ANCHORS), service)
    assert scalar_value(mapping_get(node, key)) == get
    assert scalar_value(mapping_own(node, key)) == own
    assert mapping_has(node, key) is (get is not None)


def test_merge_sources_in_precedence_order() -> None:
    node = _service(_doc(ANCHORS), "web")
    assert [scalar_value(mapping_get(m, "image")) for m in merge_sources(node)] == ["base", "more"]
    assert merge_sources(None) == []


def test_merge_cycle_does_not_loop() -> None:
    doc = _doc("services:\n  web: &w\n    image: x\n    <<: *w\n")
    assert scalar_value(mapping_get(_service(doc), "image")) == "x"
    assert mapping_get(_service(doc), "missing") is None


@pytest.mark.parametrize("node", [pytest.param(None, id="none")])
def test_lookups_on_nothing(node: None) -> None:
    assert mapping_get(node, "a") is None and mapping_own(node, "a") is None and scalar_value(node) is None


# insert_mapping_entry ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value", "expected"), [
    pytest.param("services:\n  web:\n    image: nginx\n", ["ALL"],
                 "services:\n  web:\n    image: nginx\n    cap_drop:\n      - ALL\n", id="block"),
    pytest.param("services:\n    web:\n        image: nginx\n", ["ALL"],
                 "services:\n    web:\n        image: nginx\n        cap_drop:\n            - ALL\n", id="four-space-indent"),
    pytest.param("services:\n  web:\n    image: nginx\n    ports:\n    - 80\n", ["ALL"],
                 "services:\n  web:\n    image: nginx\n    ports:\n    - 80\n    cap_drop:\n    - ALL\n",
                 id="dash-offset-zero-copied"),
    pytest.param("services:\n  web:\n    image: nginx\n    # about web\n\n  # about db\n  db:\n    image: pg\n", ["ALL"],
                 "services:\n  web:\n    image: nginx\n    # about web\n    cap_drop:\n      - ALL\n\n  # about db\n  db:\n    image: pg\n",
                 id="comments-stay-with-their-key"),
    pytest.param("services:\n  web:\n    image: nginx", ["ALL"],
                 "services:\n  web:\n    image: nginx\n    cap_drop:\n      - ALL", id="no-final-newline-stays-missing"),
    pytest.param("services:\n  web: {image: nginx}\n", ["ALL"],
                 "services:\n  web: {image: nginx, cap_drop: [ALL]}\n", id="flow-mapping"),
    pytest.param("services:\n  web: {image: nginx,}\n", ["ALL"],
                 "services:\n  web: {image: nginx, cap_drop: [ALL]}\n", id="flow-mapping-trailing-comma"),
    pytest.param("services:\n  web: {}\n", ["ALL"], "services:\n  web: {cap_drop: [ALL]}\n", id="empty-flow-mapping"),
    pytest.param("services:\n  web:\n    command: |\n      run\n\n\n  db:\n    image: pg\n", ["ALL"],
                 "services:\n  web:\n    command: |\n      run\n    cap_drop:\n      - ALL\n\n\n  db:\n    image: pg\n",
                 id="after-a-block-scalar-blank-lines-stay-below"),
    pytest.param("services:\n  web:\n    image: nginx\n", {"test": ["CMD", "true"], "retries": 3},
                 "services:\n  web:\n    image: nginx\n    cap_drop:\n      test:\n        - CMD\n        - \"true\"\n      retries: 3\n",
                 id="nested-mapping"),
    pytest.param("services:\n  web:\n    image: nginx\n", [], "services:\n  web:\n    image: nginx\n    cap_drop: []\n",
                 id="empty-list"),
])
def test_insert_mapping_entry(text: str, value: Value, expected: str) -> None:
    doc = _doc(text)
    out = _apply(doc, insert_mapping_entry(doc, _service(doc), "cap_drop", value))
    assert out == expected
    assert _load(out)["services"]["web"]["cap_drop"] == value


def test_insert_keeps_crlf_and_the_file_quote_style() -> None:
    doc = _doc("services:\r\n  web:\r\n    image: 'nginx'\r\n    user: '1000'\r\n")
    out = _apply(doc, insert_mapping_entry(doc, _service(doc), "read_only", "yes"))
    assert out == "services:\r\n  web:\r\n    image: 'nginx'\r\n    user: '1000'\r\n    read_only: 'yes'\r\n"


@pytest.mark.parametrize("text", [
    pytest.param("services:\n  web:\n", id="null-service"),
    pytest.param("services:\n  web: nginx\n", id="scalar-service"),
])
def test_insert_into_no_mapping_is_refused(text: str) -> None:
    doc = _doc(text)
    with pytest.raises(ValueError):
        insert_mapping_entry(doc, _service(doc), "cap_drop", ["ALL"])


# append_sequence_item and replace_scalar ----------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("services:\n  web:\n    cap_add:\n      - NET_ADMIN\n",
                 "services:\n  web:\n    cap_add:\n      - NET_ADMIN\n      - CHOWN\n", id="block"),
    pytest.param("services:\n  web:\n    cap_add:\n      -   NET_ADMIN\n",
                 "services:\n  web:\n    cap_add:\n      -   NET_ADMIN\n      -   CHOWN\n", id="dash-gap-copied"),
    pytest.param("services:\n  web:\n    cap_add: [NET_ADMIN]\n",
                 "services:\n  web:\n    cap_add: [NET_ADMIN, CHOWN]\n", id="flow"),
    pytest.param("services:\n  web:\n    cap_add: []\n", "services:\n  web:\n    cap_add: [CHOWN]\n", id="empty-flow"),
])
def test_append_sequence_item(text: str, expected: str) -> None:
    doc = _doc(text)
    out = _apply(doc, append_sequence_item(doc, mapping_get(_service(doc), "cap_add"), "CHOWN"))
    assert out == expected
    assert _load(out)["services"]["web"]["cap_add"][-1] == "CHOWN"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("services:\n  web:\n    image: nginx  # pin me\n",
                 "services:\n  web:\n    image: nginx@sha256:ab  # pin me\n", id="plain-comment-kept"),
    pytest.param("services:\n  web:\n    image: \"nginx\"\n", "services:\n  web:\n    image: nginx@sha256:ab\n",
                 id="quotes-only-when-needed: keeping them is the caller's choice"),
    pytest.param("services:\n  web:\n    image: &img nginx\n", "services:\n  web:\n    image: &img nginx@sha256:ab\n",
                 id="anchor-kept"),
    pytest.param("services:\n  web:\n    image: !!str nginx\n", "services:\n  web:\n    image: !!str nginx@sha256:ab\n",
                 id="tag-kept"),
    pytest.param("services:\n  web: {image: nginx, user: x}\n", "services:\n  web: {image: \"nginx@sha256:ab\", user: x}\n",
                 id="in-flow-mapping", marks=pytest.mark.xfail(strict=True, reason=(
                     "replace_scalar renders without flow=True: a ':' in a plain flow scalar is invalid to libyaml"))),
])
def test_replace_scalar(text: str, expected: str) -> None:
    doc = _doc(text)
    out = _apply(doc, replace_scalar(doc, mapping_get(_service(doc), "image"), "nginx@sha256:ab"))
    assert out == expected
    assert _load(out)["services"]["web"]["image"] == "nginx@sha256:ab"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("services:\n  web:\n    image: 'a'\n", "services:\n  web:\n    image: 'x: y'\n", id="single"),
    pytest.param("services:\n  web:\n    image: \"a\"\n", "services:\n  web:\n    image: \"x: y\"\n", id="double"),
    pytest.param("x: 'q'\nservices:\n  web:\n    image: a\n", "x: 'q'\nservices:\n  web:\n    image: 'x: y'\n",
                 id="plain-takes-the-file-style"),
])
def test_replace_scalar_quotes_in_the_node_style(text: str, expected: str) -> None:
    doc = _doc(text)
    out = _apply(doc, replace_scalar(doc, mapping_get(_service(doc), "image"), "x: y"))
    assert out == expected
    assert _load(out)["services"]["web"]["image"] == "x: y"


@pytest.mark.parametrize("text", [
    pytest.param("services:\n  web:\n    image: |\n      nginx\n", id="block-scalar"),
    pytest.param("services:\n  web:\n    image:\n", id="null-value"),
    pytest.param("services:\n  web:\n    image: [a]\n", id="not-a-scalar"),
])
def test_replace_scalar_refuses(text: str) -> None:
    doc = _doc(text)
    with pytest.raises(ValueError):
        replace_scalar(doc, mapping_get(_service(doc), "image"), "x")
