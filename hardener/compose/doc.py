"""ComposeDoc: a lossless view of a Docker Compose file.

The YAML is never dumped back. ruamel.yaml's composer gives the node graph with
character offsets (``mark.index``) into ``text``, and its scanner gives the token
spans; transforms splice text at those positions (see ``hardener.compose.splice``), so
every byte outside an edit stays as it was, comments, quoting and ``${VAR}`` included.

The token spans matter because node end marks are not where content ends: a block
node's end mark lies at the next token (after trailing blank lines and comments), and
an empty value's marks point at the *next* key. The last token before an end mark is
where the content really stops. Gaps between tokens hold only whitespace and
comments, which is how comments are found without mistaking a ``#`` inside a scalar.
"""
from __future__ import annotations

import copy
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, NoReturn, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from hardener.compose.splice import is_alias_value, is_merge_key, mapping_own
from hardener.errors import BadInput
from hardener.source import SourceText, line_starts
from hardener.suppress import ALL, Suppressions

_COMMENT = re.compile(r"#[^\r\n]*")
_BLOCK_HEADER = re.compile(r"[|>][0-9+-]*")
T = TypeVar("T")


class Token(NamedTuple):
    """A scanner token that covers text (zero-width structure tokens are dropped)."""

    start: int
    end: int
    kind: str  # ruamel token class name, e.g. "ScalarToken", "FlowEntryToken"
    style: str | None  # scalar style: None plain, "'", '"', "|", ">"


class Comment(NamedTuple):
    line: int  # 1-based
    start: int
    end: int
    own_line: bool  # nothing but whitespace before it on its line


@dataclass(frozen=True)
class Service:
    name: str
    key: ScalarNode
    node: Node | None  # the value; a ScalarNode for ``svc:`` with nothing after it
    line: int  # 1-based line of the key
    doc_index: int
    alias: bool = False  # value is ``*anchor``: editing it would edit the anchor's text


# Far beyond any Compose file people write (the deepest in the corpus is about 10 levels,
# the largest a few thousand nodes) and far below what makes a walk or the judge slow.
MAX_DEPTH = 200
MAX_ALIASES = 10_000
MAX_EXPANDED_NODES = 500_000


_LOADED: dict[tuple[str, bytes], ComposeDoc] = {}  # oldest first
_LOADED_KEPT = 4
_LOADED_MAX_BYTES = 1_000_000


