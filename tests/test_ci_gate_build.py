"""HD504's matrix: each image as Compose builds it, only production images, only buildable ones,
and no repository-level file on a sub-path run unless asked."""
from __future__ import annotations

import json

import pytest
from ci_helpers import make_repo as _repo
from ci_helpers import run_gate as _run
from click.testing import CliRunner
from ruamel.yaml import YAML

from hardener.ci.buildenv import dotenv, interpolate
from hardener.cli import main
from hardener.context import Context
from hardener.model import Change, Refusal
from hardener.transforms.ci_security_gate import TARGET

DOCKERFILE = "FROM python:3.12-slim\nCOPY app.py /app/\n"


def _matrix(findings: list[Change | Refusal]) -> list[dict[str, str]]:
    [change] = [f for f in findings if isinstance(f, Change)]
    data = YAML(typ="safe").load(change.files[0].content.decode())
    return list(data["jobs"]["images"]["strategy"]["matrix"]["include"])


def _text(findings: list[Change | Refusal]) -> str:
    [change] = [f for f in findings if isinstance(f, Change)]
    return change.files[0].content.decode()


def _refusals(findings: list[Change | Refusal]) -> list[str]:
    return [f.reason for f in findings if isinstance(f, Refusal)]


def test_dotenv_reads_as_compose_does(tmp_path):
    root = _repo(tmp_path, {".env": "# c\nA=1\nexport B='two words'\nC=\"x#y\"\nD=plain # note\nbad line\n"})
    assert dotenv(Context(root), root) == {"A": "1", "B": "two words", "C": "x#y", "D": "plain"}


