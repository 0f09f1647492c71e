"""Inline suppressions: ``# hardener: ignore=NAME[,NAME…]`` above an instruction or service.

A bare ``# hardener: ignore`` silences every transform for that item. The comment may
stand anywhere in the block of comment lines directly above the item.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PRAGMA = re.compile(r"#\s*hardener:\s*ignore(?:\s*=\s*([\w\-, ]+))?\s*$", re.IGNORECASE)
ALL = "*"


@dataclass(frozen=True)
class Suppressions:
    by_line: dict[int, frozenset[str]]  # comment line → names (ALL for every transform)
    comment_lines: frozenset[int]

    @classmethod
    def from_lines(cls, comments: Iterable[tuple[int, str]], code_lines: set[int]) -> Suppressions:
        """``comments`` are (line, text starting at '#'); code lines break a comment block."""
        by_line: dict[int, frozenset[str]] = {}
        lines: set[int] = set()
        for number, text in comments:
            if number in code_lines:
                continue
            lines.add(number)
            match = _PRAGMA.match(text.strip())
            if match:
                names = match.group(1)
                by_line[number] = (
                    frozenset(n.strip().lower() for n in names.split(",") if n.strip())
                    if names
                    else frozenset({ALL})
                )
        return cls(by_line, frozenset(lines))

    def applies(self, line: int, name: str) -> bool:
        """Is transform ``name`` (or id) silenced for the item starting on ``line``?"""
        above = line - 1
        while above in self.comment_lines:
            names = self.by_line.get(above)
            if names and (ALL in names or name.lower() in names):
                return True
            above -= 1
        return False
