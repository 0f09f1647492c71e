"""knowledge.host_mounts: host directories a Compose service bind-mounts where its app writes."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge.host_mounts import host_writes

DOCKERFILE = "FROM python:3.12-slim AS base\nWORKDIR /app\nCOPY . .\n\nFROM base AS prod\nCMD [\"python\", \"app.py\"]\n"


def found(tmp_path: Path, compose: str, dirs: list[str], where: str = "") -> list[tuple[str, str, str]]:
    folder = tmp_path / where
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "compose.yaml").write_text(compose)
    ctx = Context(tmp_path).for_file(folder / "Dockerfile")
    doc = DockerfileDoc.load(DOCKERFILE.encode(), str(folder / "Dockerfile"))
    return [(h.near, h.who, h.command("10001:10001")) for h in host_writes(doc, ctx, dirs)]


@pytest.mark.parametrize(
    "volumes, expected",
    [
        pytest.param(["./data:/app/data"], ["chown -R 10001:10001 ./data"], id="onto-the-written-dir"),
        pytest.param([".:/app"], ["chown -R 10001:10001 ./data"], id="over-the-app-dir"),
        pytest.param(["/srv/web/data:/app/data/"], ["chown -R 10001:10001 /srv/web/data"], id="absolute-trailing-slash"),
        pytest.param(["./data:/app/data:ro"], [], id="read-only"),
        pytest.param(["./data:/app/data:ro,z"], [], id="read-only-with-selinux-label"),
        pytest.param(["appdata:/app/data"], [], id="named-volume"),
        pytest.param(["./conf:/app/conf"], [], id="elsewhere"),
        pytest.param([{"type": "bind", "source": "./d", "target": "/app/data"}], ["chown -R 10001:10001 ./d"],
                     id="long-syntax"),
        pytest.param([{"type": "volume", "source": "d", "target": "/app/data"}], [], id="long-syntax-volume"),
    ],
)
def test_bind_mounts_onto_written_paths(tmp_path, volumes, expected):
    lines = "".join(f"      - {v}\n" if isinstance(v, str) else
                    "      - {" + ", ".join(f"{k}: {x}" for k, x in v.items()) + "}\n" for v in volumes)
    compose = f"services:\n  web:\n    build: .\n    volumes:\n{lines}"
    assert [c for _f, _s, c in found(tmp_path, compose, ["/app/data"])] == expected


def test_only_services_that_build_the_final_stage(tmp_path):
    compose = ("services:\n  dev:\n    build: {context: ., target: base}\n    volumes: ['./data:/app/data']\n"
               "  prod:\n    build: {context: ., target: prod}\n    volumes: ['./data:/app/data']\n")
    assert found(tmp_path, compose, ["/app/data"]) == [("next to compose.yaml", "the Compose service prod (compose.yaml)", "chown -R 10001:10001 ./data")]


def test_compose_elsewhere_in_the_repo(tmp_path):
    compose = "services:\n  api:\n    build: ./api\n    volumes: ['./state:/app/data']\n"
    assert found(tmp_path, compose, ["/app/data"], where="api") == [
        ("next to compose.yaml", "the Compose service api (compose.yaml)", "chown -R 10001:10001 ./state")]


def test_no_compose_no_written_dirs(tmp_path):
    assert found(tmp_path, "services:\n  web:\n    build: .\n    volumes: ['./data:/app/data']\n", []) == []
    assert found(tmp_path, "services:\n  web:\n    image: x\n    volumes: ['./data:/app/data']\n", ["/app/data"]) == []


def test_a_docker_run_line_of_the_repo_counts_once_beside_compose(tmp_path):
    (tmp_path / "run.sh").write_text("docker build -t web .\ndocker run -v ./data:/app/data -v ./logs:/app/logs web\n")
    compose = "services:\n  web:\n    build: .\n    volumes: ['./data:/app/data']\n"
    assert found(tmp_path, compose, ["/app/data", "/app/logs"]) == [
        ("next to compose.yaml", "the Compose service web (compose.yaml)", "chown -R 10001:10001 ./data"),
        ("where run.sh:2 runs", "`docker run` of web in run.sh:2", "chown -R 10001:10001 ./logs")]
