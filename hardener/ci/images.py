"""The images a repository builds: its Dockerfiles, and the Compose ``build:`` entries using them.

Shared by the CI gates (add-ci-security-gate writes one build per image, for GitHub and for
GitLab) and by run-snippet (a Dockerfile no Compose file builds gets a ``docker run`` line).
A Compose ``build:`` says which directory is the build context; without one, a Dockerfile is
built from its own directory. Everything is read through the run's file view and walked once
per run, not once per Dockerfile.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

    from hardener.compose.doc import ComposeDoc
    from hardener.compose.listen import BindMount
    from hardener.context import Context, FileView
    from hardener.dockerfile.doc import DockerfileDoc
    from hardener.dockerfile.reach import ImageStages


class Image(NamedTuple):
    dockerfile: str  # relative to the repository root, posix
    context: str  # the build context relative to the root ("." for the root)
    args: tuple[tuple[str, str], ...] = ()  # --build-arg NAME=VALUE, as Compose passes them
    target: str | None = None  # --target, as Compose's build.target names it


class ComposeBuild(NamedTuple):
    """One service's ``build:``; ``dockerfile``/``context`` are None when they cannot be known."""

    compose: Path
    service: str
    dockerfile: Path | None  # absolute, normalised
    context: Path | None
    unknown: str | None = None  # why the paths are not known (a variable)
    target: str | None = None  # the stage ``build.target`` names (None: the last stage)
    args: tuple[tuple[str, str | None], ...] = ()  # build.args as written (None: a bare name)
    image: str | None = None  # the service's ``image:``, the name Compose tags the build with
    binds: tuple[BindMount, ...] = ()  # the service's host bind mounts (source as written)


class RepoImages(NamedTuple):
    dockerfiles: list[Path]  # absolute, in discovery order
    builds: list[ComposeBuild]
    by_dockerfile: dict[str, list[ComposeBuild]]  # realpath of the Dockerfile -> its builds


# The last walk, keyed by the run's file view: a run asks once per Dockerfile of the same
# root, and walking the repository each time made a 700-Dockerfile tree quadratic (60 s).
# Holding the view keeps its id from being reused by a later run.
_LAST: tuple[FileView, Path, RepoImages] | None = None


def repo_images(ctx: Context) -> RepoImages:
    """Dockerfiles and Compose builds of the repository at ``ctx.root`` (nested repos excluded)."""
    global _LAST
    from hardener.discover import discover

    view = ctx.files.run_view()
    last = _LAST
    if last is not None and last[0] is view and last[1] == ctx.root:
        return last[2]
    found, _ = discover([ctx.root])
    root = os.path.abspath(ctx.root)
    mine = [f for f in found if os.path.abspath(f.root) == root]
    dockerfiles = [Path(os.path.abspath(f.path)) for f in mine if f.kind == "dockerfile"]
    builds = [b for f in mine if f.kind == "compose" for b in compose_builds(Path(os.path.abspath(f.path)), ctx)]
    builds = _with_projects(ctx, builds)
    by_dockerfile: dict[str, list[ComposeBuild]] = {}
    for build in builds:  # realpath once per build, not once per (Dockerfile, build) pair
        if build.dockerfile is not None:
            by_dockerfile.setdefault(os.path.realpath(build.dockerfile), []).append(build)
    result = RepoImages(dockerfiles, builds, by_dockerfile)
    _LAST = (view, ctx.root, result)
    return result


def _with_projects(ctx: Context, builds: list[ComposeBuild]) -> list[ComposeBuild]:
    """Each file's builds, those of a file only ever run with others replaced by the merged
    project's (ci/project_builds.py)."""
    from hardener.ci.project_builds import project_builds

    merged, replaced = project_builds(ctx)
    kept = [b for b in builds if (b.compose.resolve(), b.service) not in replaced]
    return kept + [b for b in merged if b not in kept]


