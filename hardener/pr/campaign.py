"""Org-wide runs: one run per repository, in parallel, and a campaign summary.

Paths are grouped by the git repository that holds them; each repository gets its own
configuration. Results come back in the order the repositories were given, whatever
order the workers finish in (``Executor.map`` keeps input order), so a campaign's output
is the same with ``--jobs 1`` and ``--jobs 8``. Workers are processes: the engine is
CPU-bound, and every result is a frozen, picklable value.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hardener.discover import repo_root
from hardener.errors import BadInput
from hardener.report import Report

T = TypeVar("T")
R = TypeVar("R")


def read_repos_file(path: Path) -> list[Path]:
    """One repository per line; blank lines and ``#`` comments skipped; relative to the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", None, str(path)) from None
    base = path.parent
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.append(Path(entry) if os.path.isabs(entry) else base / entry)
    return out


def group_by_repo(paths: Sequence[Path]) -> list[tuple[Path | None, tuple[Path, ...]]]:
    """Paths grouped by their git repository, in first-seen order; paths in no repository form one group."""
    groups: dict[Path | None, list[Path]] = {}
    for path in paths:
        absolute = Path(os.path.abspath(path))
        start = absolute if absolute.is_dir() else absolute.parent
        groups.setdefault(repo_root(start), []).append(path)
    return [(root, tuple(items)) for root, items in groups.items()]


def parallel_map(func: Callable[[T], R], items: Sequence[T], jobs: int,
                 on_error: Callable[[T, Exception], R] | None = None) -> Iterator[R]:
    """``map`` in input order; in worker processes when ``jobs`` > 1 and there is more than one item.

    With ``on_error``, an item whose call raises (or whose worker died) yields
    ``on_error(item, exc)`` and the others still yield their results: a repository already
    changed on disk is reported even when another one crashes.
    """
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            yield _guarded(partial(func, item), item, on_error)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Not fork: a worker forked while another thread (a registry pool, the test runner) holds a
    # lock inherits it held and hangs for ever; this was seen in the test suite.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context) as pool:
        futures = [pool.submit(func, item) for item in items]
        for item, future in zip(items, futures):
            yield _guarded(future.result, item, on_error)


def _guarded(call: Callable[[], R], item: T, on_error: Callable[[T, Exception], R] | None) -> R:
    if on_error is None:
        return call()
    try:
        return call()
    except Exception as exc:
        return on_error(item, exc)


def run_group(args: tuple[Any, tuple[Path, ...]]) -> Report:
    """One repository's run (a top-level function, so a process pool can call it)."""
    from hardener.runner import run

    request, paths = args
    return run(replace(request, paths=paths))


def failed_group(args: tuple[Any, tuple[Path, ...]], exc: Exception) -> Report:
    """The report of a repository whose run raised: one failure (exit 3) naming it."""
    from hardener.engine import FileResult, internal_error

    request, paths = args
    report = Report(request.mode, exit_on_change=request.exit_on_change)
    report.results.append(FileResult(repo_name(repo_root(Path(os.path.abspath(paths[0]))), paths), "repository",
                                     failure=internal_error(exc)))
    return report


@dataclass(frozen=True)
class Campaign:
    """The outcome per repository: ``(name, report)`` in the order given."""

    repos: tuple[tuple[str, Report], ...]

    def by_transform(self) -> Counter[str]:
        return Counter(f"{c.transform_id} {c.name}" for _, rep in self.repos for r in rep.changed for c in r.changes)

    def refusals_by_reason(self) -> Counter[str]:
        return Counter(
            f"{f.transform_id}: {f.reason}" for _, rep in self.repos for r in rep.results for f in r.refusals
        )

    def changed_repos(self) -> list[str]:
        return [name for name, rep in self.repos if rep.changed]

    def summary_lines(self) -> list[str]:
        changed = self.changed_repos()
        lines = [f"campaign: {len(changed)} of {len(self.repos)} repositories would change"]
        lines += [f"  {name}: {rep.summary()}" for name, rep in self.repos]
        if self.by_transform():
            lines.append("by transform:")
            lines += [f"  {n:>5}  {k}" for k, n in sorted(self.by_transform().items(), key=_by_count)]
        if self.refusals_by_reason():
            lines.append("refusals by reason:")
            lines += [f"  {n:>5}  {k}" for k, n in sorted(self.refusals_by_reason().items(), key=_by_count)]
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "repos": [
                {
                    "repo": name,
                    "files_changed": len(rep.changed),
                    "changes": sum(len(r.changes) for r in rep.changed),
                    "refusals": sum(len(r.refusals) for r in rep.results),
                    "exit_code": rep.exit_code(),
                }
                for name, rep in self.repos
            ],
            "changed_repos": len(self.changed_repos()),
            "by_transform": dict(sorted(self.by_transform().items())),
            "refusals_by_reason": dict(sorted(self.refusals_by_reason().items())),
        }


def merged(campaign: Campaign, mode: Any, exit_on_change: bool) -> Report:
    """All repositories' results as one report (the exit code is the worst of them)."""
    report = Report(mode, exit_on_change=exit_on_change)
    for _, rep in campaign.repos:
        report.results.extend(rep.results)
        report.errors.extend(rep.errors)
        for reason, count in rep.skipped.items():
            report.skipped[reason] = report.skipped.get(reason, 0) + count
    report.campaign = campaign
    return report


def repo_name(root: Path | None, paths: Iterable[Path]) -> str:
    from hardener.runner import display_path

    return display_path(root) if root is not None else ", ".join(display_path(p) for p in paths)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def pr_summary_lines(outcomes: Sequence[Any]) -> list[str]:
    """The campaign summary of ``hardener pr`` over several repositories."""
    opened = sum(len(o.opened) for o in outcomes)
    updated = sum(len(o.updated) for o in outcomes)
    stopped = [o.repo for o in outcomes if o.exit_code]
    lines = [f"campaign: {len(outcomes)} repositories, {sum(1 for o in outcomes if o.pushed)} pushed, "
             f"{opened} pull requests opened, {updated} updated, {len(stopped)} stopped"]
    lines += [f"  stopped: {name}" for name in stopped]
    reports = tuple((o.repo, o.report) for o in outcomes if o.report is not None)
    lines += Campaign(reports).summary_lines()[1 + len(reports):]
    return lines
