"""Terminal output: the patch on stdout, reasons and the summary on stderr.

Colour comes from rich only when the stream is a terminal and neither ``--no-color``
nor ``NO_COLOR`` says otherwise; piped output is a plain patch ``git apply`` accepts.
"""
from __future__ import annotations

import os
import sys
from typing import IO, Any

from hardener.engine import FileResult
from hardener.patch import unified_diff
from hardener.report import CompanionResult, Report

_DIFF_STYLES = {"+": "green", "-": "red", "@": "cyan", "d": "bold", "n": "bold"}


def use_color(stream: IO[str], no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class TextOutput:
    def __init__(self, no_color: bool, quiet: bool = False) -> None:
        self.color_out = use_color(sys.stdout, no_color)
        self.color_err = use_color(sys.stderr, no_color)
        self.quiet = quiet
        self._console: Any = None

    @property
    def panels(self) -> bool:
        """Reasons as one rich panel per file: only for a person at a terminal."""
        return self.color_err and not self.quiet

    def patch(self, result: FileResult) -> str:
        if not result.changed or result.output is None:
            return ""
        return unified_diff(
            result.path, result.original.decode("utf-8"), result.output.decode("utf-8")
        )

    def write_companion_patch(self, companion: CompanionResult) -> None:
        self._write_patch_text(companion.patch())

    def write_patch(self, result: FileResult) -> None:
        self._write_patch_text(self.patch(result))

    def _write_patch_text(self, text: str) -> None:
        if not text:
            return
        if not self.color_out:
            sys.stdout.buffer.write(text.encode("utf-8"))
            sys.stdout.flush()
            return
        console = self._rich(sys.stdout)
        for line in text.splitlines():
            style = _DIFF_STYLES.get(line[:1]) if not line.startswith(("+++", "---")) else "bold"
            console.print(line.replace("\r", ""), style=style, markup=False, highlight=False)

    def write_findings(self, result: FileResult) -> None:
        for line in finding_lines(result):
            self.err(line)

    def err(self, line: str, style: str | None = None) -> None:
        if self.quiet:
            return
        if self.color_err:
            self._rich(sys.stderr).print(line, style=style, markup=False, highlight=False)
        else:
            print(line, file=sys.stderr)

    def summary(self, report: Report) -> None:
        self.err(report.summary(), style="bold")

    def _rich(self, stream: IO[str]) -> Any:
        from rich.console import Console

        return Console(file=stream, soft_wrap=True, highlight=False)


def finding_lines(result: FileResult) -> list[str]:
    """One line per change, skipped change, refusal, error or failure of a file."""
    lines: list[str] = []
    if result.error is not None:
        return [str(result.error)]
    if result.failure is not None:
        lines.append(f"{result.path}: hardener failed, file left unchanged: {result.failure}")
    for c in sorted(result.changes, key=lambda c: c.line):
        lines.append(f"{result.path}:{c.line}: {c.transform_id} {c.name} [{c.applicability.label}] {c.reason}")
    for c in result.skipped:
        hint = "needs --unsafe" if c.applicability.label == "unsafe" else "not with --safe-only"
        lines.append(
            f"{result.path}:{c.line}: {c.transform_id} {c.name} [{c.applicability.label}, not applied:"
            f" {hint}] {c.reason}"
        )
    for r in result.refusals:
        verb = "could not finish" if r.incomplete else "refused"
        lines.append(f"{result.path}:{r.line}: {r.transform_id} {r.name} {verb}: {r.reason}")
    return lines


def findings_panel(result: FileResult) -> Any:
    """A rich panel titled with the path, one row per change, skipped change or refusal; None if empty."""
    from rich.panel import Panel
    from rich.text import Text

    prefix = f"{result.path}:"
    rows = [line[len(prefix):] if line.startswith(prefix) else line for line in finding_lines(result)]
    if not rows:
        return None
    body = Text()
    for row in rows:
        line, _, rest = row.partition(": ")
        style = ("red" if " could not finish: " in rest
                 else "yellow" if " refused: " in rest or "not applied" in rest else "green")
        body.append(f"{line:>4} ", style="dim")
        body.append(rest + "\n", style=style)
    body.rstrip()
    return Panel(body, title=result.path, title_align="left", border_style="cyan", expand=False)


class Progress:
    """A transient progress bar on stderr for long runs (a terminal and over 20 files)."""

    THRESHOLD = 20

    def __init__(self, out: TextOutput, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled and out.color_err
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        if not self.enabled or total <= self.THRESHOLD:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(TextColumn("hardening"), BarColumn(), MofNCompleteColumn(),
                        console=Console(file=sys.stderr), transient=True)
        self._task = self._bar.add_task("files", total=total)
        self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def echo(self, line: str, force: bool = False) -> None:
        if self.out.quiet and not force:
            return
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        elif force and self.out.quiet:
            print(line, file=sys.stderr)
        else:
            self.out.err(line)

    def echo_panel(self, result: FileResult) -> None:
        panel = findings_panel(result)
        if panel is None:
            return
        console = self._bar.console if self._bar is not None else self.out._rich(sys.stderr)
        console.print(panel)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