def compose_builds(path: Path, ctx: Context) -> list[ComposeBuild]:
    """Every ``build:`` of one Compose file (a file that does not parse has none)."""
    from hardener.compose.doc import ComposeDoc
    from hardener.errors import BadInput

    try:
        doc = ComposeDoc.load(ctx.files.read(path) or b"", str(path))
    except BadInput:
        return []
    from hardener.ci.buildenv import dotenv

    env = dotenv(ctx, path.parent) if "$" in doc.text else {}
    out = []
    for name, node in _service_nodes(doc):
        build = _build(path, name, node, env)
        if build is not None:
            out.append(build)
    return out


def _service_nodes(doc: ComposeDoc) -> list[tuple[str, Node]]:
    """(name, definition) of every service; a legacy v1 file has them at the top level."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if not doc.is_legacy_v1:
        return [(s.name, s.node) for s in doc.services() if s.node is not None]
    return [(str(k.value), v) for root in doc.documents if isinstance(root, MappingNode)
            for k, v in root.value if isinstance(k, ScalarNode)]


def _build(compose: Path, service: str, node: Node, env: dict[str, str]) -> ComposeBuild | None:
    """One service's build; ``${VAR}`` in its context, dockerfile, target and image take their
    values from the ``.env`` beside the Compose file, as ``docker compose`` does."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    from hardener.ci.buildenv import interpolate
    from hardener.compose.listen import bind_mounts
    from hardener.compose.splice import mapping_get, scalar_value

    def value(node: Node | None) -> str | None:
        text = scalar_value(node)
        return text if text is None or "$" not in text else (interpolate(text, env) or text)

    build = mapping_get(node, "build")
    args: tuple[tuple[str, str | None], ...] = ()
    if isinstance(build, ScalarNode):
        context, name, target = value(build) or ".", None, None
    elif isinstance(build, MappingNode) and mapping_get(build, "dockerfile_inline") is None:
        context = value(mapping_get(build, "context")) or "."
        name = value(mapping_get(build, "dockerfile"))
        target = value(mapping_get(build, "target"))
        args = _args(mapping_get(build, "args"))
    else:
        return None
    image = value(mapping_get(node, "image"))
    if re.match(r"[a-z][a-z0-9+.-]*://|git@", context):
        return None  # a remote context: no file of this repository
    if "$" in context or "$" in (name or ""):
        return ComposeBuild(compose, service, None, None, "its build context or dockerfile comes from a variable")
    directory = Path(os.path.normpath(compose.parent / context))
    target = None if target is None or "$" in target else target  # a variable: not known
    return ComposeBuild(compose, service, Path(os.path.normpath(directory / (name or "Dockerfile"))), directory,
                        target=target, args=args, image=image, binds=tuple(bind_mounts(node)))


