"""Split the shell code of a shell-form RUN into simple commands with source spans.

Transforms that edit inside a RUN (add ``-y``, append ``&& rm -rf …``) need to know
where each command and each word lies in the *source*, continuations and comment
lines included. This lexer reads BuildKit's logical line (continuations joined,
comment lines removed) and maps every token back through
``Instruction.source_offset``. It understands quotes, backslash escapes, ``$(…)``,
``${…}`` and backticks inside words, redirections and the list operators
``&& || ; | &``. Anything it cannot split with certainty (subshells, groups,
``if``/``for``/``while``/``case`` blocks, functions, ``[[ ]]``, process substitution)
makes ``commands`` return None: callers then leave the RUN alone. A ``#`` that starts a
word comments out the rest of the logical line, as the shell reads it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import cast

from hardener.dockerfile.doc import Instruction
from hardener.dockerfile.lex import GO_SPACE, extract_flags, split_command

# Reserved words that open compound commands; in command position we refuse them.
_COMPOUND = frozenset(
    "if then elif else fi for while until do done case esac select function { } [[ ]]".split()
)
_OPERATORS = ("&&", "||", ";", "|", "&")
_BLANK = " \t\r\v\f"
_WORD_END = _BLANK + "\n;&|<>()"


@dataclass(frozen=True)
class Word:
    raw: str  # as written in the logical line (quotes kept)
    value: str  # unquoted, escapes resolved (best effort; substitutions kept as written)
    start: int  # source offsets into doc.text
    end: int


@dataclass(frozen=True)
class Command:
    words: tuple[Word, ...]
    op_before: str  # "" for the first, else "&&", "||", ";", "|" or "&" (newline counts as ";")
    start: int  # source offsets of the first/last token (redirections included)
    end: int
    redirects: tuple[Word, ...] = ()  # e.g. raw "2>&1" or "> /dev/null", value = the target

    @property
    def argv(self) -> list[str]:
        return [w.value for w in self.words]

    def program_index(self) -> int:
        """Index of the program word, after leading ``NAME=value`` assignments (or len)."""
        for i, word in enumerate(self.words):
            name, eq, _ = word.raw.partition("=")
            if not (eq and name and (name[0].isalpha() or name[0] == "_")
                    and name.replace("_", "a").isalnum()):
                return i
        return len(self.words)


class _Unsupported(Exception):
    """A construct the lexer does not split safely."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "op", "redir"
    start: int  # logical offsets
    end: int
    raw: str
    value: str


def commands(inst: Instruction, escape: str = "\\", *, loose: bool = False) -> list[Command] | None:
    """Simple commands of a shell-form RUN split at && || ; | & and newlines.

    None when the RUN is exec form, uses heredocs, the file's escape is not the
    backslash (Windows shells), or the code has constructs we do not split safely.

    ``loose=True`` also reads into ``if``/``for``/``while`` bodies, subshells and
    groups: reserved words are dropped from the front of a command and parentheses
    split like ``;``. The commands and word spans are exact, but their order and
    operators no longer say what runs after what: use it only to edit inside one
    command (add a flag), never to append after the RUN's last command.
    """
    key = ("commands", escape, loose)
    if key not in inst.memo:
        inst.memo[key] = _split(inst, escape, loose)
    found = cast("tuple[Command, ...] | None", inst.memo[key])
    return None if found is None else list(found)


def _split(inst: Instruction, escape: str, loose: bool) -> tuple[Command, ...] | None:
    if inst.json is not None or inst.heredocs or escape != "\\":
        return None
    begin = args_logical_start(inst)
    tokens = _lexed(inst.logical[begin : begin + len(inst.args)], begin, loose)
    if tokens is None:
        return None
    try:
        return tuple(_group(list(tokens), inst, loose))
    except _Unsupported:
        return None


@functools.lru_cache(maxsize=256)  # the RUNs of the file being worked on: a run's files rarely share one
def _lexed(code: str, base: int, loose: bool) -> tuple[_Token, ...] | None:
    """The tokens of a RUN's code, None when it is not split. The same text is lexed once per
    run: each editing round parses the Dockerfile again, and its unchanged RUNs with it
    (tokens hold offsets into the instruction's logical text, so they do not depend on
    where the instruction is)."""
    try:
        return tuple(_Lexer(code, base, loose).tokens())
    except _Unsupported:
        return None


