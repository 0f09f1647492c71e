"""A small stand-in for the GitHub REST API on 127.0.0.1, for the ``hardener pr`` tests.

There is no GitHub here, so this server implements the endpoints hardener uses with
GitHub's JSON shapes (trimmed to the fields that matter, same names and nesting):
``GET /repos/{o}/{r}``, ``GET /repos/{o}/{r}/pulls?head=&state=``, ``POST /repos/{o}/{r}/pulls``
``PATCH /repos/{o}/{r}/pulls/{n}``, and the issues endpoints the dashboard uses
(``GET``/``POST /repos/{o}/{r}/issues``, ``PATCH /repos/{o}/{r}/issues/{n}``; like GitHub,
the issue list includes pull requests, marked with a ``pull_request`` key, and a body
over 65,536 characters is refused with 422). Like GitHub it rejects a missing or wrong token
(401 "Bad credentials"), a pull request whose head branch does not exist on the remote
or that duplicates an open one (422 "Validation Failed"), and unknown fields. Branches
are read from a real bare git repository, the one the tests push to.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_server import ServedFake, branch_sha

API_VERSION = "2022-11-28"
BODY_LIMIT = 65_536


@dataclass
class FakeGitHub(ServedFake):
    token: str
    repos: dict[str, Path]  # "owner/name" -> bare repository
    pulls: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    problems: list[str] = field(default_factory=list)  # headers that were wrong
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeGitHub:
        self.serve(_Handler, "github")
        return self

    def branch_sha(self, slug: str, branch: str) -> str | None:
        return branch_sha(self.repos[slug], branch)


class _Handler(BaseHTTPRequestHandler):
    github: FakeGitHub

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        gh = self.github
        url = urlsplit(self.path)
        gh.calls.append((method, url.path))
        if self.headers.get("Authorization") != f"Bearer {gh.token}":
            return self._send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if self.headers.get("Accept") != "application/vnd.github+json":
            gh.problems.append(f"Accept: {self.headers.get('Accept')}")
        if self.headers.get("X-GitHub-Api-Version") != API_VERSION:
            gh.problems.append(f"X-GitHub-Api-Version: {self.headers.get('X-GitHub-Api-Version')}")
        parts = url.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "repos" or f"{parts[1]}/{parts[2]}" not in gh.repos:
            return self._send(404, {"message": "Not Found"})
        slug, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        body = self._json() if method != "GET" else {}
        if method == "GET" and not rest:
            return self._send(200, _repo(slug))
        if rest == ["pulls"] and method == "GET":
            return self._send(200, self._list(slug, parse_qs(url.query)))
        if rest == ["pulls"] and method == "POST":
            return self._create(slug, body)
        if len(rest) == 2 and rest[0] == "pulls" and method == "PATCH":
            return self._update(slug, int(rest[1]), body)
        if rest == ["issues"] and method == "GET":
            return self._send(200, self._issues(slug))
        if rest == ["issues"] and method == "POST":
            return self._create_issue(slug, body)
        if len(rest) == 2 and rest[0] == "issues" and method == "PATCH":
            return self._update_issue(slug, int(rest[1]), body)
        return self._send(404, {"message": "Not Found"})

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _list(self, slug: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        head = query.get("head", [""])[0]
        state = query.get("state", ["open"])[0]
        return [p for p in self.github.pulls if p["base"]["repo"]["full_name"] == slug
                and (not head or p["head"]["label"] == head) and (state == "all" or p["state"] == state)]

    def _create(self, slug: str, body: dict[str, Any]) -> None:
        gh = self.github
        allowed = {"title", "head", "base", "body", "maintainer_can_modify", "draft"}
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if len(body.get("body") or "") > BODY_LIMIT:
            return self._invalid("body is too long (maximum is 65536 characters)")
        if missing or set(body) - allowed:
            return self._invalid(f"bad fields: missing {missing}, unknown {sorted(set(body) - allowed)}")
        head_sha, base_sha = gh.branch_sha(slug, body["head"]), gh.branch_sha(slug, body["base"])
        if head_sha is None or base_sha is None:
            return self._invalid(f"head or base branch does not exist: {body['head']} -> {body['base']}")
        owner = slug.split("/")[0]
        if any(p["head"]["label"] == f"{owner}:{body['head']}" and p["state"] == "open" for p in self._list(slug, {})):
            return self._invalid(f"A pull request already exists for {owner}:{body['head']}.")
        number = len(gh.pulls) + 1
        pull = _pull(slug, number, body, head_sha, base_sha)
        gh.pulls.append(pull)
        self._send(201, pull)

    def _update(self, slug: str, number: int, body: dict[str, Any]) -> None:
        pull = next((p for p in self.github.pulls if p["number"] == number), None)
        if pull is None:
            return self._send(404, {"message": "Not Found"})
        unknown = set(body) - {"title", "body", "state", "base", "maintainer_can_modify"}
        if unknown:
            return self._invalid(f"unknown fields {sorted(unknown)}")
        if len(body.get("body") or "") > BODY_LIMIT:
            return self._invalid("body is too long (maximum is 65536 characters)")
        for key in ("title", "body", "state", "maintainer_can_modify"):
            if key in body:
                pull[key] = body[key]
        if "base" in body:
            if self.github.branch_sha(slug, body["base"]) is None:
                return self._invalid(f"base branch does not exist: {body['base']}")
            pull["base"]["ref"] = body["base"]
            pull["base"]["label"] = f"{slug.split('/')[0]}:{body['base']}"
        self._send(200, pull)

    def _issues(self, slug: str) -> list[dict[str, Any]]:
        gh = self.github
        pulls = [{**p, "pull_request": {"url": p["url"]}} for p in gh.pulls
                 if p["base"]["repo"]["full_name"] == slug and p["state"] == "open"]
        return [i for i in gh.issues if i["repo"] == slug and i["state"] == "open"] + pulls

    def _create_issue(self, slug: str, body: dict[str, Any]) -> None:
        if not body.get("title") or set(body) - {"title", "body", "labels", "assignees"}:
            return self._invalid(f"bad issue fields {sorted(body)}")
        if len(body.get("body") or "") > BODY_LIMIT:
            return self._invalid("body is too long (maximum is 65536 characters)")
        gh = self.github
        number = len(gh.pulls) + len(gh.issues) + 1
        issue = {"number": number, "title": body["title"], "body": body.get("body"), "state": "open", "repo": slug,
                 "html_url": f"https://github.com/{slug}/issues/{number}"}
        gh.issues.append(issue)
        self._send(201, issue)

    def _update_issue(self, slug: str, number: int, body: dict[str, Any]) -> None:
        issue = next((i for i in self.github.issues if i["number"] == number and i["repo"] == slug), None)
        if issue is None:
            return self._send(404, {"message": "Not Found"})
        if set(body) - {"title", "body", "state"}:
            return self._invalid(f"unknown fields {sorted(body)}")
        if len(body.get("body") or "") > BODY_LIMIT:
            return self._invalid("body is too long (maximum is 65536 characters)")
        issue.update(body)
        self._send(200, issue)

    def _invalid(self, message: str) -> None:
        self._send(422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom",
                                                                    "message": message}]})

    def _send(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def _owner(login: str) -> dict[str, Any]:
    return {"login": login, "id": 1, "type": "Organization", "html_url": f"https://github.com/{login}"}


def _repo(slug: str) -> dict[str, Any]:
    owner, name = slug.split("/")
    return {
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name, "full_name": slug,
        "owner": _owner(owner), "private": False, "html_url": f"https://github.com/{slug}",
        "url": f"https://api.github.com/repos/{slug}", "default_branch": "main", "archived": False,
        "permissions": {"admin": False, "push": True, "pull": True},
    }


def _pull(slug: str, number: int, body: dict[str, Any], head_sha: str, base_sha: str) -> dict[str, Any]:
    owner = slug.split("/")[0]
    return {
        "url": f"https://api.github.com/repos/{slug}/pulls/{number}", "id": 1000 + number,
        "node_id": f"PR_kwDO{number:04d}", "html_url": f"https://github.com/{slug}/pull/{number}",
        "number": number, "state": "open", "locked": False, "title": body["title"],
        "user": {"login": "hardener-bot", "id": 2, "type": "Bot"}, "body": body.get("body"),
        "draft": bool(body.get("draft", False)), "maintainer_can_modify": bool(body.get("maintainer_can_modify")),
        "head": {"label": f"{owner}:{body['head']}", "ref": body["head"], "sha": head_sha,
                 "user": _owner(owner), "repo": _repo(slug)},
        "base": {"label": f"{owner}:{body['base']}", "ref": body["base"], "sha": base_sha,
                 "user": _owner(owner), "repo": _repo(slug)},
        "merged_at": None, "closed_at": None,
    }
