"""What the compiled-language narrow-copy rules (Go, Java) share: a RUN that is not the build
tool itself, but a recipe runner, a script from the context or a command over the whole tree,
makes the build's needs unknowable."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hardener.plans.copy.node import expand
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.plans.copy.step import Step

WRAPPERS = frozenset({"env", "exec", "nice", "time", "sudo"})  # run the command that follows them
_ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)=(.*)", re.S)
Command = tuple["Step", "str | None", list[str], dict[str, str]]
METADATA_ONLY = frozenset({"chown", "chmod", "chgrp"})  # a narrower tree cannot break them
WHOLE_TREE = frozenset({".", "./", "*", "./*"})


def foreign_command_problem(argv: list[str], step: Step, cwd: str | None, tops: set[str], where: str,
                            recipe_tools: tuple[str, ...]) -> str | None:
    """Why a RUN that is not the build tool hides what the build reads, or None."""
    name = argv[0].rsplit("/", 1)[-1]
    if name in recipe_tools:
        return f"{where} runs {name}: the inputs of its recipes cannot be known"
    script = argv[1] if name in ("sh", "bash", "ash") and len(argv) > 1 else argv[0]
    if "/" in script or script.endswith(".sh"):
        rel = step.locate(script, cwd)
        if rel is not None and rel.split("/")[0] in tops:
            return f"{where} runs {script} from the build context: what it reads cannot be known"
    if name not in METADATA_ONLY and any(a in WHOLE_TREE for a in argv[1:]):
        return f"{where} works on the whole copied tree"
    return None


def build_commands(steps: list[Step]) -> Iterator[Command | Why]:
    """Each simple command of ``steps`` as (step, the directory it runs in, argv, the
    ``VAR=value`` assignments before it), wrappers and assignments taken off and ``cd`` followed
    (argv is empty for a line of assignments only); why not (then nothing more) when a step
    cannot be split into simple commands."""
    for step in steps:
        if step.argvs is None:
            yield Why(f"the RUN at line {step.line} cannot be split into simple commands")
            return
        cwd = step.base
        for argv in expand(step.argvs):
            if argv is None:
                yield Why(f"cannot split the command at line {step.line} into simple commands")
                return
            assigned: dict[str, str] = {}
            while argv and ((m := _ASSIGNMENT.match(argv[0])) or argv[0] in WRAPPERS):
                if m:
                    assigned[m.group(1)] = m.group(2)
                argv = argv[1:]
            if not argv:  # assignments alone: no command, but callers may still read them
                if assigned:
                    yield step, cwd, [], assigned
                continue
            if argv[0] == "cd" and len(argv) > 1:
                cwd = step.locate(argv[1], cwd)
                continue
            yield step, cwd, argv, assigned
