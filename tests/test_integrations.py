"""The GitHub Action (action.yml) and the pre-commit hooks, exercised as far as possible here.

action.yml is validated against the GitHub Action schema that check-jsonschema vendors,
its third-party actions must be pinned to full commit SHAs, and its ``check`` step's
shell script is run for real with bash (GitHub's ``${{ inputs.* }}`` expressions filled
in with the defaults). The hooks run through ``pre-commit try-repo`` on a temporary git
repository: pre-commit builds its own virtualenv and installs hardener from a commit of
this working tree, as it would from a tag (that needs the package index, like CI does).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from hardener.discover import classify

ACTION = ROOT / "action.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
LEGACY = b"FROM python:3.12-slim\nMAINTAINER ops@example.com\nADD app.py /app/\nCMD python /app/app.py\n"
GIT = shutil.which("git") is not None


def test_action_matches_the_github_action_schema() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_pins_third_party_actions_to_commits() -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", ACTION.read_text())
    assert {u.split("@")[0] for u, _ in uses} == {"actions/setup-python", "github/codeql-action/upload-sarif"}
    for ref, comment in uses:
        assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), comment


def _step(step_id: str) -> dict:
    action = yaml.safe_load(ACTION.read_text())
    return next(s for s in action["runs"]["steps"] if s.get("id") == step_id)


def _fill(value: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], value)


@pytest.mark.parametrize(
    ("dockerfile", "exit_code"),
    [
        pytest.param(LEGACY, "1", id="changes-found"),
        pytest.param(b"FROM python:3.12-slim\nCOPY app.py /app/\n", "0", id="nothing-to-do"),
    ],
)
def test_action_check_step_runs(tmp_path: Path, dockerfile: bytes, exit_code: str) -> None:
    (tmp_path / "Dockerfile").write_bytes(dockerfile)
    (tmp_path / "app.py").write_text("")
    action = yaml.safe_load(ACTION.read_text())
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs["args"] = "--select HD301,HD401,HD501"
    step = _step("check")
    env = {k: _fill(str(v), inputs) for k, v in step["env"].items()}
    output = tmp_path / "github_output"
    env.update(GITHUB_OUTPUT=str(output), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env={**os.environ, **env},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert output.read_text().strip() == f"exit-code={exit_code}"
    sarif = json.loads((tmp_path / inputs["sarif-file"]).read_text())
    assert sarif["version"] == "2.1.0"
    assert (exit_code == "1") == bool(sarif["runs"][0]["results"])


HOOK_NAMES = [
    ("Dockerfile", True), ("sub/dir/Dockerfile", True), ("Containerfile", True), ("api.Dockerfile", True),
    ("Dockerfile.prod", True), ("Dockerfile-dev", True), ("compose.yaml", True),
    ("docker-compose.override.yml", True), ("deploy/compose.prod.yaml", True),
    ("Dockerfile.bak", False), ("Dockerfile.j2", False), ("Dockerfile.dockerignore", False), ("Dockerfile~", False),
    ("README.md", False), ("compose.json", False), ("values.yaml", False),
]


@pytest.mark.parametrize(("name", "taken"), HOOK_NAMES, ids=[n for n, _ in HOOK_NAMES])
def test_hook_file_patterns_agree_with_discovery(name: str, taken: bool) -> None:
    for hook in yaml.safe_load(HOOKS.read_text()):
        matched = re.search(hook["files"], name) is not None and re.search(hook["exclude"], name) is None
        assert matched == taken
    assert (classify(name.rsplit("/", 1)[-1]) is not None) == taken


def test_hooks_manifest_is_valid_for_pre_commit() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {h["id"]: h for h in load_manifest(str(HOOKS))}
    assert set(hooks) == {"hardener-check", "hardener-apply"}


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree (uncommitted work included) as a git repository with one commit."""
    repo = tmp_path_factory.mktemp("hook-repo") / "hardener"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "fixtures")
    shutil.copytree(ROOT, repo, ignore=skip)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "snapshot for pre-commit try-repo")
    return repo


@pytest.mark.skipif(not GIT, reason="git not installed")
def test_pre_commit_try_repo(hook_repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "project"
    target.mkdir()
    (target / "Dockerfile").write_bytes(LEGACY)
    (target / "app.py").write_text("")
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(hook_repo.parent / "cache"), "PRE_COMMIT_COLOR": "never"}

    def try_repo(hook: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook, "--all-files", "--verbose"],
            cwd=target, env=env, capture_output=True, text=True, timeout=900,
        )

    check = try_repo("hardener-check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "+COPY app.py /app/" in check.stdout and "would harden Dockerfile" in check.stdout
    assert (target / "Dockerfile").read_bytes() == LEGACY
    fixed = try_repo("hardener-apply")
    assert fixed.returncode == 1 and "files were modified by this hook" in fixed.stdout
    assert b"COPY app.py /app/" in (target / "Dockerfile").read_bytes()
    _git(target, "add", "-A")
    again = try_repo("hardener-check")
    assert again.returncode == 0, again.stdout
