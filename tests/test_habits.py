"""The contributor habits are wired up: CI runs ruff and mypy, pre-commit runs them locally."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT
from ruamel.yaml import YAML


def test_ci_runs_ruff_and_mypy_from_the_test_extra() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/ruff check . || checks=1" in ci
    assert ".venv/bin/mypy || checks=1" in ci
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    assert {e.split(">=")[0] for e in extra} >= {"ruff", "mypy", "pre-commit"}


def test_mypy_sees_transforms_as_hardener_transforms() -> None:
    link = ROOT / "typecheck" / "hardener" / "transforms"
    assert link.is_symlink() and link.resolve() == (ROOT / "transforms").resolve()
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["strict"] is True and "typecheck/hardener/transforms" in mypy["files"]


def test_pre_commit_config_is_valid_and_offline() -> None:
    path = ROOT / ".pre-commit-config.yaml"
    subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(path)], check=True,
                   capture_output=True, timeout=60)
    config = YAML(typ="safe").load(path.read_text())
    assert [r["repo"] for r in config["repos"]] == ["local"]  # nothing fetched from GitHub at commit time
    hooks = {h["id"]: h for h in config["repos"][0]["hooks"]}
    assert {"ruff", "mypy"} <= set(hooks)
    for hook in hooks.values():
        assert hook["language"] in ("system", "pygrep"), hook["id"]
        if hook["language"] == "system":
            assert (ROOT / Path(hook["entry"].split()[0])).name in ("ruff", "mypy", "python")
