"""Framework conventions and observed facts for ``knowledge.writes``.

A convention is where a framework writes without the app naming the path: Rails ``tmp/``
``log/`` (and ``storage/`` with Active Storage's disk service), Next.js ``.next/cache``
(``next start``), Flask's ``instance/`` folder when the app uses it, Django's ``STATIC_ROOT``
when ``collectstatic`` runs at start, its ``MEDIA_ROOT`` and the folder of a SQLite database in
``DATABASES``. An observed fact comes from a
real run recorded in ``hardener.facts.toml`` beside the Dockerfile by
``hardener verify --learn [PATH]``: it builds the original image with the lab engine
(buildah, as root), starts its ENTRYPOINT + CMD, runs the smoke command (as ``verify``
finds it), and records the paths the run wrote (the container's file system before and
after, without scratch, runtime files and caches), the TCP ports its processes listened on
and their uids. Observed writes stand for the writes hardener could not resolve in the code:
``run-as-non-root`` then gives the user exactly the observed directories instead of the whole
application directory; a reason cites them as ``observed: writes /app/data
(hardener.facts.toml)``. Commit the file; ``--offline`` runs read it too.
"""
from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.knowledge import writes_python
from hardener.limits import read_bounded, read_text_bounded

if TYPE_CHECKING:
    from hardener.dockerfile.doc import Instruction
    from hardener.knowledge.writes import Write

FACTS_FILE = "hardener.facts.toml"
Place = Callable[[str], "str | None"]


def conventions(context_dir: Path, paths: tuple[str, ...], place: Place, insts: list[Instruction],
                writes: list[Write]) -> None:
    present = set(paths)
    _rails(context_dir, present, place, writes)
    _next(context_dir, present, place, insts, writes)
    _flask(context_dir, paths, place, writes)
    start = _start_text(insts, context_dir)
    _django(context_dir, paths, place, start, writes)
    _angular(context_dir, present, place, start, writes)


def _write(path: str, where: str) -> Write:
    from hardener.knowledge.writes import Write

    return Write(posixpath.normpath(path), True, "convention", where)


def _text(context_dir: Path, rel: str) -> str:
    try:
        return read_text_bounded(context_dir / rel, 1 << 20, truncate=True)
    except OSError:
        return ""


def _rails(context_dir: Path, present: set[str], place: Place, writes: list[Write]) -> None:
    if "config/application.rb" not in present or not re.search(r"""gem\s+['"]rails['"]""", _text(context_dir, "Gemfile")):
        return
    app = place("config/application.rb")
    if app is None:
        return
    root = posixpath.dirname(posixpath.dirname(app))
    dirs = ["tmp", "log"] + (["storage"] if re.search(r"(?m)^\s*service:\s*Disk", _text(context_dir, "config/storage.yml")) else [])
    writes += [_write(posixpath.join(root, d), f"Rails {d}/ (config/application.rb)") for d in dirs]


def _next(context_dir: Path, present: set[str], place: Place, insts: list[Instruction], writes: list[Write]) -> None:
    if "package.json" not in present:
        return
    try:
        data = json.loads(read_bounded(context_dir / "package.json"))
    except (OSError, ValueError):
        return
    deps = {**(data.get("dependencies") or {}), **(data.get("devDependencies") or {})} if isinstance(data, dict) else {}
    if "next" not in deps:
        return
    root = place("package.json")
    if root is None:
        return
    writes.append(_write(posixpath.join(posixpath.dirname(root), ".next/cache"), "Next.js .next/cache (package.json)"))


def _angular(context_dir: Path, present: set[str], place: Place, start: str, writes: list[Write]) -> None:
    """The Angular CLI (13+) keeps a persistent build cache in ``.angular/cache`` beside
    ``angular.json`` when ``ng serve``/``ng build`` runs at start (``cli.cache`` may move or
    disable it)."""
    if "angular.json" not in present:
        return
    scripts = _package_scripts(context_dir) if "package.json" in present else {}
    commands = start + "\n" + "\n".join(v for k, v in scripts.items() if re.search(rf"\b(npm|yarn|pnpm)\b.*\b{re.escape(k)}\b", start))
    if not re.search(r"\bng\s+(serve|build|s|b)\b", commands):
        return
    try:
        config = json.loads(read_bounded(context_dir / "angular.json"))
    except (OSError, ValueError):
        return
    cache = config.get("cli", {}).get("cache", {}) if isinstance(config, dict) and isinstance(config.get("cli"), dict) else {}
    if not isinstance(cache, dict) or cache.get("enabled") is False:
        return
    where = place("angular.json")
    path = cache.get("path")
    rel = path if isinstance(path, str) else ".angular/cache"
    if where is not None:
        writes.append(_write(posixpath.join(posixpath.dirname(where), rel), "Angular CLI build cache (angular.json)"))


