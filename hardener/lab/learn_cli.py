"""The output of ``hardener verify --learn``: one block per Dockerfile, or JSON."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from hardener.lab.verify import VerifyOptions


def run_learn(path: Path, options: VerifyOptions, fmt: str, console: Any, progress: Any) -> int:
    """Exit 0 when every Dockerfile was recorded, 2 when one could not be (or the lab is missing)."""
    from hardener.lab.buildengine import EngineMissing
    from hardener.lab.learn import learn_path

    try:
        with progress as say:
            results = learn_path(path, options, say)
    except EngineMissing as exc:
        click.echo(f"hardener verify --learn: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    if fmt == "json":
        import json

        click.echo(json.dumps([to_dict(r) for r in results], indent=2))
    else:
        render(console, results)
    return 2 if not results or any(r.problem for r in results) else 0


def to_dict(result: Any) -> dict[str, Any]:
    rec = result.recording
    return {
        "path": result.path, "problem": result.problem,
        "facts_file": str(result.facts_file) if result.facts_file else None, "changed": result.changed,
        "writes": [{"path": p, "dir": d} for p, d in rec.writes] if rec else None,
        "ports": list(rec.ports) if rec else None, "uids": list(rec.uids) if rec else None,
    }


def render(console: Any, results: list[Any]) -> None:
    if not results:
        console.print("hardener verify --learn: no Dockerfile found", markup=False)
    for result in results:
        console.print(result.path, style="bold", markup=False)
        if result.problem:
            console.print(f"  not recorded: {result.problem}", markup=False)
            for row in result.smoke_output.strip().splitlines()[-8:]:
                console.print("    | " + row, markup=False, style="dim")
            continue
        rec = result.recording
        for write in rec.writes:
            console.print(f"  observed: writes {write[0]}{'/' if write[1] else ''}", markup=False)
        if not rec.writes:
            console.print("  observed: no writes outside scratch space", markup=False)
        console.print(f"  observed: listens on {', '.join(rec.ports) or 'no TCP port'}; "
                      f"ran as uid {', '.join(map(str, rec.uids)) or '?'}", markup=False)
        state = "written" if result.changed else "unchanged (same behaviour as recorded)"
        console.print(f"  {result.facts_file}: {state}", markup=False)
    failed = sum(1 for r in results if r.problem)
    print(f"{len(results)} Dockerfile(s) run, {failed} not recorded", file=sys.stderr)
