"""ComposeDoc's libyaml path gives exactly the nodes and tokens of ruamel's pure path.

Everything a transform reads (node classes, tags, values, styles, anchors, marks, the
token spans comments are found between) must be the same whichever parser ran, or the
output would depend on whether ruamel.yaml.clib is installed.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml.nodes import Node, ScalarNode

from hardener.compose import doc as compose_doc
from hardener.compose import libyaml
from hardener.source import SourceText

pytest.importorskip("ruamel.yaml.cyaml")

SNIPPETS = [
    "services:\n  a:\n    image: x\n  b:\n",
    "services:\n  a:\n    environment:\n      A:\n      B: ''\n    ports:\n    - \n    - '80'\n",
    "x-c: &c\n  restart: always\nservices:\n  a:\n    <<: *c\n    image: x\n  b: *c\n",
    "x: &m k: v\ny: *m\n",
    "services: &s\n  a: &a {image: x, ports: [1, 2], e: }\n  b: {<<: [*a], k: }\n",
    "a: |+\n  keep\n\n\nb: >-  # c\n  folded\n  text\nc: \"q\\u00e9\" # é\n",
    "---\na: 1\n...\n---\n# only a comment\n---\nb: [a, {c: d, e}, ? f]\n",
    "? complex\n: value\n? [a, b]\n: c\nk:\n",
    "a: {e: }\nb: {<<: [x], k: }\nd: [k: ]\nf: [k: , j]\ng: {a: , b}\nh: {a: &x , b: *x}\n",
    "a: &e\nb: *e\nc: [&f , *f]\n- \n",
    "a:\r\n  b: c\r\n  d:\r\n",
    "\ufeffservices:\n  a:\n    image: 😀x\n    command: [\"sh\", '-c', plain]\n",
    "a: !!str 5\nb: !custom {x: 1}\nc: &n !!int 3\nd: *n\ne: yes\nf: 0777\ng: ~\nh: null\n",
    "list:\n- a\n-\n- - nested\n  -\n- k: v\n  k2:\nend: 1\n",
    "services:\n  a:\n    image: x\t# tab before a comment\n",
    "a: [\n  1,\n  2\n]\nb: {\n  c: d\n}\n",
]


def _shape(nodes: list[Node]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    seen: dict[int, int] = {}
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            out.append(("alias", seen[id(node)]))
            continue
        seen[id(node)] = len(seen)
        base = (type(node).__name__, node.anchor, str(node.tag), node.start_mark.index, node.end_mark.index,
                node.start_mark.line, node.start_mark.column, node.end_mark.line, node.end_mark.column,
                getattr(node, "flow_style", None))
        if isinstance(node, ScalarNode):
            out.append((*base, node.value, node.style))
        else:
            out.append((*base, len(node.value)))
            stack.extend(reversed(compose_doc._children(node)))
    return out


def _same_both_ways(text: str) -> bool:
    """Assert equality; False when the C path defers to the pure one."""
    fast = libyaml.compose_and_scan(text)
    if fast is None:
        return False
    pure = compose_doc._compose_and_scan(text)
    assert fast[1] == pure[1]
    assert _shape(fast[0]) == _shape(pure[0])
    return True


@pytest.mark.parametrize("text", SNIPPETS)
def test_snippets(text: str) -> None:
    try:
        compose_doc._compose_and_scan(text)
    except Exception:
        assert libyaml.compose_and_scan(text) is None or "\t" in text
        return
    _same_both_ways(text)


def test_every_fixture_compose_file() -> None:
    root = Path(__file__).resolve().parent.parent / "fixtures"
    checked = 0
    for path in sorted(root.rglob("*.y*ml")):
        try:
            text = SourceText.decode(path.read_bytes()).text
            compose_doc._compose_and_scan(text)
        except Exception:
            continue
        checked += _same_both_ways(text)
    assert checked > 100


def test_deep_nesting_goes_to_the_pure_path() -> None:
    assert libyaml.compose_and_scan("a: " + "[" * 150 + "]" * 150 + "\n") is None
    assert libyaml.compose_and_scan("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 150))) is None


def test_loads_of_the_same_bytes_are_shared() -> None:
    from hardener.compose.doc import ComposeDoc

    raw = b"services:\n  a:\n    image: x\n"
    first = ComposeDoc.load(raw, "compose.yaml")
    assert ComposeDoc.load(bytes(raw), "compose.yaml") is first
    assert ComposeDoc.load(raw, "other/compose.yaml") is not first  # the path is part of the doc
    assert ComposeDoc.load(raw + b"  b:\n    image: y\n", "compose.yaml").services()[1].name == "b"
    big = b"services:\n  a:\n    image: x\n" + b"#" * 1_000_001 + b"\n"
    assert ComposeDoc.load(big, "compose.yaml") is not ComposeDoc.load(big, "compose.yaml")


def test_alias_free_bounds_match_the_exact_walk() -> None:
    wide = "items:\n" + "".join(f"  - {i}\n" for i in range(20))
    documents, tokens = compose_doc._compose_and_scan(wide)
    assert compose_doc._within_bounds(documents)
    compose_doc._check_bounds(documents, tokens)
