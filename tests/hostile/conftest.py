"""Hostile repositories, built in a temp dir by each test (issue 22).

``repo`` is a fresh git repository; ``sentinel`` is a directory *outside* it, holding files
that an attacker would like hardener to create or change. Each test hashes the sentinel
before and after the run: anything written outside the tree shows up as a difference.
hardener runs as a real process (``hardener_cli``), so exit codes, signals and crashes are
the ones a user gets.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HARDENER = str(Path(sys.executable).parent / "hardener")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def tree_hash(root: Path) -> str:
    """Every name, link target, type and content below ``root`` (links are not followed)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(b"L" + os.readlink(path).encode())
        elif path.is_file():
            digest.update(b"F" + path.read_bytes())
        else:
            digest.update(b"D")
    return digest.hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\n")
    (home / ".ssh" / "config").write_text("Host *\n")
    return home


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def hardener_cli(tmp_path: Path) -> Run:
    """``hardener ARGS`` in ``cwd`` with a private cache; offline unless the test says otherwise."""
    def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1", **(env or {})}
        return subprocess.run([HARDENER, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)

    return run
