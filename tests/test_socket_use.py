"""knowledge/socket_use.py: an app that opens the container engine's socket cannot run non-root."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.knowledge.socket_use import socket_user


@pytest.mark.parametrize(("files", "copied", "expected"), [
    pytest.param({"app/main.py": "import docker\nclient = docker.DockerClient(base_url='unix://var/run/docker.sock')\n"},
                 {"app/main.py"}, "app/main.py:2", id="python-client"),
    pytest.param({"proxy.yml": "providers:\n  docker:\n    endpoint: unix:///run/podman/podman.sock\n"},
                 {"proxy.yml"}, "proxy.yml:3", id="podman-socket-in-config"),
    pytest.param({"tools/dev.sh": "docker -H unix:///var/run/docker.sock ps\n"}, set(), None,
                 id="not-copied-into-the-image"),
    pytest.param({"README.md": "mount /var/run/docker.sock\n"}, {"README.md"}, None, id="prose-is-not-code"),
    pytest.param({"main.go": "package main\n"}, {"main.go"}, None, id="no-socket"),
])
def test_socket_user(tmp_path: Path, files: dict[str, str], copied: set[str], expected: str | None) -> None:
    for rel, body in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    place = lambda rel: "/app/" + rel if rel in copied else None  # noqa: E731 - the Dockerfile's COPY map
    assert socket_user(tmp_path, sorted(files), place) == expected


def test_the_dockerfile_itself_counts_but_not_its_comments(tmp_path: Path) -> None:
    text = "FROM x\n# do not mount /var/run/docker.sock\nENV DOCKER_HOST=unix:///var/run/docker.sock\n"
    assert socket_user(tmp_path, (), lambda _rel: None, text) == "Dockerfile:3"
