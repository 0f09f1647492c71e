"""What ``hardener pr`` writes: per-level reports, commit messages with trailers, PR titles.

Everything here is a pure function of the run's results (no dates, no random ids), so a
re-run over the same base produces the same commit tree, title and body, and the PR is
left alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from hardener.engine import FileResult
from hardener.model import Applicability, Change
from hardener.output.hunks import change_lines, line_map
from hardener.report import Mode, Report

FOOTER = (
    "\n---\n<sub>Opened by hardener {version}. Running it again updates this pull request; "
    "a commit pushed to this branch by anyone else makes hardener leave the branch alone.</sub>\n"
)
STACKED = (
    "Stacked on `{base}`: this diff shows only the changes to review. Merge that pull request first;"
    " the next run of hardener then points this one at the base branch.\n"
)
_TITLES = {
    "safe": "hardener: safe hardening",
    "review": "hardener: hardening to review",
    "all": "hardener: harden Dockerfiles and Compose files",
}


@dataclass(frozen=True)
class Level:
    name: str  # safe | review | all: the branch is hardener/<name>
    threshold: Applicability


def level_reports(plan: Sequence[Level], runs: dict[str, Report]) -> dict[str, Report]:
    """The report each PR describes: the review PR shows only what it adds on top of safe."""
    if len(plan) == 1:
        return {plan[0].name: runs[plan[0].name]}
    safe, review = runs["safe"], runs["review"]
    on_top = _on_top(safe, review)
    shown_safe = Report(Mode.APPLY, companions=list(safe.companions))
    review_has_changes = any(r.changed for r in on_top.results)
    for r in safe.results:
        skipped = tuple(c for c in r.skipped if c.applicability > review_threshold(plan))
        refusals = () if review_has_changes else r.refusals
        shown_safe.results.append(replace(r, skipped=skipped, refusals=refusals))
    return {"safe": shown_safe, "review": on_top}


def review_threshold(plan: Sequence[Level]) -> Applicability:
    return plan[-1].threshold


def _on_top(safe: Report, review: Report) -> Report:
    before = {r.path: r for r in safe.results}
    out = Report(Mode.APPLY, errors=list(review.errors))
    known = {(c.path, c.content) for c in safe.companions}
    out.companions = [c for c in review.companions if (c.path, c.content) not in known]
    for r in review.results:
        s = before.get(r.path)
        start = s.output if s is not None and s.output is not None else r.original
        added = tuple(_moved(c, r.original, start) for c in r.changes if c.applicability > Applicability.SAFE)
        out.results.append(replace(r, original=start, changes=added))
    return out


def _moved(change: Change, base: bytes, start: bytes) -> Change:
    """The change's lines on the safe branch's text (its edits refer to the base text)."""
    base_text, start_text = base.decode("utf-8"), start.decode("utf-8")
    first, last = change_lines(change, base_text)
    mapping = line_map(base_text, start_text)
    first, last = mapping.get(first, first), mapping.get(last, last)
    return replace(change, line=first, end_line=last, edits=())


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def pr_title(report: Report, level: Level) -> str:
    changes = sum(len(r.changes) for r in report.changed)
    return f"{_TITLES[level.name]} ({changes} change{'s' if changes != 1 else ''} in {_files(len(report.changed))})"


def transform_ids(report: Report) -> list[str]:
    return sorted({c.transform_id for r in report.changed for c in r.changes})


def commit_message(report: Report, level: Level) -> str:
    from hardener import __version__

    lines = [pr_title(report, level), ""]
    for r in report.changed:
        lines += [_change_line(r, c) for c in sorted(r.changes, key=lambda c: c.line)]
    lines += ["", f"Hardener-Transforms: {', '.join(transform_ids(report)) or 'none'}",
              f"Hardener-Level: {level.name}", f"Hardener-Version: {__version__}"]
    return "\n".join(lines) + "\n"


def _change_line(result: FileResult, change: Change) -> str:
    return f"- {result.path}:{change.line} {change.transform_id} {change.name}: {change.reason}"
