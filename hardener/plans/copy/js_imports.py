"""The local files a Node entry point reaches: literal ``require``/``import``/``export from``/
``import()`` specifiers, resolved like Node and TypeScript (extensions, index files,
tsconfig ``paths``/``baseUrl``). A computed specifier makes the graph unknowable: the
caller refuses rather than guess."""
from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from hardener.repo_facts import read_text
from hardener.why import Why

CODE = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".vue", ".svelte", ".astro", ".html")
_EXTS = ("", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".mts", ".cts", ".json", ".node", ".vue", ".svelte")
_CALL = re.compile(r"(?<![\w.$])(require(?:\.resolve)?|import)\s*\(")
_LITERAL_ARG = re.compile(r"\s*(['\"`])([^'\"`$\n]*)\1\s*[,)]")
_FROM = re.compile(r"\b(?:from|import)\s*(['\"])([^'\"\n]+)\1")
_COMMENT = re.compile(r"/\*.*?\*/|^[ \t]*//[^\n]*", re.S | re.M)
_STRING = re.compile(r"(['\"`])((?:\\.|(?!\1)[^\\\n])*)\1")


def reached(directory: Path, paths: frozenset[str], tops: set[str], starts: list[str],
           aliases: list[tuple[str, str]]) -> set[str] | Why:
    """Top-level entries of every file reached from ``starts`` by literal requires and imports
    (``paths``: the files of the context), and those its string literals name."""
    need: set[str] = set()
    todo, seen = list(starts), set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        need.add(rel.split("/")[0])
        if not rel.endswith(CODE):
            continue
        text = _COMMENT.sub("", read_text(directory / rel))
        specs: list[str] = []
        for call in _CALL.finditer(text):
            literal = _LITERAL_ARG.match(text, call.end())
            if literal is None:
                return Why(f"{rel} has a {call.group(1)}() of a computed path (dynamic require)")
            specs.append(literal.group(2))
        specs += [m.group(2) for m in _FROM.finditer(text)]
        for spec in specs:
            if spec == "express":  # Express renders from ./views by convention, not by a literal
                need |= {"views"} & tops
            if spec.startswith("#"):
                return Why(f"{rel} imports {spec} through package.json imports, which narrow-copy does not follow")
            found = _local(paths, posixpath.dirname(rel), spec, aliases)
            if found:
                todo.append(found)
        need |= {m.group(2).removeprefix("./").removeprefix("/").split("/")[0] for m in _STRING.finditer(text)} & tops
    return need


def _local(paths: frozenset[str], here: str, spec: str, aliases: list[tuple[str, str]]) -> str | None:
    if spec.startswith("."):
        target = posixpath.normpath(posixpath.join(here, spec))
        return None if target.startswith("..") else resolve(paths, target)
    for prefix, replacement in aliases:
        if spec == prefix.rstrip("/") or spec.startswith(prefix):
            return resolve(paths, posixpath.normpath(replacement + spec[len(prefix):]))
    return None


def resolve(paths: frozenset[str], target: str) -> str | None:
    """Node's (and TypeScript's) file resolution: exact, with an extension, or an index file.
    ``paths`` holds files only, so a directory falls through to its index file."""
    stem = re.sub(r"\.(js|mjs|cjs|jsx)$", "", target)
    for candidate in [target + ext for ext in _EXTS] + [stem + e for e in (".ts", ".tsx", ".mts", ".cts")]:
        if candidate in paths:
            return candidate
    for ext in _EXTS[1:]:
        if f"{target}/index{ext}" in paths:
            return f"{target}/index{ext}"
    return None


def aliases(directory: Path, tops: set[str]) -> list[tuple[str, str]]:
    """tsconfig/jsconfig ``paths`` (``@/*`` → ``./src/*``) and ``baseUrl`` as prefix rewrites."""
    found: list[tuple[str, str]] = []
    for name in ("tsconfig.json", "jsconfig.json"):
        data = read_json(directory / name, comments=True) if name in tops else None
        options = data.get("compilerOptions") if isinstance(data, dict) else None
        if not isinstance(options, dict):
            continue
        base = str(options.get("baseUrl") or ".").removeprefix("./").rstrip("/")
        base = "" if base == "." else base + "/"
        for key, targets in (options.get("paths") or {}).items():
            if isinstance(targets, list) and targets and isinstance(targets[0], str):
                found.append((key.rstrip("*"), base + targets[0].removeprefix("./").rstrip("*")))
        if options.get("baseUrl"):
            found += [(f"{t}/", f"{base}{t}/") for t in tops if base == ""]
    return found


def read_json(path: Path, comments: bool = False) -> object:
    text = read_text(path)
    if comments:  # tsconfig allows comments and trailing commas
        text = re.sub(r",(\s*[}\]])", r"\1", re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "",
                                                   text, flags=re.S))
    try:
        return json.loads(text)
    except ValueError:
        return None
