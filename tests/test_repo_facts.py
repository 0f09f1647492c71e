"""Repo facts: the context listing, ecosystems, entrypoints and the sources a Dockerfile reads."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener import repo_facts as facts
from hardener.dockerfile.doc import DockerfileDoc


def tree(root: Path, files: dict[str, str]) -> tuple[str, ...]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    facts._CACHE.clear()
    return facts.listing(root).paths


def test_listing_and_dockerignore(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"a.py": "", "docs/x.md": "", "docs/README.md": "", "node_modules/p/i.js": ""})
    assert "node_modules" in paths and "node_modules/p/i.js" not in paths  # opaque, not descended
    assert facts.included(paths, b"docs\n!docs/README.md\n") == ["a.py", "docs/README.md", "node_modules"]
    assert facts.included(paths, b"[\n") == []  # Docker rejects the file: nothing is sent


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"package.json": "{}", "yarn.lock": ""}, ["yarn"], id="yarn"),
    pytest.param({"package.json": "{}", "package-lock.json": ""}, ["npm"], id="npm"),
    pytest.param({"package.json": "{}"}, ["npm"], id="npm-without-lock"),
    pytest.param({"package.json": "{}", "pnpm-lock.yaml": ""}, ["pnpm"], id="pnpm"),
    pytest.param({"pyproject.toml": "", "poetry.lock": ""}, ["poetry"], id="poetry"),
    pytest.param({"pyproject.toml": "", "uv.lock": ""}, ["uv"], id="uv"),
    pytest.param({"Pipfile": "", "Pipfile.lock": ""}, ["pipenv"], id="pipenv"),
    pytest.param({"requirements.txt": ""}, ["pip"], id="pip"),
    pytest.param({"go.mod": "", "go.sum": ""}, ["go"], id="go"),
    pytest.param({"pom.xml": ""}, ["maven"], id="maven"),
    pytest.param({"build.gradle.kts": ""}, ["gradle"], id="gradle"),
    pytest.param({"Gemfile": "", "Gemfile.lock": ""}, ["bundler"], id="bundler"),
    pytest.param({"Cargo.toml": "", "Cargo.lock": ""}, ["cargo"], id="cargo"),
    pytest.param({"README.md": ""}, [], id="unknown"),
])
def test_ecosystems(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    assert [e.name for e in facts.ecosystems(tree(tmp_path, files))] == expected


def test_entrypoints(tmp_path: Path) -> None:
    paths = tree(tmp_path, {
        "package.json": '{"main": "lib/index.js", "scripts": {"start": "node --enable-source-maps server.js"}}',
        "pyproject.toml": '[project.scripts]\ntool = "tool.cli:main"\n', "tool/cli.py": "", "app/__main__.py": "",
    })
    assert facts.node_entrypoints(tmp_path) == ["lib/index.js", "server.js"]
    assert facts.python_entrypoints(tmp_path, paths) == ["tool/cli.py", "app/__main__.py"]
    assert facts.command_entrypoint(["python", "-u", "app.py"]) == "app.py"
    assert facts.command_entrypoint(["/usr/local/bin/node", "dist/main.js"]) == "dist/main.js"
    assert facts.command_entrypoint(["gunicorn", "app:app"]) is None


@pytest.mark.parametrize(("dockerfile", "expected"), [
    pytest.param("FROM x\nCOPY a.txt b/ /dst/\n", ["a.txt", "b/"], id="copy"),
    pytest.param('FROM x\nCOPY ["a b.txt", "/dst/"]\n', ["a b.txt"], id="json-form"),
    pytest.param("FROM x\nADD https://e.x/f.tgz /dst/\n", [], id="url"),
    pytest.param("FROM x AS b\nFROM y\nCOPY --from=b /a /a\n", [], id="from-stage"),
    pytest.param("FROM x\nCOPY <<EOF /a\nhi\nEOF\n", [], id="heredoc"),
    pytest.param("FROM x\nRUN --mount=type=bind,source=req.txt,target=/r pip install -r /r\n", ["req.txt"], id="bind-mount"),
    pytest.param("FROM x\nRUN --mount=type=cache,target=/root/.cache true\n", [], id="cache-mount"),
])
def test_context_sources(dockerfile: str, expected: list[str]) -> None:
    doc = DockerfileDoc.load(dockerfile.encode())
    assert [s.text for s in facts.context_sources(doc)] == expected


@pytest.mark.parametrize(("dockerfile", "needed"), [
    pytest.param("FROM x\nCOPY . .\n", [], id="whole-context-is-not-a-named-need"),
    pytest.param("FROM x\nCOPY src/ /s\n", ["src", "src/a.py", "src/k.pem"], id="directory"),
    pytest.param("FROM x\nCOPY *.pem /s\n", ["k.pem"], id="glob"),
    pytest.param("FROM x\nARG D=src\nCOPY $D /s\n", ["src", "src/a.py", "src/k.pem"], id="arg-default"),
    pytest.param("FROM x\nCOPY ${UNSET}/a.py /s\n", ["src/a.py"], id="unknown-variable"),
])
def test_needed_by(tmp_path: Path, dockerfile: str, needed: list[str]) -> None:
    paths = tree(tmp_path, {"src/a.py": "", "src/k.pem": "", "k.pem": "", "README": ""})
    doc = DockerfileDoc.load(dockerfile.encode())
    assert sorted(facts.needed_by(facts.context_sources(doc), paths)) == needed