def _args(node: Node | None) -> tuple[tuple[str, str | None], ...]:
    """``build.args`` as a mapping or a ``NAME=VALUE`` list; a bare ``NAME`` has no value."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if isinstance(node, MappingNode):
        return tuple((str(k.value), str(v.value) if isinstance(v, ScalarNode) and v.value is not None
                      and v.tag != "tag:yaml.org,2002:null" else None)
                     for k, v in node.value if isinstance(k, ScalarNode))
    if isinstance(node, SequenceNode):
        items = [str(i.value) for i in node.value if isinstance(i, ScalarNode)]
        return tuple((k, v) if sep else (k, None) for k, sep, v in (i.partition("=") for i in items))
    return ()


def builds_of(ctx: Context, dockerfile: Path) -> list[ComposeBuild]:
    """The Compose builds that use ``dockerfile``."""
    return repo_images(ctx).by_dockerfile.get(os.path.realpath(dockerfile), [])


def build_targets(ctx: Context, dockerfile: Path) -> list[str | None]:
    """The stages Compose builds from ``dockerfile`` (None: the last stage); ``[None]`` when no
    Compose file builds it, as ``docker build`` without ``--target`` would."""
    return [b.target for b in builds_of(ctx, dockerfile)] or [None]


def image_stages_of(doc: DockerfileDoc, ctx: Context) -> ImageStages:
    """The stages of ``doc`` (the file ``ctx`` works on) whose layers are in the images built."""
    from hardener.dockerfile.reach import image_stages

    if len(doc.stages) < 2 or ctx.file is None:
        return image_stages(doc)  # one stage: it is the image; no file: nothing names a target
    return image_stages(doc, build_targets(ctx, ctx.file))


def split(ctx: Context, dockerfiles: list[Path]) -> tuple[list[Image], list[str]]:
    """The images a Linux runner can build (one per Compose context, else the Dockerfile's
    directory), and the Dockerfiles left out with the reason."""
    images: list[Image] = []
    left_out: list[str] = []
    root = Path(os.path.abspath(ctx.root))
    for path in dockerfiles:
        why = unbuildable(ctx, path)
        rel = path.relative_to(root).as_posix()
        if why:
            left_out.append(f"{rel} ({why})")
            continue
        builds: list[ComposeBuild | None] = [b for b in builds_of(ctx, path) if b.context is not None]
        for build in builds or [None]:
            image = _image(ctx, root, rel, path.parent if build is None else build)
            if image is None:
                left_out.append(f"{rel} (its Compose build context is outside the repository)")
            elif image not in images:
                images.append(image)
    return images, left_out


def _image(ctx: Context, root: Path, rel: str, build: Path | ComposeBuild) -> Image | None:
    """The image a build makes: a Dockerfile's own directory, or a Compose build with the
    arguments Compose would pass (values from the Compose file's ``.env``)."""
    from hardener.ci.buildenv import build_args

    context = build if isinstance(build, Path) else build.context
    try:
        ctx_rel = Path(os.path.abspath(context or root)).relative_to(root).as_posix()
    except ValueError:
        return None
    if isinstance(build, Path):
        return Image(dockerfile=rel, context=ctx_rel or ".")
    return Image(dockerfile=rel, context=ctx_rel or ".", args=build_args(ctx, build), target=build.target)


_WINDOWS = re.compile(r"(?i)nanoserver|servercore|mcr\.microsoft\.com/windows|dotnet/framework"
                      r"|^microsoft/(aspnet|iis|dotnet-framework)\b")


@lru_cache(maxsize=2048)
def parsed(raw: bytes, name: str) -> DockerfileDoc | None:
    """A Dockerfile's parse, shared by the gate's per-image checks (each reads every Dockerfile
    of the repository, in every round); None when it does not parse."""
    from hardener.dockerfile.doc import DockerfileDoc

    try:
        return DockerfileDoc.load(raw, name)
    except Exception:
        return None


def unbuildable(ctx: Context, path: Path) -> str | None:
    """Why a Linux runner cannot build this Dockerfile (a Windows image, no parse), or None."""
    from hardener.knowledge import images

    doc = parsed(ctx.files.read(path) or b"", path.name)
    if doc is None:
        return "does not parse"
    if not doc.stages:
        return "no FROM"
    if doc.escape == "`" or any(_WINDOWS.search(st.base) for st in doc.stages):
        return "Windows image: needs a Windows runner"
    info = images.lookup(doc.stages[-1].base)
    return "Windows image: needs a Windows runner" if info and info.windows else None


def same(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def slugs(images: list[Image]) -> list[str]:
    """Image names Docker accepts, unique: the directory, plus the suffix of ``Dockerfile.<x>``."""
    out: list[str] = []
    for image in images:
        slug = slug_of(image.dockerfile)
        candidate, n = slug, 2
        while candidate in out:
            candidate, n = f"{slug}-{n}", n + 1
        out.append(candidate)
    return out


def slug_of(dockerfile: str) -> str:
    """``api/Dockerfile.prod`` → ``api-prod``; a Dockerfile at the root → ``app``."""
    directory, _, filename = dockerfile.rpartition("/")
    extra = re.sub(r"(?i)^(docker|container)file[.-]?|[.-]?(docker|container)file$", "", filename)
    raw = "-".join(p for p in (directory.replace("/", "-"), extra) if p) or "app"
    return re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-") or "app"
