"""HD203 final-user-not-root."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Applicability
from hardener.transforms.final_user_not_root import FinalUserNotRoot


def run(tmp_path: Path, text: str):
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = process(str(path), "dockerfile", text.encode(), [FinalUserNotRoot()],
                     Context(tmp_path).for_file(path), Options())
    assert result.failure is None and result.error is None
    out = result.output.decode() if result.output is not None else text
    return out, [r.reason for r in result.refusals], result.changes


@pytest.mark.parametrize(
    "text, fixed",
    [
        pytest.param("FROM debian:12\nUSER 1000\nUSER root\nRUN a\nCMD [\"x\"]\n",
                     "FROM debian:12\nUSER 1000\nUSER root\nRUN a\nUSER 1000\nCMD [\"x\"]\n", id="restore-after-run"),
        pytest.param("FROM debian:12\nUSER app\nUSER 0:0\nCOPY a /a\nRUN b\nEXPOSE 8080\n",
                     "FROM debian:12\nUSER app\nUSER 0:0\nCOPY a /a\nRUN b\nUSER app\nEXPOSE 8080\n", id="restore-named"),
        pytest.param("FROM debian:12\nUSER 1000\nUSER root\nCMD [\"x\"]\n",
                     "FROM debian:12\nUSER 1000\nCMD [\"x\"]\n", id="remove-useless"),
        pytest.param("FROM nginxinc/nginx-unprivileged:1.27\nUSER root\nRUN apt-get update\n",
                     "FROM nginxinc/nginx-unprivileged:1.27\nUSER root\nRUN apt-get update\nUSER 101:101\n", id="image-default-user"),
        pytest.param("FROM golang:1.22 AS b\nUSER root\nRUN go build\nFROM scratch\nCOPY --from=b /x /x\n",
                     "FROM golang:1.22 AS b\nRUN go build\nFROM scratch\nCOPY --from=b /x /x\n", id="redundant-in-builder"),
        pytest.param("FROM debian:12\nUSER 1000\nUSER root", "FROM debian:12\nUSER 1000", id="last-line-no-newline"),
    ],
)
def test_fixes(tmp_path, text, fixed):
    out, refusals, _ = run(tmp_path, text)
    assert refusals == []
    assert out == fixed


def test_redundant_removal_is_safe_only_when_the_file_proves_it(tmp_path):
    _, _, changes = run(tmp_path, "FROM golang:1.22 AS b\nUSER root\nRUN x\nUSER root\nRUN y\nFROM scratch\n")
    assert [(c.line, c.applicability) for c in changes] == [(4, Applicability.SAFE), (2, Applicability.REVIEW)]


def test_redundant_removal_known_from_the_knowledge_base_is_review(tmp_path):
    _, _, changes = run(tmp_path, "FROM golang:1.22 AS b\nUSER root\nRUN x\nFROM scratch\n")
    assert [c.applicability for c in changes] == [Applicability.REVIEW]
    assert "hardener's image knowledge" in changes[0].reason


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("FROM debian:12\nUSER root\nRUN a\nCMD [\"x\"]\n", id="final-never-non-root-is-hd201s"),
        pytest.param("FROM debian:12\nUSER 1000\nUSER root\nRUN a\nUSER 1000\n", id="already-restored"),
        pytest.param("FROM debian:12\nUSER root\nRUN a\nUSER 1000\n", id="ends-non-root"),
        pytest.param("FROM example.com/x\nUSER root\nRUN a\n", id="final-unknown-is-hd201s"),
    ],
)
def test_leaves_alone(tmp_path, text):
    assert run(tmp_path, text)[:2] == (text, [])


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("FROM debian:12 AS a\nUSER 1000\nUSER root\nRUN x\nFROM a\n", "built FROM this stage", id="inherited"),
        pytest.param("FROM debian:12\nUSER 1000\nUSER root\nRUN x\nCMD [\"gosu\", \"1000\", \"app\"]\n", "gosu", id="gosu"),
        pytest.param("FROM debian:12\nUSER 1000\nUSER root\nRUN x\nCMD [\"cron\", \"-f\"]\n", "cron", id="cron"),
        pytest.param("FROM example.com/x AS b\nUSER root\nRUN a\nFROM scratch\n", "redundant", id="builder-unknown-base"),
        pytest.param("FROM example.com/x\nUSER 1000\nUSER root\n", "start command comes from the base", id="inherited-start"),
    ],
)
def test_refuses(tmp_path, text, reason):
    out, refusals, _ = run(tmp_path, text)
    assert out == text and len(refusals) == 1 and reason in refusals[0], refusals
