"""ComposeDoc and yaml_splice: byte-exact round trip and edits that stay where they belong.

The corpus tests load every Compose file, then splice a ``security_opt`` entry into one
service and check with an independent loader that nothing else changed meaning, and with
a line diff that nothing else changed text.
"""
from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from conftest import corpus_cases
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode, SequenceNode

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.splice import (
    append_sequence_item,
    insert_mapping_entry,
    is_flow,
    mapping_get,
    mapping_has,
    mapping_own,
    render_scalar,
    replace_scalar,
    scalar_value,
)
from hardener.edits import Edit, apply_edits
from hardener.errors import BadInput

NNP = "no-new-privileges:true"
CORPUS = corpus_cases("compose")


class _AnyTagConstructor(SafeConstructor):
    """Safe loading where Compose's ``!reset`` / ``!override`` just keep the plain value."""


def _untagged(constructor: SafeConstructor, node: Any) -> Any:
    if isinstance(node, MappingNode):
        return constructor.construct_mapping(node, deep=True)
    if isinstance(node, SequenceNode):
        return constructor.construct_sequence(node, deep=True)
    return constructor.construct_scalar(node)


_AnyTagConstructor.add_constructor(None, _untagged)


def load_all(text: str) -> list[Any]:
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _AnyTagConstructor
    yaml.allow_duplicate_keys = True
    return [d for d in yaml.load_all(text) if d is not None]


def add_no_new_privileges(doc: ComposeDoc, service: Service) -> Edit:
    """The edit a hardening transform would make: append to security_opt or create it."""
    own = mapping_own(service.node, "security_opt")
    if isinstance(own, SequenceNode):
        return append_sequence_item(doc, own, NNP)
    return insert_mapping_entry(doc, service.node, "security_opt", [NNP])


def editable(service: Service) -> bool:
    """Services whose text is theirs alone and whose security_opt we can reason about."""
    node = service.node
    if not isinstance(node, MappingNode) or is_flow(node) or service.alias:
        return False
    if getattr(node, "anchor", None):
        return False  # merged elsewhere: a change would legitimately show up there too
    own, seen = mapping_own(node, "security_opt"), mapping_get(node, "security_opt")
    return own is seen and (own is None or isinstance(own, SequenceNode))


# corpus ------------------------------------------------------------------------


def classify(raw: bytes) -> str:
    try:
        doc = ComposeDoc.load(raw, "compose.yaml")
    except BadInput as exc:
        assert exc.line is not None and exc.line >= 1, exc
        return "invalid"
    assert doc.render() == raw
    return "edited" if any(editable(s) for s in doc.services()) else "round-tripped"


@pytest.mark.corpus
@pytest.mark.parametrize("path", [p for _, p in CORPUS], ids=[c for c, _ in CORPUS])
def test_corpus_round_trip(path):
    raw = path.read_bytes()
    try:
        doc = ComposeDoc.load(raw, str(path))
    except BadInput as exc:
        assert exc.message.startswith("invalid YAML") and exc.line, exc
        return
    assert doc.render() == raw
    assert doc.text == raw.decode("utf-8-sig")


@pytest.mark.corpus
def test_corpus_counts(corpus_dir, capsys):
    counts = Counter(classify(p.read_bytes()) for _, p in CORPUS)
    with capsys.disabled():
        print(f"\ncompose corpus: {len(CORPUS)} files, {dict(counts)}")
    assert len(CORPUS) > 200
    assert counts["invalid"] <= 10
    assert counts["edited"] >= 0.8 * len(CORPUS)


def _service_end_line(doc: ComposeDoc, service: Service) -> int:
    """Last line that may hold the service: before the next key at its level or above."""
    boundaries = [len(doc.line_starts) + 1]
    for root in doc.documents:
        boundaries.append(doc.line_of(root.start_mark.index))
        for key, value in root.value if isinstance(root, MappingNode) else []:
            boundaries.append(doc.line_of(key.start_mark.index))
            if key.value == "services" and isinstance(value, MappingNode):
                boundaries += [doc.line_of(k.start_mark.index) for k, _ in value.value]
    return min(b for b in boundaries if b > service.line) - 1


