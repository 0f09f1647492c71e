"""What the compiled-language narrow-copy rules (Go, Java) share: a RUN that is not the build
tool itself, but a recipe runner, a script from the context or a command over the whole tree,
makes the build's needs unknowable."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.transforms.narrow_copy import Step

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
