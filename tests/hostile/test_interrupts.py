"""Cases 4, 5 and 15 of issue 22: interruptions, concurrent edits and signals.

The fault-injection hook (``HARDENER_FAULT_AT=N``, see ``hardener/writer.py``) stops the
real process just before the rename of its Nth write. Killing it there at every N covers
every point a crash, Ctrl-C or SIGTERM can hit between two writes: the Compose file must
never point at a secrets file that does not hold the value.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from hostile.conftest import FIXTURES, HARDENER, Run

SECRETS = FIXTURES / "HD607-compose-secrets" / "postgres-password" / "input"
ARGS = ("apply", "--offline", "--select", "compose-secrets", "--unsafe", ".")
LITERAL = b"POSTGRES_PASSWORD: example-not-real"
VALUE = b"example-not-real"


def _secret_is_safe(repo: Path) -> bool:
    """Either Compose still holds the literal, or the secrets file holds the value."""
    secret = repo / "secrets" / "db_postgres_password"
    return LITERAL in (repo / "compose.yaml").read_bytes() or (secret.is_file() and secret.read_bytes() == VALUE)


def _temp_files(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in repo.rglob(".*.*") if ".git" not in p.relative_to(repo).parts
                  and p.name not in (".gitignore", ".dockerignore"))


def _fresh(repo: Path) -> None:
    for child in repo.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    shutil.copytree(SECRETS, repo, dirs_exist_ok=True)


@pytest.mark.parametrize("action", ["kill", "raise"])
def test_no_secret_is_lost_at_any_write(repo: Path, hardener_cli: Run, action: str) -> None:
    interrupted = 0
    for n in range(1, 12):
        _fresh(repo)
        result = hardener_cli(*ARGS, cwd=repo, env={"HARDENER_FAULT_AT": str(n), "HARDENER_FAULT_ACTION": action})
        assert _secret_is_safe(repo), f"fault at write {n}: the secret value is lost"
        if result.returncode == 0:
            break  # fewer than n writes: the run finished untouched by the fault
        interrupted += 1
        assert result.returncode == (-signal.SIGKILL if action == "kill" else 3), result.stderr
        if action == "raise":
            assert _temp_files(repo) == [], f"fault at write {n}"
    assert interrupted >= 3  # the secret, the ignore file(s) and compose.yaml are separate writes
    assert LITERAL not in (repo / "compose.yaml").read_bytes()  # the last run, uninterrupted, moved it


def _paused(repo: Path, tmp_path: Path, at: int, *args: str) -> tuple[subprocess.Popen[str], Path]:
    """hardener paused just before the rename of its ``at``-th write; create the returned file to go on."""
    resume = tmp_path / "resume"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HARDENER_FAULT_AT": str(at),
           "HARDENER_FAULT_ACTION": "pause", "HARDENER_FAULT_RESUME": str(resume)}
    # a background job of a non-interactive shell inherits SIGINT ignored (so does pytest started
    # with `&`), and Python then installs no Ctrl-C handler: give the child the default back
    proc = subprocess.Popen([HARDENER, *(args or ARGS)], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "hardener-fault: paused" in line, line + proc.stderr.read()
    return proc, resume


@pytest.mark.parametrize("edited", ["compose.yaml", ".dockerignore"])  # .dockerignore: created meanwhile
def test_a_file_saved_meanwhile_is_not_overwritten(repo: Path, tmp_path: Path, edited: str) -> None:
    _fresh(repo)
    proc, resume = _paused(repo, tmp_path, 1)  # the secrets file is about to be written
    with open(repo / edited, "ab") as handle:
        handle.write(b"# saved by the user meanwhile\n")
    resume.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    assert "changed on disk while hardener was working on it" in err
    assert (repo / edited).read_bytes().endswith(b"# saved by the user meanwhile\n")
    assert LITERAL in (repo / "compose.yaml").read_bytes()
    assert _temp_files(repo) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_exits_130_and_leaves_no_temp_file(repo: Path, tmp_path: Path, signum: int) -> None:
    _fresh(repo)
    before = (repo / "compose.yaml").read_bytes()
    proc, _ = _paused(repo, tmp_path, 1)
    assert _temp_files(repo) != []  # the temp file of the paused write exists now
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err
    assert _temp_files(repo) == []
    assert (repo / "compose.yaml").read_bytes() == before


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_pr_interrupted_exits_130_and_removes_its_worktree(repo: Path, tmp_path: Path, signum: int) -> None:
    _fresh(repo)
    bare = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(bare))
    _git(repo, "checkout", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    _git(repo, "remote", "add", "origin", str(bare))
    _git(repo, "push", "-q", "origin", "main")
    temp = tmp_path / "tmp"
    temp.mkdir()
    os.environ["TMPDIR"], saved = str(temp), os.environ.get("TMPDIR")
    try:
        proc, _ = _paused(repo, tmp_path, 1, "pr", "--dry-run", "--offline", "--select", "compose-secrets", "--unsafe", ".")
    finally:
        os.environ.pop("TMPDIR") if saved is None else os.environ.__setitem__("TMPDIR", saved)
    assert [p.name for p in temp.iterdir() if p.name.startswith("hardener-pr-")] != []
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert [p.name for p in temp.iterdir() if p.name.startswith("hardener-pr-")] == []
    assert _git(repo, "worktree", "list").count("\n") == 1
    assert _git(repo, "status", "--porcelain") == ""
