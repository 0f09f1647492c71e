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


class DefaultToDiff(click.Group):
    """``hardener PATH`` means ``hardener diff PATH``, as the dry run is the default."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not any(a in ("-h", "--help", "--version") for a in args[:1]):
            if not args or (args[0] not in self.commands and not args[0].startswith("--version")):
                args = ["diff", *args]
        return super().parse_args(ctx, args)


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def run_options(func: Any) -> Any:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--select", multiple=True, metavar="IDS", help="Only these transforms (id, id prefix or name; comma-separated)."),
        click.option("--ignore", multiple=True, metavar="IDS", help="Skip these transforms."),
        click.option("--unsafe", is_flag=True, help="Also apply changes marked unsafe."),
        click.option("--safe-only", is_flag=True, help="Apply only changes marked safe."),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True),
        click.option("--no-color", is_flag=True, help="No colour (NO_COLOR is honoured too)."),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file (default: nearest .hardener.toml or pyproject.toml)."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors and the exit code."),
        click.option("--offline", is_flag=True, help="Never use the network; transforms that need it refuse."),
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
             config_path: Path | None, quiet: bool, offline: bool, show_diff: bool = True) -> None:
    from hardener.report import EXIT_INTERNAL, EXIT_INTERRUPTED, Mode
    from hardener.runner import RunRequest, run

    if unsafe and safe_only:
        raise click.UsageError("--unsafe and --safe-only exclude each other")
    mode = Mode(mode_name)
    request = RunRequest(
        tuple(paths) or (Path.cwd(),), mode, _split(select), _split(ignore), unsafe, safe_only,
        config_path, exit_on_change, offline,
    )
    try:
        if fmt == "json":
            from hardener import output_json

            report = run(request)
            sys.stdout.write(output_json.render(report))
        else:
            report = _run_text(request, no_color, quiet, show_diff and mode is not Mode.APPLY)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug outside any single file
        click.echo(f"hardener: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(report.exit_code())


def _run_text(request: Any, no_color: bool, quiet: bool, show_patch: bool) -> Any:
    from hardener.output_text import Progress, TextOutput, finding_lines
    from hardener.report import Mode
    from hardener.runner import run

    out = TextOutput(no_color, quiet)
    progress = Progress(out, enabled=not quiet and not (show_patch and out.color_out))

    def on_result(result: Any) -> None:
        progress.advance()
        if show_patch and not quiet:
            out.write_patch(result)
        for line in finding_lines(result):
            if result.error is not None or result.failure is not None:
                progress.echo(line, force=True)
            else:
                progress.echo(line)
        if request.mode is Mode.CHECK and result.changed:
            progress.echo(f"would harden {result.path}")

    try:
        report = run(request, on_result, progress.start)
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
    return report


@main.command()
@click.argument("rule")
def explain(rule: str) -> None:
    """Print the documentation of a transform (by id or name)."""
    import inspect

    from hardener.transforms import REGISTRY

    for cls in REGISTRY:
        if rule.upper() == cls.id or rule.lower() == cls.name:
            click.echo(f"{cls.id} {cls.name}\n")
            click.echo(inspect.cleandoc(cls.__doc__ or ""))
            return
    raise click.UsageError(f"unknown transform {rule!r}; see `hardener list`")


@main.command(name="list")
def list_() -> None:
    """List the transforms in execution order."""
    from hardener.transforms import REGISTRY

    for cls in REGISTRY:
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        click.echo(f"{cls.id}  {cls.name:<28} {cls.applicability.label:<7} {'/'.join(cls.targets):<19} {summary}")


from hardener.cli_verify import verify as _verify  # noqa: E402

main.add_command(_verify)