@pytest.mark.parametrize("text, expect", [
    ("${A}", "1"), ("$A-x", "1-x"), ("${MISSING:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""),
    ("$$A", "$A"), ("${MISSING}", None),
])
def test_interpolate(text, expect):
    assert interpolate(text, {"A": "1", "EMPTY": ""}) == expect


def test_compose_context_dockerfile_args_and_target(tmp_path):
    compose = """services:
  api:
    build:
      context: ./
      dockerfile: services/api/Dockerfile
      target: runtime
      args:
        - BASE
        - VERSION=${APP_VERSION:-0}
        - UNSET_NAME
  worker:
    build:
      context: services/worker
      args: {MODE: batch, FROM_ENV: "${TAG}"}
"""
    root = _repo(tmp_path, {
        "compose.yaml": compose, ".env": "BASE=python:3.12-slim\nAPP_VERSION=7\nTAG=v2\n",
        "services/api/Dockerfile": "ARG BASE\nFROM ${BASE} AS runtime\nCOPY services/api/app.py /app/\n",
        "services/api/app.py": "", "services/worker/Dockerfile": DOCKERFILE, "services/worker/app.py": "",
    })
    assert _matrix(_run(root, "services/api/Dockerfile")) == [
        {"name": "services-api", "dockerfile": "services/api/Dockerfile", "context": ".",
         "args": "BASE=python:3.12-slim\nVERSION=7", "target": "runtime"},
        {"name": "services-worker", "dockerfile": "services/worker/Dockerfile", "context": "services/worker",
         "args": "MODE=batch\nFROM_ENV=v2", "target": ""},
    ]


def test_context_dockerfile_and_target_from_dotenv(tmp_path):
    """`.env` names the context, Dockerfile and target (netbox-docker style): the matrix builds
    what `docker compose build` builds; a variable nobody sets leaves the build unknown."""
    compose = """services:
  app:
    build:
      context: ${APP_CONTEXT}
      dockerfile: ${APP_DOCKERFILE:-Dockerfile}
      target: ${APP_TARGET}
  other:
    build: ${OTHER_DIR}
"""
    root = _repo(tmp_path, {
        "compose.yaml": compose, ".env": "APP_CONTEXT=./src\nAPP_DOCKERFILE=docker/Dockerfile.prod\nAPP_TARGET=final\n",
        "src/docker/Dockerfile.prod": "FROM python:3.12-slim AS final\nCOPY app.py /app/\n", "src/app.py": "",
        "elsewhere/Dockerfile": DOCKERFILE, "elsewhere/app.py": "",
    })
    assert _matrix(_run(root, "elsewhere/Dockerfile")) == [
        {"name": "elsewhere", "dockerfile": "elsewhere/Dockerfile", "context": "elsewhere", "args": "", "target": ""},
        {"name": "src-docker-prod", "dockerfile": "src/docker/Dockerfile.prod", "context": "src",
         "args": "", "target": "final"},
    ]


@pytest.mark.parametrize("layout, why", [
    pytest.param({"Dockerfile": "FROM python:3.12-slim\nCOPY dist/ /app/\n", ".gitignore": "dist/\n",
                  "dist/app.whl": "x"}, "COPY dist/: not in the checkout", id="gitignored-build-output"),
    pytest.param({"Dockerfile": "FROM python:3.12-slim\nCOPY .build/release/app /app\n"},
                 "COPY .build/release/app: not in the checkout", id="absent-build-output"),
    pytest.param({"Dockerfile": "FROM python:3.12-slim\nCOPY target/*.jar /app/\n", ".gitignore": "target\n",
                  "target/a.jar": "x"}, "COPY target/*.jar", id="gitignored-glob"),
    pytest.param({"Dockerfile": "ARG FROM\nFROM ${FROM}\n"}, "comes from a build argument with no value",
                 id="base-from-unset-arg"),
    pytest.param({"Dockerfile": "FROM python:3.12-slim\n", "cron/Dockerfile": "ARG BASE\nFROM ${BASE}\n",
                  "compose.yaml": "services:\n  web: {image: web-local, build: .}\n"
                                  "  cron: {build: {context: cron, args: {BASE: web-local}}}\n"},
                 "its base image web-local is built by Compose service web first", id="base-built-by-compose"),
])
def test_images_needing_a_prior_step_are_skipped_with_a_comment(tmp_path, layout, why):
    layout = {"keep/Dockerfile": DOCKERFILE, "keep/app.py": "", **layout}
    root = _repo(tmp_path, layout)
    findings = _run(root, "keep/Dockerfile") + _run(root, "Dockerfile")  # the first one found speaks
    text = _text(findings)
    skipped = "cron/Dockerfile" if "cron/Dockerfile" in layout else "Dockerfile"
    assert f"#   {skipped} (context " in text and why in text
    assert skipped not in [e["dockerfile"] for e in _matrix(findings)]
    assert any(why in r for r in _refusals(findings))


def test_present_tracked_sources_and_copy_from_are_not_skipped(tmp_path):
    root = _repo(tmp_path, {"Dockerfile": "FROM golang:1.22 AS build\nCOPY go.* ./\nCOPY --from=build /out /x\n"
                                          "COPY ${SRC} /y\nADD https://example.com/a /z\nCOPY <<EOF /w\nhi\nEOF\n",
                            "go.mod": "module x\n", ".gitignore": "*.log\n"})
    assert [e["dockerfile"] for e in _matrix(_run(root))] == ["Dockerfile"]


def test_dockerfile_built_from_its_parent_when_its_sources_are_there(tmp_path):
    # workstation/README: docker build -f ./postinstall/Dockerfile .
    root = _repo(tmp_path, {"ws/postinstall/Dockerfile": "FROM debian:12\nCOPY 200_setup.sh /etc/\n",
                            "ws/200_setup.sh": "#!/bin/sh\n"})
    [entry] = _matrix(_run(root, "ws/postinstall/Dockerfile"))
    assert (entry["dockerfile"], entry["context"]) == ("ws/postinstall/Dockerfile", "ws")


@pytest.mark.parametrize("options, kept", [
    pytest.param({}, ["Dockerfile"], id="default-patterns"),
    pytest.param({"add-ci-security-gate": {"not-production": ["tests/"]}},
                 ["Dockerfile", "examples/demo/Dockerfile", "fixtures/case/input/Dockerfile"], id="configured"),
])
def test_tests_examples_and_vendored_trees_are_not_built(tmp_path, options, kept):
    root = _repo(tmp_path, {
        "Dockerfile": DOCKERFILE, "app.py": "",
        "tests/integration/Dockerfile": DOCKERFILE, "tests/integration/app.py": "",
        "examples/demo/Dockerfile": DOCKERFILE, "examples/demo/app.py": "",
        "fixtures/case/input/Dockerfile": DOCKERFILE, "fixtures/case/input/app.py": "",
    })
    findings = _run(root, options=options)
    assert [e["dockerfile"] for e in _matrix(findings)] == kept
    [refusal] = _refusals(findings)
    assert f"{4 - len(kept)} Dockerfile(s) of tests, examples or vendored trees" in refusal


def test_vendored_directory_is_not_built_even_when_discovered(tmp_path):
    from hardener.ci.scope import not_production

    assert not_production("vendor/github.com/x/Dockerfile", []) == "under vendor/: vendored directory"
    assert not_production("third_party/lib/Dockerfile", []) is not None
    assert not_production("services/api/Dockerfile", ["tests/"]) is None


@pytest.mark.parametrize("patterns", [
    [], ["tests/"], ["*-test/", "_*test/"], ["Dockerfile"], ["Dockerfile/"], ["*"], ["**/"], ["**/Dockerfile"],
    ["/Dockerfile"], ["Docker*"], ["!tests/", "Dockerfile"], ["./"], [".*/"], ["*/"], ["D*e/"], [""], ["#x/"],
    ["tests/", "Dockerf?le"], ["[D]ockerfile"], ["\\Dockerfile"],
])
@pytest.mark.parametrize("rel", ["Dockerfile", "Containerfile.prod", "tests/Dockerfile"])
def test_not_production_without_pathspec_agrees_with_pathspec(rel, patterns):
    """A root Dockerfile under directory-only patterns skips pathspec: the answer is pathspec's."""
    import pathspec

    from hardener.ci.scope import not_production

    expected = "a test fixture or example (not-production patterns)" \
        if pathspec.GitIgnoreSpec.from_lines(patterns).match_file(rel) else None
    assert not_production(rel, patterns) == expected


def test_action_must_be_pinned_to_a_commit(tmp_path):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, "app.py": ""})
    findings = _run(root, options={"add-ci-security-gate": {"action": "example/hardener@v1"}})
    assert "hardening:" not in _text(findings)
    assert any("is not \"owner/repo@<40-hex commit sha>\"" in r for r in _refusals(findings))