def args_logical_start(inst: Instruction) -> int:
    """Index in ``inst.logical`` where the arguments start (after keyword and flags)."""
    _, _, _, rest, rest_start = split_command(inst.logical)
    _, args_at = extract_flags(rest)
    args_raw = rest[args_at:]
    return rest_start + args_at + (len(args_raw) - len(args_raw.lstrip(GO_SPACE)))


def _group(tokens: list[_Token], inst: Instruction, loose: bool = False) -> list[Command]:
    out: list[Command] = []
    words: list[_Token] = []
    redirs: list[_Token] = []
    op = ""
    for tok in tokens:
        if tok.kind == "op":
            if loose:
                words = _drop_reserved(words)
            if not words and not redirs:
                if loose:
                    op = op or tok.raw
                    continue
                raise _Unsupported("empty command")
            out.append(_command(words, redirs, op, inst, loose))
            words, redirs, op = [], [], tok.raw
        else:
            (words if tok.kind == "word" else redirs).append(tok)
    if loose:
        words = _drop_reserved(words)
    if words or redirs:
        out.append(_command(words, redirs, op, inst, loose))
    elif op not in ("", ";") and not loose:
        raise _Unsupported(f"trailing {op!r}")
    return out


def _drop_reserved(words: list[_Token]) -> list[_Token]:
    while words and words[0].raw in _COMPOUND | {"!", "time"}:
        words = words[1:]
    return words


def _command(words: list[_Token], redirs: list[_Token], op: str, inst: Instruction,
             loose: bool = False) -> Command:
    if words and words[0].raw in _COMPOUND and not loose:
        raise _Unsupported(f"compound command {words[0].raw!r}")
    conv = tuple(_word(t, inst) for t in words)
    conv_r = tuple(_word(t, inst) for t in redirs)
    spans = conv + conv_r
    return Command(conv, op, min(w.start for w in spans), max(w.end for w in spans), conv_r)


def _word(tok: _Token, inst: Instruction) -> Word:
    return Word(tok.raw, tok.value, inst.source_offset(tok.start),
                inst.source_offset(tok.end - 1) + 1)


