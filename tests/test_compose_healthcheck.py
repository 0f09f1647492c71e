"""HD605 compose-healthcheck."""
from __future__ import annotations

from pathlib import Path

import pytest
from compose_helpers import run_compose

from hardener.transforms.compose_healthcheck import ComposeHealthcheck


def run(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    return run_compose(tmp_path, ComposeHealthcheck(), text)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            "services:\n  s:\n    image: redis:7\n",
            "services:\n  s:\n    image: redis:7\n    healthcheck:\n      test:\n        - CMD\n        - redis-cli\n        - ping\n",
            id="redis",
        ),
        pytest.param(
            "services:\n  s:\n    image: postgres:16\n",
            'services:\n  s:\n    image: postgres:16\n    healthcheck:\n      test:\n        - CMD-SHELL\n'
            '        - pg_isready -U "$${POSTGRES_USER:-postgres}"\n',
            id="postgres-dollar-escaped",
        ),
        pytest.param(
            "services:\n  s: {image: 'mysql:8.4'}\n",
            "services:\n  s: {image: 'mysql:8.4', healthcheck: {test: [CMD, mysqladmin, ping, -h, localhost]}}\n",
            id="mysql-flow",
        ),
    ],
)
def test_adds_healthcheck(tmp_path, text, expected):
    assert run(tmp_path, text) == (expected, [])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("services:\n  s:\n    image: redis:7\n    healthcheck:\n      test: [CMD, true]\n", id="has-one"),
        pytest.param("services:\n  s:\n    image: redis:7\n    healthcheck:\n      disable: true\n", id="disabled"),
        pytest.param("x-h: &h\n  healthcheck:\n    test: [CMD, x]\nservices:\n  s:\n    <<: *h\n    image: redis:7\n",
                     id="via-merge"),
    ],
)
def test_leaves_alone(tmp_path, text):
    assert run(tmp_path, text) == (text, [])


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("services:\n  s:\n    image: acme/x\n", "not in the knowledge base", id="unknown"),
        pytest.param("services:\n  s:\n    image: ${IMG}\n", "comes from a variable", id="variable"),
        pytest.param("services:\n  s:\n    image: httpd:2.4\n", "no health command", id="no-known-command"),
        pytest.param("services:\n  s:\n    build: .\n", "HEALTHCHECK", id="built"),
        pytest.param("services:\n  a: &a\n    image: redis\n  b: *a\n", "alias", id="alias"),
        pytest.param("db:\n  image: redis\n", "legacy v1", id="legacy-v1"),
    ],
)
def test_refuses(tmp_path, text, reason):
    out, refusals = run(tmp_path, text)
    assert any(reason in r for r in refusals), refusals
