"""``hardener pr``: hardening pull requests, one per applicability level, kept up to date.

By default two branches: ``hardener/safe`` holds the safe changes on top of the base
branch, and ``hardener/review`` is stacked on it and adds the changes a human should
look at. The review PR targets ``hardener/safe`` while that branch has changes, so each
PR's diff shows exactly its own level; after the safe PR is merged the next run retargets
the review PR to the base branch. ``--combined`` makes one branch, ``hardener/all``.

The work happens in a temporary ``git worktree`` on the remote's base branch: the user's
checkout is never touched. A re-run reuses the branch's commit when the result is the
same (nothing is pushed, no PR is opened), and before replacing a branch it checks that
every commit on it was made by hardener (author, committer and trailer): a commit a human
added stops the run for that repository. Pushes use ``--force-with-lease`` on the tip
that was checked, so a push racing ours is not overwritten either.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hardener import __version__
from hardener.model import Applicability
from hardener.pr.body import Level, commit_message, level_reports, pr_title
from hardener.pr.gitcmd import Git, GitError
from hardener.report import Mode, Report

if TYPE_CHECKING:
    from hardener.pr.github import GitHub

BOT_NAME = "hardener"
BOT_EMAIL = "hardener@users.noreply.github.com"
TRAILER = "Hardener-Transforms:"


class Stop(Exception):
    """This repository cannot be handled safely; the message says why and what to do."""


@dataclass(frozen=True)
class PrRequest:
    repo: Path
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unsafe: bool = False
    config_path: Path | None = None
    offline: bool = False
    combined: bool = False
    dry_run: bool = False
    remote: str | None = None
    base: str | None = None
    api_url: str | None = None
    github_repo: str | None = None
    token: str | None = field(default=None, repr=False)  # never printed


@dataclass(frozen=True)
class PrOutcome:
    repo: str
    lines: tuple[str, ...]  # what was done (or would be), for people
    exit_code: int = 0
    opened: tuple[str, ...] = ()  # branches whose PR was opened
    updated: tuple[str, ...] = ()
    pushed: tuple[str, ...] = ()
    report: Report | None = None  # the run with every level applied, for the campaign summary


@dataclass(frozen=True)
class Settings:
    remote: str
    base: str
    slug: str | None
    api_url: str


def run_pr(request: PrRequest) -> PrOutcome:
    """One repository; never raises for a problem of that repository (the outcome says it)."""
    log: list[str] = []
    name = str(request.repo)
    request = replace(request, token=clean_token(request.token))
    try:
        return _run(request, log)
    except (Stop, GitError) as exc:
        return PrOutcome(name, (*log, f"{name}: {_redacted(str(exc), request.token)}"), exit_code=2)
    except Exception as exc:  # GitHubError and bugs: this repository failed, the others go on
        from hardener.pr.github import GitHubError

        code = 2 if isinstance(exc, GitHubError) else 3
        return PrOutcome(name, (*log, f"{name}: {type(exc).__name__}: {_redacted(str(exc), request.token)}"),
                         exit_code=code)


def clean_token(token: str | None) -> str | None:
    """The token without surrounding whitespace (a ``\\n`` from ``echo >``, a ``\\r`` from Windows)."""
    stripped = token.strip() if token else ""
    return stripped or None


def _redacted(message: str, token: str | None) -> str:
    """A last guard: whatever raised, the token (or its first line) never reaches a message."""
    for secret in {token or "", *(token or "").splitlines()}:
        if len(secret) >= 4:
            message = message.replace(secret, "<token>")
    return message


def _run(request: PrRequest, log: list[str]) -> PrOutcome:
    git = Git(request.repo)
    top = Path(git("rev-parse", "--show-toplevel"))
    git = Git(top, _bot_env())
    settings = _settings(request, git)
    client = None if request.dry_run else _client(request, settings)
    try:
        settings, base = _fetch(git, settings, client)
        worktree = Path(tempfile.mkdtemp(prefix="hardener-pr-"))
        try:
            git("worktree", "add", "--detach", "--quiet", str(worktree / "w"), base)
            return _levels(request, settings, git, Git(worktree / "w", _bot_env()), base, client, log)
        finally:
            git("worktree", "remove", "--force", str(worktree / "w"), check=False)
            shutil.rmtree(worktree, ignore_errors=True)
            git("worktree", "prune", check=False)
            _drop_private_refs(git)
    finally:
        if client is not None:
            client.close()


def _drop_private_refs(git: Git) -> None:
    for ref in git("for-each-ref", "--format=%(refname)", "refs/hardener/").split():
        git("update-ref", "-d", ref)


def _settings(request: PrRequest, git: Git) -> Settings:
    from hardener.config import load_config
    from hardener.options import PR_OPTIONS, named
    from hardener.pr.github import slug_from_remote

    options = load_config(git.cwd, request.config_path).options.get("pr", {})
    default = {key: named(PR_OPTIONS, key).default for key in ("remote", "api-url")}  # one place for defaults
    remote = request.remote or options.get("remote") or default["remote"]
    url = git("remote", "get-url", remote, check=False)
    if not url:
        raise Stop(f"no git remote {remote!r} (see --remote)")
    slug = request.github_repo or options.get("repository") or slug_from_remote(url)
    from_repo = options.get("api-url") if request.config_path is None else None
    if from_repo and not request.api_url:
        _check_repo_api_url(from_repo, url)
    api_url = request.api_url or options.get("api-url") or default["api-url"]
    return Settings(remote, request.base or options.get("base") or "", slug, api_url)


def _check_repo_api_url(api_url: str, remote_url: str) -> None:
    """The repository's own config may only name the API of the host it is pushed to, over https.

    The token goes wherever ``api-url`` points, and the repository being hardened is not
    trusted: its config must not send the token to another host or in clear text. The
    command line (``--api-url``) and a config the user names (``--config``) are trusted.
    """
    from urllib.parse import urlsplit

    api = urlsplit(api_url)
    host = _remote_host(remote_url)
    if api.scheme != "https" or not api.hostname or host is None or api.hostname.lower() not in (host, f"api.{host}"):
        raise Stop(f"[tool.hardener.pr] api-url {api_url!r} in the repository's config is not used: it must be an "
                   f"https URL on the remote's host ({host or 'unknown'}); pass --api-url to choose the API yourself")


def _remote_host(url: str) -> str | None:
    """The host of a git remote URL (``https://h/o/r``, ``ssh://git@h:22/o/r``, ``git@h:o/r``)."""
    from urllib.parse import urlsplit

    if "://" in url:
        return (urlsplit(url).hostname or "").lower() or None
    user_host, colon, _ = url.partition(":")
    if not colon or "/" in user_host:
        return None  # a local path
    return user_host.rsplit("@", 1)[-1].lower() or None


def _client(request: PrRequest, settings: Settings) -> GitHub:
    from hardener.pr.github import GitHub

    if not request.token:
        raise Stop("GITHUB_TOKEN is not set (or use --dry-run)")
    if any(c.isspace() or not c.isprintable() for c in request.token):
        raise Stop("GITHUB_TOKEN contains whitespace or control characters; it was not used (not shown here)")
    if not settings.slug:
        raise Stop("cannot tell the GitHub repository from the remote URL (see --github-repo)")
    return GitHub(request.token, settings.api_url)


def _fetch(git: Git, settings: Settings, client: GitHub | None) -> tuple[Settings, str]:
    """Fetch the base branch and hardener's branches into a private ref namespace."""
    base = settings.base
    if not base and client is not None:
        base = client.repository(settings.slug or "")["default_branch"]  # _client made sure of a slug
    if not base:
        head = git("ls-remote", "--symref", settings.remote, "HEAD")
        base = head.split("\t", 1)[0].removeprefix("ref: refs/heads/") if head.startswith("ref:") else "main"
    _drop_private_refs(git)  # a branch deleted on the remote must not linger here
    git("fetch", "--quiet", "--no-tags", settings.remote, f"+refs/heads/{base}:refs/hardener/base",
        "+refs/heads/hardener/*:refs/hardener/remote/*")
    commit = git.rev("refs/hardener/base")
    if commit is None:
        raise Stop(f"the remote has no branch {base!r}")
    return replace(settings, base=base), commit


def _levels(request: PrRequest, settings: Settings, git: Git, work: Git, base: str, client: GitHub | None,
            log: list[str]) -> PrOutcome:
    plan = [Level("all", _top(request))] if request.combined else [
        Level("safe", Applicability.SAFE), Level("review", _top(request))]
    runs = {level.name: _harden(request, work, base, level) for level in plan}
    reports = level_reports(plan, {name: report for name, (report, _) in runs.items()})
    opened: list[str]
    updated: list[str]
    parent, pushed, opened, updated = base, [], [], []
    pr_base = settings.base
    for level in plan:
        report = reports[level.name]
        branch = f"hardener/{level.name}"
        tree = runs[level.name][1]
        if tree == git.tree(parent):
            log.append(f"{branch}: no {level.name} changes")
            continue
        commit, push = _commit(git, branch, parent, tree, base, report, level)
        if push:
            pushed.append(branch)
            log.append(f"{branch}: {'would push' if request.dry_run else 'pushed'} {commit[:12]}")
            if not request.dry_run:
                _push(git, settings.remote, commit, branch)
        else:
            log.append(f"{branch}: up to date ({commit[:12]})")
        action = _pull_request(request, settings, client, branch, pr_base, level, report, log)
        (opened if action == "opened" else updated if action == "updated" else []).append(branch)
        parent, pr_base = commit, branch
    return PrOutcome(str(request.repo), tuple(log), 0, tuple(opened), tuple(updated), tuple(pushed),
                     runs[plan[-1].name][0])


def _top(request: PrRequest) -> Applicability:
    return Applicability.UNSAFE if request.unsafe else Applicability.REVIEW


def _harden(request: PrRequest, work: Git, base: str, level: Level) -> tuple[Report, str]:
    """The engine on a clean checkout of the base, applying changes up to the level's threshold."""
    from hardener.runner import RunRequest, run

    work("checkout", "--quiet", "--force", "--detach", base)
    work("clean", "--quiet", "-fdx")
    run_request = RunRequest(
        (work.cwd,), Mode.APPLY, request.select, request.ignore, level.threshold is Applicability.UNSAFE,
        level.threshold is Applicability.SAFE, request.config_path, False, request.offline,
    )
    report = run(run_request)
    report.results = [replace(r, path=_relative(work.cwd, r.path)) for r in report.results]
    report.companions = [replace(c, path=_relative(work.cwd, c.path)) for c in report.companions]
    work("add", "--all")
    return report, work("write-tree")


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _commit(git: Git, branch: str, parent: str, tree: str, base: str, report: Report,
            level: Level) -> tuple[str, bool]:
    """The commit for the branch, and whether it must be pushed (False: the remote has it)."""
    remote_tip = git.rev(f"refs/hardener/remote/{level.name}")
    if remote_tip is not None:
        _check_only_hardener(git, branch, remote_tip, base)
        if git.tree(remote_tip) == tree and git.parents(remote_tip) == [parent]:
            return remote_tip, False
    message = commit_message(report, level)
    commit = git("commit-tree", tree, "-p", parent, "-m", message)
    return commit, True


def _check_only_hardener(git: Git, branch: str, tip: str, base: str) -> None:
    fmt = "%H%x1f%an%x1f%ae%x1f%ce%x1f%s%x1f%(trailers:key=Hardener-Transforms,valueonly,separator=%x2C)%x1e"
    for entry in git("log", f"--format={fmt}", tip, f"^{base}").split("\x1e"):
        if not entry.strip():
            continue
        sha, author, email, committer, subject, trailer = entry.strip("\n").split("\x1f")
        if email != BOT_EMAIL or committer != BOT_EMAIL or not trailer.strip():
            raise Stop(
                f"{branch} has a commit hardener did not make ({sha[:12]} by {author}: {subject!r}); "
                "hardener will not overwrite it. Merge or close that pull request (or delete the branch), "
                "then run hardener pr again."
            )


def _push(git: Git, remote: str, commit: str, branch: str) -> None:
    expected = git.rev(f"refs/hardener/remote/{branch.split('/', 1)[1]}") or ""
    git("push", "--quiet", "--no-verify", f"--force-with-lease=refs/heads/{branch}:{expected}", remote,
        f"{commit}:refs/heads/{branch}")


def _pull_request(request: PrRequest, settings: Settings, client: GitHub | None, branch: str, base: str,
                  level: Level, report: Report, log: list[str]) -> str:
    from hardener.output import markdown as output_markdown
    from hardener.pr.body import FOOTER, STACKED

    title = pr_title(report, level)
    intro = STACKED.format(base=base) if base.startswith("hardener/") else None
    body = output_markdown.render(report, title=title, intro=intro) + FOOTER.format(version=__version__)
    if client is None:
        log.append(f"{branch}: would open or update a pull request into {base}: {title!r}")
        log.append(_indented(body))
        return "dry-run"
    slug = settings.slug or ""
    existing = client.open_pull(slug, branch)
    if existing is None:
        pull = client.create_pull(slug, title=title, body=body, head=branch, base=base)
        log.append(f"{branch}: opened pull request #{pull.number} {pull.url}")
        return "opened"
    wanted = {"title": title, "body": body, "base": base}
    have = {"title": existing.title, "body": existing.body, "base": existing.base}
    if wanted == have:
        log.append(f"{branch}: pull request #{existing.number} is up to date")
        return "unchanged"
    client.update_pull(slug, existing.number, **{k: v for k, v in wanted.items() if have[k] != v})
    log.append(f"{branch}: updated pull request #{existing.number} {existing.url}")
    return "updated"


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _bot_env() -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": BOT_NAME, "GIT_AUTHOR_EMAIL": BOT_EMAIL,
            "GIT_COMMITTER_NAME": BOT_NAME, "GIT_COMMITTER_EMAIL": BOT_EMAIL}
