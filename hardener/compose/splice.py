"""Lossless YAML edits: look things up in ruamel's node graph, return text ``Edit``s.

Nothing here mutates a document or dumps YAML. New entries are rendered as a few lines
in the file's own style (indent, sequence dash offset, quote character, newline) and
spliced in right after the last line that belongs to the node being extended, so
comments and blank lines that precede the next key stay with the next key.

An alias occurrence (``*x``) is the very node object of its anchor, whose marks lie
where the anchor is defined: editing such a node edits the anchor (and every other
user of it). Callers check ``Service.alias`` / use ``mapping_own`` to stay local.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Union

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from hardener.edits import Edit

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc

Scalar = str | bool | int
# Read-only, so covariant: a caller's list[str] or dict[str, list[str]] is a Value too.
Value = Union[Scalar, Sequence[Scalar], Mapping[str, "Value"]]  # noqa: UP007 - a recursive alias needs the string form

_STR = "tag:yaml.org,2002:str"
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
_LEADING = set("!&*{}[],#|>@`\"'%")
_FLOW_CHARS = set(",[]{}")
_BLOCK_HEADER = re.compile(r"[|>][0-9+-]*")


# reading -----------------------------------------------------------------------


def is_merge_key(key: Node) -> bool:
    if not isinstance(key, ScalarNode):
        return False
    if key.value == "<<" and key.style is None:
        return True
    ctag = key.ctag
    if ctag is not None and ctag.handle is None and isinstance(ctag.suffix, str) and "%" not in ctag.suffix:
        # a resolved or full tag is its suffix: skip building the tag string (asked of
        # every key, every time a merged mapping is read)
        return ctag.suffix.endswith(":merge")
    return str(key.tag).endswith(":merge")


def mapping_own(node: Node | None, key: str) -> Node | None:
    """The value written in this mapping itself (merge keys ignored)."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key and not is_merge_key(k):
                return v  # type: ignore[no-any-return]  # ruamel leaves MappingNode.value untyped: Node pairs
    return None


def is_alias_value(key: Node, value: Node) -> bool:
    """``key: *anchor``: the value is the anchor's node, whose marks lie where the anchor is
    written, before this key (an own value always starts after its key)."""
    return bool(value.start_mark.index < key.end_mark.index)


def written_here(node: Node | None, key: str) -> Node | None:
    """The value of ``key`` written in this mapping itself: neither merged in (``<<: *a``)
    nor an alias (``key: *a``), so editing its text changes this mapping only."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key and not is_merge_key(k):
                return None if is_alias_value(k, v) else v
    return None


def merge_sources(node: Node | None) -> list[MappingNode]:
    """Mappings merged in by ``<<: *a`` / ``<<: [*a, *b]``, in precedence order."""
    sources: list[MappingNode] = []
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if not is_merge_key(k):
                continue
            items = v.value if isinstance(v, SequenceNode) else [v]
            sources.extend(i for i in items if isinstance(i, MappingNode))
    return sources


def mapping_get(node: Node | None, key: str, _seen: frozenset[int] = frozenset()) -> Node | None:
    """The value as a YAML loader sees it: own keys win, then earlier merge sources."""
    if not isinstance(node, MappingNode) or id(node) in _seen:
        return None
    # own keys first, asking is_merge_key only of a key spelled ``key`` (it is asked of
    # hundreds of thousands of keys in a big file); merge keys only when it is not there.
    # The value is compared first: a collection key's is a list, never equal to a str.
    pairs = node.value
    for k, v in pairs:
        if k.value == key and isinstance(k, ScalarNode) and not is_merge_key(k):
            return v  # type: ignore[no-any-return]  # ruamel leaves MappingNode.value untyped: Node pairs
    merged = []
    for k, v in pairs:
        # a key the loader resolved to a plain string is no merge key: skip asking
        ctag = k.ctag
        if (ctag is None or ctag.suffix != _STR or k.value == "<<") and isinstance(k, ScalarNode) \
                and is_merge_key(k):
            merged.append(v)
    if not merged:
        return None
    sources = [i for v in merged for i in (v.value if isinstance(v, SequenceNode) else [v]) if isinstance(i, MappingNode)]
    for source in sources:
        found = mapping_get(source, key, _seen | {id(node)})
        if found is not None:
            return found
    return None


def mapping_has(node: Node | None, key: str) -> bool:
    return mapping_get(node, key) is not None


def scalar_value(node: Node | None) -> str | None:
    return str(node.value) if isinstance(node, ScalarNode) else None


def is_flow(node: Node) -> bool:
    return bool(getattr(node, "flow_style", False))


# rendering ---------------------------------------------------------------------


def render_scalar(value: Scalar, *, quote: str = '"', flow: bool = False) -> str:
    """A scalar in plain style when YAML reads it back as the same string, else quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot render {type(value).__name__} as a YAML scalar")
    if not _needs_quotes(value, flow):
        return value
    if quote == "'" and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return _double_quoted(value)


