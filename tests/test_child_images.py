"""knowledge/child_images.py: Dockerfiles of the repository built FROM an image another one produces."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose import project_find
from hardener.context import Context
from hardener.knowledge import docker_runs
from hardener.knowledge.child_images import apt_list_users

BASE = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n"


def _users(tmp_path: Path, child: str, extra: dict[str, str] | None = None) -> list[tuple[str, bool, bool]]:
    files = {"base/Dockerfile": BASE, "child/Dockerfile": child,
             "compose.yaml": "services:\n  base:\n    build: ./base\n    image: acme/base:1\n", **(extra or {})}
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    project_find.command_lines.cache_clear()
    docker_runs._all_builds.cache_clear()
    project_find._walk.cache_clear()
    base = tmp_path / "base" / "Dockerfile"
    return [(u.where, u.certain, u.fixable) for u in apt_list_users(Context(tmp_path).for_file(base), base)]


@pytest.mark.parametrize(("child", "expected"), [
    pytest.param("FROM acme/base:1\nRUN apt-get install -y jq\n", [("child/Dockerfile:2", True, True)],
                 id="compose-image-name"),
    pytest.param("ARG BASE\nFROM ${BASE}\nRUN apt-get install -y jq\n", [("child/Dockerfile:3", False, True)],
                 id="variable-from-may-be-it"),
    pytest.param("ARG BASE=debian:12\nFROM ${BASE}\nRUN apt-get install -y jq\n", [], id="arg-default-is-another-image"),
    pytest.param("FROM acme/base:1\nRUN apt-get update\nRUN apt-get install -y jq\n", [], id="updates-first"),
    pytest.param("FROM acme/base:1 AS a\nRUN true\nFROM a\nRUN apt-get install -y jq\n",
                 [("child/Dockerfile:4", True, True)], id="through-a-stage"),
    pytest.param("FROM acme/base:1\nRUN [\"apt-get\", \"install\", \"-y\", \"jq\"]\n",
                 [("child/Dockerfile:2", True, False)], id="exec-form-is-not-fixed"),
    pytest.param("FROM acme/base:2\nRUN apt-get install -y jq\n", [], id="another-tag"),
])
def test_apt_list_users(tmp_path: Path, child: str, expected: list[tuple[str, bool, bool]]) -> None:
    assert _users(tmp_path, child) == expected


def test_a_docker_build_tag_links_too(tmp_path: Path) -> None:
    found = _users(tmp_path, "FROM acme/tools\nRUN apt-get install -y jq\n",
                   {"build.sh": "docker build -t acme/tools base\n"})
    assert found == [("child/Dockerfile:2", True, True)]