def check_local_edit(doc: ComposeDoc, service: Service) -> None:
    new_text = apply_edits(doc.text, [add_no_new_privileges(doc, service)])
    ComposeDoc.load(doc.source.encode(new_text), doc.path)
    before, after = load_all(doc.text), load_all(new_text)
    assert len(before) == len(after)
    for index, (old, new) in enumerate(zip(before, after)):
        if index != service.doc_index:
            assert old == new
            continue
        assert old.keys() == new.keys()
        assert {k: v for k, v in old.items() if k != "services"} == {
            k: v for k, v in new.items() if k != "services"
        }
        old_services, new_services = old["services"], new["services"]
        assert old_services.keys() == new_services.keys()
        for name in old_services:
            if name != service.name:
                assert old_services[name] == new_services[name], name
        old_svc, new_svc = dict(old_services[service.name]), dict(new_services[service.name])
        old_opts, new_opts = old_svc.pop("security_opt", []), new_svc.pop("security_opt")
        assert new_opts == [*old_opts, NNP]
        assert old_svc == new_svc

    old_lines, new_lines = doc.text.split("\n"), new_text.split("\n")
    first, last = service.line, _service_end_line(doc, service)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            assert first - 1 <= i1 and i2 <= last, (tag, i1, i2, first, last)

    def comments(lines: list[str]) -> Counter[str]:
        return Counter(line.strip() for line in lines if line.strip().startswith("#"))

    assert not comments(old_lines) - comments(new_lines)


@pytest.mark.corpus
@pytest.mark.parametrize("path", [p for _, p in CORPUS], ids=[c for c, _ in CORPUS])
def test_corpus_edit_locality(path):
    try:
        doc = ComposeDoc.load(path.read_bytes(), str(path))
    except BadInput:
        return
    candidates = [s for s in doc.services() if editable(s)]
    for service in {id(s): s for s in candidates[:1] + candidates[-1:]}.values():
        check_local_edit(doc, service)


# focused cases -------------------------------------------------------------------


def edit_service(raw: bytes, name: str, make: Callable[[ComposeDoc, Service], Edit]) -> bytes:
    doc = ComposeDoc.load(raw, "compose.yaml")
    assert doc.render() == raw
    (service,) = [s for s in doc.services() if s.name == name]
    out = doc.source.encode(apply_edits(doc.text, [make(doc, service)]))
    ComposeDoc.load(out, "compose.yaml")  # still YAML
    return out


