"""HD410 cd-to-workdir."""
from __future__ import annotations

import posixpath
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.dockerfile.shell import Command, commands
from hardener.dockerfile.workdir import is_literal_path, join_workdir, working_dirs
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform

_POSIX_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"}
_DIR_CHANGERS = {"cd", "pushd", "popd"}
# instructions whose outcome does not depend on the working directory
_CWD_FREE = {"ARG", "ENV", "LABEL", "EXPOSE", "USER", "STOPSIGNAL", "SHELL", "VOLUME", "MAINTAINER"}


class CdToWorkdir(Transform):
    """Turn a RUN that starts with `cd dir &&` into a WORKDIR and the rest of the RUN.

    ## What it fixes
    `RUN cd /src && make`, where `cd` is the first command: it becomes `WORKDIR /src`
    and `RUN make`. A `WORKDIR` back to the previous directory follows when a later
    instruction of the stage (or the image's working directory) depends on it.

    ## Why
    A `cd` hides the working directory inside a shell command; WORKDIR states it where
    Docker and a reader see it, and it creates the directory when it is missing.

    ## Example
        WORKDIR /app
        RUN cd frontend && npm ci && npm run build
        ->  WORKDIR /app
            WORKDIR /app/frontend
            RUN npm ci && npm run build
            WORKDIR /app

    ## Applicability
    review: WORKDIR creates a missing directory where `cd` would have failed the build.

    ## Refuses when
    The directory has variables, quotes or `~`, or is relative to an unknown directory;
    the previous working directory is unknown (the base image's) but a later
    instruction depends on it; the RUN changes directory again (`cd`, `pushd`,
    `popd`); comments sit between `cd` and the next command; the shell is not POSIX.

    ## References
    hadolint DL3003
    """

    id = "HD410"
    name = "cd-to-workdir"
    targets = ("dockerfile",)
    references = ("hadolint:DL3003",)
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        before = working_dirs(doc)
        for stage in doc.stages:
            for pos, inst in enumerate(stage.instructions):
                cmds = _leading_cd(doc, inst)
                if cmds is not None and _posix_shell(doc, stage, inst):
                    found = self._one(doc, stage, pos, cmds, before.get(inst.start), before)
                    if found is not None:
                        yield found

    def _one(self, doc: DockerfileDoc, stage: Stage, pos: int, cmds: list[Command],
             current: str | None, before: dict[int, str | None]) -> Finding | None:
        inst = stage.instructions[pos]
        cd, rest = cmds[0], cmds[1]
        raw = cd.words[1].raw
        target = join_workdir(current, raw) if is_literal_path(raw) else None
        if target is None:
            return self.refuse(f"cannot tell which directory `cd {raw}` enters (variables, "
                               "quotes, ~, or relative to an unknown WORKDIR)", inst.line)
        blocked = _blocked(inst, cmds)
        if blocked:
            return self.refuse(blocked, inst.line)
        if target == current:
            return self.change([Edit(cd.start, rest.start, "")],
                               f"the RUN already runs in {target}; the `cd` does nothing", inst.line,
                               end_line=inst.end_line)
        # RUNs next to each other that enter the same directory share one WORKDIR: the first
        # of them carries the whole change, so it applies (or is suppressed) as one
        if current is not None and _target(doc, stage, pos - 1, before) == target:
            return None
        last = pos
        while current is not None and _target(doc, stage, last + 1, before) == target:
            last += 1
        restore = _needs_restore(stage.instructions[last + 1 :])
        if restore and current is None:
            return self.refuse("WORKDIR persists for the later instructions but the directory "
                               "to return to is the base image's, which is unknown", inst.line)
        return self._change(doc, stage.instructions[pos:last + 1], raw, target, current if restore else None)

    def _change(self, doc: DockerfileDoc, runs: tuple[Instruction, ...], raw: str, target: str,
                back: str | None) -> Finding:
        first, last = runs[0], runs[-1]
        indent = doc.text[doc.lines[first.line - 1].start : first.start]
        workdir = "workdir" if doc.text[first.keyword_start : first.keyword_end].islower() else "WORKDIR"
        edits = [Edit(first.start, first.start, f"{workdir} {target}{doc.newline}{indent}")]
        for run in runs:
            cmds = _leading_cd(doc, run)
            assert cmds is not None  # _target and _one accepted each of them
            edits.append(Edit(cmds[0].start, cmds[1].start, ""))
        reason = f"`cd {raw}` as the first command is WORKDIR {target}"
        if len(runs) > 1:
            reason += f" (for the {len(runs)} RUNs in a row that enter it)"
        if back is not None:
            edits.append(Edit(last.end, last.end, f"{doc.newline}{indent}{workdir} {back}"))
            reason += f"; WORKDIR {back} afterwards keeps the later instructions where they were"
        return self.change(edits, reason, first.line, end_line=last.end_line)


