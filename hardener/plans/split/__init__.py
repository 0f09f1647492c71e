"""split-build-stage planners: one module per ecosystem, each meeting ``Planner``.

The table is explicit so that a reader (and mypy) sees every planner and the interface they
share; modules are imported on first use to keep start-up fast.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from hardener.dockerfile.doc import DockerfileDoc, Stage
    from hardener.dockerfile.shell import Command
    from hardener.oci.imageref import ImageRef
    from hardener.plans.split.common import Plan, Steps
    from hardener.why import Why


class Planner(Protocol):
    """What an ecosystem's split plan provides."""

    def is_build(self, cmd: Command) -> bool:
        """Is this RUN command part of the build (kept in the builder stage)?"""

    def wants_split(self, ref: ImageRef, steps: Steps, stage: Stage) -> bool:
        """Does this stage build with the ecosystem's tooling on a full image?"""

    def plan(self, doc: DockerfileDoc, stage: Stage, ref: ImageRef, steps: Steps,
             context: Path | None) -> Plan | Why:
        """The split, or why not."""


PLANNERS: dict[str, str] = {
    "go": "hardener.plans.split.go",
    "java": "hardener.plans.split.java",
    "node": "hardener.plans.split.node",
    "python": "hardener.plans.split.python",
}


def planner(ecosystem: str) -> Planner:
    return cast("Planner", importlib.import_module(PLANNERS[ecosystem]))
