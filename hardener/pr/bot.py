"""``hardener pr``: hardening pull requests, one per group of changes, and a dashboard issue.

Changes are grouped by risk and kind (``hardener.pr.groups``): each group is a branch
``hardener/<group>`` on top of the base branch with its own PR, so a maintainer merges the
safe hygiene on sight and reviews topology or users on their own. A re-run rebuilds every
branch on the current base (rebased for free), leaves a PR whose result did not change
alone, closes the PR of a group with nothing left, and updates the dashboard issue in
place. ``--combined`` makes one branch, ``hardener/all``.

The work happens in a temporary ``git worktree`` on the remote's base branch: the user's
checkout is never touched. Before replacing a branch it checks that every commit on it was
made by hardener (author, committer and trailer): a commit a human added stops the run for
that repository. Pushes use ``--force-with-lease`` on the tip that was checked, so a push
racing ours is not overwritten either. ``--dry-run --offline`` uses the remote-tracking
refs already in the repository and never contacts the remote.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardener import __version__
from hardener.errors import BadInput
from hardener.pr.body import FOOTER, Link, commit_message, pr_title
from hardener.pr.gitcmd import Git, GitError
from hardener.pr.groups import Group
from hardener.report import Mode, Report

if TYPE_CHECKING:
    from hardener.pr.github import GitHub, Issue
    from hardener.pr.gitlab import GitLab
    from hardener.pr.units import Unit

    Forge = GitHub | GitLab

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
    gitlab_token: str | None = field(default=None, repr=False)  # GITLAB_TOKEN, for a GitLab remote


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
    groups: tuple[Group, ...] = ()
    enabled: frozenset[str] = frozenset()  # opt-in groups the config turns on
    select: tuple[str, ...] = ()  # the repository config's select / ignore
    ignore: tuple[str, ...] = ()
    web_url: str = ""  # https://github.com, for line anchors
    blob: str = "blob"
    forge: str = "github"  # or "gitlab": merge requests through the GitLab API


def run_pr(request: PrRequest) -> PrOutcome:
    """One repository; never raises for a problem of that repository (the outcome says it)."""
    log: list[str] = []
    name = str(request.repo)
    request = replace(request, token=clean_token(request.token), gitlab_token=clean_token(request.gitlab_token))
    try:
        return _run(request, log)
    except (Stop, GitError, BadInput) as exc:  # BadInput: the repository's config is wrong
        return PrOutcome(name, (*log, f"{name}: {_redacted(_redacted(str(exc), request.token), request.gitlab_token)}"),
                         exit_code=2)
    except Exception as exc:  # GitHubError and bugs: this repository failed, the others go on
        from hardener.pr.github import GitHubError

        code = 2 if isinstance(exc, GitHubError) else 3
        message = _redacted(_redacted(str(exc), request.token), request.gitlab_token)
        return PrOutcome(name, (*log, f"{name}: {type(exc).__name__}: {message}"), exit_code=code)


def clean_token(token: str | None) -> str | None:
    """The token without surrounding whitespace (a ``\\n`` from ``echo >``, a ``\\r`` from Windows)."""
    stripped = token.strip() if token else ""
    return stripped or None


def _redacted(message: str, token: str | None) -> str:
    """A last guard: whatever raised, the token (or its first line) never reaches a message."""
    for secret in {token or "", *(token or "").splitlines()}:  # the GitLab token is checked by the caller too
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
        settings, base = _fetch(git, settings, client, request.dry_run and request.offline)
        worktree = Path(tempfile.mkdtemp(prefix="hardener-pr-"))
        try:
            git("worktree", "add", "--detach", "--quiet", str(worktree / "w"), base)
            return _groups(request, settings, git, Git(worktree / "w", _bot_env()), base, client, log)
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

    config = load_config(git.cwd, request.config_path)
    options = config.options.get("pr", {})
    default = {key: named(PR_OPTIONS, key).default for key in ("remote", "api-url")}  # one place for defaults
    remote = request.remote or options.get("remote") or default["remote"]
    url = git("remote", "get-url", remote, check=False)
    if not url:
        raise Stop(f"no git remote {remote!r} (see --remote)")
    forge = options.get("forge") or ("gitlab" if "gitlab" in (_remote_host(url) or "") else "github")
    slug = request.github_repo or options.get("repository") or _slug(forge, url)
    from_repo = options.get("api-url") if request.config_path is None else None
    if from_repo and not request.api_url:
        _check_repo_api_url(from_repo, url)
    fallback = f"https://{_remote_host(url)}/api/v4" if forge == "gitlab" else default["api-url"]
    api_url = request.api_url or options.get("api-url") or fallback
    groups, enabled = _plan(request, options.get("groups"))
    return Settings(remote, request.base or options.get("base") or "", slug, api_url, groups, enabled,
                    config.select, config.ignore, _web_url(api_url), "-/blob" if forge == "gitlab" else "blob", forge)


def _slug(forge: str, url: str) -> str | None:
    from hardener.pr.github import slug_from_remote
    from hardener.pr.gitlab import path_from_remote

    return path_from_remote(url) if forge == "gitlab" else slug_from_remote(url)


def _plan(request: PrRequest, table: dict[str, Any] | None) -> tuple[tuple[Group, ...], frozenset[str]]:
    """The groups of this run, and the opt-in ones the config names (which turns them on)."""
    from hardener.pr.groups import GroupError, configured_groups

    if request.combined:
        return (Group("all", "harden Dockerfiles and Compose files", ()),), frozenset()
    try:
        return configured_groups(table), frozenset(table or {})
    except GroupError as exc:
        raise Stop(f"[tool.hardener.pr.groups]: {exc}") from None


def _web_url(api_url: str) -> str:
    """The web UI of the API's host: api.github.com -> github.com; GHE's /api/v3 dropped."""
    from urllib.parse import urlsplit

    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.netloc.removeprefix("api.")
    path = parts.path.removesuffix("/").removesuffix("/api/v3").removesuffix("/api/v4")
    return f"{parts.scheme}://{host}{path}"


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


def _client(request: PrRequest, settings: Settings) -> Forge:
    from hardener.pr.github import GitHub
    from hardener.pr.gitlab import GitLab

    gitlab = settings.forge == "gitlab"
    token, variable = (request.gitlab_token, "GITLAB_TOKEN") if gitlab else (request.token, "GITHUB_TOKEN")
    if not token:
        raise Stop(f"{variable} is not set (or use --dry-run)")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise Stop(f"{variable} contains whitespace or control characters; it was not used (not shown here)")
    if not settings.slug:
        raise Stop(f"cannot tell the {'GitLab project' if gitlab else 'GitHub repository'} from the remote URL "
                   "(see --github-repo, or [tool.hardener.pr] repository)")
    return GitLab(token, settings.api_url) if gitlab else GitHub(token, settings.api_url)


def _fetch(git: Git, settings: Settings, client: Forge | None, offline: bool) -> tuple[Settings, str]:
    """Fetch the base branch and hardener's branches into a private ref namespace."""
    if offline:
        return _local_refs(git, settings)
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


