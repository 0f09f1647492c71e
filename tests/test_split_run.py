"""One repository's files across workers (hardener/split_run.py): the same report as one
process, and back to one process whenever a part read or changed another part's files.

Real worker processes run here (forkserver), no mock; the split's verdict is observed by
wrapping ``split_run.consistent`` in the parent.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hardener import split_run
from hardener.cli import main
from hardener.discover import Found

DOCKERFILE = "FROM python:3.12-slim\nCOPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/main.py\"]\n"
COMPOSE = ("services:\n  web:\n    build: .\n    ports:\n      - \"8000:8000\"\n  db:\n    image: postgres:16\n"
           "    ports:\n      - \"5432:5432\"\n")


def _monorepo(root: Path, folders: int = 6) -> Path:
    """A repository of independent example folders (like docker/awesome-compose)."""
    for n in range(folders):
        app = root / f"app{n}"
        app.mkdir(parents=True)
        (app / "Dockerfile").write_text(DOCKERFILE)
        (app / "compose.yaml").write_text(COMPOSE)
        (app / "requirements.txt").write_text("flask==3.0.0\n")
        (app / "main.py").write_text(f"print({n})\n")
        (app / ".env").write_text("POSTGRES_PASSWORD=secret\n")
    (root / "Dockerfile").write_text(DOCKERFILE)  # the root's own Dockerfile: the first file, on every worker
    (root / "requirements.txt").write_text("flask==3.0.0\n")
    return root


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture
def verdicts(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The split's verdicts in this run (the parent's side); small repositories split too."""
    seen: list[bool] = []
    real = split_run.consistent

    def recording(done):  # type: ignore[no-untyped-def]
        seen.append(real(done))
        return seen[-1]

    monkeypatch.setattr(split_run, "consistent", recording)
    monkeypatch.setattr(split_run, "MIN_FILES", 4)
    return seen


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_independent_folders_split_and_report_the_same(tmp_path: Path, verdicts: list[bool], fmt: str) -> None:
    root = _monorepo(tmp_path)
    one = _run("diff", "--offline", "--no-color", "--format", fmt, "--jobs", "1", str(root))
    assert verdicts == []
    two = _run("diff", "--offline", "--no-color", "--format", fmt, "--jobs", "2", str(root))
    assert verdicts == [True], "independent folders: the split must stand"
    assert one == two
    assert one[1].count("+++ ") >= 13 if fmt == "text" else one[1].count('"path"') >= 13


def test_a_part_reading_another_parts_file_runs_again_in_one_process(tmp_path: Path, verdicts: list[bool]) -> None:
    """app5's Compose file builds app0's Dockerfile, which app0's part hardens: the split is
    dropped and the one-process run decides (Compose reads the hardened Dockerfile)."""
    root = _monorepo(tmp_path)
    (root / "app5" / "compose.yaml").write_text(COMPOSE.replace("build: .", "build: ../app0"))
    one = _run("diff", "--offline", "--no-color", "--jobs", "1", str(root))
    two = _run("diff", "--offline", "--no-color", "--jobs", "2", str(root))
    assert verdicts == [False]
    assert one == two  # (a split wrongly kept differs here: app5 reads app0's Dockerfile unhardened)


def test_check_splits_and_apply_does_not(tmp_path: Path, verdicts: list[bool]) -> None:
    root = _monorepo(tmp_path)
    assert _run("check", "--offline", "--jobs", "2", str(root))[0] == 1
    assert verdicts == [True]
    assert _run("apply", "--offline", "--jobs", "2", str(root))[0] in (0, 2)
    assert verdicts == [True], "apply writes as it goes: never split"


def _found(root: Path, rels: list[str]) -> list[Found]:
    return [Found(root / rel, "compose" if rel.endswith(".yaml") else "dockerfile", root) for rel in rels]


def test_parts_deal_top_level_folders_in_run_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split_run, "MIN_FILES", 4)
    rels = ["Dockerfile", "a/Dockerfile", "b/x/Dockerfile", "c/Dockerfile", "a/compose.yaml", "c/compose.yaml"]
    found = _found(tmp_path, rels)
    parts = split_run.parts(found, list(range(len(found))), 2)
    assert parts is not None
    named = [[rels[i] for i in part] for part in parts]
    assert named == [["Dockerfile", "a/Dockerfile", "a/compose.yaml"], ["b/x/Dockerfile", "c/Dockerfile", "c/compose.yaml"]]


@pytest.mark.parametrize("rels, jobs", [
    pytest.param(["compose.yaml", "a/Dockerfile", "b/Dockerfile", "c/Dockerfile"], 2, id="root-compose-builds-below"),
    pytest.param(["a/Dockerfile", "a/b/Dockerfile", "a/compose.yaml", "a/c/Dockerfile"], 2, id="one-top-folder"),
    pytest.param(["a/Dockerfile", "b/Dockerfile", "c/Dockerfile", "d/Dockerfile"], 1, id="one-job"),
    pytest.param(["a/Dockerfile", "b/Dockerfile", "c/Dockerfile"], 2, id="too-few-files"),
])
def test_parts_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rels: list[str], jobs: int) -> None:
    monkeypatch.setattr(split_run, "MIN_FILES", 4)
    found = _found(tmp_path, rels)
    assert split_run.parts(found, list(range(len(found))), jobs) is None


def test_consistent_rules() -> None:
    a, b = Path("/r/a/Dockerfile"), Path("/r/b/Dockerfile")
    first = split_run.PartDone([], first_changed={Path("/r/.dockerignore")}, holds_first=True)
    other = split_run.PartDone([])
    assert split_run.consistent([first, other])
    other.reads = {Path("/r/.dockerignore")}  # the first file's change: every worker made it
    assert split_run.consistent([first, other])
    other.changed = {Path("/r/.dockerignore")}  # changed again by another part
    assert not split_run.consistent([first, other])
    other.changed = {b}
    first.reads = {b}
    assert not split_run.consistent([first, other])
    first.reads, first.changed = set(), {b}  # both changed it
    assert not split_run.consistent([first, other])
    first.changed = {a}
    assert split_run.consistent([first, other])
