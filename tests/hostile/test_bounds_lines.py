"""Issue 22, case 13: reported lines refer to the original file, not to a later round's text."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from hardener.cli import main
from hardener.edits import Edit, apply_edits, offset_before

CASES = sorted(p for p in (ROOT / "fixtures").glob("HD*/*") if (p / "input").is_dir())


@pytest.mark.parametrize(("text", "edits"), [
    pytest.param("a\nb\nc\n", [Edit(2, 2, "X\nY\n")], id="insert"),
    pytest.param("a\nb\nc\n", [Edit(0, 2, "")], id="delete"),
    pytest.param("a\nb\nc\n", [Edit(0, 1, "AAA"), Edit(4, 6, "z\n\n")], id="two-replacements"),
])
def test_offset_before_maps_every_kept_character_home(text: str, edits: list[Edit]) -> None:
    after = apply_edits(text, edits)
    for offset, char in enumerate(after):
        back = offset_before(offset, edits)
        assert 0 <= back <= len(text)
        if back < len(text) and not any(e.start <= back < max(e.end, e.start + 1) for e in edits):  # kept text
            assert text[back] == char, (offset, back)


def _lines(text: str) -> int:
    return max(1, text.count("\n") + (0 if text.endswith("\n") else 1))


@pytest.mark.parametrize("case", [c for c in CASES if c.name in {"segmented-stack", "known-images", "cmd-entrypoint-healthcheck"}],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lines_point_into_the_original(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_fixtures import _args

    work = tmp_path / "repo"
    shutil.copytree(case / "input", work, symlinks=True)
    monkeypatch.chdir(work)
    report = json.loads(CliRunner().invoke(main, ["diff", *_args(case), "--format", "json", "."]).stdout)
    for entry in report["files"]:
        original = (work / entry["path"]).read_text() if (work / entry["path"]).is_file() else ""
        for finding in entry["changes"] + entry["refusals"]:
            assert 1 <= finding["line"] <= _lines(original), (entry["path"], finding)