class _Lexer:
    def __init__(self, code: str, base: int, loose: bool = False) -> None:
        self.s = code
        self.base = base  # logical offset of code[0]
        self.loose = loose

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        i, n = 0, len(self.s)
        while i < n:
            c = self.s[i]
            if c in _BLANK:
                i += 1
            elif c == "\n" or c in "&|;" and not self.s.startswith("&>", i):
                out.append(self._op(i))
                i = out[-1].end - self.base
            elif c in "()":
                if not self.loose:
                    raise _Unsupported("subshell or function")
                out.append(_Token("op", self.base + i, self.base + i + 1, ";", ";"))
                i += 1
            elif c == "#":
                break  # a shell comment: the rest of the logical line (continuations too) is ignored
            elif self._redirect_at(i):
                tok = self._redirect(i)
                out.append(tok)
                i = tok.end - self.base
            else:
                end, value = self._read_word(i)
                out.append(_Token("word", self.base + i, self.base + end, self.s[i:end], value))
                i = end
        return out

    def _op(self, i: int) -> _Token:
        s = self.s
        if s.startswith("|&", i) or s.startswith(";;", i) or s.startswith(";&", i):
            raise _Unsupported("bash-only or case operator")
        op = s[i : i + 2] if s[i : i + 2] in ("&&", "||") else s[i]
        raw = ";" if op == "\n" else op
        return _Token("op", self.base + i, self.base + i + len(op), raw, raw)

    def _redirect_at(self, i: int) -> bool:
        j = i
        while j < len(self.s) and self.s[j].isdigit():
            j += 1
        return j < len(self.s) and self.s[j] in "<>" or self.s.startswith("&>", i)

    def _redirect(self, i: int) -> _Token:
        s, j = self.s, i
        while s[j].isdigit():
            j += 1
        if s.startswith("&>", j):
            j += 2
        for op in (">>", ">|", ">&", "<<<", "<&", "<>", "<<", ">", "<"):
            if s.startswith(op, j):
                if op == "<<":
                    raise _Unsupported("heredoc")
                j += len(op)
                break
        if s.startswith(">", j) and s[i:j] == "&>":
            j += 1  # &>>
        if j < len(s) and s[j] == "(":
            raise _Unsupported("process substitution")
        while j < len(s) and s[j] in _BLANK:
            j += 1
        if j >= len(s) or s[j] in _WORD_END:
            raise _Unsupported("redirection without a target")
        end, value = self._read_word(j)
        return _Token("redir", self.base + i, self.base + end, s[i:end], value)

    def _read_word(self, i: int) -> tuple[int, str]:
        s, n = self.s, len(self.s)
        value: list[str] = []
        while i < n and s[i] not in _WORD_END:
            c = s[i]
            if c == "\\":
                value.append(s[i + 1] if i + 1 < n else "\\")
                i += 2
            elif c == "'":
                end = s.find("'", i + 1)
                if end < 0:
                    raise _Unsupported("unterminated quote")
                value.append(s[i + 1 : end])
                i = end + 1
            elif c == '"':
                i = self._double(i, value)
            elif c == "$" and s.startswith("$'", i):
                end = _skip_ansi(s, i + 2)
                value.append(s[i + 2 : end - 1])
                i = end
            elif c in "$`":
                end = _skip_expansion(s, i)
                value.append(s[i:end])
                i = end
            else:
                value.append(c)
                i += 1
        return min(i, n), "".join(value)

    def _double(self, i: int, value: list[str]) -> int:
        s, n = self.s, len(self.s)
        i += 1
        while i < n and s[i] != '"':
            if s[i] == "\\" and i + 1 < n:
                value.append(s[i + 1] if s[i + 1] in '$`"\\\n' else s[i : i + 2])
                i += 2
            elif s[i] in "$`":
                end = _skip_expansion(s, i)
                value.append(s[i:end])
                i = end
            else:
                value.append(s[i])
                i += 1
        if i >= n:
            raise _Unsupported("unterminated quote")
        return i + 1


def _skip_ansi(s: str, i: int) -> int:
    while i < len(s):
        if s[i] == "\\":
            i += 2
        elif s[i] == "'":
            return i + 1
        else:
            i += 1
    raise _Unsupported("unterminated $'")


def _skip_expansion(s: str, i: int) -> int:
    """End of ``$(…)``, ``${…}``, `` `…` `` or a plain ``$name`` starting at ``i``."""
    if s[i] == "`":
        j = i + 1
        while j < len(s) and s[j] != "`":
            j += 2 if s[j] == "\\" else 1
        if j >= len(s):
            raise _Unsupported("unterminated backtick")
        return j + 1
    if s.startswith("$(", i) or s.startswith("${", i):
        return _skip_balanced(s, i + 1)
    return i + 1


def _skip_balanced(s: str, i: int) -> int:
    """``s[i]`` is "(" or "{": the index after its match, skipping quotes and nesting."""
    close = ")" if s[i] == "(" else "}"
    opening = s[i]
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == "'" and close == ")":
            end = s.find("'", j + 1)
            if end < 0:
                raise _Unsupported("unterminated quote")
            j = end + 1
            continue
        if c == '"':
            j = _skip_dquote(s, j)
            continue
        if c == "`" or s.startswith("$(", j) or s.startswith("${", j):
            j = _skip_expansion(s, j)
            continue
        if c == opening:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise _Unsupported("unbalanced substitution")


def _skip_dquote(s: str, i: int) -> int:
    j = i + 1
    while j < len(s) and s[j] != '"':
        if s[j] == "\\":
            j += 2
        elif s[j] in "$`":
            j = _skip_expansion(s, j)
        else:
            j += 1
    if j >= len(s):
        raise _Unsupported("unterminated quote")
    return j + 1
