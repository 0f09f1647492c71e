""".dockerignore parsing and matching with Docker's own semantics.

Re-implemented from moby/patternmatcher (``patternmatcher.go``, ``ignorefile/ignorefile.go``),
which BuildKit and the classic builder both use:

- a line starting with ``#`` is a comment (checked before trimming); a UTF-8 BOM on the first
  line is dropped; lines are trimmed; ``!`` marks an exception (re-include);
- each pattern goes through Go's ``filepath.Clean`` and loses a leading ``/``;
- patterns are evaluated in order, the last one that matches wins, and a pattern also matches
  a path when it matches one of the path's parent directories (so ``dir`` excludes
  ``dir/a/b`` unless a later ``!`` pattern re-includes it);
- ``*`` and ``?`` never cross ``/``; ``**`` matches any number of directories (including none);
  ``\\`` escapes the next character; ``[...]`` is a character class.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_BOM = "\ufeff"
_REGEX_SPECIAL = set(".+()|{}$")  # regexp-special characters with no meaning in filepath.Match


class BadPattern(ValueError):
    """A pattern Docker rejects (filepath.ErrBadPattern), so the build would fail."""


def go_clean(path: str) -> str:
    """Go's ``path/filepath.Clean`` for slash-separated paths."""
    if path and "//" not in path and "." not in path[:1] and "/." not in path and path[0] != "/" and path[-1] != "/":
        return path  # already clean: the common case, kept fast
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_patterns(data: bytes | str) -> list[str]:
    """The patterns of a .dockerignore file, as ``ignorefile.ReadAll`` returns them."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    patterns: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix(_BOM)
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


@dataclass
class Pattern:
    """One compiled pattern (``patternmatcher.Pattern``)."""

    cleaned: str
    exclusion: bool
    kind: str = field(init=False)  # exact, prefix, suffix or regexp
    regex: re.Pattern[str] | None = field(init=False, default=None)
    # A run of the pattern's plain characters that every path it matches contains ("" when it
    # has none, or a class or escape): a path without it, nor any of its parents, can match.
    literal: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.kind, source = _compile(self.cleaned)
        if not any(c in self.cleaned for c in "[\\"):
            self.literal = max(re.split(r"[*?/]", self.cleaned), key=len)
        if self.kind == "regexp":
            try:
                self.regex = re.compile(source)
            except re.error as exc:
                raise BadPattern(f"bad pattern {self.cleaned!r}: {exc}") from None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile(pattern: str) -> tuple[str, str]:
    """(match kind, regexp source): the translation of ``Pattern.compile``."""
    regex, kind, i, n = "^", "exact", 0, len(pattern)
    first = True
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*" and i < n and pattern[i] == "*":
            i += 1
            if i < n and pattern[i] == "/":
                i += 1  # "**/" is "**"
            if i >= n:  # trailing "**" accepts everything below
                if kind == "exact":
                    kind = "prefix"
                else:
                    regex, kind = regex + ".*", "regexp"
            else:
                regex, kind = regex + "(.*/)?", "regexp"
            if first:
                kind = "suffix"
        elif ch == "*":
            regex, kind = regex + "[^/]*", "regexp"
        elif ch == "?":
            regex, kind = regex + "[^/]", "regexp"
        elif ch in _REGEX_SPECIAL:
            regex += "\\" + ch
        elif ch == "\\":
            if i < n:
                regex, kind = regex + re.escape(pattern[i]), "regexp"
                i += 1
            else:
                regex += "\\\\"
        elif ch in "[]":
            regex, kind = regex + ch, "regexp"
        else:
            regex += ch  # as in Go: the regexp sees it unchanged
        first = False
    return kind, regex + r"\Z"


def _check_syntax(pattern: str) -> None:
    """The error cases of Go's ``filepath.Match``, which New() reports as ErrBadPattern."""
    i, n = 0, len(pattern)
    while i < n:
        if pattern[i] == "\\":
            if i + 1 >= n:
                raise BadPattern(f"bad pattern {pattern!r}: trailing backslash")
            i += 2
        elif pattern[i] == "[":
            i = _class_end(pattern, i + 1)
        else:
            i += 1


def _class_end(pattern: str, i: int) -> int:
    """The index after a character class starting at ``i`` (after "["), as Go parses it."""
    bad = BadPattern(f"bad pattern {pattern!r}: malformed character class")
    if pattern[i : i + 1] == "^":
        i += 1
    ranges = 0
    while True:
        if pattern[i : i + 1] == "]" and ranges:
            return i + 1
        i = _class_char(pattern, i, bad)
        if pattern[i : i + 1] == "-":
            i = _class_char(pattern, i + 1, bad)
        ranges += 1


def _class_char(pattern: str, i: int, bad: BadPattern) -> int:
    """Go's ``getEsc``: one (possibly escaped) class character; something must follow it."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise bad
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise bad
    i += 1
    if i >= len(pattern):
        raise bad
    return i


@functools.lru_cache(maxsize=4096)
def _pattern(raw: str) -> Pattern | None:
    """One line's compiled pattern (None for a blank one). Cached: generate-dockerignore
    builds a matcher for each candidate pattern of each plan, and a Pattern is never changed."""
    text = raw.strip()
    if not text:
        return None
    text = go_clean(text)
    exclusion = text.startswith("!")
    if exclusion:
        if len(text) == 1:
            raise BadPattern('illegal exclusion pattern: "!"')
        text = text[1:]
    _check_syntax(text)
    return Pattern(text, exclusion)


class Matcher:
    """``patternmatcher.PatternMatcher`` over cleaned patterns (``read_patterns`` output)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = [p for p in map(_pattern, patterns) if p is not None]

    @classmethod
    def from_file(cls, data: bytes | str | None) -> Matcher:
        return cls(read_patterns(data) if data else [])

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """True when Docker leaves ``path`` (relative, ``/``-separated) out of the context."""
        path = go_clean(path)
        if path == ".":
            return False  # the context root itself is never excluded
        return self.matches_or_parent_matches(path)

    def matches_or_parent_matches(self, path: str) -> bool:
        """``MatchesOrParentMatches`` on an uncleaned path; the last matching pattern wins."""
        parents: list[str] | None = None
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # an include cannot change an excluded path, nor an exception an included one
            if pattern.literal not in path:
                # each segment of a cleaned parent is one of the path's, and the literal holds no
                # "/": it is in the path whenever it is in a parent
                continue
            if parents is None:
                parents = _parents(path)
            hit = pattern.match(path) or any(pattern.match(p) for p in parents)
            if hit:
                matched = not pattern.exclusion
        return matched


def _parents(path: str) -> list[str]:
    if "/" not in path:
        return []
    parent = path.rsplit("/", 1)[0] if "/" in path else "."
    parent = go_clean(parent) if parent else "/"
    if parent == ".":
        return []
    parts = parent.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def included(paths: Sequence[str], matcher: Matcher) -> list[str]:
    """The paths Docker would send in the build context."""
    return [p for p in paths if not matcher.excluded(p)]


def append_block(existing: bytes, header: str, patterns: list[str]) -> bytes:
    """An ignore file (.dockerignore or .gitignore) with the user's bytes unchanged, then one
    commented block of patterns in the file's own newline style."""
    newline = b"\r\n" if b"\r\n" in existing else b"\n"
    block = newline.join([header.encode(), *(p.encode() for p in patterns)]) + newline
    if not existing:
        return block
    lead = b"" if existing.endswith(b"\n") else newline
    return existing + lead + newline + block