def _local_refs(git: Git, settings: Settings) -> tuple[Settings, str]:
    """``--dry-run --offline``: the remote-tracking refs of the last fetch stand in for the remote."""
    _drop_private_refs(git)
    tracking = f"refs/remotes/{settings.remote}"
    head = git("symbolic-ref", "--quiet", f"{tracking}/HEAD", check=False)
    base = settings.base or head.removeprefix(f"{tracking}/") or git("branch", "--show-current", check=False)
    commit = git.rev(f"{tracking}/{base}") or git.rev(f"refs/heads/{base}") if base else None
    if commit is None:
        raise Stop(f"--offline: no local copy of the base branch {base or '(unknown)'!r}; pass --base or fetch first")
    for ref in git("for-each-ref", "--format=%(refname)", f"{tracking}/hardener/").split():
        git("update-ref", "refs/hardener/remote/" + ref.removeprefix(f"{tracking}/hardener/"), ref)
    return replace(settings, base=base), commit


def _groups(request: PrRequest, settings: Settings, git: Git, work: Git, base: str, client: Forge | None,
            log: list[str]) -> PrOutcome:
    from hardener.pr import dashboard
    from hardener.pr.groups import wanted
    from hardener.pr.units import Run, harden, units

    issue = client.find_issue(settings.slug or "", dashboard.TITLE) if client is not None else None
    asked = dashboard.requested(issue.body) if issue is not None else set()
    plan = settings.groups
    footer = FOOTER.format(version=__version__)
    opened: list[str] = []
    updated: list[str] = []
    pushed: list[str] = []
    lines: list[dashboard.PrLine] = []
    reports: list[Report] = []
    made: set[str] = set()
    ran: list[Group] = []
    for group in wanted(plan, asked | settings.enabled):
        select = _group_select(request, settings, group)
        if not select:
            continue
        ran.append(group)
        run = Run(select, request.ignore, request.unsafe, request.config_path, request.offline)
        report = harden(run, group, work, base)
        reports.append(report)
        for unit in units(group, report, work, base, lambda branch: _link(settings, branch), footer):
            made.add(unit.branch)
            commit, push = _commit(git, unit.branch, base, unit.tree, base, unit)
            if push:
                pushed.append(unit.branch)
                log.append(f"{unit.branch}: {'would push' if request.dry_run else 'pushed'} {commit[:12]}")
                if not request.dry_run:
                    _push(git, settings.remote, commit, unit.branch)
            else:
                log.append(f"{unit.branch}: up to date ({commit[:12]})")
            action, where = _pull_request(request, settings, client, unit, log)
            (opened if action == "opened" else updated if action == "updated" else []).append(unit.branch)
            lines.append(dashboard.PrLine(unit.branch, pr_title(unit.report, unit.title), where))
    _close_empty(settings, git, client, made, ran, base, log)
    _dashboard(request, settings, client, issue, dashboard.render(lines, reports, plan, asked), log)
    return PrOutcome(str(request.repo), tuple(log), 0, tuple(opened), tuple(updated), tuple(pushed),
                     _merged(reports) if reports else None)


