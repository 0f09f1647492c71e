"""A group's pull requests as git trees: the engine on the base with the group's transforms.

Each group runs the engine on a clean checkout of the base with only its transforms
selected, so every branch sits directly on the base branch and a re-run rebases it for
free. A per-file group (Compose runtime) gets one tree per changed file: the base tree with
that file's output only (up to PER_FILE_MAX files; more make one PR). The body is rendered
here, while the worktree holds the unit's files, because a body too long for GitHub puts the
full report into the tree as well.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hardener.pr.body import Body, Link, render_body, report_path
from hardener.pr.gitcmd import Git
from hardener.pr.groups import Group, file_slug
from hardener.report import Mode, Report

PER_FILE_MAX = 5  # a per-file group with more changed files than this is one PR


@dataclass(frozen=True)
class Unit:
    """One branch and its pull request."""

    branch: str
    title: str  # the group's title, with the file for a per-file group
    group: str
    report: Report
    tree: str
    body: Body


@dataclass(frozen=True)
class Run:
    """How to run the engine: the ``hardener pr`` flags that reach it."""

    select: tuple[str, ...]
    ignore: tuple[str, ...]
    unsafe: bool
    config_path: Path | None
    offline: bool


def harden(run: Run, group: Group, work: Git, base: str) -> Report:
    """The engine on a clean checkout of ``base``, applying the group's changes (left in the worktree)."""
    from hardener.runner import RunRequest
    from hardener.runner import run as engine

    _reset(work, base)
    threshold = group.threshold(run.unsafe)
    request = RunRequest((work.cwd,), Mode.APPLY, run.select, run.ignore, threshold.label == "unsafe",
                         threshold.label == "safe", run.config_path, False, run.offline)
    report = engine(request)
    report.results = [replace(r, path=_relative(work.cwd, r.path)) for r in report.results]
    report.companions = [replace(c, path=_relative(work.cwd, c.path)) for c in report.companions]
    return report


def units(group: Group, report: Report, work: Git, base: str, link_for: Callable[[str], Link],
          footer: str, intro: str = "") -> list[Unit]:
    """The group's units; the worktree must hold the group's applied run (``harden``)."""
    if not report.changed:
        return []
    if group.per != "file" or report.companions or len(report.changed) > PER_FILE_MAX:
        # companions (a secrets file) belong with every file of the run: one PR keeps them together;
        # a repository of many examples would get dozens of PRs (awesome-compose: 40): one then too
        branch = f"hardener/{group.name}"
        return [_unit(work, branch, group.title, group.name, report, link_for(branch), footer, intro)]
    out = []
    for result in report.changed:
        _reset(work, base)
        (work.cwd / result.path).write_bytes(result.output or b"")
        branch = f"hardener/{group.name}-{file_slug(result.path)}"
        one = Report(Mode.APPLY, results=[r for r in report.results if r.path == result.path])
        title = f"{group.title} in {result.path}"
        out.append(_unit(work, branch, title, group.name, one, link_for(branch), footer, intro))
    return out


def _unit(work: Git, branch: str, title: str, group: str, report: Report, link: Link, footer: str,
          intro: str) -> Unit:
    body = render_body(report, title, branch, link=link, footer=footer, intro=intro)
    if body.full_report is not None:
        path = work.cwd / report_path(branch)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body.full_report, encoding="utf-8")
    work("add", "--all")
    return Unit(branch, title, group, report, work("write-tree"), body)


def _reset(work: Git, base: str) -> None:
    work("checkout", "--quiet", "--force", "--detach", base)
    work("clean", "--quiet", "-fdx")


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path
