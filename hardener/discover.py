"""Find the Dockerfiles and Compose files under the paths the user gave.

A directory is walked the way git sees it: ``.gitignore`` files (root and nested, deeper
ones overriding shallower ones) and ``.git/info/exclude`` are honoured, VCS folders are
skipped, directory symlinks are never followed and file symlinks leading outside the
walked directory are dropped, so ``apply`` can never write somewhere the user did not
point at. A file named explicitly is always taken: the user asked for it.

While walking, discover_rules.py also leaves out vendored and installed code (``vendor/``,
``node_modules/``, a virtualenv, ...; ``include`` patterns bring such a directory back) and
files that are ours by name only: a source-code extension (``dockerfile.js``), or content
that is no Dockerfile (no FROM) or no Compose file (not a YAML mapping). Those are counted
per reason, not errors. A directory named on the command line is walked whatever its name.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from hardener import discover_rules as rules
from hardener.errors import BadInput
from hardener.limits import read_text_bounded

SKIP_DIRS = frozenset({".git", ".hg", ".svn"})

# Suffixes that mark a Dockerfile-named file as not the Dockerfile itself: BuildKit's
# per-Dockerfile ignore file, editor/merge leftovers, and templates that a generator
# renders into the real Dockerfile (rewriting those would be undone by the next render,
# and their placeholders do not parse).
NOT_A_DOCKERFILE = frozenset({
    "dockerignore",
    "bak", "backup", "orig", "rej", "swp", "swo", "tmp", "old", "diff", "patch",
    "template", "tmpl", "tpl", "j2", "jinja", "jinja2", "erb", "mustache", "hbs", "in", "m4",
})
_DOCKERFILE_BASE = re.compile(r"[Dd]ockerfile|[Cc]ontainerfile")
# "Dockerfile-dev" is not in the usual lists but is common in the wild (the corpus has one).
_DOCKERFILE_SUFFIXED = re.compile(r"(?:[Dd]ockerfile|[Cc]ontainerfile)[.-](.+)")
_DOCKERFILE_PREFIXED = re.compile(r".+\.(?:[Dd]ockerfile|[Cc]ontainerfile)")
_COMPOSE = re.compile(r"(?:docker-)?compose(?:[.-].+)?\.ya?ml")


def classify(name: str) -> str | None:
    """The kind of file a base name denotes (``dockerfile``, ``compose`` or None); contents are never read.

    ``dockerfile.js`` is named like a Dockerfile but its extension says it is source code.
    """
    kind = _named(name)
    return None if kind == "dockerfile" and rules.source_extension(name) else kind


def _named(name: str) -> str | None:
    if _COMPOSE.fullmatch(name):
        return "compose"
    if _DOCKERFILE_BASE.fullmatch(name) or _DOCKERFILE_PREFIXED.fullmatch(name):
        return "dockerfile"
    suffixed = _DOCKERFILE_SUFFIXED.fullmatch(name)
    if suffixed and not _leftover(suffixed.group(1)):
        return "dockerfile"
    return None


def _leftover(suffix: str) -> bool:
    last = suffix.rsplit(".", 1)[-1].lower()
    return suffix.endswith("~") or last in NOT_A_DOCKERFILE


@dataclass(frozen=True)
class Found:
    """One file to harden. ``root`` keys the per-repository context."""

    path: Path
    kind: str
    root: Path


class _Ignore(NamedTuple):
    """A compiled ignore file; ``base`` is its directory relative to the walk's anchor."""

    base: str
    spec: Any  # pathspec.GitIgnoreSpec, imported lazily


@dataclass(frozen=True)
class Discovery:
    """The files to process, the paths that were bad input, and how many were left out, per reason."""

    found: list[Found]
    errors: list[BadInput]
    skipped: dict[str, int]


@dataclass(frozen=True)
class _Patterns:
    """The config's patterns, anchored at the repository root."""

    exclude: Any  # GitIgnoreSpec | None
    include: Any  # GitIgnoreSpec | None: brings back what discover_rules skips
    include_lines: tuple[str, ...]


@dataclass(frozen=True)
class _Walk:
    """What stays fixed during one directory walk (``out`` and ``skipped`` are filled by it)."""

    real_top: str
    patterns: _Patterns
    out: list[Found]
    skipped: Counter[str]


