"""The working directory in effect before each Dockerfile instruction, as far as it can be known."""
from __future__ import annotations

import posixpath
import re

from hardener.dockerfile.doc import DockerfileDoc, Stage

# a path we can reason about without the builder's variable and quote processing
_LITERAL = re.compile(r"^[A-Za-z0-9._/@+=,~-]+$")


def is_literal_path(word: str) -> bool:
    return bool(_LITERAL.match(word)) and not word.startswith("~")


def join_workdir(current: str | None, path: str) -> str | None:
    """The directory ``WORKDIR path`` (or ``cd path``) leads to from ``current``."""
    if not is_literal_path(path):
        return None
    if not path.startswith("/"):
        if current is None:
            return None
        path = posixpath.join(current, path)
    return "/" + posixpath.normpath(path).lstrip("/")


def working_dirs(doc: DockerfileDoc) -> dict[int, str | None]:
    """The working directory in effect before each instruction (by its start offset).

    None means unknown: the base image's default, or a WORKDIR with variables or quotes.
    A stage built ``FROM`` an earlier stage starts where that stage ended, unless the
    earlier stage has ONBUILD triggers (they run first and may move it).
    """
    before: dict[int, str | None] = {}
    ends: dict[int, str | None] = {}
    for stage in doc.stages:
        current = _initial(doc, stage, ends)
        for inst in stage.instructions:
            before[inst.start] = current
            if inst.keyword == "WORKDIR":
                current = join_workdir(current, inst.args)
        ends[stage.index] = current
    return before


def _initial(doc: DockerfileDoc, stage: Stage, ends: dict[int, str | None]) -> str | None:
    if stage.base.lower() == "scratch":
        return "/"
    parent = doc.stage_named(stage.base, before=stage.index)
    if parent is None or any(i.keyword == "ONBUILD" for i in parent.instructions):
        return None
    return ends.get(parent.index)
