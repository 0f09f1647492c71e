"""Which stages of a Dockerfile end up in the image it builds.

A size change (``--no-install-recommends``, cache cleanup) pays only where its layer is part of
the image: the stage that is built (the ``--target``, else the last one), the stages it is
built FROM, and the stages it copies *wholesale* (``COPY --from=x / /``), each transitively. A
builder stage whose outputs are copied file by file is thrown away with its caches, and a
package it lacks can break the build (protobuf-compiler only *recommends* the
libprotobuf-dev whose ``.proto`` files a build imports), so those stages get no size change.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage

# sources of `COPY --from` that name the whole root of the other stage
_WHOLE = re.compile(r"^(\./?|/)*[.*]?$")


@dataclass(frozen=True)
class ImageStages:
    """The indices of the stages whose layers are in the built image(s)."""

    indices: frozenset[int]

    def reaches(self, inst: Instruction) -> bool:
        """Whether ``inst`` writes a layer of the image (instructions before FROM do not)."""
        return inst.stage in self.indices


def image_stages(doc: DockerfileDoc, targets: Iterable[str | None] = (None,)) -> ImageStages:
    """The stages in the images built for ``targets`` (a stage name; None: the last stage).

    A target no stage is named after counts as the last stage: the build picks one of the
    stages, and the last is what it picks without ``--target``.
    """
    if not doc.stages:
        return ImageStages(frozenset())
    todo = [_target_index(doc, t) for t in targets] or [len(doc.stages) - 1]
    seen: set[int] = set()
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        stage = doc.stages[index]
        parent = _named(doc, stage.base, before=index)
        if parent is not None:
            todo.append(parent)
        todo.extend(_wholesale_sources(doc, stage))
    return ImageStages(frozenset(seen))


def _target_index(doc: DockerfileDoc, target: str | None) -> int:
    found = _named(doc, target or "", before=len(doc.stages))
    return found if found is not None else len(doc.stages) - 1


def _named(doc: DockerfileDoc, name: str, before: int) -> int | None:
    """The stage called ``name`` (as BuildKit compares: case-insensitively) before ``before``."""
    found = doc.stage_named(name, before=before)
    return found.index if found is not None else None


def _wholesale_sources(doc: DockerfileDoc, stage: Stage) -> list[int]:
    """Stages that ``stage`` copies its whole root from (``COPY --from=x / /``)."""
    out: list[int] = []
    for inst in stage.instructions:
        source = inst.flag("from") if inst.keyword == "COPY" else None
        if source is None or not source.value or not any(_WHOLE.match(s) for s in _sources(inst)):
            continue
        value = source.value.strip("'\"")
        if value.isdigit() and int(value) < stage.index:
            out.append(int(value))
        elif (named := _named(doc, value, before=stage.index)) is not None:
            out.append(named)
    return out


def _sources(inst: Instruction) -> list[str]:
    if inst.json is not None:
        return list(inst.json[:-1])
    try:
        words = shlex.split(inst.args)
    except ValueError:
        words = inst.args.split()
    return words[:-1]


def builder_note(doc: DockerfileDoc, inst: Instruction, left_out: str) -> str:
    """The refusal reason for a size change left out of a stage that is not in the image."""
    stage = doc.stages[inst.stage]
    label = f"'{stage.name}'" if stage.name else f"at line {stage.from_.line}"
    return f"builder stage {label}: its size does not reach the image; left out: {left_out}"