class ComposeDoc:
    kind: ClassVar[str] = "compose"

    def __init__(self, source: SourceText, path: str) -> None:
        self._services: list[Service] | None = None
        self.source = source
        self.text = source.text
        self.path = path
        self.newline = source.newline
        self.line_starts = line_starts(self.text)
        self.documents, self.tokens = self._parse()
        self._token_ends = [t.end for t in self.tokens]
        self.comments: list[Comment] = list(self._find_comments())
        self._above = Suppressions.from_lines(
            [(c.line, self.text[c.start : c.end]) for c in self.comments if c.own_line], set()
        )
        self._trailing = Suppressions.from_lines(
            [(c.line, self.text[c.start : c.end]) for c in self.comments if not c.own_line], set()
        )
        self.indent = _most_common((n for n in self._indent_samples() if n > 0), 2)
        sequences, quotes = self._pair_samples()
        self.sequence_offset = _most_common((n for n in sequences if n >= 0), self.indent)
        self.quote = _most_common(iter(quotes), '"')

    @classmethod
    def load(cls, raw: bytes, path: str = "compose.yaml") -> ComposeDoc:
        """The document of ``raw``; the same bytes at the same path give the same object.

        The engine, the project model and the judges each load the file being worked on;
        a ComposeDoc is never changed after it is built (edits make new text, which is
        loaded anew), so the last few loads (of files up to 1 MB) are shared instead of parsed again.
        """
        key = (path, raw)
        doc = _LOADED.pop(key, None)
        if doc is None:
            # the project model names the file by another path than the engine does
            twin = next((d for (_, kept), d in _LOADED.items() if kept == raw), None)
            doc = twin._at(path) if twin is not None else None
        if doc is None:
            try:
                doc = cls(SourceText.decode(raw), path)
            except BadInput as exc:
                raise exc.with_path(path) from None
        if len(raw) <= _LOADED_MAX_BYTES:  # a doc's nodes take ~100x its bytes
            _LOADED[key] = doc
        while len(_LOADED) > _LOADED_KEPT:
            del _LOADED[next(iter(_LOADED))]
        return doc

    @staticmethod
    def forget(doc: ComposeDoc) -> None:
        """Drop ``doc`` from the recent loads: the engine's document of a round it has
        finished with (no one loads that text again), whose nodes would otherwise stay
        alive, and be walked by every later garbage collection, until four newer loads."""
        for key in [k for k, kept in _LOADED.items() if kept is doc]:
            del _LOADED[key]

    def _at(self, path: str) -> ComposeDoc:
        """This document under another path, without parsing it again (nothing in a
        document depends on its path but the name it reports)."""
        twin = copy.copy(self)
        twin.path = path
        return twin

    def render(self) -> bytes:
        return self.source.encode(self.text)

    # positions -----------------------------------------------------------------

    def line_of(self, index: int) -> int:
        """1-based line of a character offset (only ``\\n`` ends a line, as in the diff)."""
        return bisect_right(self.line_starts, index)

    def column_of(self, index: int) -> int:
        return index - self.line_starts[self.line_of(index) - 1]

    def last_token_before(self, index: int) -> Token | None:
        """The last token ending at or before ``index``: where content before it stops."""
        pos = bisect_right(self._token_ends, index)
        return self.tokens[pos - 1] if pos else None

    def first_token_from(self, index: int, kind: str) -> Token | None:
        """The first token of ``kind`` starting at or after ``index``."""
        tokens = self.tokens
        # by index: a slice would copy the rest of the list, once per sequence in the file
        for i in range(bisect_right(self._token_ends, index), len(tokens)):
            token = tokens[i]
            if token.kind == kind and token.start >= index:
                return token
        return None

    # structure -------------------------------------------------------------------

    def services(self) -> list[Service]:
        """The services of every document, in order; computed once per document (it never
        changes) so a per-service loop that asks again does not walk all services each time."""
        if self._services is None:
            self._services = self._find_services()
        return list(self._services)

    def _find_services(self) -> list[Service]:
        found = []
        for doc_index, root in enumerate(self.documents):
            block = mapping_own(root, "services")
            if not isinstance(block, MappingNode):
                continue
            for key, value in block.value:
                if not isinstance(key, ScalarNode) or is_merge_key(key):
                    continue
                alias = is_alias_value(key, value)
                found.append(Service(
                    str(key.value), key, value, self.line_of(key.start_mark.index), doc_index, alias,
                ))
        return found

    @property
    def is_legacy_v1(self) -> bool:
        """Compose v1: services at the top level, no ``services:`` key."""
        for root in self.documents:
            if not isinstance(root, MappingNode) or mapping_own(root, "services") is not None:
                continue
            for _key, value in root.value:
                if isinstance(value, MappingNode) and any(
                    mapping_own(value, k) is not None for k in ("image", "build")
                ):
                    return True
        return False

    def suppressed(self, line: int, name: str) -> bool:
        """``# hardener: ignore[=NAME,…]`` above ``line`` (comment block) or trailing on it."""
        if self._above.applies(line, name):
            return True
        names = self._trailing.by_line.get(line, frozenset())
        return ALL in names or name.lower() in names

    # loading -------------------------------------------------------------------

    def _parse(self) -> tuple[list[Node], list[Token]]:
        """Compose and scan; a tab ruamel rejects but go-yaml (Compose) skips is retried.

        After a scalar in block context go-yaml accepts a tab as separation
        (``image: x<TAB># c``); ruamel does not. Such tabs become spaces in a private copy
        used only for parsing, so every offset still points into ``text``.
        """
        from hardener.compose.libyaml import compose_and_scan  # imports doc.py: not at the top

        fast = compose_and_scan(self.text)
        if fast is not None:
            _check_bounds(*fast)
            return fast
        shadow = self.text
        for attempt in range(1000):
            try:
                documents, tokens = _compose_and_scan(shadow)
            except RecursionError:  # ruamel's composer recurses per level; the limit check comes after it
                raise BadInput(f"invalid YAML: nested more than {MAX_DEPTH} levels", None) from None
            except MarkedYAMLError as exc:
                tab = _separator_tab(shadow, exc)
                if tab is None:
                    self._raise_invalid(exc)
                run = len(shadow) - len(shadow[tab:].lstrip("\t"))
                shadow = shadow[:tab] + " " * (run - tab) + shadow[run:]
            except YAMLError as exc:
                self._raise_invalid(exc)
            else:
                _check_bounds(documents, tokens)
                return documents, tokens
            if attempt == 0:
                try:
                    parsed = _all_separator_tabs(shadow)
                except RecursionError:
                    raise BadInput(f"invalid YAML: nested more than {MAX_DEPTH} levels", None) from None
                if parsed is not None:
                    _check_bounds(*parsed)
                    return parsed
        raise BadInput("invalid YAML: too many tabs", None)

    def _raise_invalid(self, exc: YAMLError) -> NoReturn:
        if isinstance(exc, MarkedYAMLError):
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "unreadable"
            raise BadInput(f"invalid YAML: {problem}", self._mark_line(mark)) from None
        if isinstance(exc, ReaderError):
            raise BadInput(f"invalid YAML: {exc.reason}", self.line_of(exc.position)) from None
        raise BadInput(f"invalid YAML: {exc}", None) from None

    def _mark_line(self, mark: object) -> int | None:
        index = getattr(mark, "index", None)
        return None if index is None else self.line_of(min(index, len(self.text)))

    def _find_comments(self) -> Iterator[Comment]:
        """Comments are the ``#…`` runs in the gaps between tokens."""
        text = self.text
        for start, end in self._gaps():
            if text.find("#", start, end) < 0:  # most gaps are a newline and indentation
                continue
            for match in _COMMENT.finditer(self.text, start, end):
                line = self.line_of(match.start())
                before = self.text[self.line_starts[line - 1] : match.start()]
                yield Comment(line, match.start(), match.end(), not before.strip())

    def _gaps(self) -> Iterator[tuple[int, int]]:
        """Text outside tokens, plus the rest of a block scalar's header line (``| # x``)."""
        pos = 0
        for token in [*self.tokens, Token(len(self.text), len(self.text), "", None)]:
            yield pos, max(pos, token.start)
            pos = max(pos, token.end)
            if token.style in ("|", ">"):
                header = _BLOCK_HEADER.match(self.text, token.start)
                line_end = self.text.find("\n", token.start)
                if header is not None and line_end != -1:
                    yield header.end(), line_end

    # style detection ------------------------------------------------------------

    def _indent_samples(self) -> Iterator[int]:
        """Spaces per level: service key → its first child, or (v1) top key → its child."""
        services = self.services()
        if services:
            pairs = [(s.key, s.node) for s in services if not s.alias]
        else:
            pairs = [p for root in self.documents if isinstance(root, MappingNode) for p in root.value]
        for key, value in pairs:
            if isinstance(value, MappingNode) and not value.flow_style and value.value:
                child = value.value[0][0].start_mark.index
                yield self.column_of(child) - self.column_of(key.start_mark.index)

    def _pair_samples(self) -> tuple[list[int], list[str]]:
        """From one walk over every (key, value): dash column minus key column for block
        sequences under block mapping keys, and the quote of each quoted scalar value."""
        sequences: list[int] = []
        quotes: list[str] = []
        for key, value in _pairs(self.documents):
            if isinstance(value, ScalarNode):
                if value.style in ("'", '"'):
                    quotes.append(value.style)
                continue
            if is_alias_value(key, value):
                continue  # an alias: its text is elsewhere
            if isinstance(value, SequenceNode) and not value.flow_style and value.value:
                dash = self.first_token_from(value.start_mark.index, "BlockEntryToken")
                if dash is not None and self.line_of(dash.start) > self.line_of(key.start_mark.index):
                    sequences.append(self.column_of(dash.start) - self.column_of(key.start_mark.index))
        return sequences, quotes


