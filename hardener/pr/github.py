"""The few GitHub REST API calls ``hardener pr`` makes (github.com or GitHub Enterprise).

Get the repository, find the open pull request of a branch, create one, update or close
one; find, create and update the dashboard issue.
httpx is imported lazily. The token goes only into the Authorization header: it never
appears in a message, an exception or a log line.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_SLUG = re.compile(r"([^/:]+)/([^/:]+?)(?:\.git)?/?$")


class GitHubError(Exception):
    """An API call failed; the message says which call and what GitHub answered."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str  # html_url, for people
    title: str
    body: str
    base: str
    head: str


@dataclass(frozen=True)
class Issue:
    number: int
    url: str
    body: str


def slug_from_remote(url: str) -> str | None:
    """``owner/name`` from a remote URL: the last two path parts (scp-like, https, ssh or a path)."""
    match = _SLUG.search(url.strip())
    return f"{match.group(1)}/{match.group(2)}" if match else None


class GitHub:
    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, timeout: float = 30.0) -> None:
        import httpx

        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "hardener",
            },
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def repository(self, slug: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/repos/{slug}")
        return found

    def open_pull(self, slug: str, branch: str) -> PullRequest | None:
        owner = slug.split("/", 1)[0]
        found = self._call("GET", f"/repos/{slug}/pulls", params={"head": f"{owner}:{branch}", "state": "open"})
        return _pull(found[0]) if found else None

    def create_pull(self, slug: str, *, title: str, body: str, head: str, base: str) -> PullRequest:
        payload = {"title": title, "body": body, "head": head, "base": base, "maintainer_can_modify": True}
        return _pull(self._call("POST", f"/repos/{slug}/pulls", json=payload))

    def update_pull(self, slug: str, number: int, **fields: str) -> PullRequest:
        return _pull(self._call("PATCH", f"/repos/{slug}/pulls/{number}", json=fields))

    def close_pull(self, slug: str, number: int) -> PullRequest:
        return self.update_pull(slug, number, state="closed")

    def find_issue(self, slug: str, title: str) -> Issue | None:
        """The open issue with exactly this title (pull requests, which the endpoint also lists, skipped)."""
        found = self._call("GET", f"/repos/{slug}/issues", params={"state": "open", "per_page": 100})
        issues = [i for i in found if "pull_request" not in i and i.get("title") == title]
        return _issue(min(issues, key=lambda i: int(i["number"]))) if issues else None

    def create_issue(self, slug: str, *, title: str, body: str) -> Issue:
        return _issue(self._call("POST", f"/repos/{slug}/issues", json={"title": title, "body": body}))

    def update_issue(self, slug: str, number: int, *, body: str) -> Issue:
        return _issue(self._call("PATCH", f"/repos/{slug}/issues/{number}", json={"body": body}))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return call_json(self._http, method, path, _message, **kwargs)


def call_json(http: Any, method: str, path: str, message: Callable[[Any], str], **kwargs: Any) -> Any:
    """One forge API request's JSON answer; a transport error or an HTTP error status raises
    GitHubError naming the request and the forge's own message (``message`` reads it)."""
    import httpx

    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise GitHubError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise GitHubError(f"{method} {path}: HTTP {response.status_code}: {message(response)}")
    return response.json()


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "no details"
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        message += " (" + "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors) + ")"
    return message or "no details"


def _pull(data: dict[str, Any]) -> PullRequest:
    return PullRequest(
        number=int(data["number"]), url=str(data.get("html_url", "")), title=str(data.get("title") or ""),
        body=str(data.get("body") or ""), base=str(data["base"]["ref"]), head=str(data["head"]["ref"]),
    )


def _issue(data: dict[str, Any]) -> Issue:
    return Issue(int(data["number"]), str(data.get("html_url", "")), str(data.get("body") or ""))
