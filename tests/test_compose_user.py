"""HD204 compose-user."""
from __future__ import annotations

from pathlib import Path

import pytest
from compose_helpers import run_compose

from hardener.transforms.compose_user import ComposeUser


def run(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> tuple[str, list[str]]:
    return run_compose(tmp_path, ComposeUser(), text, files)


@pytest.mark.parametrize(
    "image, user",
    [
        pytest.param("redis:7.2", "999:999", id="redis"),
        pytest.param("redis:7.2-alpine", "999:1000", id="redis-alpine"),
        pytest.param("postgres:16", "999:999", id="postgres"),
        pytest.param("postgres:16-alpine3.20", "70:70", id="postgres-alpine"),
        pytest.param("mysql:8.4", "999:999", id="mysql"),
        pytest.param("mariadb:11", "999:999", id="mariadb"),
        pytest.param("mongo:7", "999:999", id="mongo"),
        pytest.param("rabbitmq:3.13-management", "999:999", id="rabbitmq"),
    ],
)
def test_sets_user_of_known_images(tmp_path, image, user):
    out, refusals = run(tmp_path, f"services:\n  s:\n    image: {image}\n")
    assert (out, refusals) == (f"services:\n  s:\n    image: {image}\n    user: {user}\n", [])


def test_flow_style_service(tmp_path):
    out, _ = run(tmp_path, "services:\n  s: {image: 'redis:7'}\n")
    assert out == "services:\n  s: {image: 'redis:7', user: '999:999'}\n"  # ':' is quoted in flow style


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("services:\n  s:\n    image: redis:7\n    user: '1000:1000'\n", id="user-set"),
        pytest.param("services:\n  s:\n    image: prom/prometheus:v2\n", id="already-non-root-image"),
        pytest.param("services:\n  s:\n    image: grafana/grafana:11\n", id="grafana"),
    ],
)
def test_leaves_alone(tmp_path, text):
    assert run(tmp_path, text) == (text, [])


def test_named_volume_is_fine(tmp_path):
    text = "services:\n  s:\n    image: redis:7\n    volumes:\n      - data:/data\nvolumes:\n  data:\n"
    out, refusals = run(tmp_path, text)
    assert refusals == [] and "      - data:/data\n    user: 999:999\nvolumes:" in out


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("services:\n  s:\n    image: nginx:1.27\n", "nginx-unprivileged", id="nginx"),
        pytest.param("services:\n  s:\n    image: python:3.12\n    command: python -m http.server\n", "base image", id="base-image"),
        pytest.param("services:\n  s:\n    image: ghcr.io/x/y:1\n", "not in the knowledge base", id="unknown"),
        pytest.param("services:\n  s:\n    image: ${IMAGE}\n", "variable", id="variable"),
        pytest.param("services:\n  s:\n    image: redis:7\n    user: root\n", "root", id="user-root"),
        pytest.param("services:\n  s:\n    image: postgres:16\n    volumes:\n      - ./pg:/var/lib/postgresql/data\n",
                     "bind-mounts ./pg", id="bind-mount"),
        pytest.param("services:\n  s:\n    image: mongo:7\n    volumes:\n      - type: bind\n        source: /srv/db\n        target: /data/db\n",
                     "bind-mounts /srv/db", id="long-bind-mount"),
        pytest.param("services:\n  s:\n    image: redis:7\n    volumes:\n      - ${ROOT:-/mnt/v}/redis:/data:rw\n",
                     "bind-mounts ${ROOT:-/mnt/v}/redis onto /data", id="variable-bind-mount"),
    ],
)
def test_refuses(tmp_path, text, reason):
    out, refusals = run(tmp_path, text)
    assert out == text and len(refusals) == 1 and reason in refusals[0], refusals


def test_built_services_follow_their_dockerfile(tmp_path):
    text = "services:\n  root:\n    build: a\n  fine:\n    build:\n      context: b\n      dockerfile: Containerfile\n"
    files = {"a/Dockerfile": "FROM debian:12\nCMD [\"x\"]\n", "b/Containerfile": "FROM node:20\nUSER node\n"}
    out, refusals = run(tmp_path, text, files)
    assert out == text
    assert len(refusals) == 1 and "'root'" in refusals[0] and "a/Dockerfile" in refusals[0]