def _group_select(request: PrRequest, settings: Settings, group: Group) -> tuple[str, ...]:
    """The group's transforms that the command line and the repository's config leave on."""
    from hardener.config import Config, selected

    if not group.transforms:  # --combined: everything selected
        return request.select or settings.select
    cli = Config(select=request.select, ignore=request.ignore)
    repo = Config(select=settings.select, ignore=settings.ignore)
    return tuple(t for t in group.transforms
                 if selected(cli, t, _name(t)) and (request.select or selected(repo, t, _name(t))))


def _name(transform_id: str) -> str:
    from hardener.config_check import transform_ids

    return transform_ids().get(transform_id, transform_id)


def _merged(reports: list[Report]) -> Report:
    """Every group's changes in one report, for the campaign summary."""
    out = Report(Mode.APPLY)
    for report in reports:
        out.results.extend(r for r in report.results if r.changed)
        out.errors.extend(report.errors)
    return out


def _link(settings: Settings, branch: str) -> Link:
    """Line anchors into the branch on the forge's web UI (none when the repository is unknown)."""
    from urllib.parse import quote

    web = settings.web_url
    if not web or not settings.slug:
        return lambda path, line: ""
    root = f"{web}/{settings.slug}/{settings.blob}/{quote(branch)}"
    return lambda path, line: f"{root}/{quote(path)}#L{line}"


def _commit(git: Git, branch: str, parent: str, tree: str, base: str, unit: Unit) -> tuple[str, bool]:
    """The commit for the branch, and whether it must be pushed (False: the remote has it)."""
    remote_tip = git.rev(f"refs/hardener/remote/{branch.split('/', 1)[1]}")
    if remote_tip is not None:
        _check_only_hardener(git, branch, remote_tip, base)
        if git.tree(remote_tip) == tree and git.parents(remote_tip) == [parent]:
            return remote_tip, False
    message = commit_message(unit.report, unit.title, unit.group)
    commit = git("commit-tree", tree, "-p", parent, "-m", message)
    return commit, True


