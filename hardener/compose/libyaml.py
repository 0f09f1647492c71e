"""ComposeDoc's nodes and tokens from libyaml (ruamel.yaml.clib) instead of ruamel's pure Python.

The pure scanner and composer were most of a Compose run (a 2,000-service file took 8 s
per parse); libyaml takes a few hundredths. Its marks are character offsets like ruamel's
and its nodes and tokens are ruamel's classes; what differs is made the same here (plain
scalar style, empty values' marks, anchors), and ``tests/test_compose_libyaml.py`` checks
both paths agree. Anything libyaml reads differently, or rejects, goes to the pure path.
"""
from __future__ import annotations

import re

from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from hardener.compose.doc import _FLOW_STEP, MAX_DEPTH, Token, _children

_PURE_ONLY = re.compile("[\t\x85\u2028\u2029]")

# Nesting deeper than this goes to the pure-Python path: the C composer recurses per level
# with no recursion limit, and the pure path is the one that refuses ``MAX_DEPTH`` cleanly.
_C_MAX_NESTING = MAX_DEPTH // 2
_NEST_STEP = {"BlockMappingStartToken": 1, "BlockSequenceStartToken": 1, "BlockEndToken": -1, **_FLOW_STEP}


def compose_and_scan(text: str) -> tuple[list[Node], list[Token]] | None:
    """The same nodes and tokens from libyaml (ruamel.yaml.clib), or None to use the pure path.

    The pure-Python scanner and composer were most of a Compose run (a 2,000-service file
    took 8 s per parse); libyaml does it in a few hundredths. Its marks are character
    offsets like ruamel's and its tokens and nodes are ruamel's classes; the only
    difference, a plain scalar's style ``""`` instead of None, is normalised here. Any
    error (including the tab separators go-yaml accepts) goes to the pure path, so what is
    refused, and how, is decided there as before.
    """
    if text.startswith("\ufeff") or _PURE_ONLY.search(text):
        # libyaml drops a BOM and counts from after it; it accepts tabs that ruamel (and
        # this tool) refuse, such as ``image:<TAB>x``, and reads NEL/LS/PS as line breaks
        return None
    try:
        from ruamel.yaml.cyaml import CSafeLoader
    except ImportError:  # no C extension (PyPy, a source build without libyaml)
        return None
    loader = _caching_loader(CSafeLoader) if "%" not in text else CSafeLoader
    tokens: list[Token] = []
    # ruamel marks an empty block-mapping value at the end of the token after its ``:``
    # (the next key or block end), libyaml at the ``:``'s end; in flow context ruamel
    # marks it at the ``:``'s end, libyaml at the next token. Keyed by libyaml's index.
    empty_value_mark: dict[int, object] = {}
    empty_flow_value_mark: dict[int, object] = {}
    anchors: dict[int, str] = {}  # libyaml's composer keeps no ``node.anchor``: by position
    names: dict[type, str] = {}
    # the loop runs once per token (a 2,000-service file has ~100,000 per parse): locals,
    # not attribute lookups, and tuple.__new__ rather than the NamedTuple's Python __new__
    new_token = tuple.__new__
    append = tokens.append
    nest_step = _NEST_STEP.get
    try:
        scanner = CSafeLoader(text)
        check_token, get_token = scanner.check_token, scanner.get_token
        depth = flow = 0
        after_value: int | None = None
        flow_value: object | None = None
        while check_token():
            tok = get_token()
            cls = type(tok)
            kind = names.get(cls)
            if kind is None:
                kind = names[cls] = cls.__name__
            start_mark, end_mark = tok.start_mark, tok.end_mark
            if after_value is not None:
                empty_value_mark[after_value] = end_mark
                after_value = None
            if flow_value is not None:
                empty_flow_value_mark[start_mark.index] = flow_value
                flow_value = None
            if kind == "ValueToken":
                if flow:
                    flow_value = end_mark
                else:
                    after_value = end_mark.index
            elif kind == "AnchorToken":
                anchors[start_mark.index] = tok.value
            step = nest_step(kind, 0)
            if step:
                depth += step
                flow += _FLOW_STEP.get(kind, 0)
                if depth > _C_MAX_NESTING:
                    return None
            start, end = start_mark.index, end_mark.index
            if end > start:
                append(new_token(Token, (start, end, kind, getattr(tok, "style", None) or None)))
        composer = loader(text)
        documents = []
        while composer.check_node():
            node = composer.get_node()
            if node is not None:
                documents.append(node)
    except (YAMLError, ValueError, UnicodeError):
        return None
    _as_ruamel_nodes(documents, (empty_value_mark, empty_flow_value_mark), anchors)
    return documents, tokens


_LOADER: list[type] = []


def with_resolve_cache(base: type) -> type:
    """``base`` (a loader or resolver class) whose tag resolution is remembered per
    (kind, value, implicit) for the run.

    libyaml calls back into ruamel's Python resolver for every scalar, which was most of
    the C path's time (and a fifth of judging a 2,000-service file). The answer depends
    only on those three and the YAML version, which only a ``%YAML`` directive changes:
    callers use it only for texts without ``%``."""
    cache: dict[tuple[object, object, object], object] = {}

    class Caching(base):  # type: ignore[misc]  # CSafeLoader is untyped
        def resolve(self, kind: object, value: object, implicit: object) -> object:
            key = (kind, value, implicit)
            try:
                return cache[key]
            except KeyError:
                if len(cache) > 100_000:  # bounded for a run over many large files
                    cache.clear()
                tag = cache[key] = super().resolve(kind, value, implicit)
                return tag
            except TypeError:  # an unhashable value (a collection's): not remembered
                return super().resolve(kind, value, implicit)

    return Caching


def _caching_loader(base: type) -> type:
    """``base`` with the tag cache, made once for the run."""
    if not _LOADER:
        _LOADER.append(with_resolve_cache(base))
    return _LOADER[0]


def _as_ruamel_nodes(documents: list[Node], empty_value_marks: tuple[dict[int, object], dict[int, object]],
                     anchors: dict[int, str]) -> None:
    """Plain style None, an empty block value's marks where ruamel puts them, and anchors.

    An anchored node starts at its ``&``; so may its parent (``&a k: v`` starts the block
    mapping there too), so the deepest node starting there gets it: a pre-order walk
    visits it last.
    """
    anchored: dict[int, Node] = {}
    seen: set[int] = set()
    stack = list(reversed(documents))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.start_mark.index in anchors:
            anchored[node.start_mark.index] = node
        if isinstance(node, ScalarNode):
            if node.style == "":
                node.style = None
            continue
        if isinstance(node, MappingNode):
            marks = empty_value_marks[1 if node.flow_style else 0]
            for _key, value in node.value:
                if (isinstance(value, ScalarNode) and value.value == "" and not value.style
                        and value.start_mark.index == value.end_mark.index
                        and value.start_mark.index in marks):
                    value.start_mark = value.end_mark = marks[value.start_mark.index]
        stack.extend(reversed(_children(node)))
    for index, node in anchored.items():
        node.anchor = anchors[index]
