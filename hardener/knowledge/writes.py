"""What the app in a Dockerfile's final stage writes at run time, and how hardener knows it.

Every fact carries its source, the way a reviewer checks it:
- ``code``: a write call in the app's Python (libcst), Node or Go sources;
- ``convention``: where a framework writes by default (Rails ``tmp/ log/ storage/``,
  Next.js ``.next/cache``, Flask ``instance/``, Django ``STATIC_ROOT``/``MEDIA_ROOT``);
- ``repo``: ``VOLUME``, ``ENV`` data/log/cache directories, directories the repo keeps
  with only a ``.gitkeep``/``.keep`` in them;
- ``entrypoint``: what the ENTRYPOINT/CMD (inline, or the script it runs) writes;
- ``observed``: recorded from a real run (``hardener.facts.toml``).
A write whose path cannot be resolved is an ``Unknown`` with its ``file:line``: callers
refuse or widen deliberately, they never guess. Container paths come from the final stage's
COPY/ADD instructions and its WORKDIR. The scan is bounded (files, bytes) and cached per
build context and Dockerfile text for the process.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.dockerfile.workdir import is_literal_path, join_workdir
from hardener.knowledge import writes_python, writes_scan
from hardener.limits import ReadRefused, read_bounded
from hardener.repo_facts import listing
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.dockerfile.doc import DockerfileDoc, Instruction
    from hardener.knowledge.images import Base

MAX_FILES = 400  # source files scanned per build context
MAX_FILE_BYTES = 256 << 10  # a bigger source file is generated or vendored, not the app's own
MAX_TOTAL_BYTES = 8 << 20
SOURCES = ("code", "convention", "repo", "entrypoint", "observed")
_SKIP_PARTS = frozenset({"test", "tests", "testing", "spec", "specs", "__tests__", "docs", "doc", "examples",
                         "example", "migrations", "node_modules", "vendor", "dist", "build", ".next", "fixtures"})
_ALWAYS_WRITABLE = ("/tmp", "/var/tmp", "/dev/", "/proc/", "/sys/")
_WRITE_ENV = re.compile(r"(?i)^(?=.*(DATA|LOG|CACHE|UPLOAD|STORAGE|TMP|TEMP|MEDIA|STATE|DB|SPOOL))"
                        r"(?:\w+_(?:DIR|PATH|ROOT|FOLDER)|DATA\w*)$")


# A placeholder keeps a directory for runtime output only under such a name: `src/assets/.gitkeep`
# keeps an empty asset folder the build fills, not one the app writes.
_WRITE_DIR = re.compile(r"(?i)data|logs?$|cache|upload|storage|^te?mp$|media|state|^db$|spool|session|^var$|^run$")


@dataclass(frozen=True)
class Write:
    path: str  # absolute path in the container
    is_dir: bool
    source: str  # one of SOURCES
    where: str  # file:line (or file) that shows it

    @property
    def directory(self) -> str:
        return self.path if self.is_dir else posixpath.dirname(self.path) or "/"

    def cite(self) -> str:
        if self.source == "observed":
            return f"observed: writes {self.path} ({self.where})"
        return f"source: {self.source} {self.where}"


@dataclass(frozen=True)
class Unknown:
    source: str
    where: str
    why: str

    def cite(self) -> str:
        return f"source: {self.source} {self.where}: {self.why}"


@dataclass(frozen=True)
class AppWrites:
    writes: tuple[Write, ...]
    unknown: tuple[Unknown, ...]
    app_dir: str | None  # where the whole build context is copied, when it is
    existing: frozenset[str] = frozenset()  # written files the image already holds (from the context)
    socket: str | None = None  # "file:line" where the app opens the container engine's socket

    def directories(self) -> dict[str, Write]:
        """Each directory the app must be able to write in (first fact per directory)."""
        found: dict[str, Write] = {}
        for write in self.writes:
            directory = write.directory
            if not directory.startswith(_ALWAYS_WRITABLE) and directory not in ("/tmp", "/var/tmp"):
                found.setdefault(directory, write)
        return found

    def by_source(self) -> dict[str, int]:
        counts = dict.fromkeys(SOURCES, 0)
        for item in self.writes:
            counts[item.source] += 1
        for gap in self.unknown:
            counts[gap.source] += 1
        return counts


@dataclass(frozen=True)
class _Copy:
    src: str  # context-relative, "" for the whole context
    dest: str  # absolute
    dest_is_dir: bool
    line: int


# The facts of the current run, keyed by context directory and Dockerfile text. Holding the
# run's file view keeps its id from being reused by a later run (a test, a campaign).
_CACHE: tuple[object, dict[tuple[str, str], AppWrites]] | None = None


def app_writes(doc: DockerfileDoc, base: Base, context_dir: Path | None, run: object = None) -> AppWrites:
    """The writes of the final stage's app; ``run`` (the run's file view) caches them for the run."""
    global _CACHE
    if run is None:
        return _analyse(doc, base, context_dir)
    if _CACHE is None or _CACHE[0] is not run:
        _CACHE = (run, {})
    key = (str(context_dir.resolve()) if context_dir is not None else "", doc.text)
    if key not in _CACHE[1]:
        _CACHE[1][key] = _analyse(doc, base, context_dir)
    return _CACHE[1][key]


def _analyse(doc: DockerfileDoc, base: Base, context_dir: Path | None) -> AppWrites:
    from hardener.knowledge import writes_facts
    from hardener.knowledge.socket_use import socket_user

    insts = base.instructions()
    workdir, copies = _layout(doc, insts)
    writes: list[Write] = []
    unknown: list[Unknown] = []
    name = posixpath.basename(doc.path) or "Dockerfile"
    _repo_facts(doc, insts, name, writes)
    _start_facts(insts, name, workdir, writes, unknown)
    app_dir = next((c.dest for c in reversed(copies) if c.src == ""), None)
    placed: set[str] = set()
    paths: tuple[str, ...] = ()  # the build context's files, when there is one
    place: Callable[[str], str | None] | None = None
    if context_dir is not None and context_dir.is_dir():
        paths = listing(context_dir).paths
        mapper = _Mapper(copies, context_dir)
        place = mapper.place
        _script_facts(insts, mapper, paths, workdir, writes, unknown)
        _placeholder_facts(paths, mapper, writes)
        _code_facts(context_dir, paths, mapper, workdir, writes, unknown)
        writes_facts.conventions(context_dir, paths, mapper.place, insts, writes)
        writes += writes_facts.observed(context_dir, name)
        files = {w.path for w in writes if not w.is_dir}
        placed = {p for p in map(mapper.place, paths) if p in files}
    socket = socket_user(context_dir or Path("."), paths, place, doc.text)
    return AppWrites(tuple(dict.fromkeys(writes)), tuple(dict.fromkeys(unknown)), app_dir, frozenset(placed),
                     socket)


def _layout(doc: DockerfileDoc, insts: list[Instruction]) -> tuple[str | None, list[_Copy]]:
    """The final WORKDIR (None: not set by the Dockerfile) and the context COPYs with their
    absolute destinations."""
    workdir: str | None = None
    copies: list[_Copy] = []
    for inst in insts:
        if inst.keyword == "WORKDIR":
            workdir = join_workdir(workdir, inst.args.strip())
        elif inst.keyword in ("COPY", "ADD") and inst.flag("from") is None and not inst.heredocs:
            words = list(inst.json) if inst.json is not None else inst.args.split()
            if len(words) < 2 or not is_literal_path(words[-1]):
                continue
            dest = words[-1] if words[-1].startswith("/") else join_workdir(workdir, words[-1])
            if dest is None:
                continue
            is_dir = words[-1].endswith("/") or len(words) > 2 or words[-1] in (".", "./")
            for src in words[:-1]:
                if is_literal_path(src) and not src.startswith("-"):
                    clean = posixpath.normpath(src.lstrip("/")).removeprefix("./")
                    copies.append(_Copy("" if clean == "." else clean, dest.rstrip("/") or "/", is_dir, inst.line))
    return workdir, copies


class _Mapper:
    def __init__(self, copies: list[_Copy], context_dir: Path) -> None:
        self.copies = copies
        self.context_dir = context_dir

    def place(self, rel: str) -> str | None:
        """Where the context file ``rel`` lands in the image (the last COPY that copies it)."""
        for copy in reversed(self.copies):
            if copy.src == "" or rel.startswith(copy.src + "/"):
                if copy.src == "" or (self.context_dir / copy.src).is_dir():
                    sub = rel[len(copy.src) + 1:] if copy.src else rel
                    return posixpath.join(copy.dest, sub)
            if rel == copy.src:
                return posixpath.join(copy.dest, posixpath.basename(rel)) if copy.dest_is_dir else copy.dest
        return None


def _resolve(path: str, workdir: str | None) -> str | None:
    if path.startswith("/"):
        return posixpath.normpath(path)
    return posixpath.normpath(posixpath.join(workdir, path)) if workdir else None


def _repo_facts(doc: DockerfileDoc, insts: list[Instruction], name: str, writes: list[Write]) -> None:
    from hardener.dockerfile.removal import env_pairs

    for inst in insts:
        if inst.keyword == "VOLUME":
            words = list(inst.json) if inst.json is not None else inst.args.split()
            writes += [Write(posixpath.normpath(w), True, "repo", f"{name}:{inst.line} VOLUME")
                       for w in words if w.startswith("/") and "$" not in w]
        elif inst.keyword == "ENV":
            for pair in env_pairs(doc, inst):
                value = pair.value.strip("\"'")
                if _WRITE_ENV.match(pair.name) and value.startswith("/") and is_literal_path(value):
                    is_dir = not re.search(r"\.\w{1,8}$", value)
                    writes.append(Write(posixpath.normpath(value), is_dir, "repo", f"{name}:{inst.line} ENV {pair.name}"))


def _start_facts(insts: list[Instruction], name: str, workdir: str | None, writes: list[Write],
                 unknown: list[Unknown]) -> None:
    from hardener.knowledge.images import last_start

    start = last_start(insts)
    if start is None:
        return
    text = start.args if start.json is None else writes_scan.shell_script(start.json)
    if text is None:
        return  # exec form: one program and its arguments, no redirections
    _sites(writes_scan.script_sites(text), "entrypoint", f"{name}:{start.line}", workdir, writes, unknown, line=False)


def _script_facts(insts: list[Instruction], mapper: _Mapper, paths: tuple[str, ...], workdir: str | None,
                  writes: list[Write], unknown: list[Unknown]) -> None:
    """Writes of the script the ENTRYPOINT (else CMD) runs, when the build context holds it."""
    from hardener.knowledge.images import last_start

    start = last_start(insts)
    if start is None:
        return
    words = list(start.json) if start.json is not None else start.args.split()
    while words and (words[0].rsplit("/", 1)[-1] in writes_scan.SHELLS or words[0] in ("exec", "-e", "-x")):
        words = words[1:]
    target = _resolve(words[0], workdir) if words and is_literal_path(words[0]) else None
    rel = next((p for p in paths if target and mapper.place(p) == target), None)
    if rel is None:
        return
    try:
        text = read_bounded(mapper.context_dir / rel, MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return
    shell = re.match(r"#!\s*/(usr/)?bin/(env\s+)?(ba|da|a|z)?sh\b", text)
    if not shell and not (rel.endswith((".sh", ".bash")) and not text.startswith("#!")):
        return  # a program, not a shell script: its writes are read with the code, if at all
    _sites(writes_scan.script_sites(text), "entrypoint", rel, workdir, writes, unknown)


def _sites(sites: list[writes_scan.Site], source: str, where: str, workdir: str | None, writes: list[Write],
           unknown: list[Unknown], *, line: bool = True, here: str | None = None) -> None:
    """``here``: the directory the source file lands in, what ``__dirname`` is at run time."""
    for site in sites:
        at = f"{where}:{site.line}" if line else where
        if site.path is None:
            if site.why != "in memory":
                unknown.append(Unknown(source, at, site.why))
            continue
        if site.path.startswith("__dirname"):
            if here is None:
                unknown.append(Unknown(source, at, f"{site.call} writes under __dirname, a file not copied by path"))
                continue
            path: str | None = posixpath.normpath(here + site.path.removeprefix("__dirname"))
        else:
            path = _resolve(site.path, workdir)
        if path is None:
            unknown.append(Unknown(source, at, f"writes {site.path}, relative to a WORKDIR the Dockerfile does not set"))
        else:
            writes.append(Write(path, site.is_dir, source, at))


def _placeholder_facts(paths: tuple[str, ...], mapper: _Mapper, writes: list[Write]) -> None:
    """A directory the repo keeps with only a placeholder in it exists to be written to."""
    children: dict[str, list[str]] = {}
    for path in paths:
        parent, _, leaf = path.rpartition("/")
        children.setdefault(parent, []).append(leaf)
    for directory, leaves in children.items():
        placeholders = [leaf for leaf in leaves if leaf in (".gitkeep", ".keep")]
        if directory and placeholders and len(leaves) == 1 and _WRITE_DIR.search(directory.rpartition("/")[2]):
            place = mapper.place(f"{directory}/{placeholders[0]}")
            if place is not None:
                writes.append(Write(posixpath.dirname(place), True, "repo", f"{directory}/{placeholders[0]}"))


def _code_facts(context_dir: Path, paths: tuple[str, ...], mapper: _Mapper, workdir: str | None,
                writes: list[Write], unknown: list[Unknown]) -> None:
    budget = [MAX_FILES, MAX_TOTAL_BYTES]
    for rel in paths:
        kind = _kind(rel)
        if kind is None or _skipped(rel):
            continue
        place = mapper.place(rel)
        if place is None and kind != "go":
            continue  # not in the image: not what the app runs
        if budget[0] <= 0 or budget[1] <= 0:
            unknown.append(Unknown("code", rel, f"the scan stopped after {MAX_FILES} files or "
                                                f"{MAX_TOTAL_BYTES >> 20} MiB"))
            return
        try:
            data = read_bounded(context_dir / rel, MAX_FILE_BYTES)
        except ReadRefused:
            continue
        except OSError:
            continue
        budget[0] -= 1
        budget[1] -= len(data)
        _file_facts(rel, kind, data, place, workdir, writes, unknown)


def _file_facts(rel: str, kind: str, data: bytes, place: str | None, workdir: str | None, writes: list[Write],
                unknown: list[Unknown]) -> None:
    if kind != "python":
        text = data.decode("utf-8", errors="replace")
        sites = writes_scan.go_sites(text) if kind == "go" else writes_scan.node_sites(text)
        here = posixpath.dirname(place) if place and kind == "node" else None
        _sites(sites, "code", rel, workdir, writes, unknown, here=here)
        return
    found = writes_python.write_sites(data)
    if isinstance(found, Why):
        return  # Python 2 or broken: its writes are not ours to read
    here = posixpath.dirname(place) if place else None
    for site in found:
        at = f"{rel}:{site.line}"
        path = _python_path(site.path, here, workdir) if site.path is not None else None
        if site.path is None:
            unknown.append(Unknown("code", at, site.why))
        elif path is None:
            unknown.append(Unknown("code", at, f"{site.call} writes {site.path.rel}, relative to a WORKDIR "
                                               "the Dockerfile does not set"))
        else:
            default = f" (default of ${site.env})" if site.env else ""
            writes.append(Write(path, site.is_dir, "code", at + default))


def _python_path(path: writes_python.PyPath, here: str | None, workdir: str | None) -> str | None:
    if path.base == "abs":
        return posixpath.normpath(path.rel)
    origin = here if path.base == "here" else workdir
    return posixpath.normpath(posixpath.join(origin, path.rel)) if origin else None


def _kind(rel: str) -> str | None:
    if rel.endswith(".py"):
        return "python"
    if rel.endswith((".js", ".mjs", ".cjs", ".ts")) and not rel.endswith((".d.ts", ".min.js", ".test.js", ".spec.js",
                                                                           ".test.ts", ".spec.ts")):
        return "node"
    if rel.endswith(".go") and not rel.endswith("_test.go"):
        return "go"
    return None


def _skipped(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return bool(_SKIP_PARTS.intersection(parts[:-1])) or name.startswith(("test_", "conftest", "setup.py")) \
        or name.endswith("_test.py") or name.startswith(".")


def data_paths(doc: DockerfileDoc, context_dir: Path | None, run: object = None) -> frozenset[str]:
    """Top-level build-context entries the final stage's app writes into (a ``COPY .`` copies
    the context to its app directory): narrow-copy never drops them."""
    from hardener.knowledge.images import resolve_stage

    stage = doc.final_stage()
    if stage is None:
        return frozenset()
    found = app_writes(doc, resolve_stage(doc, stage), context_dir, run)
    if found.app_dir is None:
        return frozenset()
    root = found.app_dir.rstrip("/") + "/"
    tops = {w.path[len(root):].split("/")[0] for w in found.writes if w.path.startswith(root)}
    return frozenset(t for t in tops if t)
