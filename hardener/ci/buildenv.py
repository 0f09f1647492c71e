"""What a CI runner needs to build an image as Compose does, and which images it cannot build.

Compose passes ``build.args`` with values from the Compose file's ``.env`` (a bare name takes
the variable's value; ``${VAR}`` in a value is interpolated). A fresh CI checkout has only the
files git tracks: an image whose Dockerfile copies a build output (``dist/``, ``.build/``,
``target/`` …, gitignored or absent) or starts from an image another build of the repository
makes cannot be built by one ``docker build``; such images are skipped with the reason, which
the workflow writes as a comment, rather than failing the gate on day one.
"""
from __future__ import annotations

import glob
import os
import shlex
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.ci.images import ComposeBuild, Image, RepoImages
    from hardener.context import Context
    from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage



def dotenv(ctx: Context, directory: Path) -> dict[str, str]:
    """``directory/.env`` as Compose reads it (``hardener/compose/interpolate.py``'s rules)."""
    from hardener.compose.interpolate import read_dotenv

    raw = ctx.files.read(directory / ".env")
    return read_dotenv(raw.decode("utf-8", "replace")) if raw else {}


def interpolate(text: str, env: dict[str, str]) -> str | None:
    """``${VAR}``, ``${VAR:-default}``, ``$VAR`` as Compose expands them; None when a variable
    nobody sets (or a ``${X:?error}``) leaves the value unknown."""
    from hardener.compose.interpolate import interpolate as compose_interpolate

    done = compose_interpolate(text, env)
    return None if done.unset or done.errors else done.text


def build_args(ctx: Context, build: ComposeBuild) -> tuple[tuple[str, str], ...]:
    """``--build-arg`` pairs as Compose passes them; a name with no known value is not passed."""
    env = dotenv(ctx, build.compose.parent)
    out: list[tuple[str, str]] = []
    for name, value in build.args:
        resolved = env.get(name) if value is None else interpolate(value, env)
        if resolved is not None:
            out.append((name, resolved))
    return tuple(out)


# ---------------------------------------------------------------- what a checkout cannot build


def needs_prior_step(ctx: Context, repo: RepoImages, image: Image) -> str | None:
    """Why ``image`` cannot be built from a fresh checkout alone, or None."""
    doc = _load(ctx, image)
    if doc is None:
        return None  # unbuildable() reports a Dockerfile that does not parse
    args = _arg_defaults(doc) | dict(image.args)
    local: dict[str, str] = {}
    for build in repo.builds:
        if build.image:
            local.setdefault(build.image, build.service)
    stages = _built_stages(doc, image.target)
    for stage in stages:
        base = interpolate(stage.base, args)
        if base is None:
            return f"its base image {stage.base} comes from a build argument with no value"
        if base in local and base not in doc.stage_names():
            return f"its base image {base} is built by Compose service {local[base]} first"
    return missing_source(ctx, doc, image.context, stages)


def _built_stages(doc: DockerfileDoc, target: str | None) -> list[Stage]:
    """The stages a build with ``--target`` reaches: none after the target is built."""
    names = [s.name for s in doc.stages]
    end = names.index(target.lower()) + 1 if target and target.lower() in names else len(doc.stages)
    return list(doc.stages[:end])


def parent_context(ctx: Context, image: Image) -> Image | None:
    """For a Dockerfile no Compose file builds, whose COPY sources are missing from its own
    directory: the nearest parent directory that has them all (``docker build -f
    sub/Dockerfile .``, as READMEs say), or None."""
    doc = _load(ctx, image)
    if doc is None or not any(i.keyword in ("COPY", "ADD") for i in doc.walk()):
        return None
    context = PurePosixPath(image.context)
    while context != context.parent and str(context) != ".":
        context = context.parent
        if missing_source(ctx, doc, str(context), _built_stages(doc, image.target)) is None:
            return image._replace(context=str(context))
    return None


def _load(ctx: Context, image: Image) -> DockerfileDoc | None:
    from hardener.ci.images import parsed

    return parsed(ctx.files.read(Path(ctx.root) / image.dockerfile) or b"", image.dockerfile)


def missing_source(ctx: Context, doc: DockerfileDoc, context: str, stages: list[Stage]) -> str | None:
    """The COPY/ADD of ``stages`` whose source a fresh checkout of ``context`` lacks, as a reason."""
    root = Path(os.path.abspath(ctx.root))
    for inst in (i for stage in stages for i in stage.instructions):
        missing = _missing_source(root, root / context, inst)
        if missing:
            return f"{inst.keyword} {missing}: not in the checkout (gitignored or absent), a build output"
    return None


def _arg_defaults(doc: DockerfileDoc) -> dict[str, str]:
    out: dict[str, str] = {}
    for inst in doc.walk():
        if inst.keyword == "ARG" and inst.stage == -1:
            for word in inst.args.split():
                name, sep, value = word.partition("=")
                if sep:
                    out[name] = value.strip("'\"")
    return out


def _missing_source(root: Path, context: Path, inst: Instruction) -> str | None:
    """The first COPY/ADD source that a fresh checkout does not have (None: all there or unknown)."""
    if inst.keyword not in ("COPY", "ADD") or inst.flag("from") is not None or inst.heredocs:
        return None
    words = list(inst.json) if inst.json is not None else _split(inst.args)
    for source in words[:-1]:
        if "$" in source or "://" in source or source.startswith("git@"):
            continue
        path = os.path.normpath(context / source.lstrip("/"))
        if not path.startswith(str(root)):
            continue
        matches = glob.glob(glob.escape(path) if not glob.has_magic(source) else path)
        if not matches or all(_ignored(root, Path(m)) for m in matches):
            return source
    return None


def _split(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def _ignored(root: Path, path: Path) -> bool:
    """git would not track ``path``: a ``.gitignore`` from the root down to it says so."""
    rel = path.relative_to(root)
    directory = root
    for part in (None, *rel.parts[:-1]):
        if part is not None:
            directory = directory / part
        ignore = directory / ".gitignore"
        if ignore.is_file():
            import pathspec  # only here: most repositories' runs never read a .gitignore

            spec = pathspec.GitIgnoreSpec.from_lines(ignore.read_text("utf-8", "replace").splitlines())
            below = path.relative_to(directory).as_posix()
            if spec.match_file(below) or (path.is_dir() and spec.match_file(below + "/")):
                return True
    return False
