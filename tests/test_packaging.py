"""The installed package, not just the source tree: transforms/ ships as hardener.transforms."""
from __future__ import annotations

import importlib.util
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
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("hardener-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "hardener/transforms/__init__.py" in names
    assert "hardener/transforms/add_to_copy.py" in names
    assert not any(n.startswith("transforms/") for n in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: dockerfile" in text
