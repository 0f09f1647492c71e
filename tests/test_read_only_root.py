"""HD604 read-only-root."""
from __future__ import annotations

from pathlib import Path

import pytest
from compose_helpers import run_compose

from hardener import judges
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
    "image, tmpfs",
    [
        pytest.param("redis:7", "", id="redis-volume-data"),
        pytest.param("postgres:16", "    tmpfs:\n      - /var/run/postgresql\n      - /tmp\n", id="postgres-volume-pgdata"),
        pytest.param("mongo:8", "    tmpfs:\n      - /tmp\n", id="mongo-volume-db-and-configdb"),
        pytest.param("prom/prometheus:v3.1.0", "", id="prometheus-volume"),
        pytest.param("prom/alertmanager:v0.28.0", "", id="alertmanager-volume"),
    ],
)
def test_image_volume_counts_as_a_volume(tmp_path, image, tmpfs):
    """The image declares its data directory with VOLUME: Docker mounts an anonymous volume
    there when the service mounts nothing, so read_only leaves the data writable."""
    text = f"services:\n  s:\n    image: {image}\n"
    assert run(tmp_path, text) == (text + "    read_only: true\n" + tmpfs, [])


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
        pytest.param("services:\n  s:\n    image: elasticsearch:8.15.0\n", "writes data to /usr/share/elasticsearch/data",
                     id="data-not-on-volume"),
        pytest.param("services:\n  s:\n    image: elasticsearch:8.15.0\n    volumes:\n      - ./d:/elsewhere\n",
                     "writes data to", id="volume-elsewhere"),
        pytest.param("services:\n  s:\n    image: acme/x\n", "not in the knowledge base", id="unknown"),
        pytest.param("services:\n  s:\n    image: $IMG\n", "comes from a variable", id="variable-image"),
        pytest.param("services:\n  s:\n    build: .\n", "built from a Dockerfile that cannot be read here", id="built-no-dockerfile"),
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



BUILT = "services:\n  s:\n    build: .\n"


@pytest.mark.parametrize(
    "dockerfile, tmpfs",
    [
        pytest.param('FROM python:3.12-slim\nCMD ["python", "app.py"]\n', ["/tmp"], id="python-runtime"),
        pytest.param("FROM node:20-slim\nUSER node\nCMD node server.js\n", ["/tmp"], id="node-shell-form"),
        pytest.param('FROM python:3.12-slim\nENTRYPOINT ["gunicorn", "app:app"]\n', ["/tmp"], id="gunicorn"),
        pytest.param("FROM nginx:1.27\nCOPY site /usr/share/nginx/html\n",
                     ["/tmp", "/var/cache/nginx", "/var/run"], id="server-base-default-command"),
        pytest.param("FROM python:3.12-slim AS base\nFROM base\nCMD exec python -m app\n", ["/tmp"], id="stage-chain"),
    ],
)
def test_built_service_from_its_dockerfile(tmp_path, dockerfile, tmpfs):
    """Built services: the base image's known paths plus /tmp for a known runtime (review)."""
    (tmp_path / "Dockerfile").write_text(dockerfile)
    out, refusals = run(tmp_path, BUILT)
    assert refusals == [] and "    read_only: true\n" in out, (out, refusals)
    assert sorted(line.strip()[2:] for line in out.split("tmpfs:\n")[1].splitlines()) == sorted(tmpfs)
    assert judges.compose_problems(out) == []
    assert run(tmp_path, out)[0] == out


@pytest.mark.parametrize(
    "dockerfile, reason",
    [
        pytest.param('FROM python:3.12-slim\nCMD ["./start.sh"]\n', "not a known runtime", id="script"),
        pytest.param("FROM python:3.12-slim\nCMD sh -c 'envsubst < t > /etc/app.conf && python app.py'\n",
                     "not a known runtime", id="shell-wrapper"),
        pytest.param("FROM acme/base:1\nCMD python app.py\n", "whose writable paths are not known", id="unknown-base"),
        pytest.param("FROM python:3.12-slim\nCOPY app.py .\n", "default command of python", id="base-default-command"),
        pytest.param("FROM $BASE\nCMD python app.py\n", "writable paths are not known", id="base-from-arg"),
    ],
)
def test_built_service_refusals(tmp_path, dockerfile, reason):
    (tmp_path / "Dockerfile").write_text(dockerfile)
    out, refusals = run(tmp_path, BUILT)
    assert out == BUILT and any(reason in r for r in refusals), refusals


