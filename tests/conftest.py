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
