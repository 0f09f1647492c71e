"""HD604 read-only-root."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose_helpers import run_compose

from hardener.transforms.read_only_root import ReadOnlyRoot


def run(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    return run_compose(tmp_path, ReadOnlyRoot(), text)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            "services:\n  s:\n    image: nginx:1.27\n",
            "services:\n  s:\n    image: nginx:1.27\n    read_only: true\n    tmpfs:\n"
            "      - /var/cache/nginx\n      - /var/run\n      - /tmp\n",
            id="nginx",
        ),
        pytest.param(
            "services:\n  s:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\nvolumes:\n  pg:\n",
            "services:\n  s:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\n"
            "    read_only: true\n    tmpfs:\n      - /var/run/postgresql\n      - /tmp\nvolumes:\n  pg:\n",
            id="postgres-data-on-volume",
        ),
        pytest.param(
            "services:\n  s: {image: 'redis:7', volumes: ['r:/data']}\nvolumes:\n  r:\n",
            "services:\n  s: {image: 'redis:7', volumes: ['r:/data'], read_only: true}\nvolumes:\n  r:\n",
            id="redis-flow-no-scratch",
        ),
        pytest.param(
            "services:\n  s:\n    image: nginx:1.27\n    tmpfs:\n      - /tmp:size=64m\n",
            "services:\n  s:\n    image: nginx:1.27\n    tmpfs:\n      - /tmp:size=64m\n"
            "      - /var/cache/nginx\n      - /var/run\n    read_only: true\n",
            id="merges-existing-tmpfs",
        ),
        pytest.param(
            "services:\n  s:\n    image: nginx:1.27\n    volumes:\n      - type: volume\n        source: c\n"
            "        target: /var/cache/nginx\n    tmpfs: [/var/run, /tmp]\nvolumes:\n  c:\n",
            "services:\n  s:\n    image: nginx:1.27\n    volumes:\n      - type: volume\n        source: c\n"
            "        target: /var/cache/nginx\n    tmpfs: [/var/run, /tmp]\n    read_only: true\nvolumes:\n  c:\n",
            id="long-syntax-volume-counts",
        ),
    ],
)
def test_makes_root_read_only(tmp_path, text, expected):
    assert run(tmp_path, text) == (expected, [])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("services:\n  s:\n    image: nginx:1.27\n    read_only: true\n", id="already"),
        pytest.param("services:\n  s:\n    image: nginx:1.27\n    read_only: ${RO:-true}\n", id="variable-flag"),
    ],
)
def test_leaves_alone(tmp_path, text):
    assert run(tmp_path, text) == (text, [])


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("services:\n  s:\n    image: redis:7\n", "writes data to /data", id="data-not-on-volume"),
        pytest.param("services:\n  s:\n    image: redis:7\n    volumes:\n      - ./d:/elsewhere\n",
                     "writes data to /data", id="volume-elsewhere"),
        pytest.param("services:\n  s:\n    image: acme/x\n", "not in the knowledge base", id="unknown"),
        pytest.param("services:\n  s:\n    image: $IMG\n", "comes from a variable", id="variable-image"),
        pytest.param("services:\n  s:\n    build: .\n", "built from a Dockerfile", id="built"),
        pytest.param("services:\n  s:\n    image: nginx\n    read_only: false\n", "explicitly false", id="explicit-false"),
        pytest.param("services:\n  s:\n    image: nginx\n    tmpfs: /tmp\n", "single string", id="tmpfs-scalar"),
        pytest.param("x-t: &t\n  tmpfs: [/tmp]\nservices:\n  s:\n    <<: *t\n    image: nginx\n",
                     "shared anchor", id="tmpfs-from-anchor"),
        pytest.param("services:\n  a: &a\n    image: nginx\n  b: *a\n", "alias", id="alias"),
        pytest.param("web:\n  image: nginx\n", "legacy v1", id="legacy-v1"),
    ],
)
def test_refuses(tmp_path, text, reason):
    out, refusals = run(tmp_path, text)
    assert any(reason in r for r in refusals), refusals
