"""DockerfileDoc: a lossless view of a Dockerfile.

The source text is never re-rendered: the document records where every instruction,
flag, heredoc body, comment and parser directive lies, and transforms edit those
spans. Line splitting, continuations, comments inside continuations and heredoc
bodies follow BuildKit's parser (frontend/dockerfile/parser) so that instruction
boundaries agree with the builder; dockerfile-parse is not used for structure because
it splits heredoc bodies into bogus instructions.
"""
from __future__ import annotations

import copy
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hardener.dockerfile.lex import (
    GO_SPACE,
    extract_flags,
    heredoc_words,
    json_args,
    lstrip_go,
    split_command,
)
from hardener.errors import BadInput
from hardener.source import SourceText
from hardener.suppress import Suppressions

_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")
JSON_KEYWORDS = ("ADD", "COPY", "CMD", "ENTRYPOINT", "RUN", "SHELL", "VOLUME")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    start: int  # offset of the first character
    end: int  # offset after the content, before "\r\n" / "\n"
    next: int  # offset of the next line

    def content(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True)
class Directive:
    name: str
    value: str
    line: int


@dataclass(frozen=True)
class Comment:
    line: int
    start: int
    end: int
    text: str  # the comment without leading whitespace, "#" included
    in_continuation: bool


@dataclass(frozen=True)
class Flag:
    name: str
    value: str | None
    start: int  # source offsets of the raw "--name=value" token
    end: int


@dataclass(frozen=True)
class Heredoc:
    name: str
    chomp: bool
    quoted: bool
    body_start: int  # source offsets of the body (lines between opener and terminator)
    body_end: int
    terminator_line: int

    def body(self, text: str) -> str:
        return text[self.body_start : self.body_end]


@dataclass(frozen=True)
class Instruction:
    """One instruction. Offsets index ``DockerfileDoc.text``.

    ``start``..``end`` covers the first line's first character to the end of the last
    line (heredoc terminator included) without its line break. ``logical`` is the line
    as BuildKit joins it (escapes, comments and blank continuation lines removed), and
    ``source_offset`` maps a logical index back to the source.
    """

    keyword: str  # upper case, as the builder dispatches it
    keyword_start: int
    keyword_end: int
    start: int
    end: int
    line: int
    end_line: int
    flags: tuple[Flag, ...]
    args: str  # after the flags, trimmed, as BuildKit hands it to the instruction
    args_start: int  # source offsets of the arguments (before any heredoc body)
    args_end: int
    json: tuple[str, ...] | None
    heredocs: tuple[Heredoc, ...]
    stage: int  # index into DockerfileDoc.stages; -1 before the first FROM
    logical: str
    pieces: tuple[tuple[int, int, int], ...] = field(repr=False)  # (logical, src_start, src_end)
    comments_inside: tuple[Comment, ...] = ()
    sub: Instruction | None = None  # ONBUILD trigger
    # Work derived from this instruction alone (the shell split), done once per document:
    # a dozen transforms ask for the same RUN's commands in every round.
    memo: dict[object, object] = field(default_factory=dict, init=False, compare=False, repr=False)

    def flag(self, name: str) -> Flag | None:
        return next((f for f in self.flags if f.name.lower() == name), None)

    def source_offset(self, logical_index: int) -> int:
        """The source offset of a character of ``logical`` (or of its end)."""
        return _to_source(self.pieces, logical_index)

    @property
    def is_multiline(self) -> bool:
        return self.end_line > self.line


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None  # the AS alias, lower case as BuildKit compares it
    base: str  # the image reference as written (may hold ${ARGS})
    from_: Instruction
    instructions: tuple[Instruction, ...]


_LOADED: dict[bytes, DockerfileDoc] = {}  # least recently used first
# The CI gate parses every Dockerfile of a repository while the engine is on the first one;
# the engine then loads each in turn: the loads are kept for a repository of many
# Dockerfiles (the corpus: 702), within a bound on the text held.
_LOADED_KEPT = 1024
_LOADED_KEPT_BYTES = 16 << 20
_LOADED_MAX_BYTES = 1_000_000
_loaded_bytes = 0