def discover(paths: Sequence[Path], exclude: Sequence[str] = (),
             include: Sequence[str] = ()) -> tuple[list[Found], list[BadInput]]:
    """Every file to process, sorted by path and deduplicated by resolved path (see ``discovery``)."""
    result = discovery(paths, exclude, include)
    return result.found, result.errors


def discovery(paths: Sequence[Path], exclude: Sequence[str] = (), include: Sequence[str] = ()) -> Discovery:
    """Every file to process, with the count of what the default rules left out.

    ``exclude`` and ``include`` hold gitignore-style patterns from the config, anchored at
    the repository root (the nearest ancestor holding ``.git``, else the directory given).
    ``include`` brings back what discover_rules skips, never what ``exclude`` or a
    ``.gitignore`` excludes.
    """
    errors: list[BadInput] = []
    patterns = _Patterns(_compile_patterns("exclude", exclude, errors),
                         _compile_patterns("include", include, errors), tuple(include))
    found: list[Found] = []
    skipped: Counter[str] = Counter()
    for arg in paths:
        if os.path.isdir(arg):
            found.extend(_walk_top(arg, patterns, skipped))
        elif os.path.isfile(arg):
            found.append(_explicit(arg))
        elif os.path.lexists(arg) and not os.path.islink(arg):
            errors.append(BadInput("not a regular file or directory", None, str(arg)))
        else:
            errors.append(BadInput("no such file or directory", None, str(arg)))
    return Discovery(_dedupe(found), errors, dict(sorted(skipped.items())))


def _explicit(path: Path) -> Found:
    kind = classify(path.name)
    if kind is None:
        kind = "compose" if path.suffix.lower() in (".yml", ".yaml") else "dockerfile"
    parent = Path(os.path.abspath(path)).parent
    return Found(path, kind, repo_root(parent) or parent)


