"""``hardener pr`` end to end, with real parts.

Real git: each test makes a bare repository on disk as the remote, a clone with the
bundled legacy example committed to ``main``, and hardener pushes to it for real.
The GitHub API: there is no GitHub here, so ``tests/fake_github.py`` runs a small HTTP
server on 127.0.0.1 (random port, in a thread) implementing the endpoints hardener uses
with GitHub's JSON shapes; it checks the Authorization header and every payload, and
validates head/base branches against the bare repository. hardener reaches it through
its real httpx client with ``--api-url``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from fake_github import FakeGitHub

from hardener import __version__
from hardener.cli import main
from hardener.pr.github import slug_from_remote

TOKEN = "ghp_test_secret_token_123"
SELECT = "HD301,HD401,HD501,HD601"  # the transforms the goldens were written with
GOLDEN = ROOT / "tests" / "data" / "pr"
UPDATE = os.environ.get("HARDENER_UPDATE_GOLDENS") == "1"
HUMAN = {"GIT_AUTHOR_NAME": "Jane Dev", "GIT_AUTHOR_EMAIL": "jane@example.com",
         "GIT_COMMITTER_NAME": "Jane Dev", "GIT_COMMITTER_EMAIL": "jane@example.com"}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, **HUMAN, **(env or {})})
    return proc.stdout.strip()


def make_repo(tmp: Path, slug: str = "acme/webapp") -> tuple[Path, Path]:
    """(working clone, bare remote) with examples/legacy-webapp committed on main."""
    bare = tmp / "remotes" / f"{slug}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git(tmp, "init", "-q", "--bare", "-b", "main", str(bare))
    work = tmp / slug.split("/")[1]
    shutil.copytree(ROOT / "examples" / "legacy-webapp", work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "legacy web app")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")
    return work, bare


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN, {}).start()
    yield fake
    fake.stop()
    assert not fake.problems


def pr(*args: str, token: str | None = TOKEN) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": token} if token else {"GITHUB_TOKEN": ""}
    result = CliRunner().invoke(main, ["pr", "--select", SELECT, *args], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def branches(bare: Path) -> dict[str, str]:
    out = git(bare, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split() for line in out.splitlines())


def check_golden(name: str, text: str) -> None:
    text = text.replace(__version__, "<version>")
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_twice_then_a_human_commit(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert TOKEN not in out
    safe, review = github.pulls
    assert (safe["head"]["ref"], safe["base"]["ref"]) == ("hardener/safe", "main")
    assert (review["head"]["ref"], review["base"]["ref"]) == ("hardener/review", "hardener/safe")
    check_golden("safe.md", safe["body"])
    check_golden("review.md", review["body"])
    assert safe["title"] == "hardener: safe hardening (2 changes in 1 file)"
    assert review["title"] == "hardener: hardening to review (3 changes in 2 files)"
    heads = branches(bare)
    assert git(bare, "rev-parse", "hardener/review^") == heads["hardener/safe"]
    assert git(bare, "rev-parse", "hardener/safe^") == heads["main"]
    trailers = git(bare, "log", "-1", "--format=%(trailers)", "hardener/safe")
    assert "Hardener-Transforms: HD301, HD501" in trailers
    assert "Hardener-Transforms: HD401, HD601" in git(bare, "log", "-1", "--format=%(trailers)", "hardener/review")
    assert "COPY requirements.txt" in git(bare, "show", "hardener/safe:Dockerfile")
    assert "no-new-privileges" not in git(bare, "show", "hardener/safe:docker-compose.yml")
    assert "no-new-privileges" in git(bare, "show", "hardener/review:docker-compose.yml")
    assert git(work, "status", "--porcelain") == "" and git(work, "worktree", "list").count("\n") == 0

    writes = len(github.writes())
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert branches(bare) == heads
    assert len(github.writes()) == writes and len(github.pulls) == 2
    assert "up to date" in out

    human = tmp_path / "human"
    git(tmp_path, "clone", "-q", "-b", "hardener/review", str(bare), str(human))
    (human / "app.py").write_text("print('tweaked by a person')\n")
    git(human, "commit", "-qam", "tweak the app")
    git(human, "push", "-q", "origin", "hardener/review")
    tip = branches(bare)["hardener/review"]
    code, out = pr("--api-url", github.url, str(work))
    assert code == 2
    assert "hardener/review has a commit hardener did not make" in out and "Jane Dev" in out
    assert branches(bare)["hardener/review"] == tip
    assert len(github.writes()) == writes


def test_base_moves_branches_follow(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    assert pr("--api-url", github.url, str(work))[0] == 0
    (work / "README").write_text("new on main\n")
    git(work, "add", "README")
    git(work, "commit", "-qm", "readme")
    git(work, "push", "-q", "origin", "main")
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert git(bare, "rev-parse", "hardener/safe^") == branches(bare)["main"]
    assert "pushed" in out and len(github.pulls) == 2
    assert [m for m, _ in github.writes()] == ["POST", "POST"]  # same bodies: no PATCH


def test_review_pr_retargets_when_safe_is_merged(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    assert pr("--api-url", github.url, str(work))[0] == 0
    git(work, "fetch", "-q", "origin")
    git(work, "merge", "-q", "--ff-only", "origin/hardener/safe")
    git(work, "push", "-q", "origin", "main")
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert "hardener/safe: no safe changes" in out
    assert github.pulls[1]["base"]["ref"] == "main"
    assert git(bare, "rev-parse", "hardener/review^") == branches(bare)["main"]


def test_a_branch_deleted_on_the_remote_is_pushed_again(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    assert pr("--api-url", github.url, str(work))[0] == 0
    git(bare, "update-ref", "-d", "refs/heads/hardener/review")
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert "hardener/review: pushed" in out and "hardener/safe: up to date" in out
    assert git(work, "for-each-ref", "refs/hardener/") == ""  # no private refs left behind


def test_combined(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    code, out = pr("--combined", "--api-url", github.url, str(work))
    assert code == 0, out
    (only,) = github.pulls
    assert (only["head"]["ref"], only["base"]["ref"]) == ("hardener/all", "main")
    assert "Hardener-Transforms: HD301, HD401, HD501, HD601" in git(bare, "log", "-1", "--format=%B", "hardener/all")
    assert set(branches(bare)) == {"main", "hardener/all"}


def test_dry_run_pushes_and_calls_nothing(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    code, out = pr("--dry-run", "--api-url", github.url, str(work), token=None)
    assert code == 0, out
    assert "hardener/safe: would push" in out and "would open or update a pull request into main" in out
    assert "### `Dockerfile`" in out  # the body it would post
    assert github.calls == [] and set(branches(bare)) == {"main"}


@pytest.mark.parametrize(
    ("token", "message"),
    [
        pytest.param(None, "GITHUB_TOKEN is not set", id="no-token"),
        pytest.param("wrong-token", "HTTP 401: Bad credentials", id="bad-token"),
    ],
)
def test_token_problems_stop_before_pushing(tmp_path: Path, github: FakeGitHub, token, message) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    code, out = pr("--api-url", github.url, str(work), token=token)
    assert code == 2 and message in out
    assert set(branches(bare)) == {"main"}
    assert "wrong-token" not in out


def test_campaign_over_two_repos_in_parallel(tmp_path: Path, github: FakeGitHub) -> None:
    one, bare_one = make_repo(tmp_path, "acme/one")
    two, bare_two = make_repo(tmp_path, "acme/two")
    github.repos.update({"acme/one": bare_one, "acme/two": bare_two})
    listing = tmp_path / "repos.txt"
    listing.write_text("# the fleet\none\ntwo\n")
    code, out = pr("--jobs", "2", "--repos-file", str(listing), "--api-url", github.url)
    assert code == 0, out
    assert out.index(str(one)) < out.index(str(two))
    assert "campaign: 2 repositories, 2 pushed, 4 pull requests opened, 0 updated, 0 stopped" in out
    assert re.search(r"\s4\s+HD601 no-new-privileges", out) and re.search(r"\s2\s+HD301 add-to-copy", out)
    assert {p["base"]["repo"]["full_name"] for p in github.pulls} == {"acme/one", "acme/two"}


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        pytest.param("git@github.com:acme/webapp.git", "acme/webapp", id="scp"),
        pytest.param("https://github.com/acme/webapp", "acme/webapp", id="https"),
        pytest.param("https://ghe.example.com/acme/webapp.git/", "acme/webapp", id="enterprise"),
        pytest.param("ssh://git@github.com/acme/webapp.git", "acme/webapp", id="ssh"),
        pytest.param("/srv/git/acme/webapp.git", "acme/webapp", id="path"),
        pytest.param("webapp", None, id="no-owner"),
    ],
)
def test_slug_from_remote(url: str, slug: str | None) -> None:
    assert slug_from_remote(url) == slug
