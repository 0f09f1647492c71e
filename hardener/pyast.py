"""Reading Python with the stdlib ``ast`` where it gives exactly what libcst gives.

libcst costs a tenth of a second to import and parses slowly; the readers of an app's Python
(``knowledge/writes_python.py``, ``repo_facts.python_needs``) only read. ``ast`` parses in C
but sees the code differently: it merges implicit string concatenations, keeps an f-string's
text as constants, parses True/False/None as constants and normalises non-ASCII names. The
functions here give libcst's view, or None when they cannot be sure, and then the caller
reads the module with libcst as before.
"""
from __future__ import annotations

import ast
import io
import tokenize
import warnings
from collections.abc import Iterator


def parse(source: bytes) -> ast.Module | None:
    """The module's tree, or None when ``ast`` cannot parse it (libcst decides then)."""
    try:
        with warnings.catch_warnings():  # invalid escapes warn: not ours to report
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def full_name(node: ast.expr) -> str | None:
    """libcst's ``get_full_name_for_node`` on the ``ast`` of the same expression (libcst
    parses True, False and None as names; an unsupported value makes "None.attr")."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{full_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return full_name(node.func)
    if isinstance(node, ast.Subscript):
        return full_name(node.value)
    if isinstance(node, ast.Constant) and (node.value is None or node.value is True or node.value is False):
        return str(node.value)
    return None


class Source:
    """The text of a parsed module, for the code of a node (as ``ast.get_source_segment``,
    with the lines split once: offsets are UTF-8 bytes of the decoded line)."""

    def __init__(self, source: bytes) -> None:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
        self.lines = [line.encode() for line in _split_lines(text.removeprefix("\ufeff"))]

    def segment(self, node: ast.AST) -> str | None:
        start: int | None = getattr(node, "lineno", None)
        end: int | None = getattr(node, "end_lineno", None)
        col: int | None = getattr(node, "col_offset", None)
        end_col: int | None = getattr(node, "end_col_offset", None)
        if start is None or end is None or col is None or end_col is None or end > len(self.lines):
            return None
        if start == end:
            return self.lines[start - 1][col:end_col].decode(errors="replace")
        parts = [self.lines[start - 1][col:], *self.lines[start:end - 1], self.lines[end - 1][:end_col]]
        return b"".join(parts).decode(errors="replace")


def _split_lines(text: str) -> list[str]:
    """Lines as the parser counts them (\\n, \\r\\n, \\r; not str.splitlines' form feeds)."""
    lines, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\r" or c == "\n":
            i += 2 if c == "\r" and i + 1 < n and text[i + 1] == "\n" else 1
            lines.append(text[start:i])
            start = i
        else:
            i += 1
    lines.append(text[start:])
    return lines


def simple_strings(tree: ast.Module, source: bytes) -> list[str] | None:
    """The value of every string literal libcst reads as a ``SimpleString`` (each part of an
    implicit concatenation, never an f-string's text; bytes left out), in no given order; None
    when a literal's source is not what the tree says (the caller asks libcst)."""
    text: Source | None = None
    fstring_text: set[int] = set()  # the constants that are an f-string's own text
    specs: set[int] = set()  # format specs ({x:>10}): text and fields, never a literal of their own
    found: list[str] = []
    for node in ast.walk(tree):  # breadth first: a parent is seen before its children
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            specs.add(id(node.format_spec))
        if isinstance(node, ast.JoinedStr) and id(node) in specs:
            fstring_text.update(id(v) for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.JoinedStr):
            fstring_text.update(id(v) for v in node.values if isinstance(v, ast.Constant))
            text = text or Source(source)
            parts = _plain_parts(text.segment(node), fstring=True)
            if parts is None:
                return None
            found += parts
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in fstring_text:
            text = text or Source(source)
            segment = text.segment(node)
            if segment is not None and _one_literal(segment):
                found.append(node.value)
                continue
            parts = _plain_parts(segment, fstring=False)
            if parts is None or "".join(parts) != node.value:
                return None
            found += parts
    return found


def _one_literal(segment: str) -> bool:
    """``segment`` is one string literal beyond doubt: its quote opens it, closes it and
    appears nowhere else (so it is not ``"a" "b"``), and no backslash could hide one."""
    body = segment.lstrip("rRuU")
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote):
            inner = body[len(quote):-len(quote)]
            return len(body) >= 2 * len(quote) and body.endswith(quote) and quote[0] not in inner \
                and "\\" not in inner
    return False


def _plain_parts(segment: str | None, fstring: bool) -> list[str] | None:
    """The plain (not f-) string literals of an implicit concatenation, by tokenizing its
    code; None unless it is string literals only and, for ``fstring``, has an f-string."""
    if segment is None:
        return None
    try:
        tokens = list(_tokens("(" + segment + ")"))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    parts: list[str] = []
    depth = 0  # inside an f-string (Python 3.12 tokenizes its parts): its strings are the tree's
    saw_fstring = False
    for tok in tokens[1:-1]:
        kind = tokenize.tok_name[tok.type]
        if kind == "FSTRING_START":
            depth += 1
            saw_fstring = True
        elif kind == "FSTRING_END":
            depth -= 1
        elif depth:
            continue
        elif tok.type == tokenize.STRING:
            prefix = tok.string[:len(tok.string) - len(tok.string.lstrip("rRuUbBfF"))].lower()
            if "f" in prefix:
                saw_fstring = True
            elif "b" not in prefix:
                value = ast.literal_eval(tok.string)
                if not isinstance(value, str):
                    return None
                parts.append(value)
        elif tok.type not in (tokenize.NL, tokenize.COMMENT):
            return None
    return parts if saw_fstring == fstring and depth == 0 else None


def _tokens(code: str) -> Iterator[tokenize.TokenInfo]:
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
            yield tok
