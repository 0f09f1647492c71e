"""``--format markdown``: a pull-request body a reviewer can read top to bottom.

A summary table by applicability, then per file each diff hunk followed by the changes
that made it (reason, applicability, rule references), then the refusals as "left for a
human" with why. For a Compose file whose service graph changed, a picture of it before and
after is added when ``hardener.compose.graph`` and ``hardener.output.graph_render`` are there;
the body never depends on it.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from hardener.engine import FileResult
from hardener.model import Change
from hardener.output.hunks import Hunk, change_lines, hunks
from hardener.report import Report

# Paths, service names, image names and the reasons that quote them come from the repository
# being hardened: in a PR body they must stay text. `code` puts a string in a code span
# (inert), `text` escapes what Markdown or HTML would act on; hardener's own `…` spans in a
# reason are kept as code spans.
_ACTIVE = re.compile(r"[\\`*_\[\]<>|~&]")  # on one line inside a list item: no block syntax can start
_OWN_SPAN = re.compile(r"(?<!`)`[^`\n]+`(?!`)")
GITHUB_BODY_LIMIT = 65_536  # characters GitHub accepts in a pull-request body
GraphRenderer = Callable[[FileResult], "str | None"]
_LEVELS = ("safe", "review", "unsafe")


def render(report: Report, *, title: str | None = None, intro: str | None = None,
           graph: GraphRenderer | None = None, with_hunks: bool = True) -> str:
    graph = compose_graph if graph is None else graph
    parts = [f"## {title or _default_title(report)}\n"]
    if intro:
        parts.append(intro.rstrip("\n") + "\n")
    parts.append(summary_table(report))
    for result in report.results:
        if result.changed:
            parts.append(_file_section(result, graph, with_hunks))
    parts.append(_not_applied(report))
    parts.append(_left_for_a_human(report))
    parts.append(_problems(report))
    body = "\n".join(p for p in parts if p)
    if with_hunks and len(body) > GITHUB_BODY_LIMIT - 1_000:
        note = "The diff is too long for this description: see the changed files."
        return render(report, title=title, intro=(intro or "") + f"\n{note}\n", graph=graph, with_hunks=False)
    return body


def code(value: object) -> str:
    """``value`` as an inline code span whatever backticks it holds, on one line."""
    flat = " ".join(str(value).splitlines()) or " "
    longest = max((len(m) for m in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or flat.startswith(" ") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def text(value: object) -> str:
    """``value`` as literal text on one line: Markdown and HTML escaped, mentions defused."""
    flat = " ".join(str(value).splitlines())
    escaped = _ACTIVE.sub(lambda m: "&amp;" if m.group() == "&" else "\\" + m.group(), flat)
    return escaped.replace("@", "@\u2060")  # a word joiner: GitHub does not notify @someone


def reason(value: str) -> str:
    """A reason: hardener's own `…` spans stay code spans, everything else is ``text``."""
    out: list[str] = []
    last = 0
    flat = " ".join(value.splitlines())
    for match in _OWN_SPAN.finditer(flat):
        out += [text(flat[last:match.start()]), match.group()]
        last = match.end()
    out.append(text(flat[last:]))
    return "".join(out)


def _default_title(report: Report) -> str:
    n = len(report.changed)
    return f"hardener: harden {n} file{'s' if n != 1 else ''}"


def summary_table(report: Report) -> str:
    changes: Counter[str] = Counter()
    files: dict[str, set[str]] = {level: set() for level in _LEVELS}
    for r in report.changed:
        for c in r.changes:
            changes[c.applicability.label] += 1
            files[c.applicability.label].add(r.path)
    rows = [f"| {level} | {changes[level]} | {len(files[level])} |" for level in _LEVELS if changes[level]]
    refusals = sum(len(r.refusals) for r in report.results)
    lines = ["| applicability | changes | files |", "| --- | ---: | ---: |", *rows]
    if not rows:
        lines = ["No changes."]
    if refusals:
        lines.append(f"\n{refusals} refusal{'s' if refusals != 1 else ''}: left for a human, listed at the end.")
    return "\n".join(lines) + "\n"


