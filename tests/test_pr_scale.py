"""``hardener pr`` on a generated repository of 40 Dockerfiles and a 40-service Compose file.

Default groups, against the local fake GitHub (``tests/fake_github.py``, a real HTTP server on
127.0.0.1) and a real bare git remote: at least four PRs, every body under GitHub's limit,
no topology or CI-gate change in the safe PR, a dashboard issue; a re-run writes nothing.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_github import FakeGitHub
from test_pr import TOKEN, branches, git

from hardener.cli import main
from hardener.output.markdown import GITHUB_BODY_LIMIT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def generate(root: Path, services: int = 40) -> None:
    """Dockerfiles with the usual legacy habits, and one Compose file that builds them all."""
    lines = ["services:"]
    for i in range(services):
        folder = root / f"svc{i:02d}"
        folder.mkdir(parents=True)
        base = ("python:3.11", "node:20", "debian:bookworm", "alpine:3.19")[i % 4]
        (folder / "Dockerfile").write_text(
            f"FROM {base}\nMAINTAINER Team {i} <team{i}@example.com>\nWORKDIR /app\n"
            "ADD requirements.txt /app/\nRUN apt-get update && apt-get install -y curl\n"
            f"COPY . .\nEXPOSE {8000 + i}\nCMD python app.py --port {8000 + i}\n")
        (folder / "requirements.txt").write_text("flask\n")
        (folder / "app.py").write_text("print('hi')\n")
        peer = (i + 1) % services
        lines += [f"  svc{i:02d}:", f"    build: ./svc{i:02d}", "    ports:", f'      - "{8000 + i}:{8000 + i}"',
                  "    environment:", f"      PEER: http://svc{peer:02d}:{8000 + peer}"]
    (root / "docker-compose.yml").write_text("\n".join(lines) + "\n")


def run_pr(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["pr", "--offline", *args], env={"GITHUB_TOKEN": TOKEN})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_forty_services_make_bounded_grouped_prs_and_a_dashboard(tmp_path: Path) -> None:
    bare = tmp_path / "fleet.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    work = tmp_path / "fleet"
    generate(work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "forty services")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")
    github = FakeGitHub(TOKEN, {"acme/fleet": bare}).start()
    try:
        code, out = run_pr("--api-url", github.url, "--github-repo", "acme/fleet", str(work))
        assert code == 0, out
        sizes = {p["head"]["ref"]: len(p["body"]) for p in github.pulls}
        print("PR body sizes:", sizes, "dashboard:", len(github.issues[0]["body"]))  # for the closing note
        assert len(sizes) >= 4 and max(sizes.values()) < GITHUB_BODY_LIMIT
        safe = git(bare, "log", "-1", "--format=%(trailers:key=Hardener-Transforms,valueonly)", "hardener/safe")
        assert not re.search(r"HD70\d|HD50[45]", safe)
        assert ".github/workflows" not in git(bare, "ls-tree", "-r", "--name-only", "hardener/safe")
        (issue,) = github.issues
        assert all(f"`{branch}`" in issue["body"] for branch in sizes)
        assert "### Refused" in issue["body"] and len(issue["body"]) < GITHUB_BODY_LIMIT
        heads, writes = branches(bare), len(github.writes())
        code, out = run_pr("--api-url", github.url, "--github-repo", "acme/fleet", str(work))
        assert code == 0, out
        assert branches(bare) == heads and len(github.writes()) == writes  # a no-op
        assert github.problems == []
    finally:
        github.stop()