def _separator_tab(text: str, exc: MarkedYAMLError) -> int | None:
    """Offset of a tab that go-yaml would skip: after a token, not after ``:``/``-``/``?``."""
    index = getattr(exc.problem_mark, "index", None)
    if index is None or index >= len(text) or text[index] != "\t":
        return None
    before = text[text.rfind("\n", 0, index) + 1 : index].rstrip(" \t")
    return index if before and before[-1] not in ":-?" else None


def _all_separator_tabs(text: str) -> tuple[list[Node], list[Token]] | None:
    """The parse of ``text`` with every tab the loop above could replace replaced at once.

    The loop re-parses the whole file once per tab (990 tabs before comments took over
    300 s). Replacing every candidate up front gives the same parse when no replaced tab
    lies where ruamel takes a tab as content or whitespace (a quoted or block scalar, flow
    context): everywhere else in block context ruamel stops at a tab and fails, so the
    loop would have replaced it too, and a tab inside a comment changes nothing. None
    when that does not hold or the text still fails: the loop then goes on as before.
    """
    runs = [m.span() for m in _TAB_RUN.finditer(text) if _separator_prefix(text, m.start())]
    if not runs:
        return None
    chosen = set(runs)
    shadow = _TAB_RUN.sub(lambda m: " " * len(m.group()) if m.span() in chosen else m.group(), text)
    try:
        documents, tokens = _compose_and_scan(shadow)
    except YAMLError:
        return None
    return None if _any_in_content(runs, tokens) else (documents, tokens)