def test_without_action_the_reason_says_how_to_add_the_check(tmp_path):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, "app.py": ""})
    [change] = _run(root)
    assert isinstance(change, Change) and "set [tool.hardener.add-ci-security-gate] action" in change.reason
    assert "hardening:" not in _text([change]) and "No `hardener check` job" in _text([change])


# ---------------------------------------------------------------- a run on a sub-path


def _sub_path_repo(tmp_path, config: str = ""):
    return _repo(tmp_path, {
        ".git/HEAD": "ref: refs/heads/main\n", "pyproject.toml": config,
        "Dockerfile": DOCKERFILE, "app.py": "",
        "examples/legacy-webapp/Dockerfile": DOCKERFILE, "examples/legacy-webapp/app.py": "",
        "services/api/Dockerfile": DOCKERFILE, "services/api/app.py": "",
    })


def _cli(root, *args, command="diff"):
    import os

    here = os.getcwd()
    os.chdir(root)
    try:
        options = ["--format", "json"] if command == "diff" else []
        result = CliRunner().invoke(main, [command, "--no-color", "--select", "HD504", *options, *args])
    finally:
        os.chdir(here)
    return json.loads(result.stdout) if command == "diff" else result


def _applied_matrix(root, *args) -> list[str]:
    _cli(root, *args, command="apply")
    data = YAML(typ="safe").load((root / TARGET).read_text())
    return [e["dockerfile"] for e in data["jobs"]["images"]["strategy"]["matrix"]["include"]]


def test_sub_path_run_does_not_propose_the_workflow_and_says_so(tmp_path):
    report = _cli(_sub_path_repo(tmp_path), "examples/legacy-webapp")
    assert not report.get("companions")
    [entry] = [f for f in report["files"] if f["refusals"]]
    [refusal] = entry["refusals"]
    assert refusal["reason"].startswith(f"{TARGET.as_posix()} not proposed: this run covers examples/legacy-webapp")
    assert "repo-files = true" in refusal["reason"]


def test_sub_path_run_proposes_it_when_asked_for_the_images_under_the_path(tmp_path):
    config = "[tool.hardener.add-ci-security-gate]\nrepo-files = true\n"
    assert _applied_matrix(_sub_path_repo(tmp_path, config), "examples/legacy-webapp") == [
        "examples/legacy-webapp/Dockerfile"]


def test_whole_repository_run_is_not_a_sub_path(tmp_path):
    assert _applied_matrix(_sub_path_repo(tmp_path), ".") == ["Dockerfile", "services/api/Dockerfile"]