def _close_empty(settings: Settings, git: Git, client: Forge | None, made: set[str], ran: list[Group],
                 base: str, log: list[str]) -> None:
    """A branch of a group this run ran but did not produce has nothing left: close its PR.

    Only groups that ran: ``--select HD301`` must not close the other groups' PRs. A branch
    with a human commit is left alone, as everywhere else.
    """
    for ref in git("for-each-ref", "--format=%(refname)", "refs/hardener/remote/").split():
        branch = "hardener/" + ref.removeprefix("refs/hardener/remote/")
        if branch in made or not any(_belongs(branch, g) for g in ran):
            continue
        try:
            _check_only_hardener(git, branch, ref, base)
        except Stop as exc:
            log.append(f"{branch}: no changes left, but not closed: {exc}")
            continue
        if client is None:
            log.append(f"{branch}: no changes left; would close its pull request")
            continue
        existing = client.open_pull(settings.slug or "", branch)
        if existing is not None:
            client.close_pull(settings.slug or "", existing.number)
            log.append(f"{branch}: no changes left; closed pull request #{existing.number}")


def _belongs(branch: str, group: Group) -> bool:
    name = branch.removeprefix("hardener/")
    return name == group.name or (group.per == "file" and name.startswith(f"{group.name}-"))


def _dashboard(request: PrRequest, settings: Settings, client: Forge | None, issue: Issue | None, body: str,
               log: list[str]) -> None:
    from hardener.pr.dashboard import TITLE

    if client is None:
        log.append(f"dashboard: would create or update the issue {TITLE!r} ({len(body)} characters)")
        log.append(_indented(body))
        return
    slug = settings.slug or ""
    if issue is None:
        made = client.create_issue(slug, title=TITLE, body=body)
        log.append(f"dashboard: opened issue #{made.number} {made.url}")
    elif issue.body != body:
        client.update_issue(slug, issue.number, body=body)
        log.append(f"dashboard: updated issue #{issue.number}")
    else:
        log.append(f"dashboard: issue #{issue.number} is up to date")


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


def _pull_request(request: PrRequest, settings: Settings, client: Forge | None, unit: Unit,
                  log: list[str]) -> tuple[str, str]:
    """What was done ("opened", "updated", "unchanged", "dry-run") and where (``#12``)."""
    title, body, branch, base = pr_title(unit.report, unit.title), unit.body.text, unit.branch, settings.base
    if client is None:
        cut = ", cut: the full report goes on the branch" if unit.body.full_report is not None else ""
        log.append(f"{branch}: would open or update a pull request into {base}: {title!r}"
                   f" (body {len(body)} characters{cut})")
        log.append(_indented(body))
        return "dry-run", "would open"
    slug = settings.slug or ""
    existing = client.open_pull(slug, branch)
    if existing is None:
        pull = client.create_pull(slug, title=title, body=body, head=branch, base=base)
        log.append(f"{branch}: opened pull request #{pull.number} {pull.url} (body {len(body)} characters)")
        return "opened", f"#{pull.number}"
    wanted = {"title": title, "body": body, "base": base}
    have = {"title": existing.title, "body": existing.body, "base": existing.base}
    if wanted == have:
        log.append(f"{branch}: pull request #{existing.number} is up to date")
        return "unchanged", f"#{existing.number}"
    client.update_pull(slug, existing.number, **{k: v for k, v in wanted.items() if have[k] != v})
    log.append(f"{branch}: updated pull request #{existing.number} {existing.url} (body {len(body)} characters)")
    return "updated", f"#{existing.number}"


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _bot_env() -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": BOT_NAME, "GIT_AUTHOR_EMAIL": BOT_EMAIL,
            "GIT_COMMITTER_NAME": BOT_NAME, "GIT_COMMITTER_EMAIL": BOT_EMAIL}
