"""What a whole-stack transform asks of the Compose project model for the file it works on.

``projects_of`` returns the merged projects (hardener/compose/project.py) that load the file
together with at least one other file, read as the repository held them before the run (so
every file of a project is planned from the same state, whichever is processed first, and a
second run starts from what the first one wrote). ``fragment`` says why a file cannot be
placed: it has services without an image or build that no known project completes.
``merged_doc`` renders a project as one Compose document, which the service graph reads
like any file.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardener.compose.merge import Tagged
from hardener.compose.project import Loaded, Project, find_projects, load
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc, Service
    from hardener.context import Context

_COMPLETE = ("image", "build", "extends")


def _cache(ctx: Context) -> dict[Any, Any]:
    from hardener.compose.doc_memo import per_run

    return per_run(ctx.files, "project-view")


def all_projects(ctx: Context) -> list[Loaded]:
    """Every project of the repository, loaded from the files as they were before the run."""
    cache = _cache(ctx)
    if "projects" not in cache:
        configured = getattr(ctx, "compose_projects", ())
        read = ctx.files.run_view().original
        cache["projects"] = [load(p, read) for p in find_projects(ctx.root, configured)]
    found: list[Loaded] = cache["projects"]
    return found


def projects_of(ctx: Context) -> list[Loaded]:
    """The projects planned together with ``ctx.file``: every multi-file project that loads it,
    and, closed over shared files, every project that loads one of their files (a bare
    ``docker compose up`` of a default file included). Every file of such a group computes the
    same group, so all of them get one plan, or all refuse. Empty when the file stands alone.
    The default project of the file's own folder is always a candidate (the repository walk
    is bounded and may not reach it)."""
    if ctx.file is None:
        return []
    me = ctx.file.resolve()
    candidates: dict[tuple[tuple[Path, ...], Path | None], Loaded] = {}
    known = {p.project.files for p in all_projects(ctx)}  # an --env-file command may stand for the bare pair
    for loaded in [*all_projects(ctx), *(p for p in _folder_projects(ctx, me.parent) if p.project.files not in known)]:
        candidates.setdefault((loaded.project.files, loaded.project.env_file), loaded)
    group = [p for p in candidates.values() if len(p.members) > 1 and me in p.members]
    files = {m for p in group for m in p.members}
    grown = True
    while group and grown:
        more = [p for p in candidates.values() if p not in group and files & set(p.members)]
        grown = bool(more)
        group += more
        files |= {m for p in more for m in p.members}
    return group


def env_project(doc: ComposeDoc, ctx: Context) -> list[Loaded]:
    """A file that stands alone but takes values from an env file (``${DB_IMAGE}``): its
    one-file project with the ``.env`` beside it, and one per ``--env-file`` command that runs
    it without ``-f`` (values from that file, not from ``.env``), so the graph sees the images
    and hosts ``docker compose`` would."""
    if ctx.file is None or "$" not in doc.text:
        return []
    me = ctx.file.resolve()
    read = ctx.files.run_view().original
    out = [p for p in all_projects(ctx) if p.project.files == (me,) and p.project.env_file is not None]
    if read(me.parent / ".env") is not None:
        out.insert(0, load(Project((me,), "with .env"), read))
    return out


def completes(service: Service) -> bool:
    """Whether a service says what it runs (an image, a build or an extends)."""
    from hardener.compose.splice import mapping_get

    return any(mapping_get(service.node, k) is not None for k in _COMPLETE)


def fragment(doc: ComposeDoc, ctx: Context) -> Why | None:
    """Why the file is a fragment no known project completes, or None."""
    from hardener.compose.doc_memo import of_doc

    # asked by every project-aware transform in every round: once per document
    incomplete = of_doc(doc, "incomplete", lambda: [s.name for s in doc.services() if s.doc_index == 0 and not completes(s)])
    if not incomplete:
        return None
    projects = projects_of(ctx)
    completed = {n for p in projects for n in incomplete
                 if n in p.services and any(k in p.services[n].value for k in _COMPLETE)}
    missing = [n for n in incomplete if n not in completed]
    if not missing:
        return None
    listed = ", ".join(repr(n) for n in missing[:3]) + (", …" if len(missing) > 3 else "")
    subject = f"service {listed} has" if len(missing) == 1 else f"services {listed} have"
    return Why(f"the file is a fragment of a project hardener cannot place: {subject} no image or build, and no "
               "command, include or extends found in the repository loads this file with the file that "
               "completes it; name the files in [tool.hardener] compose-projects")


def unplaced_overlay(doc: ComposeDoc, ctx: Context) -> Why | None:
    """Why a file that stands alone must not be planned alone: a Compose file beside it is an
    overlay of it (it adds to a service this file defines, without an image or build of its own)
    and no command or config says how the two are combined. Planning this file alone would give
    its services networks the overlay's services do not join (mattermost/docker's
    ``docker-compose.nginx.yml`` adds nginx in front of the base file's ``mattermost``)."""
    if ctx.file is None:
        return None
    me = ctx.file.resolve()
    defined = {s.name for s in doc.services() if s.doc_index == 0}
    if not defined:
        return None
    placed = {m for p in [*all_projects(ctx), *_folder_projects(ctx, me.parent)] if len(p.members) > 1
              for m in p.members}
    read = ctx.files.run_view().original
    for sibling in _compose_siblings(me.parent):
        if sibling == me or sibling in placed:
            continue
        extended = sorted(n for n in _incomplete_services(ctx, sibling, read) if n in defined)
        if extended:
            return Why(f"{sibling.name} adds to service {extended[0]!r} of this file (it has no image or build "
                       "there), and no command, include or config found in the repository says how the two files "
                       "are combined; planning this file alone would cut that overlay's services off; name the "
                       "files in [tool.hardener] compose-projects")
    return None