def _file_section(result: FileResult, graph: GraphRenderer, with_hunks: bool) -> str:
    before = result.original.decode("utf-8")
    after = (result.output or b"").decode("utf-8")
    out = [f"### {code(result.path)}\n"]
    placed: set[int] = set()
    for hunk in hunks(before, after) if with_hunks else []:
        mine = [c for c in result.changes if hunk.touches(*change_lines(c, before))]
        placed.update(id(c) for c in mine)
        out.append(_hunk_block(hunk))
        out.extend(_change_item(c) for c in sorted(mine, key=lambda c: c.line))
        out.append("")
    rest = [c for c in result.changes if id(c) not in placed]
    if rest:
        if with_hunks:
            out.append("Also in this file:\n")
        out.extend(_change_item(c) for c in sorted(rest, key=lambda c: c.line))
        out.append("")
    picture = graph(result) if result.kind == "compose" else None
    if picture:
        out.append(f"<details><summary>Service graph</summary>\n\n{_fenced(picture, 'text')}\n</details>\n")
    return "\n".join(out)


def _hunk_block(hunk: Hunk) -> str:
    return _fenced(hunk.text.replace("\r", ""), "diff")


def _fenced(text: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip(chr(10))}\n{fence}"


def _change_item(change: Change) -> str:
    refs = f" — {', '.join(change.references)}" if change.references else ""
    where = f"line {change.line}" if change.last_line == change.line else f"lines {change.line}–{change.last_line}"
    return (f"- **{change.transform_id} `{change.name}`** · {change.applicability.label} · {where}:"
            f" {reason(change.reason)}{refs}")  # references are hardener's own constants


def _not_applied(report: Report) -> str:
    items = []
    for r in report.results:
        for c in r.skipped:
            hint = "needs --unsafe" if c.applicability.label == "unsafe" else "not with --safe-only"
            items.append(f"- {code(f'{r.path}:{c.line}')} **{c.transform_id} `{c.name}`** ({c.applicability.label},"
                         f" {hint}): {reason(c.reason)}")
    return "### Not applied\n\n" + "\n".join(items) + "\n" if items else ""


def _left_for_a_human(report: Report) -> str:
    items = [
        f"- {code(f'{r.path}:{f.line}')} **{f.transform_id} `{f.name}`**: {_with_command(f.reason)}"
        for r in report.results for f in r.refusals
    ]
    return "### Left for a human\n\nhardener was not sure and changed nothing here:\n\n" + "\n".join(items) + "\n" if items else ""


_COMMAND = re.compile(r"(.*?): (docker run .+)", re.DOTALL)


def _with_command(reason_text: str) -> str:
    """A reason ending in a command line to copy (run-snippet): the command as a code block."""
    match = _COMMAND.fullmatch(reason_text)
    if match is None:
        return reason(reason_text)
    return f"{reason(match.group(1))}:\n\n" + "\n".join(f"  {line}" for line in _fenced(match.group(2), "sh").splitlines())


def _problems(report: Report) -> str:
    items = [f"- {text(e)}" for e in report.errors]
    for r in report.results:
        if r.error is not None:
            items.append(f"- {text(r.error)}")
        if r.failure is not None:
            items.append(f"- {code(r.path)}: hardener failed, file left unchanged: {text(r.failure)}")
    return "### Problems\n\n" + "\n".join(items) + "\n" if items else ""


def compose_graph(result: FileResult) -> str | None:
    """The Compose service graph before => after, when ``hardener.compose.graph`` exists and the
    change touched the graph (networks, links); otherwise nothing. It never raises."""
    try:
        from hardener.compose.doc import ComposeDoc
        from hardener.compose.graph import build_graph
        from hardener.output.graph_render import render_ascii

        before = build_graph(ComposeDoc.load(result.original, result.path))
        after = build_graph(ComposeDoc.load(result.output or result.original, result.path))
        picture = render_ascii(before, after)
        if picture == render_ascii(before, before):
            return None
    except Exception:  # absent, or failing: a picture is a bonus and must never cost the PR body
        return None
    return str(picture) if picture else None
