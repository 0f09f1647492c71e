"""What a build context contains: its paths, ecosystems, manifests, lock files and entrypoints.

Read-only facts for transforms. The walk of a directory is cached for the process (keyed by
the directory and its modification time), because every Dockerfile of a context asks for it.
Which of those paths Docker really sends depends on the .dockerignore, which a run may be
rewriting, so ``included`` takes the ignore file's current bytes instead of caching them.
"""
from __future__ import annotations

import ast
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardener.dockerfile.dockerignore import BadPattern, Matcher
from hardener.limits import read_bounded, read_text_bounded

MAX_ENTRIES = 20000  # a context bigger than this is listed partially (``truncated``)
# directories whose contents nobody copies one by one: listed, not descended into
OPAQUE = frozenset({".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
                    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradle", ".idea"})


@dataclass(frozen=True)
class Ecosystem:
    name: str  # npm, yarn, pnpm, pip, poetry, uv, pipenv, go, maven, gradle, bundler, cargo
    manifests: tuple[str, ...]
    lockfiles: tuple[str, ...]


@dataclass(frozen=True)
class Listing:
    paths: tuple[str, ...]  # every file and directory, relative, "/"-separated, sorted
    truncated: bool


_ECOSYSTEMS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("pnpm", ("package.json",), ("pnpm-lock.yaml",)),
    ("yarn", ("package.json",), ("yarn.lock",)),
    ("npm", ("package.json",), ("package-lock.json", "npm-shrinkwrap.json")),
    ("poetry", ("pyproject.toml",), ("poetry.lock",)),
    ("uv", ("pyproject.toml",), ("uv.lock",)),
    ("pipenv", ("Pipfile",), ("Pipfile.lock",)),
    ("pip", ("requirements.txt", "setup.py", "setup.cfg", "pyproject.toml"), ()),
    ("go", ("go.mod",), ("go.sum",)),
    ("maven", ("pom.xml",), ()),
    ("gradle", ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"),
     ("gradle.lockfile",)),
    ("bundler", ("Gemfile",), ("Gemfile.lock",)),
    ("cargo", ("Cargo.toml",), ("Cargo.lock",)),
)
_CACHE: dict[tuple[str, int], Listing] = {}


def listing(directory: Path) -> Listing:
    """Every path under ``directory`` (cached per directory state for the process)."""
    try:
        key = (str(directory.resolve()), directory.stat().st_mtime_ns)
    except OSError:
        return Listing((), False)
    if key not in _CACHE:
        _CACHE[key] = _walk(directory)
    return _CACHE[key]


def _walk(top: Path) -> Listing:
    paths: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            entries = sorted(os.scandir(top / rel), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            paths.append(path)
            if len(paths) >= MAX_ENTRIES:
                return Listing(tuple(sorted(paths)), True)
            if entry.is_dir(follow_symlinks=False) and entry.name not in OPAQUE:
                stack.append(path)
    return Listing(tuple(sorted(paths)), False)


def ignore_matcher(data: bytes | None) -> Matcher | None:
    """The matcher of a .dockerignore's bytes; None when Docker would reject the file."""
    try:
        return Matcher.from_file(data)
    except BadPattern:
        return None


def included(paths: tuple[str, ...], ignore: bytes | None) -> list[str]:
    """The paths Docker sends in the build context, given the .dockerignore's bytes."""
    matcher = ignore_matcher(ignore)
    if matcher is None:
        return []
    return [p for p in paths if not matcher.excluded(p)]


def ecosystems(paths: tuple[str, ...] | set[str]) -> list[Ecosystem]:
    """Ecosystems whose manifest sits at the context root, lock-file based ones first."""
    present = set(paths)
    found: list[Ecosystem] = []
    for name, manifests, locks in _ECOSYSTEMS:
        have_manifests = tuple(m for m in manifests if m in present)
        have_locks = tuple(lock for lock in locks if lock in present)
        if have_manifests and (have_locks or not locks or name in ("npm", "pip", "maven", "gradle")):
            if name == "npm" and any(e.name in ("pnpm", "yarn") for e in found):
                continue
            if name == "pip" and any(e.name in ("poetry", "uv", "pipenv") for e in found):
                continue
            found.append(Ecosystem(name, have_manifests, have_locks))
    return found


def node_entrypoints(directory: Path) -> list[str]:
    """``main`` and the file ``scripts.start`` runs, from package.json."""
    try:
        data = json.loads(read_bounded(directory / "package.json"))
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    found = [data["main"]] if isinstance(data.get("main"), str) else []
    start = (data.get("scripts") or {}).get("start") if isinstance(data.get("scripts"), dict) else None
    if isinstance(start, str):
        found += re.findall(r"(?:^|\s)node\s+(?:--?\S+\s+)*([\w./-]+\.[cm]?js)\b", start)
    return found


def python_entrypoints(directory: Path, paths: tuple[str, ...]) -> list[str]:
    """pyproject ``[project.scripts]`` targets (``pkg.mod:func`` → ``pkg/mod.py``) and ``__main__``."""
    found: list[str] = []
    try:
        data = tomllib.loads(read_bounded(directory / "pyproject.toml").decode("utf-8"))
    except (OSError, ValueError):
        data = {}
    scripts = dict(data.get("project", {}).get("scripts", {}))
    scripts.update(data.get("tool", {}).get("poetry", {}).get("scripts", {}))
    present = set(paths)
    for target in scripts.values():
        if isinstance(target, str):
            module = target.split(":", 1)[0].strip().replace(".", "/")
            found += [c for c in (f"{module}.py", f"src/{module}.py", f"{module}/__init__.py") if c in present]
    found += [p for p in paths if p.endswith("__main__.py") and p.count("/") <= 2]
    return found


def command_entrypoint(words: list[str]) -> str | None:
    """The script a CMD/ENTRYPOINT runs (``python app.py``, ``node server.js``), if literal."""
    for i, word in enumerate(words):
        name = word.rsplit("/", 1)[-1]
        if re.fullmatch(r"python[\d.]*|node|ruby|bun|deno|php", name) and i + 1 < len(words):
            rest = [w for w in words[i + 1 :] if not w.startswith("-")]
            if rest and re.search(r"\.(py|[cm]?js|ts|rb|php)$", rest[0]):
                return rest[0]
    return None


@dataclass(frozen=True)
class Source:
    """A build-context path an instruction reads (COPY/ADD source, RUN bind mount)."""

    text: str  # as written
    line: int
    keyword: str
    regex: re.Pattern[str] | None  # None: the whole context ("." or "/")


_VAR = re.compile(r"\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)


def context_sources(doc: Any) -> list[Source]:
    """Every build-context source of a DockerfileDoc (not ``--from`` stages, URLs or heredocs)."""
    defaults = _defaults(doc)
    found: list[Source] = []
    for inst in doc.instructions:  # ONBUILD triggers read the downstream build's context
        if inst.keyword in ("COPY", "ADD") and inst.flag("from") is None and not inst.heredocs:
            words = list(inst.json) if inst.json is not None else inst.args.split()
            for word in words[:-1]:
                if not _REMOTE.match(word):
                    found.append(_source(word, inst, doc.escape, defaults))
        elif inst.keyword == "RUN":
            found += [_source(s, inst, doc.escape, defaults) for s in _bind_sources(inst)]
    return found


def _bind_sources(inst: Any) -> list[str]:
    sources = []
    for flag in inst.flags:
        if flag.name.lower() != "mount" or not flag.value:
            continue
        fields = dict(part.partition("=")[::2] for part in flag.value.split(","))
        if fields.get("type", "bind") == "bind" and "from" not in fields:
            sources.append(fields.get("source") or fields.get("src") or ".")
    return sources


def _defaults(doc: Any) -> dict[str, str | None]:
    """ARG/ENV default values; None when a name gets two different values (unknowable)."""
    values: dict[str, str | None] = {}
    for inst in doc.instructions:
        if inst.keyword in ("ARG", "ENV"):
            for name, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)', inst.args):
                value = value.strip('"')
                values[name] = value if values.get(name, value) == value and "$" not in value else None
    return values


def _source(word: str, inst: Any, escape: str, defaults: dict[str, str | None]) -> Source:
    text = word.strip("'\"") if word[:1] in "'\"" and word[-1:] == word[:1] else word
    path = text.replace("\\", "/") if escape == "`" else text

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).strip("{}").split(":", 1)[0]
        value = defaults.get(name)
        return value if value is not None else "\0"  # unknown: may be anything

    path = _VAR.sub(substitute, path)
    cleaned = _clean(path)
    if cleaned in (".", "/", "") or set(cleaned) <= {"*", "/"}:
        return Source(text, inst.line, inst.keyword, None)
    return Source(text, inst.line, inst.keyword, re.compile(_glob_regex(cleaned)))


def _clean(path: str) -> str:
    from hardener.dockerfile.dockerignore import go_clean

    return go_clean(path).lstrip("/") or "."


def _glob_regex(pattern: str) -> str:
    """filepath.Match as a regexp; a NUL stands for an unknown variable (anything)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        end = pattern.find("]", i + 2) if ch == "[" else -1
        if end > 0:
            out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end + 1
            continue
        out.append({"*": "[^/]*", "?": "[^/]", "\0": ".*"}.get(ch) or re.escape(ch))
        i += 1
    return "".join(out) + r"\Z"


def needed_by(sources: list[Source], paths: tuple[str, ...] | list[str]) -> dict[str, Source]:
    """Paths that a named (not whole-context) source copies: its matches and all below them."""
    needed: dict[str, Source] = {}
    for source in sources:
        if source.regex is None:
            continue
        for path in paths:
            if path in needed:
                continue
            parts = path.split("/")
            if any(source.regex.match("/".join(parts[: i + 1])) for i in range(len(parts))):
                needed[path] = source
    return needed


def copies_whole_context(sources: list[Source]) -> list[Source]:
    return [s for s in sources if s.regex is None]


@dataclass(frozen=True)
class PythonNeeds:
    """What a Python app reads from its context, from the import graph of its entrypoint."""

    entries: frozenset[str]  # top-level context entries (files or directories) it needs
    dynamic: str | None  # why the needs cannot be known (a dynamic import, …), or None


_IMPLICIT_DIRS = ("templates", "static")  # Flask finds these by convention, not by a literal
_DYNAMIC = ("importlib", "__import__", "import_string", "pkgutil", "entry_points", "django")


def python_needs(directory: Path, entry: str, top_entries: set[str]) -> PythonNeeds:
    """Follow local imports from ``entry`` (a file or module path); also keep every top-level
    entry a scanned file names in a string literal (``open("data/x.json")``, ``"templates"``).
    A file is read with ``ast`` when it gives libcst's names and literals, else with libcst."""
    needed: set[str] = set()
    todo = [entry]
    seen: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        try:
            data = read_bounded(directory / rel)
        except OSError as exc:
            return PythonNeeds(frozenset(), f"cannot read {rel}: {type(exc).__name__}")
        found = _ast_imports_and_literals(data)
        if found is None:
            import libcst as cst

            try:
                module = cst.parse_module(data)
            except cst.ParserSyntaxError as exc:
                return PythonNeeds(frozenset(), f"cannot read {rel}: {type(exc).__name__}")
            found = _imports_and_literals(module)
        names, literals = found
        hit = next((n for n in names if n.split(".")[0] in _DYNAMIC), None)
        if hit:
            return PythonNeeds(frozenset(), f"{rel} uses {hit} (modules loaded by name)")
        implicit = _IMPLICIT_DIRS if any(n.split(".")[0] == "flask" for n in names) else ()
        for top in {n.split(".")[0] for n in names} | {lit.split("/")[0] for lit in literals} | set(implicit):
            for candidate in (top, f"{top}.py"):
                if candidate in top_entries and candidate not in needed:
                    needed.add(candidate)
                    todo += _python_files(directory, candidate)
    return PythonNeeds(frozenset(needed), None)


def _python_files(directory: Path, entry: str) -> list[str]:
    path = directory / entry
    if path.is_file():
        return [entry] if entry.endswith(".py") else []
    return [p.relative_to(directory).as_posix() for p in sorted(path.rglob("*.py"))]


_IMPORTERS = ("__import__", "importlib.import_module", "import_module")


def _ast_imports_and_literals(source: bytes) -> tuple[list[str], list[str]] | None:
    """``_imports_and_literals`` read with ``ast`` (names in the same order, literals in
    another), or None when ``ast`` cannot give exactly that."""
    from hardener import pyast

    tree = pyast.parse(source)
    if tree is None:
        return None
    named: list[tuple[int, int, str, ast.AST]] = []  # position, name, node: libcst visits in source order
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named += ((node.lineno, node.col_offset, a.name, node) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if not node.level and node.module is not None:
                named.append((node.lineno, node.col_offset, node.module, node))
        elif isinstance(node, ast.Call) and (pyast.full_name(node.func) or "") in _IMPORTERS:
            named.append((node.lineno, node.col_offset, "importlib", node.func))
    strings = pyast.simple_strings(tree, source)
    if strings is None:
        return None
    literals = [value.removeprefix("./") for value in strings if value and len(value) < 200]
    if not source.isascii():  # ast normalises a non-ASCII name (NFKC), libcst keeps it as written
        text = pyast.Source(source)
        if any(not (text.segment(node) or "x").isascii() for *_, node in named):
            return None
    named.sort(key=lambda item: item[:2])  # stable: one statement's names keep their order
    return [name for _, _, name, _ in named], literals


def _imports_and_literals(module: Any) -> tuple[list[str], list[str]]:
    import libcst as cst
    from libcst.helpers import get_full_name_for_node

    names: list[str] = []
    literals: list[str] = []

    class Visitor(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> None:
            names.extend(get_full_name_for_node(a.name) or "" for a in node.names)

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            if not node.relative and node.module is not None:
                names.append(get_full_name_for_node(node.module) or "")

        def visit_Call(self, node: cst.Call) -> None:
            name = get_full_name_for_node(node.func) or ""
            if name in ("__import__", "importlib.import_module", "import_module"):
                names.append("importlib")

        def visit_SimpleString(self, node: cst.SimpleString) -> None:
            value = node.evaluated_value
            if isinstance(value, str) and value and len(value) < 200:
                literals.append(value.removeprefix("./"))

    module.visit(Visitor())
    return names, literals


def read_text(path: Path) -> str:
    """A context file's text for reading facts from it; "" when it cannot be read."""
    try:
        return read_text_bounded(path)
    except OSError:
        return ""
