"""Repositories in parallel (``--jobs``): the same report and the same files as one process.

The runner gives each git repository to one worker (its files share state: a Compose file
reads the Dockerfile as this run hardened it, the .dockerignore and CI gate accumulate) and
merges the results in discovery order. Real worker processes run here (forkserver), no mock.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardener import runner
from hardener.cli import main

DOCKERFILE = "FROM python:3.12-slim\nCOPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/main.py\"]\n"
COMPOSE = ("services:\n  web:\n    build: .\n    ports:\n      - \"8000:8000\"\n    environment:\n"
           "      DB_HOST: db\n  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n")


def _repos(root: Path, count: int = 3) -> Path:
    for n in range(count):
        repo = root / f"repo{n}"
        (repo / "worker").mkdir(parents=True)
        (repo / "Dockerfile").write_text(DOCKERFILE)
        (repo / "worker" / "Dockerfile").write_text(DOCKERFILE.replace("main.py", f"worker{n}.py"))
        (repo / "compose.yaml").write_text(COMPOSE)
        (repo / "requirements.txt").write_text("flask==3.0.0\n")
        (repo / "main.py").write_text("print('hi')\n")
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return root


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the runs that went through the worker pool (the parent's side of it)."""
    calls: list[int] = []
    real = runner._pooled

    def counting(request, config, found, batches):  # type: ignore[no-untyped-def]
        calls.append(len(batches))
        yield from real(request, config, found, batches)

    monkeypatch.setattr(runner, "_pooled", counting)
    return calls


def test_diff_with_two_workers_is_byte_identical(tmp_path: Path, pooled: list[int]) -> None:
    root = _repos(tmp_path)
    one = _run("diff", "--offline", "--no-color", "--format", "json", "--jobs", "1", str(root))
    assert pooled == []
    two = _run("diff", "--offline", "--no-color", "--format", "json", "--jobs", "2", str(root))
    assert pooled == [3], "three repositories, nine files: the pool must be used"
    assert one == two
    assert one[1].count('"path"') >= 9


def test_apply_with_two_workers_writes_the_same_files(tmp_path: Path, pooled: list[int]) -> None:
    serial = _repos(tmp_path / "serial")
    parallel = tmp_path / "parallel"
    shutil.copytree(serial, parallel)
    assert _run("apply", "--offline", "--jobs", "1", str(serial))[0] in (0, 2)
    assert _run("apply", "--offline", "--jobs", "2", str(parallel))[0] in (0, 2)
    assert pooled == [3]
    files = sorted(p.relative_to(serial) for p in serial.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert files == sorted(p.relative_to(parallel) for p in parallel.rglob("*")
                           if p.is_file() and ".git" not in p.parts)
    changed = [f for f in files if (serial / f).read_bytes() != DOCKERFILE.encode()]
    assert changed, "apply changed nothing: the comparison would prove nothing"
    for name in files:
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name


def test_few_files_stay_in_this_process(tmp_path: Path, pooled: list[int]) -> None:
    root = _repos(tmp_path, count=2)  # six files: below the pool's minimum
    assert _run("diff", "--offline", "--no-color", "--jobs", "2", str(root))[0] in (0, 1, 2)
    assert pooled == []
