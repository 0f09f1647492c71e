"""Services a repository's README names as the public entry point of its stack.

"Only the `caddy` service is exposed to the internet" is the author saying which ports users
reach; bind-ports-localhost keeps that service's ports public instead of guessing. A name
counts only when written as an identifier (in backticks or quotes, or beside the word
service/container) in a sentence with a public word and no negation, so "the `db` service
is not exposed publicly" or a passing "web" in prose names nothing. Reads are bounded.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.limits import read_text_bounded

if TYPE_CHECKING:
    from hardener.context import FileView

_README = re.compile(r"readme(\.(md|markdown|rst|txt|adoc))?$", re.I)
_PUBLIC = re.compile(r"\b(public(ly)?|internet|inbound|ingress|entry[ -]points?|exposed to (the )?(outside|world))\b",
                     re.I)
_NEGATION = re.compile(r"\b(not|never|no|don'?t|doesn'?t|isn'?t|aren'?t|avoid|without|instead of|only internal)\b",
                       re.I)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n\s*\n|\n(?=\s*[-*#|])")
_LIMIT = 512_000


def readme_entries(folders: list[Path], services: list[str], run: FileView | None = None) -> dict[str, str]:
    """Service -> where a README in ``folders`` names it as public ("README.md line 12").
    ``run``: the run asking (a file view of it). The repository root's README is read for
    every Compose file in every round, and listing a root of a thousand entries each time was
    8 % of a whole-corpus run: each folder's READMEs are read once per run (hardener writes none)."""
    from hardener.compose.doc_memo import per_run

    read: dict[Path, list[tuple[Path, str]]] = per_run(run, "readmes") if run is not None else {}
    found: dict[str, str] = {}
    for folder in dict.fromkeys(folders):
        if folder not in read:
            read[folder] = [(p, read_text_bounded(p, _LIMIT, truncate=True)) for p in _readmes(folder.resolve())]
        for path, text in read[folder]:
            for name, line in _named(text, services):
                found.setdefault(name, f"{path.name} line {line}")
    return found


def _readmes(folder: Path) -> list[Path]:
    # names first: a Path per entry of a folder of a thousand files, for every Compose file
    # of every round, was a tenth of a whole-corpus run
    try:
        names = sorted(n for n in os.listdir(folder) if _README.match(n))
    except OSError:
        return []
    return [p for p in (folder / n for n in names) if p.is_file() and not p.is_symlink()]


def _named(text: str, services: list[str]) -> list[tuple[str, int]]:
    out = []
    start = 0
    for sentence in _SENTENCE.split(text):
        start = text.find(sentence, start)
        if sentence and _PUBLIC.search(sentence) and not _NEGATION.search(sentence):
            line = text.count("\n", 0, max(start, 0)) + 1
            out += [(name, line) for name in services if _names(sentence, name)]
    return out


def _names(sentence: str, name: str) -> bool:
    quoted = re.escape(name)
    return bool(re.search(rf"[`'\"]{quoted}[`'\"]", sentence)
                or re.search(rf"\b{quoted}\s+(service|container)\b|\b(service|container)\s+{quoted}\b", sentence, re.I))
