"""Shared test helpers, and a check that the tests import the hardener you think they do."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("HARDENER_CORPUS", ROOT.parent / "shared" / "corpus"))
EDITABLE = "pip install -e '.[test]'"


def pytest_configure(config: pytest.Config) -> None:
    # transforms/ becomes hardener.transforms only through an install. `python -m pytest` puts
    # the checkout first on sys.path, so without an editable install its hardener/ shadows the
    # installed one and every transform import fails: say so once instead of 40 collection errors.
    if importlib.util.find_spec("hardener.transforms") is None:
        raise pytest.UsageError(f"hardener.transforms cannot be imported: hardener comes from {hardener_dir()}, "
                                f"and only an install maps transforms/ onto it. Install the checkout editable: {EDITABLE}")


def pytest_report_header() -> str:
    return describe(hardener_dir())


def hardener_dir() -> Path:
    spec = importlib.util.find_spec("hardener")
    assert spec is not None and spec.origin is not None, "hardener is not installed"
    return Path(spec.origin).resolve().parent


def describe(where: Path) -> str:
    """The header line: which hardener these tests exercise."""
    if where == ROOT / "hardener":
        return f"hardener: this checkout ({where})"
    return f"hardener: an installed copy at {where}; edits to this checkout are not tested ({EDITABLE})"


def corpus_cases(kind: str | None = None) -> list[tuple[str, Path]]:
    """(case_id, file path) for every corpus case of a kind; empty when there is no corpus."""
    manifest = CORPUS / "manifest.json"
    if not manifest.is_file():
        return []
    cases = json.loads(manifest.read_text())["cases"]
    return [
        (c["case_id"], CORPUS / c["case_id"] / c["file"])
        for c in cases
        if kind is None or c["kind"] == kind
    ]


@pytest.fixture
def corpus_dir() -> Path:
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Tests never read or fill the user's digest cache (pin-base-image) or other XDG caches."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old
