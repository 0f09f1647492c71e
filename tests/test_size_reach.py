"""Size hygiene (HD402-HD405) only in stages that reach the image; apt renamed per RUN."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.model import Transform
from hardener.transforms.apk_hygiene import ApkNoCache
from hardener.transforms.apt_hygiene import AptHygiene
from hardener.transforms.pip_no_cache import PipNoCacheDir
from hardener.transforms.rpm_hygiene import RpmHygiene

RM = "rm -rf /var/lib/apt/lists/*"
FINAL = "FROM debian:12\nCOPY --from=build /out/app /usr/local/bin/app\n"
WHOLE = "FROM scratch\nCOPY --from=build / /\n"


@pytest.mark.parametrize(
    ("transform", "run", "fixed"),
    [
        pytest.param(AptHygiene(), "RUN apt-get update && apt-get install -y protobuf-compiler\n",
                     f"RUN apt-get update && apt-get install --no-install-recommends -y protobuf-compiler && {RM}\n",
                     id="apt"),
        pytest.param(ApkNoCache(), "RUN apk add protoc\n", "RUN apk add --no-cache protoc\n", id="apk"),
        pytest.param(RpmHygiene(), "RUN dnf -y install --setopt=install_weak_deps=1 protobuf-compiler\n",
                     "RUN dnf -y install --setopt=install_weak_deps=1 protobuf-compiler && dnf clean all\n",
                     id="rpm"),
        pytest.param(PipNoCacheDir(), "RUN pip install grpcio-tools\n",
                     "RUN pip install --no-cache-dir grpcio-tools\n", id="pip"),
    ],
)
def test_builder_copied_file_by_file_is_left_alone(transform: Transform, run: str, fixed: str,
                                                   tmp_path: Path) -> None:
    text = "FROM debian:12 AS build\n" + run + FINAL
    output, refusals = fix(transform, text, tmp_path)
    assert output == text
    assert [r for r in refusals if r.startswith("builder stage 'build'")], refusals
    whole = "FROM debian:12 AS build\n" + run + WHOLE
    output, _ = fix(transform, whole, tmp_path)
    assert output == "FROM debian:12 AS build\n" + fixed + WHOLE  # copied wholesale: it is the image
    last = "FROM debian:12 AS build\nRUN true\n" + FINAL + run
    output, _ = fix(transform, last, tmp_path)
    assert output == "FROM debian:12 AS build\nRUN true\n" + FINAL + fixed  # the final stage still is


def test_one_note_per_builder_stage(tmp_path: Path) -> None:
    text = ("FROM debian:12 AS build\nRUN apt-get update && apt-get install -y a\n"
            "RUN apt-get update && apt-get install -y b\n" + FINAL)
    _, refusals = fix(AptHygiene(), text, tmp_path)
    assert len([r for r in refusals if r.startswith("builder stage")]) == 1


def test_builder_keeps_non_size_fixes(tmp_path: Path) -> None:
    text = "FROM debian:12 AS build\nRUN apt update && apt-get install protoc=3.21\n" + FINAL
    output, _ = fix(AptHygiene(), text, tmp_path)
    assert "RUN apt-get update && apt-get -y install protoc=3.21\n" in output  # -y and the rename


def test_rpm_builder_still_gets_yes(tmp_path: Path) -> None:
    text = "FROM fedora:40 AS build\nRUN dnf install gcc\n" + FINAL
    output, _ = fix(RpmHygiene(), text, tmp_path)
    assert "RUN dnf -y install gcc\n" in output and "clean" not in output and "weak" not in output


def test_compose_target_leaves_the_later_test_stage_alone(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    build:\n      context: .\n"
                                           "      target: runtime\n")
    text = "FROM python:3.12-slim AS runtime\nRUN pip install app\nFROM runtime AS test\nRUN pip install pytest\n"
    output, _ = fix(PipNoCacheDir(), text, tmp_path)
    assert output == ("FROM python:3.12-slim AS runtime\nRUN pip install --no-cache-dir app\n"
                      "FROM runtime AS test\nRUN pip install pytest\n")


F = "FROM debian:12\n"


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        pytest.param("RUN apt update && apt install -y curl\n", None, "DL3008", id="unpinned-install-keeps-update"),
        pytest.param("RUN apt update && apt dist-upgrade -y\n", "RUN apt-get update && apt-get dist-upgrade -y\n", None,
                     id="all-renamable"),
        pytest.param("RUN apt update && apt list --upgradable\n", None, "'list'", id="list-has-no-apt-get"),
        pytest.param("RUN apt list --installed\n", None, None, id="nothing-renamable-is-quiet"),
    ],
)
def test_apt_renamed_per_run(before: str, after: str | None, reason: str | None, tmp_path: Path) -> None:
    output, refusals = fix(AptHygiene(), F + before, tmp_path, safe_only=True)
    line = output.splitlines()[1].split(" && rm")[0]
    assert line.count("apt-get") in (0, line.count("apt"))  # all or nothing on the line
    if after is None:
        assert "apt-get" not in line, output
    else:
        assert output.startswith(F + after.rstrip("\n")), output
    if reason is None:
        assert not [r for r in refusals if "apt stays" in r or "DL3008" in r], refusals
    else:
        assert any(reason in r for r in refusals), refusals
