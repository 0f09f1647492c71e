"""The contributor's set-up (CONTRIBUTING.md): an editable install, and `python -m pytest`
from the repository root, which puts the checkout's own hardener/ first on sys.path."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT, describe, hardener_dir

# Both import transforms: test_no_sudo at module level, test_layering not at all.
COLLECT = ["-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_no_sudo.py", "tests/test_layering.py"]


def pytest_from_root(*python_flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *python_flags, *COLLECT], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.skipif(hardener_dir() != ROOT / "hardener", reason="the tests run against an installed copy, not an editable install")
def test_python_m_pytest_works_from_the_root() -> None:
    result = pytest_from_root()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_no_sudo.py::" in result.stdout


def test_a_shadowed_install_is_one_clear_error() -> None:
    # -S skips the .pth files, so the editable install's finder is not there: what a
    # non-editable install looks like when the checkout's hardener/ comes first on sys.path.
    result = pytest_from_root("-S", env={"PYTHONPATH": sysconfig.get_paths()["purelib"]})
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "hardener.transforms cannot be imported" in result.stderr
    assert "pip install -e '.[test]'" in result.stderr


@pytest.mark.parametrize("where, expected", [
    pytest.param(ROOT / "hardener", "this checkout", id="checkout"),
    pytest.param(Path("/venv/lib/site-packages/hardener"), "edits to this checkout are not tested", id="installed"),
])
def test_the_header_says_which_hardener_runs(where: Path, expected: str) -> None:
    assert expected in describe(where)