def repo_root(directory: Path) -> Path | None:
    """The nearest directory at or above ``directory`` holding ``.git`` (dir or worktree file)."""
    for candidate in (directory, *directory.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def _dedupe(found: Iterable[Found]) -> list[Found]:
    """One entry per real file; the non-symlink spelling wins so edits show the real path."""
    best: dict[str, Found] = {}
    for item in found:
        key = os.path.realpath(item.path)
        current = best.get(key)
        if current is None or _preference(item) < _preference(current):
            best[key] = item
    return sorted(best.values(), key=lambda f: f.path.parts)


def _preference(item: Found) -> tuple[bool, tuple[str, ...]]:
    return os.path.islink(item.path), item.path.parts


def _walk_top(top: Path, patterns: _Patterns, skipped: Counter[str]) -> list[Found]:
    absolute = Path(os.path.abspath(top))
    root = repo_root(absolute) or absolute
    rel = absolute.relative_to(root).as_posix()
    rel = "" if rel == "." else rel
    ignores = [*_info_exclude(root), *_ancestor_gitignores(root, rel)]
    walk = _Walk(os.path.realpath(top), patterns, [], skipped)
    _walk_dir(walk, _Dir(str(top), rel, root, tuple(ignores)), top=True)
    return walk.out


def _info_exclude(root: Path) -> list[_Ignore]:
    spec = _read_ignore_file(root / ".git" / "info" / "exclude")
    return [_Ignore("", spec)] if spec is not None else []


def _ancestor_gitignores(root: Path, rel: str) -> list[_Ignore]:
    """``.gitignore`` files between the repo root and the walked directory (exclusive)."""
    out: list[_Ignore] = []
    parts = rel.split("/") if rel else []
    for depth in range(len(parts)):
        base = "/".join(parts[:depth])
        spec = _read_ignore_file(root.joinpath(*parts[:depth], ".gitignore"))
        if spec is not None:
            out.append(_Ignore(base, spec))
    return out


class _Dir(NamedTuple):
    """A directory being walked and how git sees it there."""

    path: str
    rel: str  # relative to the anchor
    root: Path
    ignores: tuple[_Ignore, ...]
    held: bool = False  # inside a skipped directory: only what ``include`` names is taken


def _walk_dir(walk: _Walk, here: _Dir, *, top: bool = False) -> None:
    try:
        with os.scandir(here.path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return  # unreadable directory: git would not see it either
    names = {e.name for e in entries}
    reason = None if top or here.held else rules.manifest_reason(here.path, names)
    held = _hold(walk, here, reason) if reason else here
    if held is None:
        return
    here = _enter(held, names)
    for entry in entries:
        _visit(walk, entry, here)


def _enter(here: _Dir, names: set[str]) -> _Dir:
    """The rules that apply inside: a nested repository's own, plus this directory's .gitignore."""
    if ".git" in names and here.rel and Path(os.path.abspath(here.path)) != here.root:
        root = Path(os.path.abspath(here.path))  # a nested repository: its own rules
        here = here._replace(root=root, ignores=tuple(_Ignore(here.rel, i.spec) for i in _info_exclude(root)))
    if ".gitignore" in names:
        spec = _read_ignore_file(Path(here.path, ".gitignore"))
        if spec is not None:
            here = here._replace(ignores=(*here.ignores, _Ignore(here.rel, spec)))
    return here


def _hold(walk: _Walk, here: _Dir, reason: str) -> _Dir | None:
    """A directory the default rules skip: back when ``include`` names it, walked held when a
    pattern may name something below it, else skipped (and counted)."""
    if _included(walk, here.rel + "/"):
        return here
    walk.skipped[reason] += 1
    return here._replace(held=True) if rules.may_match_below(walk.patterns.include_lines, here.rel) else None


def _visit(walk: _Walk, entry: os.DirEntry[str], parent: _Dir) -> None:
    rel = f"{parent.rel}/{entry.name}" if parent.rel else entry.name
    if entry.is_dir(follow_symlinks=False):
        if entry.name in SKIP_DIRS or _ignored(walk, rel + "/", parent.ignores):
            return
        child = _Dir(entry.path, rel, parent.root, parent.ignores, parent.held and not _included(walk, rel + "/"))
        reason = None if child.held else rules.directory_reason(entry.name)
        held = _hold(walk, child, reason) if reason else child
        if held is not None:
            _walk_dir(walk, held)
        return
    kind = _named(entry.name)
    if kind is None or _ignored(walk, rel, parent.ignores) or (parent.held and not _included(walk, rel)):
        return
    if entry.is_symlink() and not _safe_link(walk, entry.path):
        return
    if entry.is_file():
        reason = rules.SOURCE_NAME if classify(entry.name) is None else rules.content_reason(Path(entry.path), kind)
        if reason is not None:
            walk.skipped[reason] += 1
        else:
            walk.out.append(Found(Path(entry.path), kind, parent.root))


def _safe_link(walk: _Walk, path: str) -> bool:
    """A file symlink is taken only when it resolves to a regular file inside the walk."""
    target = os.path.realpath(path)
    inside = target == walk.real_top or target.startswith(walk.real_top.rstrip(os.sep) + os.sep)
    return inside and os.path.isfile(target)


def _ignored(walk: _Walk, rel: str, ignores: tuple[_Ignore, ...]) -> bool:
    """Git's rule: the deepest ignore file with a matching pattern decides."""
    if walk.patterns.exclude is not None and walk.patterns.exclude.match_file(rel):
        return True
    for ignore in reversed(ignores):
        sub = rel[len(ignore.base) + 1:] if ignore.base else rel
        verdict = ignore.spec.check_file(sub).include
        if verdict is not None:
            return bool(verdict)
    return False


def _read_ignore_file(path: Path) -> Any:
    try:
        text = read_text_bounded(path)  # a FIFO named .gitignore must not hang the walk
    except OSError:
        return None
    lines = text.splitlines()
    return _compile(lines) if any(line.strip() for line in lines) else None


def _compile(lines: list[str]) -> Any:
    """Compile patterns; git skips a malformed line and so do we, keeping the rest."""
    from pathspec import GitIgnoreSpec

    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError:
        return GitIgnoreSpec.from_lines([line for line in lines if _valid(line)])


def _valid(line: str) -> bool:
    from pathspec import GitIgnoreSpec

    try:
        GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


def _included(walk: _Walk, rel: str) -> bool:
    include = walk.patterns.include
    return include is not None and bool(include.match_file(rel))


def _compile_patterns(key: str, patterns: Sequence[str], errors: list[BadInput]) -> Any:
    if not patterns:
        return None
    bad = [p for p in patterns if not _valid(p)]
    errors.extend(BadInput(f"invalid {key} pattern {p!r}") for p in bad)
    good = [p for p in patterns if p not in bad]
    return _compile(good) if good else None