@functools.lru_cache(maxsize=4096)  # a pure function of its arguments, asked per edit of every service
def _needs_quotes(value: str, flow: bool) -> bool:
    if not value or value != value.strip() or not value.isprintable():
        return True
    if value[0] in _LEADING or value.startswith(("---", "...")):
        return True
    if value[0] in "-?:" and (len(value) == 1 or value[1] == " "):
        return True
    if ": " in value or " #" in value or value.endswith(":"):
        return True
    # libyaml (YAML 1.1) rejects ':' inside a plain scalar in flow context
    if flow and (_FLOW_CHARS & set(value) or ":" in value):
        return True
    return any(str(r.resolve(ScalarNode, value, (True, False))) != _STR for r in _RESOLVERS)


def _double_quoted(value: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for ch in value:
        if ch in escapes:
            out.append(escapes[ch])
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def render_flow(value: Value, quote: str = '"') -> str:
    """``[a, b]`` / ``{k: v}`` / a scalar, for splicing into flow collections."""
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{render_scalar(k, quote=quote, flow=True)}: {render_flow(v, quote)}"
            for k, v in value.items()
        )
        return "{" + inner + "}"
    if isinstance(value, str | int):  # a str is a Sequence too; bool is an int
        return render_scalar(value, quote=quote, flow=True)
    return "[" + ", ".join(render_flow(v, quote) for v in value) + "]"


def render_block_entry(doc: ComposeDoc, key: str, value: Value, column: int) -> list[str]:
    """Lines (without line ends) of ``key: value`` in block style at ``column``."""
    pad = " " * column
    head = f"{pad}{render_scalar(key, quote=doc.quote)}:"
    if isinstance(value, Mapping):
        if not value:
            return [head + " {}"]
        lines = [head]
        for child_key, child in value.items():
            lines += render_block_entry(doc, child_key, child, column + doc.indent)
        return lines
    if isinstance(value, str | int):  # a str is a Sequence too; bool is an int
        return [f"{head} {render_scalar(value, quote=doc.quote)}"]
    if not value:
        return [head + " []"]
    dash = " " * (column + doc.sequence_offset)
    return [head] + [f"{dash}- {render_scalar(v, quote=doc.quote)}" for v in value]


# positions ---------------------------------------------------------------------


def content_end(doc: ComposeDoc, node: Node) -> int:
    """Offset just after the node's last token (its end mark may include trailing comments)."""
    last = doc.last_token_before(node.end_mark.index)
    if last is None:
        raise ValueError("node has no content")
    return last.end


def block_insertion_point(doc: ComposeDoc, node: Node, column: int) -> int:
    """Start of the line after ``node``'s last content line and the comments indented with it.

    Comment lines directly below (no blank line between) at ``column`` or deeper belong
    to this block; a blank line or a shallower comment starts what follows.
    """
    text = doc.text
    last = doc.last_token_before(node.end_mark.index)
    if last is None:
        raise ValueError("node has no content")
    if last.kind == "ScalarToken" and last.style in ("|", ">"):
        pos = _block_scalar_end(text, last.start, last.end)
    else:
        newline = text.find("\n", last.end)
        pos = len(text) if newline == -1 else newline + 1
    while pos < len(text):
        newline = text.find("\n", pos)
        line = text[pos : len(text) if newline == -1 else newline]
        body = line.lstrip(" \t")
        if not body.startswith("#") or len(line) - len(body) < column:
            break
        pos = len(text) if newline == -1 else newline + 1
    return pos


