"""HD402 apt-hygiene."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.transforms.apt_hygiene import AptHygiene

F = "FROM debian:12\n"
RM = "rm -rf /var/lib/apt/lists/*"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("RUN apt-get update && apt-get install curl\n",
                     f"RUN apt-get update && apt-get -y install --no-install-recommends curl && {RM}\n",
                     id="all-fixes"),
        pytest.param("RUN apt-get update && apt-get install -y --no-install-recommends curl\n",
                     f"RUN apt-get update && apt-get install -y --no-install-recommends curl && {RM}\n",
                     id="only-lists"),
        pytest.param("RUN apt-get update \\\n    # why\n    && apt-get install -y --no-install-recommends a\n",
                     f"RUN apt-get update \\\n    # why\n    && apt-get install -y --no-install-recommends a \\\n    && {RM}\n",
                     id="leading-style-continuation-with-comment"),
        pytest.param("RUN apt-get update && \\\n  apt-get install -y --no-install-recommends a\n",
                     f"RUN apt-get update && \\\n  apt-get install -y --no-install-recommends a && \\\n  {RM}\n",
                     id="trailing-style"),
        pytest.param("RUN apt-get -qq update && apt-get -qq install --no-install-recommends a > /dev/null\n",
                     f"RUN apt-get -qq update && apt-get -qq install --no-install-recommends a > /dev/null && {RM}\n",
                     id="qq-implies-yes-and-redirect-kept"),
        pytest.param("RUN apt-get install -y --no-install-recommends a\n",
                     f"RUN apt-get update && apt-get install -y --no-install-recommends a && {RM}\n",
                     id="update-added"),
        pytest.param("RUN apt update && apt install -y --no-install-recommends a=1.0\n",
                     f"RUN apt-get update && apt-get install -y --no-install-recommends a=1.0 && {RM}\n",
                     id="apt-renamed-when-pinned"),
        pytest.param("RUN DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-confold install a\n",
                     f"RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Options::=--force-confold install --no-install-recommends a && {RM}\n",
                     id="assignment-and-option-value"),
        pytest.param("RUN apt-get update\nRUN apt-get install -y --no-install-recommends a\n",
                     f"RUN apt-get update && apt-get install -y --no-install-recommends a && {RM}\n",
                     id="standalone-update-removed"),
        pytest.param(f"RUN apt-get update && apt-get install -y --no-install-recommends a && {RM}\n", None,
                     id="already-clean"),
        pytest.param("RUN --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install a\n", None,
                     id="cache-mount"),
        pytest.param("RUN if true; then apt-get update && apt-get install a; fi\n",
                     "RUN if true; then apt-get update && apt-get -y install --no-install-recommends a; fi\n",
                     id="compound-flags-only"),
        pytest.param("RUN case $x in a) apt-get install b;; esac\n", None, id="case-left-alone"),
        pytest.param('RUN ["apt-get", "install", "a"]\n', None, id="exec-form"),
        pytest.param("RUN apt-get install -y --no-install-recommends a | tee log\n",
                     f"RUN apt-get update && apt-get install -y --no-install-recommends a | tee log && {RM}\n",
                     id="pipe-at-end"),
        pytest.param("RUN apt-get update && apt-get install -y --install-recommends a && apt-get clean\n",
                     f"RUN apt-get update && apt-get install -y --install-recommends a && apt-get clean && {RM}\n",
                     id="explicit-install-recommends-kept"),
    ],
)
def test_apt(before: str, after: str | None, tmp_path: Path) -> None:
    output, _ = fix(AptHygiene(), F + before, tmp_path)
    assert output == F + (before if after is None else after)


def test_safe_only_keeps_review_parts_out(tmp_path: Path) -> None:
    output, _ = fix(AptHygiene(), F + "RUN apt-get update && apt-get install a\n", tmp_path, safe_only=True)
    assert output == F + f"RUN apt-get update && apt-get -y install a && {RM}\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("RUN apt-get update && apt-get install -y --no-install-recommends a\n"
                     "RUN apt-get install -y b | tee x\n", None, id="dependent-gets-update-then-rm"),
        pytest.param("RUN apt-get update && apt-get install -y --no-install-recommends a && exit 0\n",
                     "ends with exit", id="exit"),
        pytest.param("RUN apt install -y --no-install-recommends a\n", "DL3008", id="apt-unpinned"),
        pytest.param("RUN yes | apt-get install -y --no-install-recommends a\n", "follows '|'",
                     id="install-after-pipe"),
    ],
)
def test_refusals(body: str, reason: str | None, tmp_path: Path) -> None:
    _, refusals = fix(AptHygiene(), F + body, tmp_path)
    if reason is None:
        assert refusals == []
    else:
        assert any(reason in r for r in refusals), refusals


def test_rm_waits_for_dependent_run(tmp_path: Path) -> None:
    body = "RUN apt-get update\nRUN apt-get install -y b | tee x\n"
    output, refusals = fix(AptHygiene(), F + body, tmp_path, safe_only=True)
    assert output == F + body
    assert any("line 3" in r for r in refusals)


def test_child_stage_depends_on_lists(tmp_path: Path) -> None:
    body = "RUN apt-get update\nFROM base AS child\nRUN apt-get install -y b\n"
    text = "FROM debian:12 AS base\n" + body
    output, refusals = fix(AptHygiene(), text, tmp_path, safe_only=True)
    assert "rm -rf" not in output
    assert any("line 4" in r for r in refusals)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("RUN x\n\nRUN apt-get update\n\nRUN apt-get install -y --no-install-recommends a\n",
                     f"RUN x\n\nRUN apt-get update && apt-get install -y --no-install-recommends a && {RM}\n",
                     id="blank-lines-collapse"),
        pytest.param("# refresh\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends a\n",
                     f"# refresh\nRUN apt-get update && apt-get install -y --no-install-recommends a && {RM}\n",
                     id="comment-kept"),
    ],
)
def test_standalone_update_removed(before: str, after: str, tmp_path: Path) -> None:
    output, _ = fix(AptHygiene(), F + before, tmp_path)
    assert output == F + after


def test_onbuild_gets_flags_only(tmp_path: Path) -> None:
    output, _ = fix(AptHygiene(), F + "ONBUILD RUN apt-get update && apt-get install a\n", tmp_path)
    assert output == F + "ONBUILD RUN apt-get update && apt-get -y install --no-install-recommends a\n"


def test_rename_unpinned_option(tmp_path: Path) -> None:
    output, _ = fix(AptHygiene(), F + "RUN apt install -y --no-install-recommends a\n", tmp_path,
                    options={"apt-hygiene": {"rename-unpinned": True}})
    assert "apt-get install" in output


def test_crlf_continuation(tmp_path: Path) -> None:
    text = F.replace("\n", "\r\n") + "RUN apt-get update \\\r\n    && apt-get install -y --no-install-recommends a\r\n"
    output, _ = fix(AptHygiene(), text, tmp_path)
    assert output.endswith("a \\\r\n    && rm -rf /var/lib/apt/lists/*\r\n")


def test_apt_upgrade_is_not_renamed(tmp_path: Path) -> None:
    """apt upgrade installs new dependencies; apt-get upgrade would hold those packages back."""
    output, _ = fix(AptHygiene(), F + "RUN apt-get update && apt -y upgrade\n", tmp_path)
    assert "apt -y upgrade" in output and "apt-get -y upgrade" not in output
