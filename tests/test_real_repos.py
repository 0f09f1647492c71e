"""`hardener check` right after `hardener apply` exits 0 on whole real repositories, and the
patch `diff` prints is exactly what `apply` writes (cross-file reads see the run's own output).

The repositories come from a cache ($HARDENER_REAL_REPOS, default ~/.cache/hardener/real-repos)
that tests/real_repos/prepare.py fills from bare mirrors or GitHub; CI has no network, so each
case skips with the reason when its repository is absent. Runs --offline: digests are not
pinned (pin-base-image refuses), everything else is what a user gets.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("prepare", Path(__file__).parent / "real_repos" / "prepare.py")
assert _spec is not None and _spec.loader is not None
prepare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prepare)

HARDENER = str(Path(sys.executable).parent / "hardener")


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    subprocess.run(["git", "init", "-q", str(target)], check=True)  # discovery's repository root
    return target


def _hardener(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cwd.parent / "cache")}  # no digests from the user's cache
    return subprocess.run([HARDENER, command, "--offline", "--no-color", "."], cwd=cwd, capture_output=True,
                          text=True, env=env)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and ".git" not in p.relative_to(root).parts[:1]}


@pytest.mark.real_repos
@pytest.mark.parametrize("repo", prepare.REPOS)
def test_check_after_apply_exits_0(repo: str, tmp_path: Path) -> None:
    source = prepare.cache_dir() / repo.replace("/", "+")
    if not source.is_dir():
        pytest.skip(f"{source} is absent: run tests/real_repos/prepare.py (needs the mirrors or network)")
    applied = _copy(source, tmp_path / "applied")
    patched = _copy(source, tmp_path / "patched")
    diff = _hardener("diff", patched)
    assert diff.returncode == 0, diff.stderr[-3000:]
    done = _hardener("apply", applied)
    assert done.returncode == 0, done.stderr[-3000:]
    check = _hardener("check", applied)
    assert check.returncode == 0, "a second run changes something:\n" + check.stderr[-3000:]
    if diff.stdout:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=patched, input=diff.stdout, text=True, check=True)
    assert _tree(patched) == _tree(applied), "the dry run's patch differs from what apply wrote"