INSERT_CASES = [
    pytest.param(
        b"services:\r\n  web:\r\n    image: nginx\r\n  db:\r\n    image: pg\r\n", "web",
        b"services:\r\n  web:\r\n    image: nginx\r\n    security_opt:\r\n"
        b"      - no-new-privileges:true\r\n  db:\r\n    image: pg\r\n",
        id="crlf",
    ),
    pytest.param(
        b"\xef\xbb\xbfservices:\n  web:\n    image: nginx\n", "web",
        b"\xef\xbb\xbfservices:\n  web:\n    image: nginx\n    security_opt:\n"
        b"      - no-new-privileges:true\n",
        id="bom",
    ),
    pytest.param(
        b"services:\n  web:\n    image: nginx\t# tab\n    init: true\t\n", "web",
        b"services:\n  web:\n    image: nginx\t# tab\n    init: true\t\n    security_opt:\n"
        b"      - no-new-privileges:true\n",
        id="tabs-after-values",  # go-yaml skips them, ruamel does not: parsed via a copy
    ),
    pytest.param(
        b"x-common: &common\n  restart: always\n  logging:\n    driver: json-file\n\n"
        b"services:\n  web:\n    image: nginx\n    <<: *common\n  api:\n    <<: [*common]\n"
        b"    image: api\n",
        "web",
        b"x-common: &common\n  restart: always\n  logging:\n    driver: json-file\n\n"
        b"services:\n  web:\n    image: nginx\n    <<: *common\n    security_opt:\n"
        b"      - no-new-privileges:true\n  api:\n    <<: [*common]\n    image: api\n",
        id="merge-key-last-entry-is-alias",
    ),
    pytest.param(
        b"services:\n  web: {image: nginx, ports: ['80:80']}\n  db: {}\n", "web",
        b"services:\n  web: {image: nginx, ports: ['80:80'], security_opt: "
        b"[\"no-new-privileges:true\"]}\n  db: {}\n",
        id="flow-mapping",
    ),
    pytest.param(
        b"services:\n  db: {}\n", "db",
        b"services:\n  db: {security_opt: [\"no-new-privileges:true\"]}\n",
        id="empty-flow-mapping",
    ),
    pytest.param(
        b"services:\n  web: {\n    image: nginx,\n  }\n", "web",
        b"services:\n  web: {\n    image: nginx, security_opt: [\"no-new-privileges:true\"]\n  }\n",
        id="flow-mapping-trailing-comma",
    ),
    pytest.param(
        b"services:\n  web:\n    security_opt: [label:disable]\n", "web",
        b"services:\n  web:\n    security_opt: [label:disable, \"no-new-privileges:true\"]\n",
        id="flow-sequence-append",
    ),
    pytest.param(
        b"services:\n  web:\n    security_opt: []  # none yet\n", "web",
        b"services:\n  web:\n    security_opt: [\"no-new-privileges:true\"]  # none yet\n",
        id="empty-flow-sequence-append",
    ),
    pytest.param(
        b"services:\n  web:\n    ports:\n    - 80:80\n    security_opt:\n    - label:disable\n", "web",
        b"services:\n  web:\n    ports:\n    - 80:80\n    security_opt:\n    - label:disable\n"
        b"    - no-new-privileges:true\n",
        id="block-sequence-not-indented",
    ),
    pytest.param(
        b"services:\n  web:\n    ports:\n    - 80:80\n", "web",
        b"services:\n  web:\n    ports:\n    - 80:80\n    security_opt:\n"
        b"    - no-new-privileges:true\n",
        id="new-sequence-follows-unindented-style",
    ),
    pytest.param(
        b"services:\n    web:\n        image: nginx\n        ports:\n            - 80:80\n", "web",
        b"services:\n    web:\n        image: nginx\n        ports:\n            - 80:80\n"
        b"        security_opt:\n            - no-new-privileges:true\n",
        id="four-space-indent",
    ),
    pytest.param(
        b"services:\n  web:\n    image: nginx\n    restart: always  # keep\n\n"
        b"  # the database\n  db:\n    image: pg\n",
        "web",
        b"services:\n  web:\n    image: nginx\n    restart: always  # keep\n"
        b"    security_opt:\n      - no-new-privileges:true\n\n"
        b"  # the database\n  db:\n    image: pg\n",
        id="trailing-comment-blank-line-next-service",
    ),
    pytest.param(
        b"services:\n  web:\n    image: nginx\n    # ports:\n    #   - 80:80\n  # db:\n"
        b"volumes:\n  data:\n",
        "web",
        b"services:\n  web:\n    image: nginx\n    # ports:\n    #   - 80:80\n"
        b"    security_opt:\n      - no-new-privileges:true\n  # db:\nvolumes:\n  data:\n",
        id="indented-comments-stay-with-service",
    ),
    pytest.param(
        b"services:\n  web:\n    image: nginx\n  db:\n    image: pg", "db",
        b"services:\n  web:\n    image: nginx\n  db:\n    image: pg\n    security_opt:\n"
        b"      - no-new-privileges:true",
        id="eof-without-newline",
    ),
    pytest.param(
        b"services:\n  db:\n    image: pg  # last", "db",
        b"services:\n  db:\n    image: pg  # last\n    security_opt:\n"
        b"      - no-new-privileges:true",
        id="eof-without-newline-after-comment",
    ),
    pytest.param(
        b"services:\n  web:\n    command: |\n      echo hi\n      # not a comment\n\n  db:\n"
        b"    image: pg\n",
        "web",
        b"services:\n  web:\n    command: |\n      echo hi\n      # not a comment\n"
        b"    security_opt:\n      - no-new-privileges:true\n\n  db:\n    image: pg\n",
        id="block-scalar-last",
    ),
    pytest.param(
        b"services:\n  web:\n    command: |+\n      echo hi\n\n  db:\n    image: pg\n", "web",
        b"services:\n  web:\n    command: |+\n      echo hi\n\n    security_opt:\n"
        b"      - no-new-privileges:true\n  db:\n    image: pg\n",
        id="keep-chomping-block-scalar-last",
    ),
    pytest.param(
        b"services:\n  web:\n    image: nginx\n    healthcheck:\n      disable: true\n"
        b"    environment:\n", "web",
        b"services:\n  web:\n    image: nginx\n    healthcheck:\n      disable: true\n"
        b"    environment:\n    security_opt:\n      - no-new-privileges:true\n",
        id="last-value-null",
    ),
    pytest.param(
        b"services:\n  web:\n    image: ${IMAGE:-nginx}\n    command: echo $$HOME\n"
        b"    environment:\n      - A=${A:?required}\n  db:\n    image: ${DB}\n",
        "web",
        b"services:\n  web:\n    image: ${IMAGE:-nginx}\n    command: echo $$HOME\n"
        b"    environment:\n      - A=${A:?required}\n    security_opt:\n"
        b"      - no-new-privileges:true\n  db:\n    image: ${DB}\n",
        id="interpolation-untouched",
    ),
]


