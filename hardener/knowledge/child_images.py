"""Dockerfiles of the repository built FROM an image another of its Dockerfiles produces.

A repository that builds its own base image (``docker build -t acme/base base/``, or a Compose
service with ``build:`` and ``image:``) and then ``FROM acme/base`` in another Dockerfile ties
the two: what the base leaves in its layers, the child may rely on. The case that matters is
apt's package lists: a child that runs ``apt-get install`` without its own ``apt-get update``
installs from the lists the base left behind, and deleting them in the base breaks the child's
build. The link is the image name (Compose's ``image:`` of a build, ``docker build -t`` lines);
a child whose FROM comes from a variable with no default may be any image, this one included.
"""
from __future__ import annotations

import os
import re
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.context import Context, FileView

USES_LISTS = re.compile(
    r"\b(apt-get|apt)\s[^;&|]*?\b(install|upgrade|dist-upgrade|build-dep|source|download)\b"
    r"|\bapt-cache\s")
UPDATES = re.compile(r"\b(apt-get|apt)\s[^;&|]*?\bupdate\b")


@dataclass(frozen=True)
class ListUser:
    where: str  # "child/Dockerfile:7", relative to the repository root
    base: str  # the child's FROM as written
    certain: bool  # FROM names this image (else it comes from a variable)
    fixable: bool  # a shell-form RUN apt-hygiene gives its own apt-get update (not exec form or heredoc)


def apt_list_users(ctx: Context, dockerfile: Path) -> list[ListUser]:
    """RUNs of the repository's other Dockerfiles that install with apt without updating first,
    in a stage built FROM an image ``dockerfile`` may produce."""
    from hardener.ci.images import builds_of
    from hardener.knowledge.docker_runs import built_names, normal_name

    me = os.path.realpath(dockerfile)
    candidates = [(base, user) for path, base, user in _repo_list_users(ctx) if path != me]
    if not candidates:
        return []
    names = {normal_name(b.image) for b in builds_of(ctx, dockerfile) if b.image and "$" not in b.image}
    names |= built_names(ctx.root, dockerfile)
    return [replace(user, certain=base is not None) for base, user in candidates if base is None or base in names]


# per run: every Dockerfile of the repository is read and parsed once, not once per asking RUN
_CACHE: weakref.WeakKeyDictionary[FileView, list[tuple[str, str | None, ListUser]]] = weakref.WeakKeyDictionary()


def _repo_list_users(ctx: Context) -> list[tuple[str, str | None, ListUser]]:
    """(Dockerfile's real path, the normalised image its stage is built FROM or None for a
    variable, the RUN) for every apt install that relies on lists it did not fetch."""
    from hardener.ci.images import repo_images

    view = ctx.files.run_view()
    if view not in _CACHE:
        read = view.original  # as before the run: the answer must not depend on file order
        found = []
        for path in repo_images(ctx).dockerfiles:
            text = (read(path) or b"").decode("utf-8", "replace")
            if "apt" in text:  # a cheap filter: exec-form RUNs spell it "apt-get", "install"
                found += [(os.path.realpath(path), base, user) for base, user in _users(path, text, ctx.root)]
        _CACHE[view] = found
    return _CACHE[view]


def _users(path: Path, text: str, root: Path) -> list[tuple[str | None, ListUser]]:
    """(the normalised FROM image, or None for a variable; the RUN) for the first RUN of each
    stage that installs with apt before any RUN of its chain updated the lists."""
    from hardener.dockerfile.doc import DockerfileDoc
    from hardener.errors import BadInput
    from hardener.knowledge.docker_runs import normal_name
    from hardener.knowledge.images import stage_chain, substitute_args

    try:
        doc = DockerfileDoc.load(text.encode(), str(path))
    except BadInput:
        return []
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    found = []
    for stage in doc.stages:
        chain = stage_chain(doc, stage)
        written = chain[0].base
        resolved = substitute_args(doc, written) if "$" in written else written
        base = normal_name(resolved) if resolved is not None and "$" not in resolved else None
        for inst in (i for s in chain for i in s.instructions if i.keyword == "RUN"):
            code = inst.args if inst.json is None else " ".join(inst.json)
            if UPDATES.search(code):
                break
            if USES_LISTS.search(code) and inst.stage == stage.index:  # an earlier stage's is its own finding
                fixable = inst.json is None and not inst.heredocs
                found.append((base, ListUser(f"{rel}:{inst.line}", written, base is not None, fixable)))
                break
    return found
