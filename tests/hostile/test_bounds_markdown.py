"""Issue 22, case 16: names and reasons from the repository stay text in a PR body.

Rendered with markdown-it-py (CommonMark; installed with rich): the hostile strings must
produce no link, image, HTML, emphasis or broken-out code span, and still read as written.
"""
from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from hardener.edits import Edit
from hardener.engine import FileResult
from hardener.errors import BadInput
from hardener.model import Applicability, Change, Refusal
from hardener.output import markdown
from hardener.report import Mode, Report

HOSTILE = [
    "`</code><img src=x onerror=alert(1)>`",
    "[click](https://evil.example/)",
    "![pixel](https://evil.example/p.png)",
    "<script>alert(1)</script>",
    "**bold** _em_ ~~gone~~",
    "a`b``c",
    "line\none\n# heading",
    "@octocat &amp; &#60;",
    "x | y |\n| --- |",
]


def _html(md: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)


def _report(evil: str) -> Report:
    path = f"svc/{evil}/Dockerfile"
    change = Change("HD601", "no-new-privileges", Applicability.REVIEW, f"service '{evil}': now `no-new-privileges` {evil}", 1,
                    (Edit(0, 0, "#\n"),))
    refusal = Refusal("HD602", "host-access", f"service {evil} mounts the Docker socket", 1)
    result = FileResult(path, "dockerfile", b"FROM a\n", b"#\nFROM a\n", (change,), refusals=(refusal,))
    failed = FileResult(f"{evil}.yaml", "compose", b"", failure=f"internal error: {evil}")
    report = Report(Mode.DIFF, results=[result, failed], errors=[BadInput(evil, 3, f"{evil}/compose.yaml")])
    return report


@pytest.mark.parametrize("evil", HOSTILE)
def test_untrusted_strings_stay_text(evil: str) -> None:
    html = _html(markdown.render(_report(evil)))
    for tag in ("<img", "<a ", "<script", "<strong>bold", "<em>em", "<s>", "<del>", "<h1>"):
        assert tag not in html, tag
    assert html.count("<table") == 1  # the summary table only
    outside_code = re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.DOTALL)
    assert "@octocat" not in outside_code  # no mention (GitHub does not link them inside code)
    assert html.count("<code>no-new-privileges</code>") >= 2  # hardener's own code spans are kept


@pytest.mark.parametrize("value", HOSTILE + ["plain", "`", "``", " x "])
def test_code_span_holds_any_string(value: str) -> None:
    html = _html(markdown.code(value))
    inner = html.removeprefix("<p><code>").removesuffix("</code></p>\n")
    flat = " ".join(value.splitlines()) or " "
    expected = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert html.startswith("<p><code>") and html.endswith("</code></p>\n") and html.count("<code>") == 1
    assert inner.strip() == expected.strip()  # CommonMark strips the padding a leading backtick needs


@pytest.mark.parametrize("value", HOSTILE)
def test_text_reads_as_written(value: str) -> None:
    html = _html(markdown.text(value))
    from html import unescape

    shown = unescape(html.removeprefix("<p>").removesuffix("</p>\n")).replace("\u2060", "")
    assert shown == " ".join(value.splitlines())