def _separator_prefix(text: str, index: int) -> bool:
    """``_separator_tab``'s test without slicing the line (a long line with many tabs)."""
    i = index - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i >= 0 and text[i] not in "\n:-?"


def _any_in_content(runs: list[tuple[int, int]], tokens: list[Token]) -> bool:
    """Whether a run lies inside a quoted or block scalar or inside ``[…]``/``{…}``."""
    content = [(t.start, t.end) for t in tokens if t.style in ("'", '"', "|", ">")]
    starts = [start for start, _ in content]
    depth_at: list[tuple[int, int]] = []  # (offset, flow depth from there on)
    depth = 0
    for token in tokens:
        step = _FLOW_STEP.get(token.kind, 0)
        if step:
            depth += step
            depth_at.append((token.start, depth))
    flow_starts = [offset for offset, _ in depth_at]
    for start, _end in runs:
        i = bisect_right(starts, start) - 1
        if i >= 0 and content[i][0] < start < content[i][1]:
            return True
        j = bisect_right(flow_starts, start) - 1
        if j >= 0 and depth_at[j][1] > 0:
            return True
    return False


_TAB_RUN = re.compile(r"\t+")
_FLOW_STEP = {"FlowSequenceStartToken": 1, "FlowMappingStartToken": 1,
              "FlowSequenceEndToken": -1, "FlowMappingEndToken": -1}


