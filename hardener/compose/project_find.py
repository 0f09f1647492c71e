"""The ``-f`` file sets a repository's own commands start Compose with.

An overlay (``compose.full.yaml``) is not loaded by a bare ``docker compose up``: it is part
of a project only because some command names it. This module reads the places such commands
live — Makefile recipes, shell scripts, README/docs code blocks, CI workflow ``run`` steps,
``COMPOSE_FILE`` in ``.env`` — and returns each ``docker compose``/``docker-compose``
invocation that names files with ``-f``/``--file`` (and ``--env-file``), with the file and
line it was found at. A file named through an unexpanded variable (``-f $(FILE)``) is not a
set we can place, so the whole invocation is dropped rather than guessed.
"""
from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from hardener.limits import read_text_bounded, walk_bounded

_LIMITS = (4, 3000, 256_000)  # walk depth, entries looked at, bytes per file
_SKIP = {"node_modules", "vendor", "venv", ".venv", "__pycache__", ".git", "dist", "build", "target"}
_MAKEFILES = {"makefile", "gnumakefile", "justfile", "taskfile.yml", "taskfile.yaml"}
_COMPOSE_DEFAULTS = {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
_FENCE = re.compile(r"^\s*(```|~~~)")
_PROJECT_NAME = re.compile(r"^(?=.*[a-z_-])[a-z0-9][a-z0-9_-]*$|^\$\{?\w+\}?$")  # Compose's rule, or a variable
_SEPARATORS = {"&&", "||", ";", "|", "&", ")", "(", "\\"}


@dataclass(frozen=True)
class Command:
    """One invocation: the files in ``-f`` order (resolved), its ``--env-file``, where it is."""

    files: tuple[Path, ...]  # empty: no -f, the default files of ``folder`` (an --env-file command)
    env_file: Path | None
    where: str  # "Makefile:12", ".env: COMPOSE_FILE"
    folder: Path | None = None  # where the command runs, for one without -f
    name: str | None = None  # its ``-p``/``--project-name``, as written


def commands(root: Path) -> tuple[Command, ...]:
    """Every ``-f`` set the repository under ``root`` uses, in walk order, without repeats."""
    return tuple(c for c in _commands(root) if c.files)


def env_commands(root: Path) -> tuple[Command, ...]:
    """Commands without ``-f`` that name an ``--env-file``: the default files of their folder
    interpolated from it instead of ``.env``."""
    return tuple(c for c in _commands(root) if not c.files)


@functools.lru_cache(maxsize=16)
def _commands(root: Path) -> tuple[Command, ...]:
    lines: dict[Path, list[tuple[str, str]]] = {}
    for path, where, line in command_lines(root):
        lines.setdefault(path, []).append((where, line))
    found: dict[tuple[tuple[Path, ...], Path | None, Path | None], Command] = {}
    for path in _candidates(root):
        for command in _read(path, root, lines.get(path, [])):
            found.setdefault((command.files, command.env_file, command.folder), command)
    return tuple(found.values())


@functools.lru_cache(maxsize=16)
def compose_defaults(root: Path) -> tuple[Path, ...]:
    """The default-named Compose files (``compose.yaml``, ``docker-compose.yml`` …) below ``root``."""
    return tuple(p for p in _walk(root) if _kind(p) == "compose")


def is_default_name(path: Path) -> bool:
    """``compose.yaml``, ``docker-compose.yml``, their overrides: what a bare command loads."""
    return _kind(path) == "compose"


def _candidates(root: Path) -> list[Path]:
    return [p for p in _walk(root) if _kind(p) not in (None, "compose")]


@functools.lru_cache(maxsize=16)
def _walk(root: Path) -> tuple[Path, ...]:
    depth, budget, _size = _LIMITS
    found = walk_bounded(root, depth, budget, lambda d: d.name not in _SKIP and (
        not d.name.startswith(".") or d.name in (".github", ".gitlab")))
    return tuple(sorted(f for f in found if _kind(f) is not None))


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name in _COMPOSE_DEFAULTS:
        return "compose"
    if name in _MAKEFILES or name.endswith(".mk"):
        return "make"
    if name.endswith((".sh", ".bash")):
        return "shell"
    if name.endswith((".md", ".rst")):
        return "docs"
    if path.parent.name == "workflows" and name.endswith((".yml", ".yaml")) or name == ".gitlab-ci.yml":
        return "ci"
    if name == ".env":
        return "env"
    return None


@functools.lru_cache(maxsize=16)
def command_lines(root: Path) -> tuple[tuple[Path, str, str], ...]:
    """(file, "file:line", command text) of every logical command line in the repository's
    Makefiles, shell scripts, docs code blocks and CI workflows (other readers of the
    repository's own commands, such as ``docker run`` lines, start here)."""
    size = _LIMITS[2]
    out: list[tuple[Path, str, str]] = []
    for path in _candidates(root):
        kind = _kind(path)
        if kind == "env" or path.stat().st_size > size:
            continue
        rel = path.relative_to(root).as_posix()
        out += [(path, f"{rel}:{n}", line) for n, line in _logical_lines(read_text_bounded(path), kind == "docs")]
    return tuple(out)


def _read(path: Path, root: Path, lines: list[tuple[str, str]]) -> list[Command]:
    """The compose commands of one file: its ``lines`` from ``command_lines``, or for a
    ``.env`` its ``COMPOSE_FILE``."""
    if _kind(path) == "env":
        if path.stat().st_size > _LIMITS[2]:
            return []
        return _compose_file_env(read_text_bounded(path), path, path.relative_to(root).as_posix())
    out = []
    for where, line in lines:
        if "compose" in line and ("-f" in line or "--file" in line):
            command = parse(line, path.parent, root, where)
            if command is not None:
                out.append(command)
    return out


def _logical_lines(text: str, fenced_only: bool) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined; in docs only the lines
    inside code fences or indented code, where commands are."""
    out: list[tuple[int, str]] = []
    inside = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if fenced_only and _FENCE.match(line):
            inside = not inside
            continue
        if fenced_only and not inside and not line.startswith(("    ", "\t", "$ ")):
            continue
        start, body = pending if pending is not None else (number, "")
        body += " " + line.strip().removeprefix("$ ")
        if body.endswith("\\"):
            pending = (start, body[:-1])
            continue
        pending = None
        out.append((start, body.strip()))
    return out


def shell_words(line: str) -> list[str] | None:
    """A command line split as the shell would (``$(…)`` and backticks opened up so the
    command inside is seen), or None when its quotes do not close."""
    try:
        return shlex.split(line.replace("$(", " $(").replace("`", " "), comments=True)
    except ValueError:
        return None


def parse(line: str, here: Path, root: Path, where: str) -> Command | None:
    """The first compose invocation in ``line`` that names files with ``-f``; None otherwise."""
    words = shell_words(line)
    if words is None:
        return None
    words = _expand_assignments(words)
    for i, word in enumerate(words):
        if word.endswith("docker-compose") or (word.endswith("docker") and words[i + 1:i + 2] == ["compose"]):
            return _options(words[i + 1:], here, root, where)
    return None


def _expand_assignments(words: list[str]) -> list[str]:
    """A command kept in a variable (test.sh: ``doco="docker compose --file a.yml --file b.yml"``)
    is split like the command it holds."""
    out: list[str] = []
    for word in words:
        name, eq, value = word.partition("=")
        if eq and name.isidentifier() and "compose" in value:
            try:
                out += shlex.split(value)
                continue
            except ValueError:
                pass
        out.append(word)
    return out


def _options(words: list[str], here: Path, root: Path, where: str) -> Command | None:
    named: list[tuple[str, str]] = []  # ("file"|"env", value) in order
    i = 0
    while i < len(words) and words[i] not in _SEPARATORS:
        option = _option(words[i], words[i + 1] if i + 1 < len(words) else "")
        if option is not None:
            named.append(option[:2])
            i += option[2]
        else:
            i += 1
    files = [v for k, v in named if k == "file"]
    env_file = next((v for k, v in reversed(named) if k == "env"), None)
    env = _resolve(env_file, here, root) if env_file and "$" not in env_file else None
    name = next((v for k, v in reversed(named) if k == "name"), None)
    if not files:
        return Command((), env, where, here.resolve(), name) if env is not None else None
    if any("$" in f or f == "-" for f in files):
        return None
    resolved = [_resolve(f, here, root) for f in files]
    if any(r is None for r in resolved):
        return None
    return Command(tuple(r for r in resolved if r is not None), env, where, name=name)


def _option(word: str, value: str) -> tuple[str, str, int] | None:
    """(kind, value, words used) for ``-f X``, ``--file X``, ``--file=X``, ``-fX``, ``--env-file``,
    ``-p``/``--project-name``."""
    if word in ("-f", "--file"):
        return "file", value, 2
    if word == "--env-file":
        return "env", value, 2
    if word.startswith("--file="):
        return "file", word[len("--file="):], 1
    if word.startswith("--env-file="):
        return "env", word[len("--env-file="):], 1
    if word.startswith("-f") and len(word) > 2 and word[2] != "-":
        return "file", word[2:], 1
    if word == "--project-name" or (word == "-p" and _PROJECT_NAME.match(value)):
        return "name", value, 2  # `run -p 8080:80` publishes a port: not a name
    if word.startswith("--project-name="):
        return "name", word[len("--project-name="):], 1
    return None


def _resolve(name: str, here: Path, root: Path) -> Path | None:
    """The file a command names, relative to the folder of the file holding the command or
    to the repository root (README commands run from there); None when neither has it."""
    for base in (here, root):
        path = (base / name).resolve()
        if path.is_file() and (path == root.resolve() or root.resolve() in path.parents):
            return path
    return None


def _compose_file_env(text: str, path: Path, rel: str) -> list[Command]:
    for number, line in enumerate(text.splitlines(), 1):
        key, eq, value = line.strip().removeprefix("export ").partition("=")
        if eq and key.strip() == "COMPOSE_FILE":
            value = value.strip().strip("'\"")
            names = [n for n in re.split(r"[:;]", value) if n]
            resolved = [_resolve(n, path.parent, path.parent) for n in names]
            if names and "$" not in value and all(r is not None for r in resolved):
                return [Command(tuple(r for r in resolved if r is not None), None, f"{rel}:{number} COMPOSE_FILE")]
    return []
