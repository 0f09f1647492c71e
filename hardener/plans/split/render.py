"""Render a split-build-stage plan: one edit turning the stage into a builder and a runtime stage.

The original stage becomes the builder byte for byte, except for the plan's small
insertions. Each instruction carries the comments and blank lines above it: instructions
that only describe the running container (LABEL, EXPOSE, VOLUME, HEALTHCHECK, CMD,
ENTRYPOINT) move to the runtime stage with them; ARG, ENV, WORKDIR, USER and user-creating
RUNs are in both stages, or only in the runtime one when they come after the last build step.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.dockerfile.shell import commands
from hardener.dockerfile.shell_edit import program
from hardener.edits import Edit, apply_edits
from hardener.plans.split.common import BOTH, BUILDER, RUNTIME_ONLY, USER_TOOLS, Plan, install_line


def builder_name(doc: DockerfileDoc) -> str:
    taken = doc.stage_names()
    return next(n for n in (BUILDER, "builder", "build-stage", "build-0") if n not in taken)


def render(doc: DockerfileDoc, stage: Stage, plan: Plan) -> Edit:
    """One edit: the stage as builder, then the runtime stage (see the module docstring)."""
    text, nl = doc.text, doc.newline
    kw = keyword_case(doc, stage.from_)
    insts = stage.instructions
    name = builder_name(doc)
    head = text[stage.from_.start : stage.from_.end]
    cut = stage.from_.args_end - stage.from_.start
    alias = ""
    if stage.name:  # the runtime stage keeps the name, so `--target <name>` still builds the app
        alias = head[:cut].split()[-1]
        head = head[: cut - len(alias)] + name + head[cut:]
    else:
        head = head[:cut] + f" {kw('AS')} {name}" + head[cut:]
    pieces = [(i, text[prev.end : i.end]) for prev, i in zip(insts, insts[1:])]
    builder = [head] + [nl + _kw_line(kw, line) for line in plan.builder_head]
    runtime = [nl + nl + f"{kw('FROM')} {plan.runtime_base}" + (f" {kw('AS')} {alias}" if alias else "")]
    runtime += [nl + _kw_line(kw, line) for line in plan.runtime_head]
    anchor = max(n for n, (i, _) in enumerate(pieces) if role(i, doc) == "builder")
    # the install goes where the build was: after the ARG/ENV (DEBIAN_FRONTEND, proxies) set before it
    copies = [nl + f"{kw('RUN')} {install_line(plan.package_manager, list(plan.runtime_packages))}"
              ] if plan.runtime_packages else []
    copies += [nl + f"{kw('COPY')} --from={name} {src} {dest}" for src, dest in plan.artifacts]
    for n, (inst, piece) in enumerate(pieces):
        where = role(inst, doc)
        if where == "both" and n > anchor:
            where = "runtime"  # set after the last build step: it changes nothing in the builder
        if where in ("builder", "both"):
            builder.append(_inline(piece, inst, plan.inline))
        if where in ("runtime", "both"):
            runtime.append(relabel(piece, inst, stage.base, plan.runtime_base))
        if n == anchor:
            builder += [nl + _kw_line(kw, line) for line in plan.builder_tail]
            runtime += copies
    return Edit(stage.from_.start, insts[-1].end, "".join(builder + runtime))


def relabel(piece: str, inst: Instruction, old: str, new: str) -> str:
    """An OCI base.name label naming the builder's image now names the runtime's."""
    if inst.keyword != "LABEL":
        return piece
    pattern = rf'(org\.opencontainers\.image\.base\.name=)("?){re.escape(old)}\2(?=\s|$|\\)'
    return re.sub(pattern, lambda m: f"{m.group(1)}{m.group(2)}{new}{m.group(2)}", piece)


def role(inst: Instruction, doc: DockerfileDoc) -> str:
    if inst.keyword in RUNTIME_ONLY:
        return "runtime"
    if inst.keyword in BOTH:
        return "both"
    if inst.keyword == "RUN" and is_user_run(inst, doc):
        return "both"
    return "builder"


def is_user_run(inst: Instruction, doc: DockerfileDoc) -> bool:
    cmds = commands(inst, doc.escape) or []
    return any(program(c, USER_TOOLS) is not None for c in cmds)


def _inline(piece: str, inst: Instruction, edits: tuple[Edit, ...]) -> str:
    start = inst.end - len(piece)
    mine = [Edit(e.start - start, e.end - start, e.replacement) for e in edits if inst.start <= e.start <= inst.end]
    return apply_edits(piece, mine)


def _kw_line(kw: Callable[[str], str], line: str) -> str:
    word, _, rest = line.partition(" ")
    return f"{kw(word)} {rest}"


def keyword_case(doc: DockerfileDoc, inst: Instruction) -> Callable[[str], str]:
    lower = doc.text[inst.keyword_start : inst.keyword_end].islower()
    return str.lower if lower else str
