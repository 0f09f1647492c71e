"""The installed package, not just the source tree: transforms/ ships as hardener.transforms."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


def test_no_top_level_transforms_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # `python -m pytest` puts the checkout on sys.path, where transforms/ is a plain folder;
    # the question is whether the install claims the name.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != ROOT])
    assert importlib.util.find_spec("transforms") is None
    import hardener.transforms

    assert hardener.transforms.REGISTRY


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_wheel_contents(tmp_path: Path) -> None:
    # A copy without build/: setuptools reuses a stale build/lib, so a file deleted since the
    # last build would still ship and this test could not fail.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "fixtures", "tests", "benchmarks", "examples"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("hardener-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "hardener/transforms/__init__.py" in names
    assert "hardener/transforms/add_to_copy.py" in names
    assert not any(n.startswith("transforms/") for n in names)
    assert not any(n.startswith("typecheck/") for n in names)  # mypy's view of transforms/ stays out
    assert "hardener/py.typed" in names  # PEP 561: users' type checkers read our annotations
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: dockerfile" in text
