"""Issue 22, case 14: every patch hardener prints is one `git apply` accepts.

The golden fixtures' diffs are checked against their inputs, and odd files (line breaks that
str.splitlines sees and git does not, names git quotes) go through the real CLI.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from hardener.cli import main

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

CASES = sorted(p for p in (ROOT / "fixtures").glob("HD*/*") if (p / "expected.diff").is_file()
               and (p / "expected.diff").stat().st_size)


def _git_apply_check(repo: Path, patch: bytes) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo.parent / "change.patch").write_bytes(patch)
    result = subprocess.run(["git", "apply", "--check", str(repo.parent / "change.patch")], cwd=repo,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_diff_applies(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the diff's bytes as the CLI prints them: expected.diff (and click's Result.stdout) are
    # read with newline translation, so a CRLF case's stored diff has lost its CRs
    from test_fixtures import _args, _git_track, _spec

    repo = tmp_path / "repo"
    shutil.copytree(case / "input", repo, symlinks=True)
    _git_track(repo, _spec(case).get("git-tracked"))  # the case's repository, as test_fixtures makes it
    monkeypatch.chdir(repo)
    out = CliRunner().invoke(main, ["diff", *_args(case), "."])
    assert out.stdout == (case / "expected.diff").read_text(encoding="utf-8")
    _git_apply_check(repo, out.stdout_bytes)


# A Dockerfile hardener changes (MAINTAINER -> LABEL) with an odd byte on a line it keeps.
ODD_TEXT = {
    "form-feed": "FROM alpine:3.19\nRUN echo a\fb\nMAINTAINER me\n",
    "vertical-tab": "FROM alpine:3.19\nRUN echo a\vb\nMAINTAINER me\n",
    "lone-cr": "FROM alpine:3.19\nRUN echo a\rb\nMAINTAINER me\n",
    "nel": "FROM alpine:3.19\nRUN echo a\x85b\nMAINTAINER me\n",
    "line-separator": "FROM alpine:3.19\nRUN echo a\u2028b\u2029c\nMAINTAINER me\n",
    "crlf": "FROM alpine:3.19\r\nRUN echo a\r\nMAINTAINER me\r\n",
}
ODD_DIRS = ["a b", 'q"uote', "back\\slash", "tab\there", "ünï", "#hash", "-dash"]


@pytest.mark.parametrize(("dirname", "text"), [pytest.param("plain", t, id=k) for k, t in ODD_TEXT.items()]
                         + [pytest.param(d, ODD_TEXT["form-feed"], id=f"dir-{d!r}") for d in ODD_DIRS])
def test_cli_diff_applies(dirname: str, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    target = repo / dirname / "Dockerfile"
    target.parent.mkdir(parents=True)
    target.write_bytes(text.encode())
    monkeypatch.chdir(repo)
    out = CliRunner().invoke(main, ["diff", "--no-color", "--select", "maintainer-to-label", "."])
    assert out.exit_code == 0, out.output
    assert "MAINTAINER" in out.stdout
    _git_apply_check(repo, out.stdout_bytes)
    subprocess.run(["git", "apply", str(tmp_path / "change.patch")], cwd=repo, check=True)
    assert b"LABEL" in target.read_bytes() and b"MAINTAINER" not in target.read_bytes()