@pytest.mark.parametrize(("raw", "name", "expected"), INSERT_CASES)
def test_insert_security_opt(raw, name, expected):
    assert edit_service(raw, name, add_no_new_privileges) == expected
    doc = ComposeDoc.load(expected, "compose.yaml")
    (service,) = [s for s in doc.services() if s.name == name]
    seq = mapping_own(service.node, "security_opt")
    assert NNP in [scalar_value(i) for i in seq.value]


def test_multi_document_edits_only_its_document():
    raw = b"services:\n  web:\n    image: nginx\n---\nservices:\n  web:\n    image: other\n"
    doc = ComposeDoc.load(raw, "compose.yaml")
    second = doc.services()[1]
    assert (second.doc_index, second.line) == (1, 6)
    out = apply_edits(doc.text, [add_no_new_privileges(doc, second)])
    assert out == raw.decode() + "    security_opt:\n      - no-new-privileges:true\n"


def test_anchor_text_is_never_edited():
    raw = (
        b"x-base: &base\n  restart: always\nservices:\n  api:\n    <<: *base\n    image: a\n"
        b"  web: *base\n"
    )
    doc = ComposeDoc.load(raw, "compose.yaml")
    api, web = doc.services()
    assert (api.alias, web.alias) == (False, True)
    out = apply_edits(doc.text, [insert_mapping_entry(doc, api.node, "read_only", True)])
    assert out.startswith("x-base: &base\n  restart: always\nservices:\n")
    assert "    image: a\n    read_only: true\n  web: *base\n" in out


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        pytest.param(b"services:\n  web:\n  db:\n    image: pg\n", "web", id="null-service"),
        pytest.param(b"services:\n  web: nginx\n", "web", id="scalar-service"),
        pytest.param(b"services:\n  web: !reset\n", "web", id="tagged-null-service"),
    ],
)
def test_insert_refuses_without_a_mapping(raw, name):
    doc = ComposeDoc.load(raw, "compose.yaml")
    (service,) = [s for s in doc.services() if s.name == name]
    with pytest.raises(ValueError):
        insert_mapping_entry(doc, service.node, "read_only", True)


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        pytest.param("nginx:1.25", "nginx:1.25", id="colon-without-space"),
        pytest.param("echo: hi", '"echo: hi"', id="colon-space"),
        pytest.param("a #b", '"a #b"', id="space-hash"),
        pytest.param("#x", '"#x"', id="leading-hash"),
        pytest.param("*x", '"*x"', id="leading-star"),
        pytest.param("- x", '"- x"', id="leading-dash-space"),
        pytest.param("-x", "-x", id="leading-dash"),
        pytest.param("yes", '"yes"', id="yaml11-bool"),
        pytest.param("1000", '"1000"', id="int-string"),
        pytest.param("1:20", '"1:20"', id="sexagesimal"),
        pytest.param("null", '"null"', id="null-string"),
        pytest.param("", '""', id="empty"),
        pytest.param(" x", '" x"', id="leading-space"),
        pytest.param('say "hi"\n', '"say \\"hi\\"\\n"', id="escapes"),
        pytest.param("${VAR:-x}", "${VAR:-x}", id="interpolation"),
        pytest.param(True, "true", id="bool"),
        pytest.param(1000, "1000", id="int"),
    ],
)
def test_render_scalar(value, rendered):
    assert render_scalar(value) == rendered
    if isinstance(value, str):
        assert load_all(f"k: {rendered}\n") == [{"k": value}]


