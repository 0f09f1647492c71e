"""GitLab merge requests and the dashboard issue, through the GitLab REST API (v4).

The same calls as ``hardener.pr.github.GitHub``, so the bot does not care which forge it
talks to: the project, the open merge request of a source branch, create, update, close;
the dashboard issue. GitLab names things differently (``iid``, ``description``,
``target_branch``, ``state_event``, ``opened``) and this module is where the names change.
The token goes only into the ``PRIVATE-TOKEN`` header; httpx is imported lazily.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hardener.pr.github import Issue, PullRequest, call_json


class GitLab:
    def __init__(self, token: str, api_url: str, timeout: float = 30.0) -> None:
        import httpx

        self._http = httpx.Client(base_url=api_url.rstrip("/"),
                                  headers={"PRIVATE-TOKEN": token, "User-Agent": "hardener"}, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def repository(self, slug: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", _project(slug))
        return found

    def open_pull(self, slug: str, branch: str) -> PullRequest | None:
        found = self._call("GET", f"{_project(slug)}/merge_requests", params={"source_branch": branch, "state": "opened"})
        return _merge_request(found[0]) if found else None

    def create_pull(self, slug: str, *, title: str, body: str, head: str, base: str) -> PullRequest:
        payload = {"source_branch": head, "target_branch": base, "title": title, "description": body}
        return _merge_request(self._call("POST", f"{_project(slug)}/merge_requests", json=payload))

    def update_pull(self, slug: str, number: int, **fields: str) -> PullRequest:
        names = {"title": "title", "body": "description", "base": "target_branch"}
        payload = {names[k]: v for k, v in fields.items() if k in names}
        if fields.get("state") == "closed":
            payload["state_event"] = "close"
        return _merge_request(self._call("PUT", f"{_project(slug)}/merge_requests/{number}", json=payload))

    def close_pull(self, slug: str, number: int) -> PullRequest:
        return self.update_pull(slug, number, state="closed")

    def find_issue(self, slug: str, title: str) -> Issue | None:
        found = self._call("GET", f"{_project(slug)}/issues",
                           params={"state": "opened", "search": title, "in": "title", "per_page": 100})
        issues = [i for i in found if i.get("title") == title]  # search matches words, not the whole title
        return _issue(min(issues, key=lambda i: int(i["iid"]))) if issues else None

    def create_issue(self, slug: str, *, title: str, body: str) -> Issue:
        return _issue(self._call("POST", f"{_project(slug)}/issues", json={"title": title, "description": body}))

    def update_issue(self, slug: str, number: int, *, body: str) -> Issue:
        return _issue(self._call("PUT", f"{_project(slug)}/issues/{number}", json={"description": body}))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return call_json(self._http, method, path, _message, **kwargs)


def path_from_remote(url: str) -> str | None:
    """``group/sub/name`` from a GitLab remote URL (subgroups kept); a local path gives its last two parts."""
    from urllib.parse import urlsplit

    from hardener.pr.github import slug_from_remote

    url = url.strip()
    if "://" in url and not url.startswith("file://"):
        path = urlsplit(url).path
    elif ":" in url.split("/", 1)[0]:  # scp-like git@host:group/name.git
        path = url.split(":", 1)[1]
    else:
        return slug_from_remote(url)
    path = path.strip("/").removesuffix(".git")
    return path if "/" in path else None


def _project(slug: str) -> str:
    """``/projects/group%2Fsub%2Fname``: GitLab takes the URL-encoded path as the project id."""
    return f"/projects/{quote(slug, safe='')}"


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "no details"
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or "no details")
    return "no details"


def _merge_request(data: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=int(data["iid"]), url=str(data.get("web_url", "")), title=str(data.get("title") or ""),
        body=str(data.get("description") or ""), base=str(data["target_branch"]), head=str(data["source_branch"]),
    )


def _issue(data: dict[str, Any]) -> Issue:
    return Issue(int(data["iid"]), str(data.get("web_url", "")), str(data.get("description") or ""))
