"""HD409 absolute-workdir, and the working-directory tracking HD410 shares."""
from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile_doc import DockerfileDoc, Instruction, Stage
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform

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
    parent = next((s for s in doc.stages[: stage.index] if s.name == stage.base.lower()), None)
    if parent is None or any(i.keyword == "ONBUILD" for i in parent.instructions):
        return None
    return ends.get(parent.index)


class AbsoluteWorkdir(Transform):
    """Make a relative WORKDIR absolute when the directory it is relative to is known.

    ## What it fixes
    `WORKDIR app` after a known `WORKDIR /srv` (in the stage, or in the stage it is
    built `FROM`): it becomes `WORKDIR /srv/app`. `WORKDIR .`, which changes nothing,
    is deleted.

    ## Why
    A relative WORKDIR depends on every WORKDIR before it, including the base image's;
    an absolute one says where the commands run without looking elsewhere.

    ## Example
        WORKDIR /srv
        WORKDIR app        ->  WORKDIR /srv/app

    ## Applicability
    safe: the builder resolves the relative path to the same directory.

    ## Refuses when
    The directory it is relative to is unknown (the base image's default working
    directory, a WORKDIR with variables or quotes), or the path itself has variables,
    quotes, spaces or continuation lines.

    ## References
    hadolint DL3000, checkov CKV_DOCKER_10
    """

    id = "HD409"
    name = "absolute-workdir"
    targets = ("dockerfile",)
    references = ("hadolint:DL3000", "checkov:CKV_DOCKER_10")
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        before = working_dirs(doc)
        for inst in doc.instructions:
            if inst.keyword == "WORKDIR" and _is_relative(inst.args):
                yield self._one(doc, inst, before.get(inst.start))

    def _one(self, doc: DockerfileDoc, inst: Instruction, current: str | None) -> Finding:
        if not is_literal_path(inst.args) or inst.is_multiline:
            return self.refuse("the path has variables, quotes, spaces or continuation lines; "
                               "write it as an absolute path by hand", inst.line)
        if posixpath.normpath(inst.args) == ".":
            return self._drop_noop(doc, inst)
        target = join_workdir(current, inst.args)
        if target is None:
            return self.refuse("the directory it is relative to is unknown (the base image's "
                               "working directory or a WORKDIR with variables)", inst.line)
        reason = f"a relative WORKDIR depends on the WORKDIR before it; here it is {target}"
        return self.change([Edit(inst.args_start, inst.args_end, target)], reason, inst.line)

    def _drop_noop(self, doc: DockerfileDoc, inst: Instruction) -> Finding:
        """``WORKDIR .`` stays where it is whatever the base image says: delete it."""
        start = doc.lines[inst.line - 1].start
        return self.change([Edit(start, doc.lines[inst.line - 1].next, "")],
                           "WORKDIR . does not change the working directory", inst.line)


def _is_relative(path: str) -> bool:
    """What hadolint DL3000 and checkov CKV_DOCKER_10 consider relative."""
    bare = path.strip("\"'")
    if not bare or bare.startswith(("/", "$")):
        return False
    return not re.match(r"^[A-Za-z0-9_+-]:[\\/]", bare)