def _block_scalar_end(text: str, start: int, end: int) -> int:
    """A block scalar token swallows trailing blank lines; they are content only with ``+``."""
    header_end = text.find("\n", start)
    if header_end == -1 or "+" in _BLOCK_HEADER.match(text, start).group():  # type: ignore[union-attr]  # a block scalar starts with | or >
        return end
    pos = end
    while pos > header_end + 1:
        prev = text.rfind("\n", 0, pos - 1) + 1
        if text[prev:pos].strip():
            break
        pos = prev
    return pos


def _insert_lines(doc: ComposeDoc, pos: int, lines: list[str]) -> Edit:
    nl = doc.newline
    body = "".join(line + nl for line in lines)
    if pos == len(doc.text) and doc.text and not doc.text.endswith("\n"):
        body = nl + body[: -len(nl)]  # keep the file's missing final newline missing
    return Edit(pos, pos, body)


def _flow_insert(doc: ComposeDoc, node: Node, piece: str) -> Edit:
    """Add ``piece`` as the last element of a flow collection, before its closing bracket."""
    close = node.end_mark.index - 1
    if doc.text[close] not in "]}":
        raise ValueError("flow collection without a closing bracket")
    last = doc.last_token_before(close)
    assert last is not None  # the opening bracket at least
    if last.kind in ("FlowMappingStartToken", "FlowSequenceStartToken"):
        return Edit(last.end, last.end, piece)
    separator = " " if last.kind == "FlowEntryToken" else ", "
    return Edit(last.end, last.end, separator + piece)


# edits -------------------------------------------------------------------------


def insert_mapping_entry(doc: ComposeDoc, mapping: Node | None, key: str, value: Value) -> Edit:
    """Add ``key: value`` as the last entry of ``mapping`` (block or flow).

    Raises ValueError when there is no mapping to add to (``svc:`` with a null value,
    a scalar): the caller turns that into a refusal rather than guessing a layout.
    """
    if not isinstance(mapping, MappingNode):
        raise ValueError("not a mapping (null or scalar value)")
    if is_flow(mapping):
        piece = f"{render_scalar(key, quote=doc.quote, flow=True)}: {render_flow(value, doc.quote)}"
        return _flow_insert(doc, mapping, piece)
    if not mapping.value:
        raise ValueError("empty block mapping")
    column = doc.column_of(mapping.value[0][0].start_mark.index)
    pos = block_insertion_point(doc, mapping, column)
    return _insert_lines(doc, pos, render_block_entry(doc, key, value, column))


def append_sequence_item(doc: ComposeDoc, seq: Node, value: Scalar) -> Edit:
    """Append ``value`` to a flow sequence, or as a ``- item`` line to a block sequence."""
    if not isinstance(seq, SequenceNode):
        raise ValueError("not a sequence")
    if is_flow(seq):
        return _flow_insert(doc, seq, render_scalar(value, quote=doc.quote, flow=True))
    dash = doc.first_token_from(seq.start_mark.index, "BlockEntryToken")
    if dash is None or not seq.value:
        raise ValueError("block sequence without items")
    column = doc.column_of(dash.start)
    gap = _dash_gap(doc, dash.start, seq.value[0])
    pos = block_insertion_point(doc, seq, column)
    item = f"{' ' * column}-{' ' * gap}{render_scalar(value, quote=doc.quote)}"
    return _insert_lines(doc, pos, [item])


def _dash_gap(doc: ComposeDoc, dash: int, first: Node) -> int:
    """Spaces between ``-`` and the item, copied from the first item when it is on that line."""
    start: int = first.start_mark.index
    if start > dash and doc.line_of(start) == doc.line_of(dash):
        return max(1, start - dash - 1)
    return 1


def replace_scalar(doc: ComposeDoc, node: Node, value: Scalar) -> Edit:
    """Replace a scalar's own text (its tag or anchor, if any, stays)."""
    if not isinstance(node, ScalarNode) or node.style in ("|", ">"):
        raise ValueError("not a single-line scalar")
    last = doc.last_token_before(node.end_mark.index)
    if last is None or last.kind != "ScalarToken" or last.start < node.start_mark.index:
        raise ValueError("scalar without text (null value)")
    return Edit(last.start, last.end, render_scalar(value, quote=node.style or doc.quote))
