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
    from hardener.dockerfile.doc import DockerfileDoc

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
    from hardener.dockerfile.doc import DockerfileDoc
    from hardener.errors import BadInput
    from hardener.knowledge.docker_runs import normal_name
    from hardener.knowledge.images import substitute_args

    try:
        doc = DockerfileDoc.load(text.encode(), str(path))
    except BadInput:
        return []
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    tied: dict[int, bool] = {}  # stage index -> FROM certainly this image (else a variable)
    for stage in doc.stages:
        parent = next((s for s in doc.stages[:stage.index] if s.name and s.name == stage.base.lower()), None)
        if parent is not None:
            if parent.index in tied:
                tied[stage.index] = tied[parent.index]
            continue
        resolved = substitute_args(doc, stage.base) if "$" in stage.base else stage.base
        if resolved is None or "$" in resolved:
            tied[stage.index] = False
        elif normal_name(resolved) in names:
            tied[stage.index] = True
    return _list_users(doc, tied, rel)


def _list_users(doc: DockerfileDoc, tied: dict[int, bool], rel: str) -> list[ListUser]:
    found = []
    updated: set[int] = set()
    for stage in doc.stages:
        if stage.index not in tied:
            continue
        parent = next((s for s in doc.stages[:stage.index] if s.name and s.name == stage.base.lower()), None)
        if parent is not None and parent.index in updated:
            updated.add(stage.index)
        for inst in stage.instructions:
            if inst.keyword != "RUN":
                continue
            code = inst.args if inst.json is None else " ".join(inst.json)
            if UPDATES.search(code):
                updated.add(stage.index)
            elif USES_LISTS.search(code) and stage.index not in updated:
                fixable = inst.json is None and not inst.heredocs
                found.append(ListUser(f"{rel}:{inst.line}", stage.base, tied[stage.index], fixable))
                break
    return found
