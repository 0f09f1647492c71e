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


def pr(*args: str, token: str | None = TOKEN, select: str = SELECT) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": token} if token else {"GITHUB_TOKEN": ""}
    result = CliRunner().invoke(main, ["pr", "--select", select, *args], env=env)
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


RUNTIME = "hardener/compose-runtime-docker-compose-yml"  # the Compose runtime group is one PR per file


def test_twice_then_a_human_commit(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert TOKEN not in out
    safe, runtime, build = github.pulls
    assert [(p["head"]["ref"], p["base"]["ref"]) for p in github.pulls] == [
        ("hardener/safe", "main"), (RUNTIME, "main"), ("hardener/build", "main")]
    check_golden("group-safe.md", safe["body"].replace(github.url, "<web>"))
    check_golden("group-compose-runtime.md", runtime["body"].replace(github.url, "<web>"))
    check_golden("dashboard.md", github.issues[0]["body"])
    assert safe["title"] == "hardener: safe hygiene (2 changes in 1 file)"
    assert runtime["title"] == "hardener: Compose runtime settings in docker-compose.yml (2 changes in 1 file)"
    assert build["title"] == "hardener: build hygiene to review (1 change in 1 file)"
    heads = branches(bare)
    for branch in ("hardener/safe", RUNTIME, "hardener/build"):
        assert git(bare, "rev-parse", f"{branch}^") == heads["main"]  # every group sits on the base
    assert "Hardener-Transforms: HD301, HD501" in git(bare, "log", "-1", "--format=%(trailers)", "hardener/safe")
    assert "Hardener-Transforms: HD601" in git(bare, "log", "-1", "--format=%(trailers)", RUNTIME)
    assert "COPY requirements.txt" in git(bare, "show", "hardener/safe:Dockerfile")
    assert "no-new-privileges" not in git(bare, "show", "hardener/safe:docker-compose.yml")
    assert "no-new-privileges" in git(bare, "show", f"{RUNTIME}:docker-compose.yml")
    assert "COPY requirements.txt" not in git(bare, "show", f"{RUNTIME}:Dockerfile")
    assert git(work, "status", "--porcelain") == "" and git(work, "worktree", "list").count("\n") == 0

    writes = len(github.writes())
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert branches(bare) == heads
    assert len(github.writes()) == writes and len(github.pulls) == 3 and len(github.issues) == 1
    assert "up to date" in out and "dashboard: issue #4 is up to date" in out

    human = tmp_path / "human"
    git(tmp_path, "clone", "-q", "-b", "hardener/build", str(bare), str(human))
    (human / "app.py").write_text("print('tweaked by a person')\n")
    git(human, "commit", "-qam", "tweak the app")
    git(human, "push", "-q", "origin", "hardener/build")
    tip = branches(bare)["hardener/build"]
    code, out = pr("--api-url", github.url, str(work))
    assert code == 2
    assert "hardener/build has a commit hardener did not make" in out and "Jane Dev" in out
    assert branches(bare)["hardener/build"] == tip
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
    for branch in ("hardener/safe", RUNTIME, "hardener/build"):
        assert git(bare, "rev-parse", f"{branch}^") == branches(bare)["main"]  # rebased
    assert "pushed" in out and len(github.pulls) == 3
    assert [m for m, _ in github.writes()] == ["POST"] * 4  # three PRs and the dashboard; same bodies: no PATCH


def test_a_merged_group_is_closed_when_empty_the_others_rebase(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    assert pr("--api-url", github.url, str(work))[0] == 0
    git(work, "fetch", "-q", "origin")
    git(work, "merge", "-q", "--ff-only", "origin/hardener/safe")
    git(work, "push", "-q", "origin", "main")
    github.pulls[0]["state"] = "open"  # GitHub marks it merged only on its own merge button
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert "hardener/safe: no changes left; closed pull request #1" in out
    assert github.pulls[0]["state"] == "closed" and github.pulls[1]["state"] == "open"
    assert git(bare, "rev-parse", "hardener/build^") == branches(bare)["main"]
    assert "hardener/safe" not in github.issues[0]["body"]


def test_a_run_of_one_group_leaves_the_other_groups_prs_open(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    assert pr("--api-url", github.url, str(work))[0] == 0
    before = {p["head"]["ref"]: p["state"] for p in github.pulls}
    assert len(before) >= 2 and set(before.values()) == {"open"}
    code, out = pr("--select", "HD301", "--api-url", github.url, str(work))
    assert code == 0, out
    assert {p["head"]["ref"]: p["state"] for p in github.pulls} == before, out
    assert "closed" not in out, out


def test_a_branch_deleted_on_the_remote_is_pushed_again(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    assert pr("--api-url", github.url, str(work))[0] == 0
    git(bare, "update-ref", "-d", "refs/heads/hardener/build")
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    assert "hardener/build: pushed" in out and "hardener/safe: up to date" in out
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
    assert re.search(r"hardener/build: would open .*\(body \d+ characters\)", out)
    assert "### `Dockerfile`" in out  # the body it would post
    assert "dashboard: would create or update the issue 'hardener dashboard'" in out
    assert github.calls == [] and set(branches(bare)) == {"main"}


def test_dry_run_offline_touches_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard fails the test on any socket connection or any git command that talks to a remote."""
    import socket

    work, bare = make_repo(tmp_path)
    git(work, "fetch", "-q", "origin")  # the remote-tracking refs --offline works from
    git(work, "remote", "set-url", "origin", "https://git.invalid/acme/webapp.git")
    remote_verbs = {"fetch", "ls-remote", "push", "pull", "clone", "remote-https", "submodule"}
    real_run = subprocess.run

    def guarded_run(args, *a, **kw):  # type: ignore[no-untyped-def]
        words = [str(w) for w in args] if isinstance(args, list) else str(args).split()
        if any(w in remote_verbs for w in words[1:3]) or (words[1:3] == ["remote", "update"]):
            raise AssertionError(f"network call under --dry-run --offline: {words}")
        return real_run(args, *a, **kw)

    def no_connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"socket connection under --dry-run --offline: {args}")

    monkeypatch.setattr(subprocess, "run", guarded_run)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket, "create_connection", no_connect)
    code, out = pr("--dry-run", "--offline", str(work), token=None)
    assert code == 0, out
    assert "hardener/safe: would push" in out and "dashboard: would create or update" in out
    assert set(branches(bare)) == {"main"}


def test_ticking_an_opt_in_group_on_the_dashboard_opens_it(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    with_gate = ("--api-url", github.url, str(work))
    assert pr(*with_gate, select="HD501,HD504")[0] == 0
    assert [p["head"]["ref"] for p in github.pulls] == ["hardener/safe"]  # the CI gate is opt-in
    issue = github.issues[0]
    assert "- [ ] <!-- hardener-group:ci-gate -->" in issue["body"]
    issue["body"] = issue["body"].replace("- [ ] <!-- hardener-group:ci-gate -->", "- [x] <!-- hardener-group:ci-gate -->")
    code, out = pr(*with_gate, select="HD501,HD504")
    assert code == 0, out
    assert [p["head"]["ref"] for p in github.pulls] == ["hardener/safe", "hardener/ci-gate"]
    assert "- [x] <!-- hardener-group:ci-gate -->" in issue["body"]  # the tick survives the update
    assert ".github/workflows/" in git(bare, "ls-tree", "-r", "--name-only", "hardener/ci-gate")
    assert ".github/workflows/" not in git(bare, "ls-tree", "-r", "--name-only", "hardener/safe")


def test_configured_group_takes_its_transforms_from_the_defaults(tmp_path: Path, github: FakeGitHub) -> None:
    work, bare = make_repo(tmp_path)
    github.repos["acme/webapp"] = bare
    (work / ".hardener.toml").write_text('[pr.groups.hygiene]\ntitle = "Dockerfile hygiene"\n'
                                         'transforms = ["exec-form", "HD501"]\n')
    git(work, "add", ".hardener.toml")
    git(work, "commit", "-qm", "groups")
    git(work, "push", "-q", "origin", "main")
    code, out = pr("--api-url", github.url, str(work))
    assert code == 0, out
    heads = [p["head"]["ref"] for p in github.pulls]
    assert heads == ["hardener/hygiene", "hardener/safe", RUNTIME]
    assert "Hardener-Transforms: HD401, HD501" in git(bare, "log", "-1", "--format=%(trailers)", "hardener/hygiene")
    assert "Hardener-Transforms: HD301\n" in git(bare, "log", "-1", "--format=%(trailers)", "hardener/safe")


def test_a_typo_in_a_group_is_an_error(tmp_path: Path) -> None:
    work, _ = make_repo(tmp_path)
    (work / ".hardener.toml").write_text('[pr.groups.hygiene]\ntransforms = ["exec-from"]\n')
    code, out = pr("--dry-run", "--offline", str(work), token=None)
    assert code == 2 and "pr.groups.hygiene.transforms: unknown transform 'exec-from'; did you mean exec-form?" in out


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
    assert "campaign: 2 repositories, 2 pushed, 6 pull requests opened, 0 updated, 0 stopped" in out
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


def test_gitlab_merge_requests_and_dashboard(tmp_path: Path) -> None:
    """A GitLab remote: the same groups and dashboard through the GitLab API (``tests/fake_gitlab.py``)."""
    from fake_gitlab import FakeGitLab

    work, bare = make_repo(tmp_path, "acme/webapp")
    (work / ".hardener.toml").write_text('[pr]\nforge = "gitlab"\nrepository = "acme/platform/webapp"\n')
    git(work, "add", ".hardener.toml")
    git(work, "commit", "-qm", "gitlab")
    git(work, "push", "-q", "origin", "main")
    gitlab = FakeGitLab("glpat-secret", {"acme/platform/webapp": bare}).start()
    try:
        env = {"GITLAB_TOKEN": "glpat-secret", "GITHUB_TOKEN": ""}
        args = ["pr", "--select", SELECT, "--api-url", gitlab.url, str(work)]
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
        assert [(m["source_branch"], m["target_branch"]) for m in gitlab.merge_requests] == [
            ("hardener/safe", "main"), (RUNTIME, "main"), ("hardener/build", "main")]
        assert "/acme/platform/webapp/-/blob/hardener/safe/Dockerfile#L4" in gitlab.merge_requests[0]["description"]
        (issue,) = gitlab.issues
        assert issue["title"] == "hardener dashboard" and "`hardener/build`" in issue["description"]
        writes = len(gitlab.writes())
        again = CliRunner().invoke(main, args, env=env)
        assert again.exit_code == 0 and len(gitlab.writes()) == writes, again.output  # a no-op
        git(work, "fetch", "-q", "origin")
        git(work, "merge", "-q", "--ff-only", "origin/hardener/safe")
        git(work, "push", "-q", "origin", "main")
        third = CliRunner().invoke(main, args, env=env)
        assert third.exit_code == 0, third.output
        assert gitlab.merge_requests[0]["state"] == "closed" and gitlab.merge_requests[2]["state"] == "opened"
        assert "glpat-secret" not in result.output + again.output + third.output
    finally:
        gitlab.stop()


def test_gitlab_path_keeps_subgroups() -> None:
    from hardener.pr.gitlab import path_from_remote

    assert path_from_remote("git@gitlab.com:acme/platform/webapp.git") == "acme/platform/webapp"
    assert path_from_remote("https://gitlab.example.com/acme/platform/webapp.git") == "acme/platform/webapp"
    assert path_from_remote("https://gitlab.example.com/webapp") is None