def test_render_scalar_flow_and_single_quotes():
    assert render_scalar("a,b", flow=True) == '"a,b"'
    assert render_scalar("a,b") == "a,b"
    assert render_scalar("it's: x", quote="'") == "'it''s: x'"


def test_inserted_values_follow_file_quote_style():
    raw = b"services:\n  web:\n    image: 'nginx'\n    user: '1000'\n"
    doc = ComposeDoc.load(raw, "compose.yaml")
    (web,) = doc.services()
    value = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    out = apply_edits(doc.text, [insert_mapping_entry(doc, web.node, "logging", value)])
    assert out == raw.decode() + (
        "    logging:\n      driver: json-file\n      options:\n"
        "        max-size: 10m\n        max-file: '3'\n"
    )


def test_replace_scalar_keeps_tag_and_comment():
    raw = b"services:\n  web:\n    image: !override nginx  # web\n"
    doc = ComposeDoc.load(raw, "compose.yaml")
    image = mapping_get(doc.services()[0].node, "image")
    out = apply_edits(doc.text, [replace_scalar(doc, image, "nginx:1.25@sha256:abc")])
    assert out == "services:\n  web:\n    image: !override nginx:1.25@sha256:abc  # web\n"


# lookups -------------------------------------------------------------------------


def test_mapping_get_follows_merge_keys():
    raw = (
        b"x-a: &a {restart: always, user: a, init: true}\nx-b: &b {user: b, read_only: true}\n"
        b"x-c: &c {<<: *a, tty: true}\n"
        b"services:\n  web:\n    <<: [*b, *c]\n    init: false\n"
    )
    (web,) = ComposeDoc.load(raw, "compose.yaml").services()
    assert scalar_value(mapping_get(web.node, "init")) == "false"  # own key wins
    assert scalar_value(mapping_get(web.node, "user")) == "b"  # earlier source wins
    assert scalar_value(mapping_get(web.node, "restart")) == "always"  # merge of a merge
    assert scalar_value(mapping_get(web.node, "tty")) == "true"
    assert mapping_own(web.node, "user") is None
    assert mapping_has(web.node, "read_only") and not mapping_has(web.node, "privileged")


