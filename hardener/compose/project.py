"""The Compose project as ``docker compose`` loads it: which files, merged how, from where.

A project is an ordered list of files (the default ``compose.yaml`` + ``compose.override.yaml``
pair, a ``-f`` set one of the repository's commands uses, ``COMPOSE_FILE`` in ``.env``, or one
declared in ``[tool.hardener] compose-projects``), plus what those files pull in themselves
(``include:`` in its three forms, ``extends: {file:}``). ``load`` merges them with Compose's
rules (compose/merge.py), interpolating from ``.env`` (or the command's ``--env-file``), and
keeps for every service key the file and line that defines it, so a whole-stack transform can
decide on the merged project and write each edit to the file that owns the key.
``env_file:`` contents are read by the graph for host names only, never shown.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from hardener.compose import project_find
from hardener.compose.interpolate import interpolate, read_dotenv
from hardener.compose.merge import Merged, merge_service, merge_value, normalise, plain

Read = Callable[[Path], "bytes | None"]
BASE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_MAX_FILES = 40  # include/extends chains: a project of more files is not one we place


@dataclass(frozen=True)
class Project:
    """The files one command loads, in order, the ``.env`` it reads and where we found it."""

    files: tuple[Path, ...]
    source: str  # "override pair", "-f from Makefile:12", "COMPOSE_FILE in .env:3", "config"
    env_file: Path | None = None
    name: str | None = None  # the command's -p/--project-name (wins over ``name:``)

    def describe(self, root: Path) -> str:
        names = " + ".join(_rel(f, root) for f in self.files)
        return f"{names} ({self.source})"


@dataclass
class Loaded:
    """A project merged: services with their origins, top-level networks, every file read."""

    project: Project
    services: dict[str, Merged] = field(default_factory=dict)
    networks: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, Any] = field(default_factory=dict)  # top-level configs, ``file:`` made absolute
    members: list[Path] = field(default_factory=list)  # the -f files and all they include/extend
    env: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)  # "include compose.db.yaml", "extends common.yaml"
    name: str | None = None  # top-level ``name:`` of the -f files, the last one set (as written)

    def describe(self, root: Path) -> str:
        """The -f files, how they were found, and the files they pull in themselves."""
        text = self.project.describe(root)
        return f"{text[:-1]}; {', '.join(self.pulled)})" if self.pulled else text

    def profiles(self) -> list[str | None]:
        """None (no profile given) and every profile a service names."""
        names = {str(p) for s in self.services.values() for p in s.value.get("profiles") or []}
        return [None, *sorted(names)]

    def active(self, profile: str | None) -> list[str]:
        """The services ``docker compose --profile <profile> up`` starts."""
        return [n for n, s in self.services.items()
                if not s.value.get("profiles") or profile in [str(p) for p in s.value["profiles"]]]


def find_projects(root: Path, configured: Iterable[Sequence[str]] = (), *, commands: bool = True) -> list[Project]:
    """Every project the repository under ``root`` defines: config first, then commands (``-f``
    sets, then ``--env-file`` commands without ``-f``: a folder's default files interpolated
    from that file), then the default pair of each folder that has one (a lone default file is
    a project too; not when the folder has no ``.env`` and its commands name another)."""
    out: list[Project] = []
    for names in configured:
        files = tuple((root / n).resolve() for n in names)
        if files and all(f.is_file() for f in files):
            out.append(Project(files, "config [tool.hardener] compose-projects"))
    for command in project_find.commands(root.resolve()) if commands else ():
        out.append(Project(command.files, f"-f from {command.where}", command.env_file, command.name))
    env_folders = set()
    for command in project_find.env_commands(root.resolve()) if commands else ():
        found = _default_files(command.folder) if command.folder is not None else None
        if found is not None and command.env_file is not None:
            out.append(Project(found[0], f"--env-file from {command.where}", command.env_file, command.name))
            env_folders.add(command.folder)
    folders = {f.parent for f in project_find.compose_defaults(root.resolve())} if commands else {root.resolve()}
    for folder in sorted(folders):
        found = _default_files(folder)
        if found is not None and not (folder in env_folders and not (folder / ".env").is_file()):
            out.append(Project(*found))
    return _unique(out)


def _default_files(folder: Path) -> tuple[tuple[Path, ...], str] | None:
    """(what a bare ``docker compose`` loads in ``folder``, "override pair"/"default file")."""
    base = next((folder / n for n in BASE_NAMES if (folder / n).is_file()), None)
    if base is None:
        return None
    stem = base.name.rsplit(".", 1)[0]
    over = next((folder / f"{stem}.override{s}" for s in (".yaml", ".yml")
                 if (folder / f"{stem}.override{s}").is_file()), None)
    return ((base, over), "override pair") if over is not None else ((base,), "default file")


def _unique(projects: list[Project]) -> list[Project]:
    seen: dict[tuple[tuple[Path, ...], Path | None], Project] = {}
    for project in projects:
        seen.setdefault((project.files, project.env_file), project)
    return list(seen.values())


def load(project: Project, read: Read) -> Loaded:
    """Merge the project's files (see the module docstring)."""
    loaded = Loaded(project)
    first = project.files[0]
    env_path = project.env_file or first.parent / ".env"
    env_text = read(env_path)
    loaded.env = read_dotenv(env_text.decode("utf-8", "replace")) if env_text is not None else {}
    for path in project.files:
        _merge_file(loaded, path, read, base_dir=first.parent, depth=0)
    return loaded


