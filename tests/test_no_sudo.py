"""HD202 no-sudo."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.transforms.no_sudo import NoSudo


def run(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = process(str(path), "dockerfile", text.encode(), [NoSudo()], Context(tmp_path).for_file(path), Options())
    assert result.failure is None and result.error is None
    return (result.output.decode() if result.output is not None else text), [r.reason for r in result.refusals]


@pytest.mark.parametrize(
    "run_line, fixed",
    [
        pytest.param("RUN sudo apt-get update", "RUN apt-get update", id="start"),
        pytest.param("RUN a && sudo b || sudo c; sudo d | sudo tee e", "RUN a && b || c; d | tee e", id="operators"),
        pytest.param("RUN sudo -E -H make install", "RUN make install", id="harmless-options"),
        pytest.param("RUN sudo -u root make install", "RUN make install", id="as-root"),
        pytest.param("RUN sudo --preserve-env make", "RUN make", id="long-option"),
        pytest.param("RUN if true; then sudo x; fi", "RUN if true; then x; fi", id="then"),
        pytest.param("RUN sudo\tapt-get update", "RUN apt-get update", id="tab"),
        pytest.param("RUN sudo \\\n    apt-get update", "RUN \\\n    apt-get update", id="continuation-after-sudo"),
    ],
)
def test_removes_sudo(tmp_path, run_line, fixed):
    out, refusals = run(tmp_path, f"FROM debian:12\n{run_line}\n")
    assert (out, refusals) == (f"FROM debian:12\n{fixed}\n", [])


@pytest.mark.parametrize(
    "run_line",
    [
        pytest.param("RUN apt-get install -y sudo", id="package-name"),
        pytest.param("RUN echo 'sudo x' > /etc/motd", id="quoted"),
        pytest.param('RUN sh -c "sudo x"', id="inside-sh-c"),
        pytest.param("RUN visudo -c", id="other-word"),
        pytest.param("RUN pseudo x", id="suffix"),
    ],
)
def test_leaves_other_uses_alone(tmp_path, run_line):
    text = f"FROM debian:12\n{run_line}\n"
    assert run(tmp_path, text) == (text, [])


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("FROM debian:12\nUSER 1000\nRUN sudo x\n", "runs as 1000", id="non-root-user"),
        pytest.param("FROM node:20 AS a\nUSER node\nFROM a\nRUN sudo x\n", "runs as node", id="inherited-user"),
        pytest.param("FROM circleci/node:16\nRUN sudo x\n", "cannot tell the build user", id="unknown-base"),
        pytest.param("FROM debian:12\nRUN sudo -u nobody x\n", "sudo -u", id="other-user"),
        pytest.param("FROM debian:12\nRUN sudo -i x\n", "sudo -i", id="login-shell"),
        pytest.param('FROM debian:12\nRUN ["sudo", "x"]\n', "exec-form", id="exec-form"),
        pytest.param("FROM debian:12\nRUN sudo \\\n    -E x\n", "continuation", id="split-options"),
    ],
)
def test_refuses(tmp_path, text, reason):
    out, refusals = run(tmp_path, text)
    assert out == text and len(refusals) == 1 and reason in refusals[0], refusals


def test_user_root_again_allows_the_fix(tmp_path):
    text = "FROM debian:12\nUSER 1000\nUSER root\nRUN sudo x\n"
    assert run(tmp_path, text)[0] == "FROM debian:12\nUSER 1000\nUSER root\nRUN x\n"