def _compose_and_scan(text: str) -> tuple[list[Node], list[Token]]:
    """Nodes and the scanner's tokens from one pass (a second scan cost 40% more time)."""
    from ruamel.yaml.scanner import Scanner

    tokens: list[Token] = []

    class RecordingScanner(Scanner):
        def get_token(self) -> object:
            tok = super().get_token()
            if tok is not None and tok.end_mark.index > tok.start_mark.index:
                tokens.append(
                    Token(tok.start_mark.index, tok.end_mark.index, type(tok).__name__, getattr(tok, "style", None))
                )
            return tok

        def fetch_more_tokens(self) -> None:
            # checked while scanning: the scanner's cost grows with the square of the flow
            # depth, so a 1,000-level `[[[…]]]` must stop here, not after the composer
            super().fetch_more_tokens()
            if self.flow_level > MAX_DEPTH or len(self.indents) > MAX_DEPTH:
                raise BadInput(f"invalid YAML: nested more than {MAX_DEPTH} levels", self.reader.line + 1)

    yaml = YAML(typ="safe", pure=True)
    yaml.Scanner = RecordingScanner
    documents = [d for d in yaml.compose_all(text) if d is not None]
    return documents, tokens


def _check_bounds(documents: list[Node], tokens: list[Token]) -> None:
    """Refuse YAML whose alias expansion or nesting would make every later walk explode.

    Composing shares an aliased node instead of copying it, so a 0.6 KB "billion laughs"
    file composes fast; what the judge and the transforms walk is the expanded tree. Its
    size and depth are computed here on the shared graph, each node once.
    """
    aliases = sum(1 for t in tokens if t.kind == "AliasToken")
    if aliases > MAX_ALIASES:
        raise BadInput(f"invalid YAML: more than {MAX_ALIASES} aliases", None)
    # the plain walk follows aliases into what they share, so it walks the expanded tree; it
    # answers when that is within both bounds (with aliases, when it is also small next to
    # the text: a billion-laughs file goes straight to the exact walk, which names the node)
    budget = MAX_EXPANDED_NODES if not aliases else 2 * len(tokens) + 1_000
    if _within_bounds(documents, budget):
        return
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    for root in documents:
        on_path: set[int] = set()
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if done:
                on_path.discard(key)
                kids = _children(node)
                # a child still on the path is a cycle (`<<: *self`): the walkers stop there
                size[key] = 1 + sum(size.get(id(k), 0) for k in kids)
                depth[key] = 1 + max((depth.get(id(k), 0) for k in kids), default=0)
                if size[key] > MAX_EXPANDED_NODES:
                    raise BadInput(f"invalid YAML: aliases expand to more than {MAX_EXPANDED_NODES} nodes",
                                   node.start_mark.line + 1)
                if depth[key] > MAX_DEPTH:
                    raise BadInput(f"invalid YAML: nested more than {MAX_DEPTH} levels", node.start_mark.line + 1)
                continue
            if key in size or key in on_path:
                continue
            on_path.add(key)
            stack.append((node, True))
            stack.extend((k, False) for k in _children(node))


def _within_bounds(documents: list[Node], budget: int = MAX_EXPANDED_NODES) -> bool:
    """Whether each document, its aliases expanded, is within both bounds, walking at most
    ``budget`` nodes of it; False sends the caller to the exact walk, which names the first
    node past a bound (a cycle, ``<<: *self``, runs past the depth bound here)."""
    limit = min(budget, MAX_EXPANDED_NODES)
    for root in documents:
        size = 0
        stack: list[tuple[Node, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            size += 1
            if depth > MAX_DEPTH or size > limit:
                return False
            if isinstance(node, MappingNode):
                stack.extend((n, depth + 1) for pair in node.value for n in pair)
            elif isinstance(node, SequenceNode):
                stack.extend((n, depth + 1) for n in node.value)
    return True


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _pairs(documents: list[Node]) -> Iterator[tuple[Node, Node]]:
    """Every (key, value) of every mapping, each node visited once (aliases are not re-walked)."""
    seen: set[int] = set()
    stack = list(reversed(documents))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                yield key, value
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def _most_common(samples: Iterator[T], default: T) -> T:
    counts = Counter(samples)
    return counts.most_common(1)[0][0] if counts else default