def _merge_file(loaded: Loaded, path: Path, read: Read, base_dir: Path, depth: int) -> None:
    if depth > 4 or len(loaded.members) >= _MAX_FILES:
        loaded.problems.append(f"{path.name}: include/extends nested too deep")
        return
    root = _document(path, read)
    if root is None:
        loaded.problems.append(f"{path.name}: missing or not a Compose mapping")
        return
    loaded.members.append(path)
    top, lines = root
    if depth == 0 and isinstance(top.get("name"), str):
        loaded.name = top["name"]  # an included file's name is not the project's
    for include in _includes(top.get("include"), path.parent):
        loaded.pulled.append(f"include {_rel(include, base_dir)}")
        _merge_file(loaded, include, read, base_dir=include.parent, depth=depth + 1)
    for name, body in (top.get("networks") or {}).items() if isinstance(top.get("networks"), dict) else []:
        loaded.networks[name] = merge_value("networks", loaded.networks.get(name), body or {})
    for name, body in (top.get("configs") or {}).items() if isinstance(top.get("configs"), dict) else []:
        loaded.configs[name] = _config_file(body, base_dir, loaded.env)
    services = top.get("services")
    for name, body in services.items() if isinstance(services, dict) else []:
        if not isinstance(body, dict):
            continue
        body = _resolved(body, path, read, loaded, depth)
        merged = loaded.services.setdefault(name, Merged(name))
        merge_service(merged, _interpolated(_rebase(body, base_dir), loaded.env), lines.get(name, {}), path)


def _document(path: Path, read: Read) -> tuple[dict[str, Any], dict[str, dict[str, int]]] | None:
    """The file's top mapping (plain) and, per service, the line of each key."""
    import copy

    raw = read(path)
    found = _parsed(path, raw) if raw is not None else None
    return copy.deepcopy(found)  # the cached parse stays as read, whatever a caller does with it


@lru_cache(maxsize=128)
def _parsed(path: Path, raw: bytes) -> tuple[dict[str, Any], dict[str, dict[str, int]]] | None:
    """``_document`` for one content (cached: per-service transforms reload a project each
    time one of its files changes, and the others are read again unchanged)."""
    from hardener.compose.doc import ComposeDoc

    try:
        doc = ComposeDoc.load(raw, str(path))
    except Exception:  # a file Compose cannot parse is not a project member we can place
        return None
    if not doc.documents:
        return None
    top = plain(doc.documents[0])
    if not isinstance(top, dict):
        return None
    lines = {s.name: _key_lines(s.node) for s in doc.services() if s.doc_index == 0}
    return top, lines


def document_services(path: Path, read: Read) -> dict[str, dict[str, Any]]:
    """The service bodies of one Compose file as written (no merge, no interpolation); empty
    when the file is missing or is not a Compose mapping."""
    root = _document(path, read)
    services = root[0].get("services") if root is not None else None
    return {str(n): b for n, b in services.items() if isinstance(b, dict)} if isinstance(services, dict) else {}


def _key_lines(node: Any) -> dict[str, int]:
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if not isinstance(node, MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _v in node.value if isinstance(k, ScalarNode)}


def _includes(value: Any, here: Path) -> list[Path]:
    """``include:`` as a list of paths, of ``{path: x}`` or of ``{path: [x, y]}``."""
    out: list[Path] = []
    for item in value if isinstance(value, list) else []:
        paths = item.get("path") if isinstance(item, dict) else item
        for rel in paths if isinstance(paths, list) else [paths]:
            if isinstance(rel, str) and "$" not in rel:
                out.append((here / rel).resolve())
    return out


def _resolved(body: dict[str, Any], path: Path, read: Read, loaded: Loaded, depth: int) -> dict[str, Any]:
    """A service with its ``extends:`` applied (the base first, the local keys merged over)."""
    extends = body.get("extends")
    if extends is None:
        return body
    spec = {"service": extends} if isinstance(extends, str) else extends if isinstance(extends, dict) else {}
    other = (path.parent / spec["file"]).resolve() if isinstance(spec.get("file"), str) else path
    found = _document(other, read) if depth < 4 else None
    base = (found[0].get("services") or {}).get(spec.get("service")) if found else None
    if not isinstance(base, dict):
        loaded.problems.append(f"{path.name}: extends {spec.get('service')!r} in {other.name}, which is not there")
        return body
    if other != path and other not in loaded.members:
        loaded.members.append(other)
        loaded.pulled.append(f"extends {_rel(other, path.parent)}")
    base = _rebase(_resolved(base, other, read, loaded, depth + 1), other.parent)
    merged: dict[str, Any] = {}
    for key, value in [*base.items(), *((k, v) for k, v in body.items() if k != "extends")]:
        merged[key] = merge_value(key, normalise(key, merged.get(key)), normalise(key, value))
    return merged


def _rebase(body: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative ``env_file`` paths made absolute (Compose resolves them from the base file's
    folder, or from the included/extended file's own)."""
    env_file = normalise("env_file", body.get("env_file"))
    if not isinstance(env_file, list):
        return body
    fixed = []
    for item in env_file:
        rel = item.get("path") if isinstance(item, dict) else item
        absolute = str((folder / rel).resolve()) if isinstance(rel, str) and "$" not in rel else rel
        fixed.append({**item, "path": absolute} if isinstance(item, dict) else absolute)
    return {**body, "env_file": fixed}


def _config_file(body: Any, folder: Path, env: dict[str, str]) -> Any:
    """A top-level config with its ``file:`` absolute (a -f file's from the project folder,
    an included file's from its own, as Compose resolves them)."""
    body = _interpolated(body, env)
    rel = body.get("file") if isinstance(body, dict) else None
    if not isinstance(rel, str) or "$" in rel:
        return body
    return {**body, "file": str((folder / rel).resolve())}


def _interpolated(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env).text
    if isinstance(value, dict):
        return {k: _interpolated(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolated(v, env) for v in value]
    return value


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