def _package_scripts(context_dir: Path) -> dict[str, str]:
    try:
        data = json.loads(read_bounded(context_dir / "package.json"))
    except (OSError, ValueError):
        return {}
    scripts = data.get("scripts") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in scripts.items()} if isinstance(scripts, dict) else {}


def _flask(context_dir: Path, paths: tuple[str, ...], place: Place, writes: list[Write]) -> None:
    for rel in paths:
        if not rel.endswith(".py") or "/test" in f"/{rel}":
            continue
        text = _text(context_dir, rel)
        if "Flask(" not in text or not re.search(r"instance_relative_config\s*=\s*True|\.instance_path\b", text):
            continue
        where = place(rel)
        if where is None:
            continue
        directory = posixpath.dirname(where)
        if rel.endswith("__init__.py"):
            directory = posixpath.dirname(directory)  # a package's instance folder sits next to it
        writes.append(_write(posixpath.join(directory, "instance"), f"Flask instance/ ({rel})"))
        return


def _django(context_dir: Path, paths: tuple[str, ...], place: Place, start: str, writes: list[Write]) -> None:
    if "manage.py" not in paths and not any(p.endswith("/manage.py") for p in paths):
        return
    names = ["MEDIA_ROOT"] + (["STATIC_ROOT"] if "collectstatic" in start else [])
    for rel in paths:
        if not (rel.endswith("settings.py") or "/settings/" in rel and rel.endswith(".py")):
            continue
        here = place(rel)
        source = _text(context_dir, rel).encode()
        for name in names:
            if name not in source.decode():
                continue
            path = writes_python.evaluate(source, name)
            resolved = _here(path, here)
            if resolved is not None:
                writes.append(_write(resolved, f"Django {name} ({rel})"))
        if b"sqlite3" in source:
            for database in writes_python.sqlite_databases(source):
                resolved = _here(database, here)
                if resolved is not None:  # the folder: SQLite creates its journal beside the file
                    writes.append(_write(posixpath.dirname(resolved), f"Django SQLite database ({rel})"))


def _here(path: writes_python.PyPath | None, here: str | None) -> str | None:
    if path is None:
        return None
    if path.base == "abs":
        return path.rel
    if path.base == "here" and here is not None:
        return posixpath.join(posixpath.dirname(here), path.rel)
    return None


def _start_text(insts: list[Instruction], context_dir: Path) -> str:
    from hardener.knowledge.images import entrypoint_script, last_start

    start = last_start(insts)
    text = (" ".join(start.json) if start.json is not None else start.args) if start is not None else ""
    script = entrypoint_script(insts, context_dir)
    return text + ("\n" + script[1] if script else "")


def _facts(context_dir: Path) -> dict[str, object]:
    try:
        return tomllib.loads(read_text_bounded(context_dir / FACTS_FILE))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def observed(context_dir: Path, dockerfile: str | None = None) -> list[Write]:
    """Writes recorded from a real run: ``[[writes]] path = "/app/data/x.db"`` (``dir = true``).

    An entry tagged ``dockerfile = "Dockerfile.dev"`` belongs to that Dockerfile's run only;
    an untagged one (written by hand, or by an older --learn) to every Dockerfile here.
    """
    from hardener.knowledge.writes import Write

    found = []
    items = _facts(context_dir).get("writes", [])
    for item in items if isinstance(items, list) else []:
        if not (isinstance(item, dict) and isinstance(item.get("path"), str) and item["path"].startswith("/")):
            continue
        owner = item.get("dockerfile")
        if dockerfile is not None and isinstance(owner, str) and owner != dockerfile:
            continue
        found.append(Write(posixpath.normpath(item["path"]), bool(item.get("dir", False)), "observed", FACTS_FILE))
    return found


@dataclass(frozen=True)
class Learned:
    """One ``[[learned]]`` run: who the processes ran as and where they listened."""

    dockerfile: str
    date: str
    uids: tuple[int, ...]
    ports: tuple[str, ...]  # "8000/tcp"


def learned(context_dir: Path) -> list[Learned]:
    runs = _facts(context_dir).get("learned", [])
    found = []
    for run in runs if isinstance(runs, list) else []:
        if isinstance(run, dict) and isinstance(run.get("dockerfile"), str):
            uids = tuple(u for u in run.get("uids", []) if isinstance(u, int))
            ports = tuple(p for p in run.get("ports", []) if isinstance(p, str))
            found.append(Learned(run["dockerfile"], str(run.get("date", "")), uids, ports))
    return found