def test_built_service_data_volume_declared_elsewhere(tmp_path):
    """A server base that writes data (postgres) still needs its data on a volume first."""
    (tmp_path / "Dockerfile").write_text("FROM postgres:16\nCOPY init.sql /docker-entrypoint-initdb.d/\n")
    out, refusals = run(tmp_path, BUILT)
    assert out == BUILT and any("writes data to /var/lib/postgresql/data" in r for r in refusals), refusals


@pytest.mark.parametrize(
    "service",
    [
        pytest.param("    image: alpine\n    command: sleep infinity\n", id="sleep-infinity"),
        pytest.param("    image: alpine:3.20\n    command: [\"sleep\", \"infinity\"]\n", id="exec-list"),
        pytest.param("    image: busybox:1.36\n    command: tail -f /dev/null\n", id="tail-dev-null"),
        pytest.param("    image: alpine\n    command: sh -c 'sleep 0.1 && echo world && /bin/false'\n", id="sh-c-chain"),
        pytest.param("    image: alpine\n    command: ip link show\n", id="ip-show"),
    ],
)
def test_base_image_running_write_free_programs(tmp_path, service):
    """A base image's command decides what it writes; these programs write no file."""
    text = "services:\n  s:\n" + service
    assert run(tmp_path, text) == (text + "    read_only: true\n", [])


@pytest.mark.parametrize(
    "service, reason",
    [
        pytest.param("    image: alpine\n    command: sh -c 'echo hi > /tmp/x'\n", "base image", id="redirection"),
        pytest.param("    image: alpine\n    command: /bin/ash /log_to_stderr.sh\n", "base image", id="script"),
        pytest.param("    image: alpine\n    command: sh -c \"echo $$VAR\"\n", "base image", id="variable"),
        pytest.param("    image: alpine\n    command: ip link set eth0 up\n", "base image", id="ip-set"),
        pytest.param("    image: alpine\n", "base image", id="default-shell"),
        pytest.param("    image: alpine\n    entrypoint: /entry.sh\n    command: sleep 5\n", "base image", id="entrypoint-script"),
        pytest.param("    image: acme/tool:1\n    command: sleep infinity\n", "not in the knowledge base", id="unknown-image"),
    ],
)
def test_base_image_running_anything_else_is_refused(tmp_path, service, reason):
    text = "services:\n  s:\n" + service
    out, refusals = run(tmp_path, text)
    assert out == text and any(reason in r for r in refusals), refusals


@pytest.mark.parametrize(
    "text, why",
    [
        pytest.param("services:\n  s:\n    image: acme/x:1\n", "not in the knowledge base", id="unknown-image"),
        pytest.param("services:\n  s:\n    build: ./missing\n", "cannot be read", id="built-unreadable"),
        pytest.param("services:\n  s:\n    image: alpine\n    command: /bin/ash /run.sh\n", "base image", id="base-script"),
    ],
)
def test_unknown_writes_get_an_unsafe_guess(tmp_path, text, why):
    """Default: nothing changes, the guess is shown as needing --unsafe with its reason."""
    out, said = run(tmp_path, text)
    assert out == text and len(said) == 1 and said[0].startswith("(unsafe)") and why in said[0], said
    from hardener.engine import Options
    from hardener.model import Applicability

    out, said = run_compose(tmp_path, ReadOnlyRoot(), text, engine=Options(threshold=Applicability.UNSAFE))
    assert out == text + "    read_only: true\n    tmpfs:\n      - /tmp\n      - /run\n" and said == []


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("services:\n  s:\n    environment: {A: b}\n", "no image, build or extends", id="no-image"),
        pytest.param("services:\n  s:\n    image: mcr.microsoft.com/windows/servercore:ltsc2022\n", "base image",
                     id="windows"),
    ],
)
def test_no_guess_without_an_image_or_for_windows(tmp_path, text, reason):
    out, said = run(tmp_path, text)
    assert out == text and any(reason in r and not r.startswith("(unsafe)") for r in said), said
