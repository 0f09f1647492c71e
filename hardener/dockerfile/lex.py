"""Small lexers that reproduce BuildKit's reading of a logical Dockerfile line.

BuildKit is the reference: these follow its ``extractBuilderFlags``, its heredoc word
detection and its JSON-form test so that hardener sees the same flags, heredocs and
exec forms the builder will. Offsets returned are into the *logical* line; the
document maps them back to source offsets.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hardener.errors import BadInput

# Go's unicode.IsSpace, which BuildKit uses; Python's str.isspace() is broader.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_CMD_SEP = re.compile(r"[\t\v\f\r ]+")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")


@dataclass(frozen=True)
class LexFlag:
    """A ``--name=value`` builder flag; start/end are logical offsets of the raw token."""

    name: str
    value: str | None
    start: int
    end: int


@dataclass(frozen=True)
class HeredocWord:
    name: str
    chomp: bool
    quoted: bool


def lstrip_go(text: str) -> str:
    return text.lstrip(GO_SPACE)


def split_command(line: str) -> tuple[str, int, int, str, int]:
    """``(keyword, keyword_start, keyword_end, rest, rest_start)`` of a logical line."""
    stripped_left = lstrip_go(line)
    lead = len(line) - len(stripped_left)
    body = stripped_left.rstrip(GO_SPACE)
    match = _CMD_SEP.search(body)
    if match is None:
        return body, lead, lead + len(body), "", lead + len(body)
    keyword = body[: match.start()]
    return keyword, lead, lead + match.start(), body[match.end() :], lead + match.end()


def extract_flags(rest: str) -> tuple[list[LexFlag], int]:
    """Leading ``--flags`` of an instruction; returns them and where the arguments start.

    Mirrors BuildKit's state machine, including quotes and backslashes inside flag
    values and the bare ``--`` that ends the flags.
    """
    flags: list[LexFlag] = []
    pos, n = 0, len(rest)
    while True:
        while pos < n and rest[pos] in GO_SPACE:
            pos += 1
        if pos >= n - 1 or rest[pos] != "-" or rest[pos + 1] != "-":
            return flags, pos
        word, end, blank_ok = _read_flag_word(rest, pos)
        if word == "--":
            return flags, end
        if blank_ok or word:
            name, eq, value = word[2:].partition("=")
            flags.append(LexFlag(name, value if eq else None, pos, end))
        pos = end
        if pos >= n:
            return flags, n


def _read_flag_word(rest: str, pos: int) -> tuple[str, int, bool]:
    chars: list[str] = []
    quote = ""
    blank_ok = False
    n = len(rest)
    while pos < n:
        ch = rest[pos]
        if not quote and ch in GO_SPACE:
            break
        if not quote and ch in "'\"":
            quote, blank_ok = ch, True
        elif quote and ch == quote:
            quote = ""
        elif ch == "\\":
            if pos + 1 < n:
                pos += 1
                chars.append(rest[pos])
            else:
                quote = ""
        else:
            chars.append(ch)
        pos += 1
    return "".join(chars), pos, blank_ok


def json_args(args: str) -> list[str] | None:
    """The exec-form array when ``args`` is a JSON array of strings, else None."""
    text = lstrip_go(args)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    except RecursionError:  # json.loads recurses per nesting level: hostile input, not a command
        raise BadInput("JSON array nested too deeply to read", None) from None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def raw_shell_words(line: str) -> list[str]:
    """Split like BuildKit's shell lexer with RawQuotes and RawEscapes (quotes kept)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            current.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < n:
                current.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in " \t\r\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            in_word = True
            current.append(ch)
            if ch in "'\"":
                quote = ch
            elif ch == "\\" and i + 1 < n:
                current.append(line[i + 1])
                i += 1
        i += 1
    if in_word:
        words.append("".join(current))
    return words


def heredoc_words(line: str) -> list[HeredocWord]:
    """The heredocs a RUN/COPY/ADD line opens, in order, as BuildKit finds them."""
    found: list[HeredocWord] = []
    for word in raw_shell_words(line):
        match = _HEREDOC_WORD.match(word)
        if not match or not match.group(3):
            continue
        rest = match.group(3)
        name = _unquote_word(rest)
        if name is None:
            continue
        found.append(HeredocWord(name, match.group(2) == "-", name != rest))
    return found


def _unquote_word(word: str) -> str | None:
    """Remove shell quoting from a single word; None when it is not one word."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(word):
        ch = word[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(word):
                i += 1
                out.append(word[i])
            else:
                out.append(ch)
        elif ch in "'\"":
            quote = ch
        elif ch == "\\" and i + 1 < len(word):
            i += 1
            out.append(word[i])
        elif ch in GO_SPACE:
            return None
        else:
            out.append(ch)
        i += 1
    return "".join(out)
