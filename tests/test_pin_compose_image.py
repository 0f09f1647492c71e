"""HD103 pin-compose-image, offline against a lock file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_pin_base_image import LOCK, D

from hardener.context import Context
from hardener.engine import Options, process
from hardener.oci.digest_cache import reset_resolvers
from hardener.transforms.pin_compose_image import PinComposeImage


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    reset_resolvers()


def harden(tmp_path: Path, text: str):
    (tmp_path / "hardener.lock").write_text(json.dumps({"version": 1, "images": LOCK}))
    ctx = Context(tmp_path, {}, offline=True).for_file(tmp_path / "compose.yaml")
    result = process("compose.yaml", "compose", text.encode(), [PinComposeImage()], ctx, Options())
    assert result.failure is None and result.error is None, result.failure or result.error
    return (result.output.decode() if result.output is not None else text), result


FIXES = [
    pytest.param("services:\n  web:\n    image: python:3.12-slim\n",
                 f"services:\n  web:\n    image: python:3.12-slim@{D['1']}\n", "safe", id="explicit-tag"),
    pytest.param("services:\n  web:\n    image: python  # the app\n",
                 f"services:\n  web:\n    image: python:3.13@{D['2']}  # the app\n", "review", id="untagged-comment"),
    pytest.param('services:\n  web:\n    image: "python:latest"\n',
                 f'services:\n  web:\n    image: "python:3.13@{D["2"]}"\n', "review", id="double-quoted"),
    pytest.param("services:\n  web:\n    image: 'localhost:5000/team/app:1.0'\n",
                 f"services:\n  web:\n    image: 'localhost:5000/team/app:1.0@{D['6']}'\n", "safe", id="single-quoted-port"),
    pytest.param("services:\n  web: {image: alpine:3.20, read_only: true}\n",
                 f"services:\n  web: {{image: alpine:3.20@{D['7']}, read_only: true}}\n", "safe", id="flow-mapping"),
    pytest.param("services:\n  web:\n    image: nginx:1.27\n    platform: linux/arm64\n",
                 f"services:\n  web:\n    image: nginx:1.27@{D['4']}\n    platform: linux/arm64\n", "safe",
                 id="service-platform"),
    pytest.param("x-base: &base\n  image: alpine:3.20\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n",
                 f"x-base: &base\n  image: alpine:3.20@{D['7']}\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n",
                 "safe", id="shared-anchor-once"),
]


@pytest.mark.parametrize("before, after, level", FIXES)
def test_fixes(tmp_path: Path, before: str, after: str, level: str) -> None:
    output, result = harden(tmp_path, before)
    assert output == after
    assert {c.applicability.label for c in result.changes} == {level}
    again, second = harden(tmp_path, output)
    assert again == output and not second.changes


LEAVES_ALONE = [
    pytest.param(f"services:\n  web:\n    image: python:3.12-slim@{D['1']}\n", id="already-pinned"),
    pytest.param("services:\n  web:\n    build: .\n    image: me/web:dev\n", id="image-names-the-build"),
    pytest.param("services:\n  web:\n    build: .\n", id="no-image"),
    pytest.param("web:\n  image: python:3.12-slim\n", id="legacy-v1"),
]


@pytest.mark.parametrize("text", LEAVES_ALONE)
def test_leaves_alone(tmp_path: Path, text: str) -> None:
    output, result = harden(tmp_path, text)
    assert output == text and not result.changes and not result.refusals


REFUSES = [
    pytest.param("services:\n  web:\n    image: ${IMAGE:-python:3.12}\n", "comes from a variable", id="variable"),
    pytest.param("services:\n  web:\n    image: nginx:1.27\n", "has no linux/amd64 variant", id="platform-missing"),
    pytest.param("services:\n  db:\n    image: postgres\n",
                 "service 'db': postgres: --offline: no digest for docker.io/library/postgres:latest", id="offline"),
    pytest.param("services:\n  db:\n    image: Postgres\n", "invalid repository name", id="bad-reference"),
]


@pytest.mark.parametrize("text, reason", REFUSES)
def test_refuses(tmp_path: Path, text: str, reason: str) -> None:
    output, result = harden(tmp_path, text)
    assert output == text
    assert [reason in r.reason for r in result.refusals] == [True], result.refusals