def _target(doc: DockerfileDoc, stage: Stage, pos: int, before: dict[int, str | None]) -> str | None:
    """The directory the RUN at ``pos`` enters with a leading ``cd`` this transform turns into a
    WORKDIR (None: not such a RUN, or one it refuses or leaves where it already is)."""
    if pos < 0 or pos >= len(stage.instructions):
        return None
    inst = stage.instructions[pos]
    cmds = _leading_cd(doc, inst)
    current = before.get(inst.start)
    if cmds is None or current is None or not _posix_shell(doc, stage, inst):
        return None
    raw = cmds[0].words[1].raw
    target = join_workdir(current, raw) if is_literal_path(raw) else None
    return None if target is None or target == current or _blocked(inst, cmds) else target


def _blocked(inst: Instruction, cmds: list[Command]) -> str | None:
    """Why the leading ``cd`` of the RUN cannot become a WORKDIR, or None."""
    if any(_program(c) in _DIR_CHANGERS for c in cmds[1:]) or "OLDPWD" in inst.args:
        return "the RUN changes directory again; split it by hand"
    if any(cmds[0].start <= c.start < cmds[1].start for c in inst.comments_inside):
        return "comments between `cd` and the next command would be lost"
    return None


def _leading_cd(doc: DockerfileDoc, inst: Instruction) -> list[Command] | None:
    """The RUN's commands when the first is exactly ``cd DIR`` followed by ``&&``."""
    if inst.keyword != "RUN":
        return None
    cmds = commands(inst, doc.escape)
    if not cmds or len(cmds) < 2 or cmds[1].op_before != "&&":
        return None
    first = cmds[0]
    if first.redirects or len(first.words) != 2 or first.words[0].raw != "cd":
        return None
    return None if first.words[1].raw.startswith("-") else cmds


def _posix_shell(doc: DockerfileDoc, stage: Stage, inst: Instruction) -> bool:
    """Whether the RUN's shell is a POSIX shell (the default /bin/sh, or a SHELL naming one)."""
    current: Stage | None = stage
    limit = inst.start
    while current is not None:
        shells = [i for i in current.instructions if i.keyword == "SHELL" and i.start < limit]
        if shells:
            argv = shells[-1].json or ()
            return bool(argv) and posixpath.basename(argv[0]) in _POSIX_SHELLS
        current = doc.stage_named(current.base, before=current.index)
        limit = len(doc.text)
    return True


def _program(cmd: Command) -> str:
    index = cmd.program_index()
    return cmd.words[index].value if index < len(cmd.words) else ""


def _needs_restore(later: tuple[Instruction, ...]) -> bool:
    """Whether an instruction after the RUN (or the image config) sees the working dir."""
    for inst in later:
        if inst.keyword == "WORKDIR":
            return not inst.args.startswith("/") or not is_literal_path(inst.args)
        if inst.keyword not in _CWD_FREE:
            return True
    return True  # the stage's image keeps the working directory