class DockerfileDoc:
    kind: ClassVar[str] = "dockerfile"

    def __init__(self, source: SourceText, path: str) -> None:
        self.source = source
        self.text = source.text
        self.path = path
        self.newline = source.newline
        self.lines = _split_lines(self.text)
        self.directives: list[Directive] = []
        self.comments: list[Comment] = []
        self.escape = "\\"
        self.instructions: list[Instruction] = []
        _Parser(self).run()
        self.stages = _stages(self.instructions)
        self._suppressions = Suppressions.from_lines(
            [(c.line, c.text) for c in self.comments], self._code_lines()
        )

    @classmethod
    def load(cls, raw: bytes, path: str = "Dockerfile") -> DockerfileDoc:
        """The document of ``raw``. Recent loads (of files up to 1 MB) are shared: the engine
        and the CI gate each parse every Dockerfile, and a document is never changed after it
        is built (edits make new text); under another path it is a copy."""
        global _loaded_bytes
        doc = _LOADED.pop(raw, None)
        if doc is None:
            try:
                doc = cls(SourceText.decode(raw), path)
            except BadInput as exc:
                raise exc.with_path(path) from None
        else:
            _loaded_bytes -= len(raw)
        if len(raw) <= _LOADED_MAX_BYTES:
            _LOADED[raw] = doc
            _loaded_bytes += len(raw)
        while len(_LOADED) > _LOADED_KEPT or _loaded_bytes > _LOADED_KEPT_BYTES:
            oldest = next(iter(_LOADED))
            del _LOADED[oldest]
            _loaded_bytes -= len(oldest)
        if doc.path != path:
            doc = copy.copy(doc)
            doc.path = path
        return doc

    def render(self) -> bytes:
        return self.source.encode(self.text)

    def suppressed(self, line: int, name: str) -> bool:
        return self._suppressions.applies(line, name)

    def final_stage(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def stage_names(self) -> set[str]:
        return {s.name for s in self.stages if s.name}

    def comment_lines(self) -> dict[int, Comment]:
        """The comment on each line, those inside an instruction's continuation left out
        (made on first use: asked once per RUN, it must not walk every comment each time)."""
        found = self.__dict__.get("_comment_lines")
        if found is None:
            found = self._comment_lines = {c.line: c for c in self.comments if not c.in_continuation}
        return found

    def stage_named(self, name: str, before: int | None = None) -> Stage | None:
        """The first stage called ``name`` (BuildKit compares names case-insensitively), if
        it comes before index ``before``. A dictionary made on first use: every stage asks
        for its parent, and a search of all stages each time made 2,000 stages quadratic."""
        first = self.__dict__.get("_first_named")
        if first is None:
            first = {}
            for stage in self.stages:
                if stage.name:
                    first.setdefault(stage.name, stage)
            self._first_named = first
        found = first.get(name.lower())
        return found if found is not None and (before is None or found.index < before) else None

    def walk(self) -> Iterator[Instruction]:
        """Every instruction, ONBUILD triggers after their ONBUILD."""
        for inst in self.instructions:
            yield inst
            if inst.sub is not None:
                yield inst.sub

    def _code_lines(self) -> set[int]:
        lines: set[int] = set()
        for inst in self.instructions:
            lines.update(range(inst.line, inst.end_line + 1))
        return lines


def _split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    pos, number = 0, 1
    while pos < len(text):
        nl = text.find("\n", pos)
        nxt = len(text) if nl == -1 else nl + 1
        content_end = nxt
        while content_end > pos and text[content_end - 1] in "\r\n":
            content_end -= 1
        lines.append(Line(number, pos, content_end, nxt))
        pos, number = nxt, number + 1
    return lines


class _Parser:
    """BuildKit's line loop, recording spans instead of building an AST."""

    def __init__(self, doc: DockerfileDoc) -> None:
        self.doc = doc
        self.text = doc.text
        self.lines = doc.lines
        self.i = 0
        self.directives_done = False
        self.stage = -1

    def run(self) -> None:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            content = line.content(self.text)
            stripped = lstrip_go(content)
            self._directive(stripped, line.number)
            if stripped.startswith("#"):
                self._comment(line, stripped, inside=False)
                continue
            lead = len(content) - len(stripped)
            piece_end, continued = self._trim_continuation(line, line.start + lead)
            if not continued and piece_end == line.start + lead:
                continue  # blank line
            self._instruction(line, line.start + lead, piece_end, continued)
        if not self.doc.instructions:
            raise BadInput("file with no instructions", len(self.lines) or 1)

    def _directive(self, token: str, number: int) -> None:
        if self.directives_done:
            return
        match = _DIRECTIVE.match(lstrip_go(token[1:])) if token.startswith("#") else None
        name = match.group(1).lower() if match else ""
        if name not in _DIRECTIVES:
            self.directives_done = True
            return
        if any(d.name == name for d in self.doc.directives):
            raise BadInput(f"only one {name} parser directive can be used", number)
        value = match.group(2) if match else ""
        if name == "escape":
            if value not in ("\\", "`"):
                raise BadInput(f"invalid escape token {value!r} does not match ` or \\", number)
            self.doc.escape = value
        self.doc.directives.append(Directive(name, value, number))

    def _comment(self, line: Line, stripped: str, inside: bool) -> None:
        start = line.end - len(stripped)
        self.doc.comments.append(Comment(line.number, start, line.end, stripped, inside))

    def _trim_continuation(self, line: Line, start: int) -> tuple[int, bool]:
        """End of the line's logical piece and whether the instruction continues."""
        end = line.end
        while end > start and self.text[end - 1] in " \t":
            end -= 1
        if end > start and self.text[end - 1] == self.doc.escape:
            return end - 1, True
        return line.end, False

    def _instruction(self, first: Line, start: int, end: int, continued: bool) -> None:
        pieces = [(start, end)]
        inner: list[Comment] = []
        last = first
        while continued and self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            last = line
            content = line.content(self.text)
            stripped = lstrip_go(content)
            self._directive(content, line.number)
            if stripped.startswith("#"):
                self._comment(line, stripped, inside=True)
                inner.append(self.doc.comments[-1])
                continue
            if not stripped:
                continue
            piece_end, continued = self._trim_continuation(line, line.start)
            pieces.append((line.start, piece_end))
        self._finish(first, last, pieces, tuple(inner))

    def _finish(
        self, first: Line, last: Line, pieces: list[tuple[int, int]], inner: tuple[Comment, ...]
    ) -> None:
        logical, mapped = self._join(pieces)
        fields = _fields(logical, mapped, first.number, self.stage, inner)
        keyword, json, sub = fields[0], fields[11], fields[17]
        heredoc_owner = (sub.keyword, sub.json) if keyword == "ONBUILD" and sub else (keyword, json)
        if heredoc_owner[0] in HEREDOC_KEYWORDS and heredoc_owner[1] is None and "<<" in logical:
            fields[12], last = self._heredocs(logical, first, last)
        if keyword == "FROM":
            self.stage += 1
            fields[13] = self.stage
        fields[4], fields[6] = last.end, last.number  # one Instruction made, not three
        self.doc.instructions.append(Instruction(*fields))

    def _join(self, pieces: list[tuple[int, int]]) -> tuple[str, tuple[tuple[int, int, int], ...]]:
        parts: list[str] = []
        mapped: list[tuple[int, int, int]] = []
        offset = 0
        for s, e in pieces:
            mapped.append((offset, s, e))
            parts.append(self.text[s:e])
            offset += e - s
        return "".join(parts), tuple(mapped)

    def _heredocs(self, logical: str, first: Line, last: Line) -> tuple[tuple[Heredoc, ...], Line]:
        found: list[Heredoc] = []
        for word in heredoc_words(logical):
            body_start = last.next
            while True:
                if self.i >= len(self.lines):
                    raise BadInput("unterminated heredoc", first.number)
                line = self.lines[self.i]
                self.i += 1
                candidate = line.content(self.text)
                if word.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == word.name:
                    found.append(
                        Heredoc(word.name, word.chomp, word.quoted, body_start, line.start, line.number)
                    )
                    last = line
                    break
        return tuple(found), last


def _fields(
    logical: str,
    pieces: tuple[tuple[int, int, int], ...],
    number: int,
    stage: int,
    inner: tuple[Comment, ...],
) -> list[Any]:
    """An Instruction's fields in order, for the parser to finish (end, heredocs, stage)
    before the one Instruction is made."""
    keyword, k_start, k_end, rest, rest_start = split_command(logical)
    lex_flags, args_at = extract_flags(rest)
    args_raw = rest[args_at:]
    args = args_raw.strip(GO_SPACE)
    args_lstart = rest_start + args_at + (len(args_raw) - len(args_raw.lstrip(GO_SPACE)))
    upper = keyword.upper()

    def src(index: int) -> int:
        return _to_source(pieces, index)

    flags = tuple(
        Flag(f.name, f.value, src(rest_start + f.start), src(rest_start + f.end)) for f in lex_flags
    )
    sub = None
    if upper == "ONBUILD" and args:
        sub = Instruction(*_fields(logical[args_lstart:], _shift(pieces, args_lstart), number, stage, ()))
    try:
        exec_form = _exec_form(upper, args)
    except BadInput as exc:
        raise BadInput(exc.message, number) from None
    return [
        upper, src(k_start), src(k_end), pieces[0][1], pieces[-1][2], number, number, flags,
        args, src(args_lstart), src(args_lstart + len(args)),
        None if exec_form is None else tuple(exec_form), (), stage, logical, pieces, inner, sub,
    ]


def _exec_form(keyword: str, args: str) -> list[str] | None:
    if keyword == "HEALTHCHECK":
        head, _, rest = args.partition(" ")
        return json_args(rest) if head.upper() == "CMD" else None
    return json_args(args) if keyword in JSON_KEYWORDS else None


def _to_source(pieces: tuple[tuple[int, int, int], ...], logical_index: int) -> int:
    # The last piece starting at or before the index: a bisect, since a 100k-line
    # continuation has 100k pieces and the shell splitter maps every word.
    at = bisect_right(pieces, logical_index, key=_logical_start) - 1
    if at < 0:
        return pieces[0][1]
    logical_start, src_start, src_end = pieces[at]
    return min(src_start + (logical_index - logical_start), src_end)


def _logical_start(piece: tuple[int, int, int]) -> int:
    return piece[0]


def _shift(pieces: tuple[tuple[int, int, int], ...], cut: int) -> tuple[tuple[int, int, int], ...]:
    """Pieces of the logical line from ``cut`` on, re-based to start at 0."""
    out: list[tuple[int, int, int]] = []
    for lstart, s, e in pieces:
        lend = lstart + (e - s)
        if lend <= cut and not (lend == cut and not out and e == s):
            continue
        skip = max(0, cut - lstart)
        out.append((max(0, lstart - cut), s + skip, e))
    return tuple(out) or ((0, pieces[-1][2], pieces[-1][2]),)


def _stages(instructions: list[Instruction]) -> list[Stage]:
    bodies: dict[int, list[Instruction]] = {}
    for inst in instructions:  # one pass: a file of 10,000 stages is not 10,000 passes
        bodies.setdefault(inst.stage, []).append(inst)
    stages: list[Stage] = []
    for inst in instructions:
        if inst.keyword != "FROM":
            continue
        words = inst.args.split()
        name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
        stages.append(Stage(inst.stage, name, words[0] if words else "", inst, tuple(bodies[inst.stage])))
    return stages
