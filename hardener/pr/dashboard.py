"""The dashboard issue: one issue per repository, like Renovate's Dependency Dashboard.

It lists the open hardener pull requests, what hardener refused and why (grouped by kind
and counted, not one line per file), what needs ``--unsafe`` and what needs configuration,
and one checkbox per opt-in group: ticking it asks the next run to open that group's PR.
It is updated in place (found by its exact title) and left alone when nothing changed.
The body is a pure function of the run, under GitHub's limit, with untrusted text escaped.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hardener.output.markdown import code, reason
from hardener.pr.body import BUDGET
from hardener.pr.groups import Group
from hardener.report import Report

TITLE = "hardener dashboard"
_BOX = re.compile(r"^\s*- \[(?P<mark>[ xX])\] <!-- hardener-group:(?P<group>[a-z0-9-]+) -->", re.MULTILINE)
# what differs between two refusals of one kind: quoted names, image refs and paths, numbers
_SPAN = re.compile(r"`[^`\n]*`|'[^'\n]*'|\"[^\"\n]*\"|[\w.-]+(?:[:/@][\w.-]+)+|\d+")
_MAX_KINDS = 40


@dataclass(frozen=True)
class PrLine:
    branch: str
    title: str
    where: str  # "#12" or "would open"


def requested(body: str) -> set[str]:
    """The opt-in groups whose box is ticked in the dashboard's body."""
    return {m.group("group") for m in _BOX.finditer(body) if m.group("mark") in "xX"}


def render(prs: Sequence[PrLine], reports: Iterable[Report], groups: Sequence[Group], asked: set[str]) -> str:
    reports = list(reports)
    parts = [f"## {TITLE}\n", "hardener keeps this issue up to date on every run.\n", _open(prs),
             _opt_in(groups, asked), _unsafe(reports), _refusals(reports)]
    body = "\n".join(p for p in parts if p)
    if len(body) > BUDGET:  # refusal kinds are already capped; this is the last guard
        body = body[:BUDGET].rsplit("\n", 1)[0] + "\n\n… (cut to fit GitHub's limit)\n"
    return body


def _open(prs: Sequence[PrLine]) -> str:
    if not prs:
        return "### Pull requests\n\nNone: nothing to change.\n"
    lines = [f"- {p.where} {code(p.branch)}: {p.title}" for p in prs]
    return "### Pull requests\n\n" + "\n".join(lines) + "\n"


def _opt_in(groups: Sequence[Group], asked: set[str]) -> str:
    boxes = [f"- [{'x' if g.name in asked else ' '}] <!-- hardener-group:{g.name} --> {g.title}"
             f" ({', '.join(g.transforms)})" for g in groups if g.opt_in]
    if not boxes:
        return ""
    return ("### Opt-in groups\n\nTick a box to have the next run open that group's pull request:\n\n"
            + "\n".join(boxes) + "\n")


def _unsafe(reports: Sequence[Report]) -> str:
    """Changes above their group's level: unsafe ones need ``--unsafe``; review-level changes
    of a transform in a safe-level group need the transform in a review group."""
    kinds: dict[str, Counter[str]] = {"unsafe": Counter(), "review": Counter()}
    for report in reports:
        for r in report.results:
            for c in r.skipped:
                kinds[c.applicability.label][f"{c.transform_id} `{c.name}`"] += 1
    out = []
    if kinds["unsafe"]:
        out += ["### Needs `--unsafe`\n", "Not applied; run `hardener pr --unsafe` to include them:\n",
                *_counted(kinds["unsafe"]), ""]
    if kinds["review"]:
        out += ["### Needs a review group\n", "Review-level changes of transforms in a safe-level group, not applied;"
                " move the transform to a review group (`[tool.hardener.pr.groups.<name>]`) to get them:\n",
                *_counted(kinds["review"]), ""]
    return "\n".join(out)


def _counted(kinds: Counter[str]) -> list[str]:
    return [f"- {k} ×{n}" for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))]


def _refusals(reports: Sequence[Report]) -> str:
    """Refusals by transform and reason shape (quoted names and numbers folded), counted."""
    kinds: Counter[tuple[str, str, str]] = Counter()
    files: dict[tuple[str, str, str], set[str]] = {}
    example: dict[tuple[str, str, str], str] = {}
    seen: set[tuple[str, int, str, str]] = set()
    for report in reports:
        for r in report.results:
            for f in r.refusals:
                if (r.path, f.line, f.transform_id, f.reason) in seen:  # the same refusal in several groups' runs
                    continue
                seen.add((r.path, f.line, f.transform_id, f.reason))
                key = (f.transform_id, f.name, _SPAN.sub("…", f.reason)[:160])
                kinds[key] += 1
                files.setdefault(key, set()).add(r.path)
                example.setdefault(key, f.reason)
    if not kinds:
        return ""
    config = {k: n for k, n in kinds.items() if "tool.hardener" in example[k]}
    out = []
    if config:
        out.append("### Needs configuration\n")
        out += [_kind_line(k, n, files[k], example[k]) for k, n in _ranked(config)]
        out.append("")
    human = {k: n for k, n in kinds.items() if k not in config}
    if human:
        out.append(f"### Refused ({sum(human.values())} places, {len(human)} kinds)\n")
        out += [_kind_line(k, n, files[k], example[k]) for k, n in _ranked(human)[:_MAX_KINDS]]
        if len(human) > _MAX_KINDS:
            out.append(f"- and {len(human) - _MAX_KINDS} more kinds")
    return "\n".join(out) + "\n"


def _ranked(kinds: dict[tuple[str, str, str], int]) -> list[tuple[tuple[str, str, str], int]]:
    return sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))


def _kind_line(key: tuple[str, str, str], n: int, paths: set[str], example: str) -> str:
    shown = sorted(paths)[:3]
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    short = example if len(example) <= 300 else example[:300] + "…"
    return (f"- **{key[0]} `{key[1]}`** ×{n} in {', '.join(code(p) for p in shown)}{more}: {reason(short)}")
