"""HD409 absolute-workdir, and the working-directory tracking HD410 shares."""
from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.workdir import is_literal_path, join_workdir, working_dirs
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform


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
