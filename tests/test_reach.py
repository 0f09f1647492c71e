"""Which stages reach the image: hardener.dockerfile.reach and Compose's build target."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.ci.images import image_stages_of
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.dockerfile.reach import image_stages

BUILD_AND_RUN = """\
FROM rust:1 AS build
RUN cargo build
FROM debian:12 AS base
RUN true
FROM base AS runtime
COPY --from=build /src/target/release/app /usr/local/bin/app
FROM runtime AS test
RUN cargo test
"""


def _indices(text: str, *targets: str | None) -> set[int]:
    doc = DockerfileDoc.load(text.encode())
    return set(image_stages(doc, targets or (None,)).indices)


@pytest.mark.parametrize(
    ("text", "targets", "expected"),
    [
        pytest.param("FROM a\nRUN x\n", (), {0}, id="single-stage"),
        pytest.param(BUILD_AND_RUN, (), {1, 2, 3}, id="last-stage-and-its-bases-not-the-builder"),
        pytest.param(BUILD_AND_RUN, ("runtime",), {1, 2}, id="target-runtime"),
        pytest.param(BUILD_AND_RUN, ("RUNTIME",), {1, 2}, id="target-case-insensitive"),
        pytest.param(BUILD_AND_RUN, ("build", "runtime"), {0, 1, 2}, id="two-targets"),
        pytest.param(BUILD_AND_RUN, ("nope",), {1, 2, 3}, id="unknown-target-is-the-last"),
        pytest.param("FROM a AS b\nRUN x\nFROM scratch\nCOPY --from=b / /\n", (), {0, 1}, id="wholesale"),
        pytest.param("FROM a AS b\nRUN x\nFROM scratch\nCOPY --from=b . /\n", (), {0, 1}, id="wholesale-dot"),
        pytest.param('FROM a AS b\nFROM c\nCOPY --from=b ["/", "/"]\n', (), {0, 1}, id="wholesale-json"),
        pytest.param("FROM a\nRUN x\nFROM scratch\nCOPY --from=0 / /\n", (), {0, 1}, id="wholesale-by-index"),
        pytest.param("FROM a AS b\nFROM c\nCOPY --from=b /app /app\n", (), {1}, id="file-by-file"),
        pytest.param("FROM a AS b\nFROM c\nCOPY --from=b /.venv /.venv\n", (), {1}, id="dot-dir-is-not-root"),
        pytest.param("FROM a AS b\nFROM c\nRUN --mount=from=b,target=/x true\n", (), {1}, id="mount-not-copied"),
        pytest.param("FROM a AS x\nFROM x AS y\nFROM z AS w\nCOPY --from=y / /\n", (), {0, 1, 2},
                     id="wholesale-then-base-transitively"),
        pytest.param("FROM a AS b\nFROM c\nCOPY --from=b:latest / /\n", (), {1}, id="image-not-stage"),
    ],
)
def test_image_stages(text: str, targets: tuple[str | None, ...], expected: set[int]) -> None:
    assert _indices(text, *targets) == expected


def test_compose_target_names_the_built_stage(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(BUILD_AND_RUN)
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    build:\n      context: .\n"
                                           "      target: runtime\n")
    doc = DockerfileDoc.load(BUILD_AND_RUN.encode())
    ctx = Context(tmp_path).for_file(tmp_path / "Dockerfile")
    assert set(image_stages_of(doc, ctx).indices) == {1, 2}


@pytest.mark.parametrize("build", [
    pytest.param("build: .", id="no-target"),
    pytest.param("build:\n      context: .\n      target: ${TARGET}", id="variable-target"),
])
def test_compose_without_a_known_target_builds_the_last(tmp_path: Path, build: str) -> None:
    (tmp_path / "Dockerfile").write_text(BUILD_AND_RUN)
    (tmp_path / "compose.yaml").write_text(f"services:\n  app:\n    {build}\n")
    doc = DockerfileDoc.load(BUILD_AND_RUN.encode())
    ctx = Context(tmp_path).for_file(tmp_path / "Dockerfile")
    assert set(image_stages_of(doc, ctx).indices) == {1, 2, 3}
