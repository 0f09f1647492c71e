"""Golden fixtures under fixtures/<ID>-<name>/<case>/, discovered by themselves.

Each case: ``input/`` (a small repo), optional ``case.toml`` (``select``, ``args``),
``expected/`` (only the files that change; absent = nothing changes),
``expected.diff`` (exact ``hardener diff --no-color`` output) and
``expected.report.json`` (ids, applicability, lines, reasons, refusals).
``HARDENER_UPDATE_GOLDENS=1 pytest tests/test_fixtures.py`` rewrites the goldens.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from hardener import judges
from hardener.cli import main
from hardener.discover import discover
from hardener.engine import load_document

FIXTURES = ROOT / "fixtures"
UPDATE = os.environ.get("HARDENER_UPDATE_GOLDENS") == "1"


def fixture_cases() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("HD*/*") if (p / "input").is_dir())


def _spec(case: Path) -> dict:
    return tomllib.loads((case / "case.toml").read_text()) if (case / "case.toml").exists() else {}


def _args(case: Path) -> list[str]:
    spec = _spec(case)
    select = spec.get("select") or [case.parent.name.split("-", 1)[1]]
    return ["--no-color", "--select", ",".join(select), *spec.get("args", [])]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _trim(report: dict) -> list[dict]:
    keep = ("id", "applicability", "applied", "line", "reason")
    return [
        {
            "path": f["path"], "status": f["status"],
            "changes": [{k: c[k] for k in keep} for c in f["changes"]],
            "refusals": [{k: r[k] for k in ("id", "line", "reason")} for r in f["refusals"]],
            **({"error": f["error"]} if "error" in f else {}),
        }
        for f in report["files"]
    ]


@pytest.mark.parametrize("case", fixture_cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "repo"
    shutil.copytree(case / "input", work, symlinks=True)
    _git_track(work, _spec(case).get("git-tracked"))
    monkeypatch.chdir(work)
    runner = CliRunner()
    args = _args(case)
    diff = runner.invoke(main, ["diff", *args, "."])
    report = runner.invoke(main, ["diff", *args, "--format", "json", "."])
    assert diff.exit_code in (0, 2), diff.stderr
    trimmed = _trim(json.loads(report.stdout))
    before = _snapshot(work)
    applied = runner.invoke(main, ["apply", *args, "."])
    assert applied.exit_code == diff.exit_code, applied.stderr
    after = _snapshot(work)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if UPDATE:
        _write_goldens(case, diff.stdout, trimmed, changed)
    assert diff.stdout == (case / "expected.diff").read_text(encoding="utf-8")
    assert trimmed == json.loads((case / "expected.report.json").read_text())
    assert changed == _snapshot(case / "expected") if (case / "expected").is_dir() else changed == {}
    assert set(before) <= set(after), "files vanished"  # new companion files are in expected/
    second = runner.invoke(main, ["check", *args, "."])
    assert second.exit_code in (0, 2), f"second run is not a no-op:\n{second.stderr}"
    _assert_judges_accept(work, changed)


def _git_track(work: Path, paths: list[str] | None) -> None:
    """``git-tracked = [...]`` in case.toml: a real repository whose index lists those files
    (hardener reads the index; it never runs git), the rest of the input untracked."""
    if paths is None:
        return
    git = ["git", "-c", "init.defaultBranch=main", "-C", str(work)]
    subprocess.run([*git, "init", "-q"], check=True)
    if paths:
        subprocess.run([*git, "add", "--", *paths], check=True)


def _assert_judges_accept(work: Path, changed: dict[str, bytes]) -> None:
    found, _ = discover([work])
    kinds = {f.path.relative_to(work).as_posix(): f.kind for f in found}
    for rel, data in changed.items():
        kind = kinds.get(rel)
        if kind == "dockerfile":
            assert judges.dockerfile_problem(data.decode("utf-8-sig")) is None
        elif kind == "compose":
            assert judges.compose_problems(data.decode("utf-8-sig")) == []
        if kind:
            load_document(kind, data, rel)


def _write_goldens(case: Path, diff: str, report: list[dict], changed: dict[str, bytes]) -> None:
    (case / "expected.diff").write_text(diff, encoding="utf-8")
    (case / "expected.report.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(case / "expected", ignore_errors=True)
    for rel, data in changed.items():
        target = case / "expected" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
