"""A small stand-in for the GitLab REST API (v4) on 127.0.0.1, for the ``hardener pr`` tests.

There is no GitLab here, so this server implements the endpoints hardener uses with
GitLab's JSON shapes (trimmed to the fields that matter, same names): ``GET /projects/:id``,
``GET``/``POST /projects/:id/merge_requests``, ``PUT /projects/:id/merge_requests/:iid``
(``state_event=close``), and the same three for ``issues``. The project id is the
URL-encoded path, as GitLab takes it. Like GitLab it rejects a missing or wrong
``PRIVATE-TOKEN`` (401), a merge request whose branches do not exist (404 on the branch) or
that duplicates an open one for the source branch (409), and unknown fields (400).
Branches are read from a real bare git repository, the one the tests push to.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fake_server import ServedFake, branch_sha


@dataclass
class FakeGitLab(ServedFake):
    token: str
    projects: dict[str, Path]  # "group/name" -> bare repository
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v4"

    def start(self) -> FakeGitLab:
        self.serve(_Handler, "gitlab")
        return self

    def has_branch(self, project: str, branch: str) -> bool:
        return branch_sha(self.projects[project], branch) is not None


class _Handler(BaseHTTPRequestHandler):
    gitlab: FakeGitLab

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        gl = self.gitlab
        url = urlsplit(self.path)
        gl.calls.append((method, url.path))
        if self.headers.get("PRIVATE-TOKEN") != gl.token:
            return self._send(401, {"message": "401 Unauthorized"})
        parts = url.path.strip("/").split("/")
        if parts[:3] != ["api", "v4", "projects"] or len(parts) < 4 or unquote(parts[3]) not in gl.projects:
            return self._send(404, {"message": "404 Project Not Found"})
        project, rest = unquote(parts[3]), parts[4:]
        body = self._json() if method != "GET" else {}
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if not rest and method == "GET":
            return self._send(200, {"id": 7, "path_with_namespace": project, "default_branch": "main",
                                    "web_url": f"https://gitlab.example.com/{project}"})
        kind = rest[0] if rest else ""
        items = gl.merge_requests if kind == "merge_requests" else gl.issues if kind == "issues" else None
        if items is None:
            return self._send(404, {"message": "404 Not Found"})
        if len(rest) == 1 and method == "GET":
            return self._send(200, [i for i in items if _matches(i, project, query)])
        if len(rest) == 1 and method == "POST":
            return self._create(project, kind, items, body)
        if len(rest) == 2 and method == "PUT":
            return self._update(project, kind, items, int(rest[1]), body)
        return self._send(404, {"message": "404 Not Found"})

    def _create(self, project: str, kind: str, items: list[dict[str, Any]], body: dict[str, Any]) -> None:
        gl = self.gitlab
        if kind == "merge_requests":
            allowed = {"source_branch", "target_branch", "title", "description", "remove_source_branch"}
            if set(body) - allowed or not all(body.get(k) for k in ("source_branch", "target_branch", "title")):
                return self._send(400, {"error": f"bad fields {sorted(body)}"})
            for key in ("source_branch", "target_branch"):
                if not gl.has_branch(project, body[key]):
                    return self._send(404, {"message": f"404 Branch Not Found: {body[key]}"})
            if any(m["source_branch"] == body["source_branch"] and m["state"] == "opened" for m in items):
                return self._send(409, {"message": ["Another open merge request already exists for this source branch"]})
        elif set(body) - {"title", "description"} or not body.get("title"):
            return self._send(400, {"error": f"bad fields {sorted(body)}"})
        iid = sum(1 for i in items if i["project"] == project) + 1
        item = {"iid": iid, "project": project, "state": "opened", **body,
                "web_url": f"https://gitlab.example.com/{project}/-/{kind}/{iid}"}
        items.append(item)
        self._send(201, item)

    def _update(self, project: str, kind: str, items: list[dict[str, Any]], iid: int, body: dict[str, Any]) -> None:
        item = next((i for i in items if i["project"] == project and i["iid"] == iid), None)
        if item is None:
            return self._send(404, {"message": "404 Not found"})
        allowed = {"title", "description", "state_event"} | ({"target_branch"} if kind == "merge_requests" else set())
        if set(body) - allowed:
            return self._send(400, {"error": f"unknown fields {sorted(set(body) - allowed)}"})
        if body.get("state_event") == "close":
            item["state"] = "closed"
        item.update({k: v for k, v in body.items() if k != "state_event"})
        self._send(200, item)

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _send(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def _matches(item: dict[str, Any], project: str, query: dict[str, str]) -> bool:
    if item["project"] != project:
        return False
    if query.get("state", "all") != "all" and item["state"] != query["state"]:
        return False
    if "source_branch" in query and item.get("source_branch") != query["source_branch"]:
        return False
    return "search" not in query or all(w.lower() in item["title"].lower() for w in query["search"].split())
