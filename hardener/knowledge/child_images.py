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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.context import Context

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
    from hardener.ci.images import builds_of, repo_images
    from hardener.knowledge.docker_runs import built_names, normal_name

    me = os.path.realpath(dockerfile)
    others = [p for p in repo_images(ctx).dockerfiles if os.path.realpath(p) != me]
    read = ctx.files.run_view().original  # as before the run: the answer must not depend on file order
    texts = [(p, (read(p) or b"").decode("utf-8", "replace")) for p in others]
    texts = [(p, t) for p, t in texts if "apt" in t]  # a cheap filter: exec-form RUNs spell it "apt-get", "install"
    if not texts:
        return []
    names = {normal_name(b.image) for b in builds_of(ctx, dockerfile) if b.image and "$" not in b.image}
    names |= built_names(ctx.root, dockerfile)
    found: list[ListUser] = []
    for path, text in texts:
        found += _users(path, text, names, ctx.root)
    return found


def _users(path: Path, text: str, names: set[str], root: Path) -> list[ListUser]:
    """The first RUN of each stage built on ``names`` (or on a variable) that installs with apt
    before any RUN of its chain updated the lists."""
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
        certain = resolved is not None and "$" not in resolved and normal_name(resolved) in names
        if not certain and resolved is not None and "$" not in resolved:
            continue  # built on another image
        for inst in (i for s in chain for i in s.instructions if i.keyword == "RUN"):
            code = inst.args if inst.json is None else " ".join(inst.json)
            if UPDATES.search(code):
                break
            if USES_LISTS.search(code) and inst.stage == stage.index:  # an earlier stage's is its own finding
                fixable = inst.json is None and not inst.heredocs
                found.append(ListUser(f"{rel}:{inst.line}", written, certain, fixable))
                break
    return found