def _folder_projects(ctx: Context, folder: Path) -> list[Loaded]:
    cache = _cache(ctx)
    key = ("folder", folder)
    if key not in cache:
        read = ctx.files.run_view().original
        cache[key] = [load(p, read) for p in find_projects(folder, (), commands=False)]
    found: list[Loaded] = cache[key]
    return found


def _compose_siblings(folder: Path) -> list[Path]:
    """Compose-looking YAML files in ``folder`` (``*compose*.yml``/``.yaml``), bounded."""
    try:
        names = sorted(e.name for e in folder.iterdir() if e.is_file())[:500]
    except OSError:
        return []
    return [folder / n for n in names if "compose" in n.lower() and n.lower().endswith((".yml", ".yaml"))]


def _incomplete_services(ctx: Context, path: Path, read: Any) -> list[str]:
    from hardener.compose.project import document_services

    cache = _cache(ctx)
    key = ("incomplete", path)
    if key not in cache:
        cache[key] = [n for n, body in document_services(path, read).items() if not any(k in body for k in _COMPLETE)]
    found: list[str] = cache[key]
    return found


def merged_doc(loaded: Loaded, only: str | None = None) -> ComposeDoc:
    """The merged project as one Compose document (services and top-level networks); with
    ``only``, that one service and nothing else (what a per-service transform reads)."""
    import hashlib
    import io

    from ruamel.yaml import YAML

    from hardener.compose.doc import ComposeDoc

    data = {"services": {n: _untagged(s.value) for n, s in loaded.services.items() if only in (None, n)}}
    if loaded.networks and only is None:
        data["networks"] = _untagged(loaded.networks)
    if loaded.configs:  # a service's configs: name them; proxy configs are read through them
        data["configs"] = _untagged(loaded.configs)
    # Every round of every whole-stack transform renders the project it loaded; the same data
    # (repr tells str from int, bool, None and dates) is rendered once.
    key = hashlib.blake2b(repr(data).encode("utf-8", "surrogatepass"), digest_size=20).digest()
    text = _RENDERED.pop(key, None)
    if text is None:
        out = io.StringIO()
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.dump(data, out)
        text = out.getvalue().encode()
    _RENDERED[key] = text
    while len(_RENDERED) > 64:
        del _RENDERED[next(iter(_RENDERED))]
    first = loaded.project.files[0]
    return ComposeDoc.load(text, str(first))


_RENDERED: dict[bytes, bytes] = {}  # merged_doc's renderings by their data's digest, oldest first


def _untagged(value: Any) -> Any:
    if isinstance(value, Tagged):
        return _untagged(value.value)
    if isinstance(value, dict):
        return {str(k): _untagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value


def describe(loaded: Loaded, root: Path) -> str:
    return loaded.describe(root)
