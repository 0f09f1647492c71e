"""What ``hardener pr`` writes: a group's PR body, commit message and title.

A body always fits GitHub's 65,536 characters: the summary table (file, change, risk) comes
first, then per file what could break and how to verify it, with the diff collapsed in
``<details>``; companion files are listed and shown collapsed. When all of that does not
fit, diffs are dropped from the last files first, then whole file sections, and the full
report is committed on the branch as a file the body links to.

Everything here is a pure function of the run's results (no dates, no random ids), so a
re-run over the same base produces the same commit tree, title and body, and the PR is
left alone. Paths, service names and reasons come from the repository being hardened:
they go through ``output.markdown``'s escaping.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from hardener.engine import FileResult
from hardener.model import Change
from hardener.output.hunks import change_lines, hunks
from hardener.output.markdown import GITHUB_BODY_LIMIT, code, reason, text
from hardener.patch import split_lines
from hardener.pr.checks import check_for
from hardener.report import CompanionResult, Report

FOOTER = (
    "\n---\n<sub>Opened by hardener {version}. Running it again updates this pull request; "
    "a commit pushed to this branch by anyone else makes hardener leave the branch alone.</sub>\n"
)
BUDGET = GITHUB_BODY_LIMIT - 2_000  # room for the footer and GitHub's own counting of line ends
REPORT_DIR = ".hardener/pr"
_SHOWN_COMPANION = 4_000  # characters of a companion file shown in the body
_REFUSAL_KINDS = 15
Link = Callable[[str, int], str]  # (path, line on the branch) -> URL, or "" for none


@dataclass(frozen=True)
class Body:
    text: str
    full_report: str | None  # the complete report, to commit at report_path when the body was cut


def report_path(branch: str) -> str:
    return f"{REPORT_DIR}/{branch.removeprefix('hardener/')}.md"


def pr_title(report: Report, title: str) -> str:
    changes = sum(len(r.changes) for r in report.changed)
    files = len(report.changed)
    return (f"hardener: {title} ({changes} change{'s' if changes != 1 else ''} in "
            f"{files} file{'s' if files != 1 else ''})")


def transform_ids(report: Report) -> list[str]:
    return sorted({c.transform_id for r in report.changed for c in r.changes})


def commit_message(report: Report, title: str, group: str) -> str:
    from hardener import __version__

    lines = [pr_title(report, title), ""]
    for r in report.changed:
        lines += [f"- {r.path}:{c.line} {c.transform_id} {c.name}: {c.reason}" for c in sorted(r.changes, key=_line)]
    lines += ["", f"Hardener-Transforms: {', '.join(transform_ids(report)) or 'none'}",
              f"Hardener-Group: {group}", f"Hardener-Version: {__version__}"]
    return "\n".join(lines) + "\n"


def render_body(report: Report, title: str, branch: str, *, link: Link, footer: str, intro: str = "") -> Body:
    """The PR body, under ``BUDGET``; with the full report when the body had to be cut."""
    head = _head(report, title, intro)
    tail = _companions(report) + _refusals(report) + footer
    files = [_file_section(r, link, with_diff=True) for r in report.changed]
    full = "\n".join([head, *files, tail])
    if len(full) <= BUDGET:
        return Body(full, None)
    note = (f"\nThis description is cut to fit GitHub's limit: the full report, with every diff, is "
            f"{code(report_path(branch))} on this branch.\n")
    room = BUDGET - len(head) - len(tail) - len(note) - 200
    shown, omitted = _fit(report, link, room)
    more = f"\n{omitted} more file{'s' if omitted != 1 else ''}: see the full report.\n" if omitted else ""
    return Body("\n".join([head + note, *shown, more + tail]), full)


def _fit(report: Report, link: Link, room: int) -> tuple[list[str], int]:
    """File sections within ``room``: with diffs while they fit, then without, then none."""
    out: list[str] = []
    used = 0
    for i, result in enumerate(report.changed):
        for with_diff in (True, False):
            section = _file_section(result, link, with_diff)
            if used + len(section) <= room:
                out.append(section)
                used += len(section) + 1
                break
        else:
            return out, len(report.changed) - i
    return out, 0


def _line(change: Change) -> int:
    return change.line


def _head(report: Report, title: str, intro: str) -> str:
    parts = [f"## {text(pr_title(report, title))}\n"]
    if intro:
        parts.append(intro.rstrip("\n") + "\n")
    parts.append(_counts(report))
    parts.append(summary_table(report))
    return "\n".join(parts)


def _counts(report: Report) -> str:
    """Every file the PR changes is counted: the hardened ones and their companions."""
    files = len(report.changed)
    companions = report.companions
    line = f"**{files + len(companions)} file{'s' if files + len(companions) != 1 else ''} change**: {files} hardened"
    if companions:
        line += f", {len(companions)} companion{'s' if len(companions) != 1 else ''} (" + ", ".join(
            code(c.path) + ("" if c.original is not None else " new") for c in companions) + ")"
    return line + ".\n"


def summary_table(report: Report) -> str:
    """One row per file and transform; a path is ``text`` here (a ``|`` in a code span still splits a row)."""
    rows = ["| file | change | risk |", "| --- | --- | --- |"]
    for r in report.changed:
        kinds = Counter((c.transform_id, c.name, c.applicability.label) for c in r.changes)
        for (tid, name, risk), n in sorted(kinds.items()):
            rows.append(f"| {text(r.path)} | {tid} `{name}`{f' ×{n}' if n > 1 else ''} | {risk} |")
    return "\n".join(rows) + "\n" if len(rows) > 2 else "No changes.\n"


def _file_section(result: FileResult, link: Link, with_diff: bool) -> str:
    before = result.original.decode("utf-8", "replace")
    after = (result.output or b"").decode("utf-8", "replace")
    out = [f"### {code(result.path)}\n"]
    for tid in sorted({c.transform_id for c in result.changes}):
        check = check_for(tid, result.path, result.kind)
        out.append(f"- **{tid}** could break: {check.could_break}. Verify: {check.verify}.")
    out.append("")
    anchors = new_lines(before, after)
    for change in sorted(result.changes, key=_line):
        line = anchors(*change_lines(change, before))
        url = link(result.path, line)
        where = f"[line {line}]({url})" if url else f"line {line}"
        out.append(f"- {change.transform_id} `{change.name}` · {change.applicability.label} · {where}: "
                   f"{reason(change.reason)}")
    if with_diff:
        diff = "\n".join(h.text.replace("\r", "") for h in hunks(before, after))
        out.append(f"\n<details><summary>Diff of {text(result.path)}</summary>\n\n{fenced(diff, 'diff')}\n\n</details>")
    return "\n".join(out) + "\n"


def new_lines(before: str, after: str) -> Callable[[int, int], int]:
    """(first, last) old lines of a change -> the first line it changed in the new text.

    The change reports the stage's FROM or the service's first line; a reader wants the
    line that changed, so the anchor is the first new line of the first difference that
    meets the change's span (an insertion right after it counts).
    """
    ops = [op for op in difflib.SequenceMatcher(None, split_lines(before), split_lines(after),
                                                 autojunk=False).get_opcodes() if op[0] != "equal"]

    def anchor(first: int, last: int) -> int:
        for _, i1, i2, j1, _ in ops:
            if i1 <= last and max(i2, i1 + 1) >= first:
                return j1 + 1
        return first
    return anchor


def fenced(body: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip(chr(10))}\n{fence}"


def _companions(report: Report) -> str:
    if not report.companions:
        return ""
    out = ["### Companion files\n"]
    out += [_companion(c) for c in report.companions]
    return "\n".join(out) + "\n"


def _companion(c: CompanionResult) -> str:
    state = "new file" if c.original is None else "changed"
    if c.sensitive:
        return f"- {code(c.path)} ({state}; holds a secret, not shown)"
    content = c.content.decode("utf-8", "replace")
    cut = "\n… (cut here; the whole file is on the branch)" if len(content) > _SHOWN_COMPANION else ""
    return (f"<details><summary>{text(c.path)} ({state})</summary>\n\n"
            f"{fenced(content[:_SHOWN_COMPANION] + cut, '')}\n\n</details>\n")


def _refusals(report: Report) -> str:
    """Refusals grouped by transform and counted: one line per kind, not per file."""
    kinds: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    for r in report.results:
        for f in r.refusals:
            kinds[(f.transform_id, f.name)] += 1
            example.setdefault((f.transform_id, f.name), f"{r.path}:{f.line}: {f.reason}")
    if not kinds:
        return ""
    total = sum(kinds.values())
    out = [f"### Left for a human\n\n{total} place{'s' if total != 1 else ''} hardener changed nothing "
           "(by kind, with one example; the dashboard issue lists them):\n"]
    for key, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:_REFUSAL_KINDS]:
        out.append(f"- **{key[0]} `{key[1]}`** ×{n}, e.g. {reason(_short(example[key]))}")
    if len(kinds) > _REFUSAL_KINDS:
        out.append(f"- and {len(kinds) - _REFUSAL_KINDS} more kinds")
    return "\n".join(out) + "\n"


def _short(value: str, limit: int = 300) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
