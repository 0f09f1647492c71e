"""knowledge/docker_runs.py: `docker run` lines of the repository linked to the Dockerfile they run."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose import project_find
from hardener.knowledge import docker_runs
from hardener.knowledge.docker_runs import runs_of


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    project_find.command_lines.cache_clear()
    docker_runs._all_builds.cache_clear()
    project_find._walk.cache_clear()
    return tmp_path


def _binds(tmp_path: Path, script: str, dockerfile: str = "Dockerfile", name: str = "run.sh") -> list[tuple[str, str, bool]]:
    root = _repo(tmp_path, {"Dockerfile": "FROM x\n", "tls/Dockerfile.tls": "FROM x\n", name: script})
    return [(b.source, b.target, b.read_only) for run in runs_of(root, root / dockerfile) for b in run.binds]


@pytest.mark.parametrize(("script", "expected"), [
    pytest.param("docker build -t app .\ndocker run -v $PWD/d:/d app\n", [("$PWD/d", "/d", False)], id="plain"),
    pytest.param("docker build -t app:1 .\ndocker run -it -v ./d:/d:ro app:1\n", [("./d", "/d", True)],
                 id="tty-flag-then-read-only"),
    pytest.param("docker build --tag=app .\ndocker run --rm -dp 80:80 --volume=/srv/d:/d app:latest\n",
                 [("/srv/d", "/d", False)], id="latest-is-the-bare-name"),
    pytest.param("docker buildx build -t app .\ndocker run --mount type=bind,source=./d,target=/d,readonly app\n",
                 [("./d", "/d", True)], id="buildx-and-mount"),
    pytest.param("podman build -t app .\npodman run --mount type=bind,src=/d,dst=/d app\n", [("/d", "/d", False)],
                 id="podman"),
    pytest.param("docker build -t app .\ndocker run -v data:/d app\n", [], id="named-volume"),
    pytest.param("docker build -t app .\ndocker run -u 1000 -v ./d:/d app\n", [], id="own-user"),
    pytest.param("docker build -t app .\ndocker run -v ./d:/d other\n", [], id="another-image"),
    pytest.param("docker build -t app -f tls/Dockerfile.tls .\ndocker run -v ./d:/d app\n", [],
                 id="built-from-another-dockerfile"),
    pytest.param("docker build -t app $(CTX)\ndocker run -v ./d:/d app\n", [], id="context-from-a-variable"),
])
def test_runs_of(tmp_path: Path, script: str, expected: list[tuple[str, str, bool]]) -> None:
    assert _binds(tmp_path, script) == expected


def test_a_dockerfile_named_from_the_root_in_a_script_below_it(tmp_path: Path) -> None:
    # temporalio/docker-compose tls/run-tls.sh builds with the repository root as context
    script = ("docker build -t tls:test -f ${PWD}/tls/Dockerfile.tls .\n"
              "docker run --rm -v tls_pki:/pki -v ${PWD}/.pki:/pki-out tls:test\n")
    assert _binds(tmp_path, script, "tls/Dockerfile.tls", "tls/run-tls.sh") == [("${PWD}/.pki", "/pki-out", False)]


def test_readme_commands_count_only_inside_code(tmp_path: Path) -> None:
    readme = ("Run `docker run -v ./x:/x app` to try it.\n\n```sh\ndocker build -t app .\n"
              "docker run --rm \\\n  -v ./d:/d app\n```\n")
    assert _binds(tmp_path, readme, name="README.md") == [("./d", "/d", False)]
