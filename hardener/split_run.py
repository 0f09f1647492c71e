"""One large repository's files across worker processes, kept only when that changed nothing.

A repository's files share one context (runner._batches): a Compose file reads the
Dockerfile as this run hardened it, a .dockerignore or the CI gate accumulates, and per-run
caches hold what the first file to ask saw. So the files of one repository normally run in
order in one process, and a run over one big repository (a monorepo, the shared corpus)
used one core.

Here its files are grouped by the top-level folder they sit in, the groups are dealt into
one part per worker (contiguous by name, balanced by file count), and each worker runs the
repository's first file (as the one-process run does, so whatever it computes for the whole
repository is the same everywhere) and then its part's files, in run order. Each worker logs
every path its part's files read through the run's file view (context.log_reads) and every
path they changed (a hardened file's output, a companion write). The split stands only when
no part read or changed a path that another part changed (the first file's changes, which
every worker made, excepted). Then every read in every part returned what it returns in one
process: the paths another part changes are never read, so each part sees the disk, the first
file's changes and its own, in the same order; a cache filled by a file of another part was
filled from reads of unchanged paths, which every part sees alike. Otherwise the results are
dropped and the repository runs again in one process (runner._batches).

Only runs that write nothing split (`diff`, `check`): `apply` writes each file as it goes,
and a later file of another part may read it from the disk. A Compose file at the repository
root builds from the folders below it, so such a repository is not split at all.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.config import Config
    from hardener.discover import Found
    from hardener.engine import FileResult
    from hardener.report import CompanionResult
    from hardener.runner import RunRequest

# Below this many files the second process's start and the repeated first file cost more
# than the split saves.
MIN_FILES = 64


def parts(found: Sequence[Found], batch: list[int], jobs: int) -> list[list[int]] | None:
    """The repository's files (``batch``, in run order) dealt into at most ``jobs`` parts by
    top-level folder, each in run order; None when it should run whole."""
    if jobs < 2 or len(batch) < MIN_FILES:
        return None
    root = found[batch[0]].root
    groups: dict[str, list[int]] = {}
    for index in batch:
        head, sep, _ = os.path.relpath(found[index].path, root).partition(os.sep)
        if not sep:
            if found[index].kind == "compose":
                return None  # a root Compose file builds from the folders below it: they belong together
            head = ""  # the root's own Dockerfiles: one group
        groups.setdefault(head, []).append(index)
    if len(groups) < 2:
        return None
    dealt: list[list[str]] = [[]]
    count = 0
    for name in sorted(groups):
        if count >= len(batch) * len(dealt) / jobs and len(dealt) < jobs:
            dealt.append([])
        dealt[-1].append(name)
        count += len(groups[name])
    if len(dealt) < 2:
        return None
    order = {index: at for at, index in enumerate(batch)}
    return [sorted((i for name in names for i in groups[name]), key=order.__getitem__) for names in dealt]


@dataclass
class PartDone:
    """What a worker did with one part: its files' results, and what they read and changed."""

    results: list[tuple[int, FileResult]]
    reads: set[Path] = field(default_factory=set)
    changed: set[Path] = field(default_factory=set)  # by the part's own files
    first_changed: set[Path] = field(default_factory=set)  # by the repository's first file
    companions: list[tuple[Path, CompanionResult]] = field(default_factory=list)
    holds_first: bool = False


def run_part(request: RunRequest, config: Config, batch: list[int], found: Sequence[Found],
             part: list[int]) -> PartDone:
    """In a worker: the repository's first file, then the part's files, with the logs."""
    from hardener import runner
    from hardener.context import Context, log_reads, view_key
    from hardener.engine import Options

    transforms = runner.active_transforms(config, runner.batch_kinds(found, batch))
    options = Options(runner.threshold(config), dict(config.applicability))
    first = batch[0]
    ctx = Context(found[first].root, config.options, offline=request.offline, scope=request.paths,
                  compose_projects=config.compose_projects)

    def process(index: int) -> FileResult:
        result = runner.one_file(found[index], transforms, ctx, options, request.mode, config.max_file_size, found)
        if result.output is not None:
            ctx.files.record_output(found[index].path, result.output)
        return result

    def changed_output(index: int, result: FileResult) -> set[Path]:
        changed = result.output is not None and result.output != result.original
        return {view_key(found[index].path)} if changed else set()

    done = PartDone([], holds_first=first in part)
    result = process(first)
    if done.holds_first:
        done.results.append((first, result))
    after_first = {w.path: w.content for w in ctx.files.writes()}
    done.first_changed = changed_output(first, result) | {view_key(p) for p in after_first}
    log_reads(done.reads)
    try:
        for index in part:
            if index != first:
                result = process(index)
                done.results.append((index, result))
                done.changed |= changed_output(index, result)
    finally:
        log_reads(None)
    for write in ctx.files.writes():
        own = after_first.get(write.path) != write.content
        if own:
            done.changed.add(view_key(write.path))
        if own or done.holds_first:
            done.companions.append((write.path, runner.companion_result(write, ctx)))
    return done


def consistent(done: Sequence[PartDone]) -> bool:
    """No part read or changed what another part changed, nor changed the first file's paths
    (which the part holding the first file reports)."""
    first = next((d.first_changed for d in done if d.holds_first), set())
    for i, part in enumerate(done):
        if not part.holds_first and part.changed & first:
            return False
        for j, other in enumerate(done):
            if i != j and (part.reads & other.changed or (i < j and part.changed & other.changed)):
                return False
    return True
