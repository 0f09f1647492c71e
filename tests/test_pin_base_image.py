"""HD101 pin-base-image, offline against a lock file (the registry itself is covered by
test_registry_client.py): every "fixes it" case beside a "leaves it alone" one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.oci.digest_cache import reset_resolvers
from hardener.transforms.pin_base_image import PinBaseImage

D = {n: f"sha256:{c * 64}" for n, c in zip("123456789", "123456789")}
AMD_ARM = ["linux/amd64", "linux/arm64/v8"]
LOCK = {
    "docker.io/library/python:3.12-slim": {"digest": D["1"], "platforms": AMD_ARM},
    "docker.io/library/python:latest": {"digest": D["2"], "platforms": AMD_ARM, "tags": ["3", "3.13", "3.13.1"]},
    "docker.io/library/node:latest": {"digest": D["3"], "platforms": AMD_ARM},
    "docker.io/library/nginx:1.27": {"digest": D["4"], "platforms": ["linux/arm64"]},
    "ghcr.io/acme/tool:v1.2": {"digest": D["5"], "platforms": []},
    "localhost:5000/team/app:1.0": {"digest": D["6"], "platforms": ["linux/amd64"]},
    "docker.io/library/alpine:3.20": {"digest": D["7"], "platforms": AMD_ARM},
    "docker.io/library/python:slim": {"digest": D["8"], "platforms": AMD_ARM, "tags": ["3.13-slim", "3.13.1-slim"]},
    "docker.io/library/ubuntu:jammy": {"digest": D["9"], "platforms": AMD_ARM},
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    reset_resolvers()


def harden(tmp_path: Path, text: str, options: dict | None = None):
    (tmp_path / "hardener.lock").write_text(json.dumps({"version": 1, "images": LOCK}))
    ctx = Context(tmp_path, {"pin-base-image": options or {}}, offline=True).for_file(tmp_path / "Dockerfile")
    result = process("Dockerfile", "dockerfile", text.encode(), [PinBaseImage()], ctx, Options())
    assert result.failure is None and result.error is None, result.failure or result.error
    output = result.output.decode() if result.output is not None else text
    return output, result


FIXES = [
    pytest.param("FROM python:3.12-slim\n", f"FROM python:3.12-slim@{D['1']}\n", "safe", id="explicit-tag"),
    pytest.param("FROM python\n", f"FROM python:3.13@{D['2']}\n", "review", id="untagged"),
    pytest.param("FROM python:latest AS base\n", f"FROM python:3.13@{D['2']} AS base\n", "review", id="latest-alias"),
    pytest.param("from python:slim\n", f"from python:3.13-slim@{D['8']}\n", "review", id="family-slim"),
    pytest.param("FROM node\n", f"FROM node@{D['3']}\n", "review", id="no-version-tag-has-the-digest"),
    pytest.param("FROM ubuntu:jammy\n", f"FROM ubuntu:jammy@{D['9']}\n", "safe", id="named-tag-kept"),
    pytest.param("FROM --platform=linux/arm64 python:3.12-slim\n",
                 f"FROM --platform=linux/arm64 python:3.12-slim@{D['1']}\n", "safe", id="platform-in-index"),
    pytest.param("FROM docker.io/library/python:3.12-slim\n", f"FROM docker.io/library/python:3.12-slim@{D['1']}\n",
                 "safe", id="spelling-kept"),
    pytest.param("FROM index.docker.io/library/python:3.12-slim\n",
                 f"FROM index.docker.io/library/python:3.12-slim@{D['1']}\n", "safe", id="hub-alias-kept"),
    pytest.param("FROM localhost:5000/team/app:1.0\n", f"FROM localhost:5000/team/app:1.0@{D['6']}\n", "safe",
                 id="private-registry-port"),
    pytest.param("FROM ghcr.io/acme/tool:v1.2\n", f"FROM ghcr.io/acme/tool:v1.2@{D['5']}\n", "safe",
                 id="platforms-unknown"),
    pytest.param("FROM scratch\nCOPY --from=alpine:3.20 /a /b\n", f"FROM scratch\nCOPY --from=alpine:3.20@{D['7']} /a /b\n",
                 "safe", id="copy-from-image"),
    pytest.param("FROM scratch\nRUN --mount=type=bind,from=alpine:3.20,target=/x true\n",
                 f"FROM scratch\nRUN --mount=type=bind,from=alpine:3.20@{D['7']},target=/x true\n", "safe",
                 id="run-mount-from"),
    pytest.param("ARG BASE=python:3.12-slim\nFROM ${BASE}\n", f"ARG BASE=python:3.12-slim@{D['1']}\nFROM ${{BASE}}\n",
                 "safe", id="arg-default"),
    pytest.param('ARG BASE="python:3.12-slim"\nFROM $BASE\n', f'ARG BASE="python:3.12-slim@{D["1"]}"\nFROM $BASE\n',
                 "safe", id="arg-default-quoted"),
    pytest.param("ARG V=1 BASE=python:3.12-slim\nFROM ${BASE}\nFROM $BASE\n",
                 f"ARG V=1 BASE=python:3.12-slim@{D['1']}\nFROM ${{BASE}}\nFROM $BASE\n", "safe",
                 id="arg-used-twice-one-change"),
    pytest.param("FROM \\\n  python:3.12-slim\n", f"FROM \\\n  python:3.12-slim@{D['1']}\n", "safe",
                 id="continuation"),
    pytest.param("FROM python:3.12-slim\r\nRUN true\r\n", f"FROM python:3.12-slim@{D['1']}\r\nRUN true\r\n", "safe",
                 id="crlf"),
    pytest.param('FROM python:3.12-slim\nLABEL org.opencontainers.image.base.digest="old" '
                 'org.opencontainers.image.base.name="python:3.12"\n',
                 f'FROM python:3.12-slim@{D["1"]}\nLABEL org.opencontainers.image.base.digest="{D["1"]}" '
                 'org.opencontainers.image.base.name="python:3.12-slim"\n', "safe", id="base-labels-synced"),
    pytest.param("FROM python\nLABEL org.opencontainers.image.base.name=python\n",
                 f"FROM python:3.13@{D['2']}\nLABEL org.opencontainers.image.base.name=python:3.13\n", "review",
                 id="base-name-label-gets-version"),
]


@pytest.mark.parametrize("before, after, level", FIXES)
def test_fixes(tmp_path: Path, before: str, after: str, level: str) -> None:
    output, result = harden(tmp_path, before)
    assert output == after
    assert {c.applicability.label for c in result.changes} == {level}
    again, second = harden(tmp_path, output)
    assert again == output and not second.changes, "a second run changes nothing"


LEAVES_ALONE = [
    pytest.param("FROM scratch\n", id="scratch"),
    pytest.param(f"FROM python:3.12-slim@{D['1']}\n", id="already-pinned"),
    pytest.param(f"FROM python@{D['1']}\n", id="digest-only"),
    pytest.param("FROM scratch AS build\nFROM build\n", id="stage-alias"),
    pytest.param("FROM scratch AS build\nFROM scratch\nCOPY --from=build /a /b\nCOPY --from=0 /a /b\n", id="copy-from-stage"),
    pytest.param("FROM scratch\nRUN --mount=type=cache,target=/root/.cache true\n", id="mount-without-from"),
    pytest.param("FROM scratch AS deps\nFROM scratch\nRUN --mount=type=bind,from=deps,target=/x true\n",
                 id="mount-from-stage"),
    pytest.param(f"FROM scratch\nCOPY --from=alpine:3.20@{D['7']} /a /b\n", id="copy-from-pinned"),
]


@pytest.mark.parametrize("text", LEAVES_ALONE)
def test_leaves_alone(tmp_path: Path, text: str) -> None:
    output, result = harden(tmp_path, text)
    assert output == text
    assert not result.changes and not result.refusals


REFUSES = [
    pytest.param("FROM python:${VER}\n", "assembled from several parts", id="partial-variable"),
    pytest.param("ARG REG=docker.io\nARG NAME=python\nFROM ${REG}/${NAME}\n", "assembled from several parts",
                 id="multi-arg"),
    pytest.param("ARG BASE\nFROM ${BASE}\n", "ARG BASE has no default", id="arg-no-default"),
    pytest.param("FROM ${BASE}\n", "ARG BASE is not declared before the first FROM", id="arg-undeclared"),
    pytest.param("ARG BASE=a\nARG BASE=b\nFROM ${BASE}\n", "declared more than once", id="arg-twice"),
    pytest.param("ARG REG=docker.io\nARG BASE=${REG}/python:3\nFROM ${BASE}\n", "assembled from other ARGs",
                 id="arg-default-from-args"),
    pytest.param("FROM nginx:1.27\n", "has no linux/amd64 variant (it has linux/arm64)", id="platform-missing"),
    pytest.param("FROM --platform=linux/arm64 scratch\nCOPY --from=nginx:1.27 /a /b\n"
                 "FROM scratch\nCOPY --from=nginx:1.27 /a /b\n", "has no linux/amd64 variant",
                 id="copy-from-uses-stage-platform"),
    pytest.param("FROM postgres:16\n", "--offline: no digest for docker.io/library/postgres:16 in hardener.lock",
                 id="offline-unknown"),
    pytest.param("FROM scratch\nCOPY --from=${IMG} /a /b\n", "chosen by a variable", id="copy-from-variable"),
]


@pytest.mark.parametrize("text, reason", REFUSES)
def test_refuses(tmp_path: Path, text: str, reason: str) -> None:
    output, result = harden(tmp_path, text)
    assert [reason in r.reason for r in result.refusals] == [True]
    assert output.count("sha256") == text.count("sha256") + len(result.changes)


def test_most_specific_tag_when_configured(tmp_path: Path) -> None:
    output, _ = harden(tmp_path, "FROM python\n", {"most-specific-tag": True})
    assert output == f"FROM python:3.13.1@{D['2']}\n"


def test_configured_platforms(tmp_path: Path) -> None:
    _, result = harden(tmp_path, "FROM python:3.12-slim\n", {"platforms": ["linux/amd64", "linux/s390x"]})
    assert "has no linux/s390x variant" in result.refusals[0].reason


def test_bad_ttl_is_a_refusal_not_a_crash(tmp_path: Path) -> None:
    _, result = harden(tmp_path, "FROM python:3.12-slim\n", {"ttl": "soon"})
    assert "bad duration 'soon'" in result.refusals[0].reason