# loading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        pytest.param(b"services:\n  web:\n\timage: nginx\n", 3, id="tab-indentation"),
        pytest.param(b"services:\n  web:\n    image:\tnginx\n", 3, id="tab-after-colon"),
        pytest.param(b"services:\n  web:\n    image: [nginx\n  db: {}\n", 4, id="unclosed-flow"),
        pytest.param(b"a: 1\n b: 2\n", 2, id="bad-indentation"),
        pytest.param(b"services:\n  web:\n    image: *nope\n", 3, id="unknown-alias"),
        pytest.param(b"a: 'x\n", 2, id="unclosed-quote"),
        pytest.param(b"a: \x07\n", 1, id="control-character"),
    ],
)
def test_invalid_yaml(raw, line):
    with pytest.raises(BadInput) as info:
        ComposeDoc.load(raw, "compose.yaml")
    assert info.value.message.startswith("invalid YAML: ")
    assert (info.value.line, info.value.path) == (line, "compose.yaml")


@pytest.mark.parametrize("raw", [b"", b"# only a comment\n", b"---\n"], ids=["empty", "comment", "marker"])
def test_empty_files_have_no_services(raw):
    doc = ComposeDoc.load(raw, "compose.yaml")
    assert doc.render() == raw
    assert doc.services() == [] and not doc.is_legacy_v1


def test_custom_tags_and_legacy_v1():
    doc = ComposeDoc.load(b"web:\n  image: nginx\n  ports: !reset []\ndb:\n  build: .\n", "c.yml")
    assert doc.is_legacy_v1 and doc.services() == []
    assert not ComposeDoc.load(b"services:\n  web:\n    image: x\n", "c.yml").is_legacy_v1


def test_services_lines_and_null_values():
    doc = ComposeDoc.load(b"version: '3'\nservices:\n  web:\n    image: x\n  db:\n", "c.yml")
    assert [(s.name, s.line, type(s.node).__name__) for s in doc.services()] == [
        ("web", 3, "MappingNode"), ("db", 5, "ScalarNode"),
    ]


@pytest.mark.parametrize(
    ("raw", "indent", "offset"),
    [
        pytest.param(b"services:\n  web:\n    image: x\n", 2, 2, id="default"),
        pytest.param(b"services:\n    web:\n        ports:\n        - 1\n", 4, 0, id="four-flat"),
        pytest.param(b"services:\n  web:\n    ports:\n      - 1\n", 2, 2, id="two-indented"),
    ],
)
def test_indentation_detection(raw, indent, offset):
    doc = ComposeDoc.load(raw, "c.yml")
    assert (doc.indent, doc.sequence_offset) == (indent, offset)


SUPPRESS = b"""services:
  # hardener: ignore=no-new-privileges
  web:
    image: x
  # first line of a block
  # hardener: ignore=read-only, pin-base-image
  #
  api:
    image: y
  # hardener: ignore

  db:
    image: z
  cache:  # hardener: ignore=read-only
    image: "a # hardener: ignore=pin-base-image"
  all:
    # hardener: ignore
    image: q
    command: | # hardener: ignore=read-only
      # hardener: ignore=pin-base-image
      run
"""


@pytest.mark.parametrize(
    ("line", "name", "expected"),
    [
        pytest.param(3, "no-new-privileges", True, id="directly-above"),
        pytest.param(3, "read-only", False, id="other-name"),
        pytest.param(8, "pin-base-image", True, id="comment-block-above"),
        pytest.param(8, "read-only", True, id="comment-block-first-name"),
        pytest.param(8, "no-new-privileges", False, id="comment-block-other-name"),
        pytest.param(12, "read-only", False, id="blank-line-breaks-block"),
        pytest.param(14, "read-only", True, id="trailing"),
        pytest.param(14, "pin-base-image", False, id="trailing-other-name"),
        pytest.param(15, "pin-base-image", False, id="hash-inside-scalar"),
        pytest.param(18, "anything", True, id="bare-ignore"),
        pytest.param(19, "read-only", True, id="block-scalar-header"),
        pytest.param(21, "pin-base-image", False, id="inside-block-scalar"),
    ],
)
def test_suppressed(line, name, expected):
    assert ComposeDoc.load(SUPPRESS, "c.yml").suppressed(line, name) is expected
