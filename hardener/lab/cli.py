"""``hardener verify [PATH]``: prove that the hardened Dockerfiles still build and run.

Only click is imported at module level: ``hardener --version`` must stay fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

_MARK = {"ok": "ok", "regression": "FAIL", "info": "--", "unverified": "??"}
_STYLE = {"ok": "green", "regression": "bold red", "info": "dim", "unverified": "yellow"}


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--engine", type=click.Choice(["auto", "docker", "podman", "buildah"]), default="auto",
              show_default=True, help="Container engine (auto: docker with a daemon, else podman, else buildah).")
@click.option("--smoke", metavar="CMD", help="Shell command to run in both images instead of their default command.")
@click.option("--timeout", type=float, help="Seconds the smoke command may run (default 30, or the config's).")
@click.option("--logs", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for build logs and report.json (default ~/.cache/hardener/verify/<time>).")
@click.option("--select", multiple=True, metavar="IDS", help="Only these transforms.")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these transforms.")
@click.option("--unsafe", is_flag=True, help="Also apply changes marked unsafe.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
@click.option("--rm-images", is_flag=True, help="Remove the built images (localhost/hardener-verify/…:original|hardened) "
              "afterwards; by default they stay, so the next run reuses their build cache.")
@click.option("--learn", is_flag=True, help="Instead of comparing: run each original image (buildah, as root) with "
              "its smoke command and record the paths it wrote, the TCP ports it listened on and its uids in "
              "hardener.facts.toml beside the Dockerfile (later runs, --offline too, use them as observed facts).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--no-color", is_flag=True, help="No colour (NO_COLOR is honoured too).")
def verify(path: Path | None, engine: str, smoke: str | None, timeout: float | None, logs: Path | None,
           select: tuple[str, ...], ignore: tuple[str, ...], unsafe: bool, config_path: Path | None,
           rm_images: bool, learn: bool, fmt: str, no_color: bool) -> None:
    """Build the original and the hardened Dockerfiles, run both, and compare.

    Reports per Dockerfile: both built, same smoke exit status and output, hardened uid,
    image size before -> after, files missing after, ports and entrypoint unchanged.
    Exit 1 on any regression, 2 when something could not be verified. Your files are never
    changed: the hardened versions are made in a temporary copy.

    The smoke command is --smoke, else `smoke` (with optional `expect`, `timeout`) in a
    hardener-lab.toml beside the Dockerfile, else [tool.hardener.verify] smoke in the
    config, else each image's own ENTRYPOINT + CMD (still running at the timeout in
    both counts as the same).

    With --learn nothing is hardened or compared: each original image is built and started
    (ENTRYPOINT + CMD), the smoke command runs beside it, and what the run did goes into
    hardener.facts.toml beside the Dockerfile: the directories and files it wrote (scratch,
    runtime files and caches left out), the TCP ports it listened on, the uids it ran as, the
    Dockerfile's sha256, the image id and the date. Commit the file: run-as-non-root then
    gives the non-root user exactly the observed directories (`hardener explain facts`).
    The same behaviour writes the same file; a failed smoke command records nothing (exit 2).
    Needs buildah and root.
    """
    from hardener.cli import checked_codes
    from hardener.lab.buildengine import EngineMissing
    from hardener.lab.verify import VerifyOptions, exit_code, to_dict, verify_path

    codes = checked_codes(select, "--select"), checked_codes(ignore, "--ignore")
    options = VerifyOptions(engine, smoke, timeout, logs, *codes, unsafe, config_path, rm_images)
    console = _console(no_color)
    if learn:
        from hardener.lab.learn_cli import run_learn

        sys.exit(run_learn(path or Path.cwd(), options, fmt, console, _progress(console, fmt == "text")))
    try:
        with _progress(console, fmt == "text") as say:
            verdicts, folder = verify_path(path or Path.cwd(), options, say)
    except EngineMissing as exc:
        click.echo(f"hardener verify: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug outside any single Dockerfile
        click.echo(f"hardener verify: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(3)
    if fmt == "json":
        import json

        click.echo(json.dumps([to_dict(v) for v in verdicts], indent=2))
    else:
        render(console, verdicts, folder)
    sys.exit(exit_code(verdicts))


def _console(no_color: bool) -> Any:
    import os

    from rich.console import Console

    return Console(no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


class _progress:
    """A spinner with the current step and elapsed time on stderr (plain lines when piped)."""

    def __init__(self, console: Any, enabled: bool) -> None:
        from rich.console import Console

        self.err = Console(stderr=True, no_color=console.no_color, highlight=False, soft_wrap=True)
        self.enabled = enabled
        self.live: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda _text: None
        if not self.err.is_terminal:
            return lambda text: self.err.print(text, markup=False)
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.live = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                             console=self.err, transient=True)
        self.live.start()
        self.task = self.live.add_task("starting", total=None)
        return lambda text: self.live.update(self.task, description=text)

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()


def render(console: Any, verdicts: list[Any], folder: Path) -> None:
    from rich.text import Text

    if not verdicts:
        console.print("hardener verify: no Dockerfile would be changed; nothing to verify")
    for v in verdicts:
        head = Text(v.path, style="bold")
        if v.transforms:
            head.append(f"  ({', '.join(v.transforms)})", style="dim")
        console.print(head)
        for check in v.checks:
            line = Text(f"  {check.name:<11}")
            line.append(f"{_MARK[check.status]:<5}", style=_STYLE[check.status])
            line.append(check.detail.replace("\n", "\n" + " " * 18))
            console.print(line)
        for label, side in (("original", v.original), ("hardened", v.hardened)):
            if side.build is not None and not side.build.ok:
                console.print(f"  {label} build log: {side.build.log}", markup=False)
                for row in side.log_tail.splitlines():
                    console.print("    | " + row, markup=False, style="dim")
        verdict = "REGRESSION" if v.regression else "UNVERIFIED" if v.unverified else "PASS"
        console.print(Text(f"  {'verdict':<11}{verdict}", style=_STYLE["regression" if v.regression else
                                                                        "unverified" if v.unverified else "ok"]))
    failed = sum(v.regression for v in verdicts)
    console.print(f"{len(verdicts)} Dockerfile(s) verified, {failed} with regressions; logs in {folder}", markup=False)
