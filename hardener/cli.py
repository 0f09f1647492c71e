"""The ``hardener`` command line (click).

``hardener [diff] PATHS`` is a dry run printing a patch; ``apply`` writes atomically;
``check`` exits 1 when anything would change (like ``black --check``). Heavy modules are
imported inside the commands so that ``hardener --version`` starts fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from hardener import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
FORMATS = ["text", "json", "sarif", "markdown"]


class DefaultToDiff(click.Group):
    """``hardener PATH`` means ``hardener diff PATH``, as the dry run is the default."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not any(a in ("-h", "--help", "--version") for a in args[:1]):
            if not args or (args[0] not in self.commands and not args[0].startswith("--version")):
                args = ["diff", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """SIGTERM is handled like Ctrl-C: every command cleans up (temp files, ``pr``'s
        worktree) on the way out and exits 130, not 143 (killed) or click's 1 (aborted)."""
        import signal
        import threading

        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def checked_codes(values: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """``--select``/``--ignore`` codes, split; one matching no transform is a usage error (exit 2)."""
    codes = _split(values)
    if codes:
        from hardener.config_check import code_problem

        found = code_problem(codes)
        if found is not None:
            raise click.BadParameter(found, param_hint=flag)
    return codes


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_options(func: Any) -> Any:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--select", multiple=True, metavar="IDS", help="Only these transforms (id, id prefix or name; comma-separated)."),
        click.option("--ignore", multiple=True, metavar="IDS", help="Skip these transforms."),
        click.option("--unsafe", is_flag=True, help="Also apply changes marked unsafe."),
        click.option("--safe-only", is_flag=True, help="Apply only changes marked safe."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="text: patch + reasons; json (schema: hardener/data/report.schema.json), sarif (2.1.0), "
                          "markdown (a PR body)."),
        click.option("--no-color", is_flag=True, help="No colour (NO_COLOR is honoured too)."),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
                     help="Config file (default: nearest .hardener.toml or pyproject.toml)."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors and the exit code."),
        click.option("--offline", is_flag=True, help="Never use the network; transforms that need it refuse."),
        click.option("--lock", is_flag=True, help="Record resolved image digests in hardener.lock (for reproducible and --offline runs)."),
        click.option("--repos-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                     help="A file listing repositories, one per line (relative to the file)."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=_cores, show_default="cores",
                     help="Worker processes: repositories in parallel, and the folders of one large "
                          "repository when they prove independent (not apply); 1: none."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(cls=DefaultToDiff, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="hardener")
def main() -> None:
    """Harden Dockerfiles and Compose files; every change shown as a reviewable diff."""


@main.command()
@run_options
@click.option("--exit-code", is_flag=True, help="Exit 1 when there are changes.")
def diff(exit_code: bool, **kwargs: Any) -> None:
    """Show the hardened files as a patch (dry run; nothing is written)."""
    _execute("diff", exit_code, **kwargs)


@main.command()
@run_options
def apply(**kwargs: Any) -> None:
    """Write the hardened files in place (atomically; mode and line endings kept)."""
    _execute("apply", False, **kwargs)


@main.command()
@run_options
@click.option("--diff", "show_diff", is_flag=True, help="Also print the patch.")
def check(show_diff: bool, **kwargs: Any) -> None:
    """Exit 1 when any file would change (a CI gate); nothing is written."""
    _execute("check", False, show_diff=show_diff, **kwargs)


def _execute(mode_name: str, exit_on_change: bool, *, paths: tuple[Path, ...], select: tuple[str, ...],
             ignore: tuple[str, ...], unsafe: bool, safe_only: bool, fmt: str, no_color: bool,
             config_path: Path | None, quiet: bool, offline: bool, lock: bool = False,
             repos_file: Path | None = None,
             jobs: int = 1, show_diff: bool = True) -> None:
    from hardener.report import EXIT_INTERNAL, EXIT_INTERRUPTED, Mode
    from hardener.runner import RunRequest

    if unsafe and safe_only:
        raise click.UsageError("--unsafe and --safe-only exclude each other")
    mode = Mode(mode_name)
    request = RunRequest(
        _all_paths(paths, repos_file), mode, checked_codes(select, "--select"), checked_codes(ignore, "--ignore"),
        unsafe, safe_only,
        config_path, exit_on_change, offline, lock,
    )
    try:
        run_fn = _runner(request, jobs)
        if fmt == "text":
            report = _run_text(request, no_color, quiet, show_diff and mode is not Mode.APPLY, run_fn)
        else:
            report = run_fn(None, None)
            sys.stdout.write(_renderer(fmt)(report))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug outside any single file
        click.echo(f"hardener: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(report.exit_code())


def _all_paths(paths: tuple[Path, ...], repos_file: Path | None) -> tuple[Path, ...]:
    from hardener.errors import BadInput
    from hardener.pr.campaign import read_repos_file

    listed: list[Path] = []
    if repos_file is not None:
        try:
            listed = read_repos_file(repos_file)
        except BadInput as exc:
            raise click.BadParameter(str(exc), param_hint="--repos-file") from None
    return (*paths, *listed) or (Path.cwd(),)


def _runner(request: Any, jobs: int) -> Any:
    """``run(on_result, on_total) -> Report``: one repository directly, several as a campaign."""
    from dataclasses import replace

    from hardener import runner
    from hardener.pr import campaign

    groups = campaign.group_by_repo(request.paths)
    if len(groups) <= 1:  # one run: its repositories (as discovery finds them) share the workers
        one = replace(request, jobs=jobs)
        return lambda on_result, on_total: runner.run(one, on_result, on_total)

    def run_campaign(on_result: Any, on_total: Any) -> Any:
        names = [campaign.repo_name(root, paths) for root, paths in groups]
        work = [(request, paths) for _, paths in groups]
        reports = []
        for report in campaign.parallel_map(campaign.run_group, work, jobs, campaign.failed_group):
            reports.append(report)
            for result in report.results if on_result is not None else ():
                on_result(result)
        return campaign.merged(campaign.Campaign(tuple(zip(names, reports))), request.mode, request.exit_on_change)

    return run_campaign


# The report formats and the module that renders each (imported on use: start-up stays fast).
RENDERERS = {
    "json": "hardener.output.json",
    "sarif": "hardener.output.sarif",
    "markdown": "hardener.output.markdown",
}


def _renderer(fmt: str) -> Any:
    import importlib

    return importlib.import_module(RENDERERS[fmt]).render


def _run_text(request: Any, no_color: bool, quiet: bool, show_patch: bool, run: Any) -> Any:
    from hardener.output.text import Progress, TextOutput, finding_lines
    from hardener.report import Mode

    out = TextOutput(no_color, quiet)
    progress = Progress(out, enabled=not quiet and not (show_patch and out.color_out))

    def on_result(result: Any) -> None:
        progress.advance()
        if show_patch and not quiet:
            out.write_patch(result)
        if out.panels and result.error is None and result.failure is None:
            progress.echo_panel(result)
        for line in finding_lines(result) if not out.panels or result.error or result.failure else ():
            if result.error is not None or result.failure is not None:
                progress.echo(line, force=True)
            else:
                progress.echo(line)
        if request.mode is Mode.CHECK and result.changed:
            progress.echo(f"would harden {result.path}")

    try:
        report = run(on_result, progress.start)
    finally:
        progress.stop()
    for companion in report.companions:
        if show_patch and not quiet:
            out.write_companion_patch(companion)
        if companion.error is not None:
            click.echo(str(companion.error), err=True)
    for error in report.errors:
        click.echo(str(error), err=True)
    out.summary(report)
    if report.campaign is not None and not quiet:
        for line in report.campaign.summary_lines():
            click.echo(line, err=True)
    return report


@main.command()
@click.argument("repos", nargs=-1, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--repos-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A file listing repositories, one per line (relative to the file).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True, help="Repositories processed in parallel.")
@click.option("--combined", is_flag=True, help="One branch and PR (hardener/all) instead of one per group.")
@click.option("--dry-run", is_flag=True, help="Print what would be pushed and opened; push nothing, call no API.")
@click.option("--remote", help="The git remote to push to (default: origin, or [tool.hardener.pr] remote).")
@click.option("--base", help="The branch to harden and target (default: the repository's default branch).")
@click.option("--api-url", help="GitHub API base URL, for GitHub Enterprise (default: https://api.github.com).")
@click.option("--github-repo", metavar="OWNER/NAME", help="The GitHub repository (default: from the remote URL).")
@click.option("--select", multiple=True, metavar="IDS", help="Only these transforms (id, id prefix or name; comma-separated).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these transforms.")
@click.option("--unsafe", is_flag=True, help="Also include changes marked unsafe (in the review-level groups).")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
@click.option("--offline", is_flag=True, help="Never use the network for transforms.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the exit code.")
def pr(repos: tuple[Path, ...], repos_file: Path | None, jobs: int, select: tuple[str, ...],
       ignore: tuple[str, ...], quiet: bool, **kwargs: Any) -> None:
    """Open or update hardening pull requests on GitHub (merge requests on GitLab), one per
    group of changes (hardener/safe, hardener/network, ...), and a dashboard issue.

    The token comes from GITHUB_TOKEN (GITLAB_TOKEN for GitLab). Re-running updates the same
    branches and pull requests, does nothing when the result is unchanged, closes the pull
    request of a group with nothing left, and stops when someone else pushed a commit to a
    hardener branch.
    """
    import os

    from hardener.pr import campaign
    from hardener.pr.bot import PrRequest, run_pr

    paths = _all_paths(repos, repos_file)
    codes = checked_codes(select, "--select"), checked_codes(ignore, "--ignore")
    requests = [PrRequest(p, *codes, token=os.environ.get("GITHUB_TOKEN") or None,
                          gitlab_token=os.environ.get("GITLAB_TOKEN") or None, **kwargs) for p in paths]
    worst = 0
    outcomes = []
    for outcome in campaign.parallel_map(run_pr, requests, jobs):
        outcomes.append(outcome)
        worst = max(worst, outcome.exit_code)
        for line in outcome.lines:
            shown = f"{outcome.repo}: {line}" if len(requests) > 1 and not line.startswith(outcome.repo) else line
            if not quiet or outcome.exit_code:
                click.echo(shown, err=bool(outcome.exit_code) and line is outcome.lines[-1])
    if len(outcomes) > 1 and not quiet:
        for line in campaign.pr_summary_lines(outcomes):
            click.echo(line, err=True)
    sys.exit(worst)


@main.command()
@click.argument("rule")
def explain(rule: str) -> None:
    """Print the documentation of a transform (by id or name) and its options; `pr` and
    `verify` print the options of those commands' config sections; `facts` the runtime facts
    (what the app writes) and their sources."""
    import inspect

    from hardener.options import ENGINE_SECTIONS, did_you_mean, explain_lines
    from hardener.transforms import REGISTRY

    for cls in REGISTRY:
        if rule.upper() == cls.id or rule.lower() == cls.name:
            click.echo(f"{cls.id} {cls.name}\n")
            click.echo(inspect.cleandoc(cls.__doc__ or ""))
            if cls.options:
                click.echo("\n" + "\n".join(explain_lines(cls.name, cls.options)))
            return
    if rule.lower() in ENGINE_SECTIONS:
        click.echo("\n".join(explain_lines(rule.lower(), ENGINE_SECTIONS[rule.lower()])))
        return
    if rule.lower() == "facts":
        from hardener.knowledge import facts_toml, host_mounts, writes, writes_facts

        click.echo("\n\n".join(inspect.cleandoc(m.__doc__ or "") for m in (writes, writes_facts, host_mounts, facts_toml)))
        return
    hint = did_you_mean(rule, [*(c.name for c in REGISTRY), *(c.id for c in REGISTRY), *ENGINE_SECTIONS, "facts"])
    raise click.UsageError(f"unknown transform {rule!r}{hint or '; see `hardener list`'}")


@main.command(name="list")
def list_() -> None:
    """List the transforms in execution order."""
    from hardener.transforms import REGISTRY

    for cls in REGISTRY:
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        click.echo(f"{cls.id}  {cls.name:<28} {cls.applicability.label:<7} {'/'.join(cls.targets):<19} {summary}")


from hardener.lab.cli import verify as _verify  # noqa: E402 - beside the add_command that attaches it to the group above

main.add_command(_verify)
