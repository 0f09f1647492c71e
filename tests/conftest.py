from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("HARDENER_CORPUS", ROOT.parent / "shared" / "corpus"))


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
