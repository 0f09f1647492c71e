"""Cases 6 and 7 of issue 22: the GitHub token goes only where the user says, and is never shown."""
from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardener.pr.bot import Stop, _check_repo_api_url, _redacted, clean_token
from hostile.conftest import Run

TOKEN = "ghp_hostileTestToken0123456789"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that would see the token if hardener sent it there (the test checks it did not)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    yield server
    server.close()


def _with_remote(repo: Path, url: str) -> Path:
    (repo / "Dockerfile").write_text("FROM python:3.12\n")
    subprocess.run(["git", "remote", "add", "origin", url], cwd=repo, check=True)
    return repo


def _contacted(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_repository_cannot_send_the_token_elsewhere(repo: Path, hardener_cli: Run, listener: socket.socket, scheme: str) -> None:
    _with_remote(repo, "https://github.com/octo/app.git")
    port = listener.getsockname()[1]
    (repo / "pyproject.toml").write_text(f'[tool.hardener.pr]\napi-url = "{scheme}://127.0.0.1:{port}"\n')
    result = hardener_cli("pr", "--offline", ".", cwd=repo, env={"GITHUB_TOKEN": TOKEN})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "api-url" in result.stderr and "is not used" in result.stderr and "--api-url" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert not _contacted(listener)


@pytest.mark.parametrize(("api_url", "remote"), [
    pytest.param("https://ghe.example.com/api/v3", "https://ghe.example.com/octo/app.git", id="ghe-https"),
    pytest.param("https://ghe.example.com/api/v3", "git@ghe.example.com:octo/app.git", id="ghe-scp"),
    pytest.param("https://api.github.com", "ssh://git@github.com/octo/app.git", id="github"),
])
def test_the_repository_may_name_its_own_hosts_api(api_url: str, remote: str) -> None:
    _check_repo_api_url(api_url, remote)  # no Stop


@pytest.mark.parametrize(("api_url", "remote"), [
    pytest.param("http://ghe.example.com/api/v3", "https://ghe.example.com/octo/app.git", id="plain-http"),
    pytest.param("https://evil.example/api", "https://github.com/octo/app.git", id="other-host"),
    pytest.param("https://github.com.evil.example", "https://github.com/octo/app.git", id="lookalike"),
    pytest.param("https://ghe.example.com/api/v3", "/srv/git/app.git", id="local-remote"),
])
def test_other_api_urls_from_the_repository_stop_the_run(api_url: str, remote: str) -> None:
    with pytest.raises(Stop, match="is not used"):
        _check_repo_api_url(api_url, remote)


def test_the_command_line_chooses_the_api(repo: Path, hardener_cli: Run) -> None:
    """--api-url is the user's own choice: used even though the repository's config says otherwise."""
    _with_remote(repo, "https://github.com/octo/app.git")
    (repo / "pyproject.toml").write_text('[tool.hardener.pr]\napi-url = "http://evil.example"\n')
    result = hardener_cli("pr", "--offline", "--api-url", "http://127.0.0.1:1", ".", cwd=repo, env={"GITHUB_TOKEN": TOKEN})
    assert result.returncode == 2
    assert "is not used" not in result.stderr
    assert "GET /repos/octo/app: ConnectError" in result.stderr  # it asked 127.0.0.1:1, which refused
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("token", [TOKEN + "\r\n", TOKEN + "\n", " " + TOKEN + "\r"])
def test_a_token_with_a_line_break_is_stripped_and_never_shown(repo: Path, hardener_cli: Run, token: str) -> None:
    _with_remote(repo, "https://github.com/octo/app.git")
    result = hardener_cli("pr", "--offline", "--api-url", "http://127.0.0.1:1", ".", cwd=repo, env={"GITHUB_TOKEN": token})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "GET /repos/octo/app" in result.stderr  # it got as far as the API: the stripped token was usable
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize("token", [TOKEN[:10] + "\r\nX-Injected: 1", TOKEN[:10] + " " + TOKEN[10:], TOKEN + "\x1b"])
def test_a_token_with_inner_control_characters_is_refused_without_showing_it(repo: Path, hardener_cli: Run, token: str) -> None:
    _with_remote(repo, "https://github.com/octo/app.git")
    result = hardener_cli("pr", "--offline", "--api-url", "http://127.0.0.1:1", ".", cwd=repo, env={"GITHUB_TOKEN": token})
    assert result.returncode == 2
    assert "GITHUB_TOKEN contains whitespace or control characters" in result.stderr
    assert TOKEN[:10] not in result.stdout + result.stderr


def test_redaction_is_the_last_guard() -> None:
    assert clean_token(" abc\r\n") == "abc" and clean_token("\n") is None
    assert _redacted(f"Illegal header value b'Bearer {TOKEN}'", TOKEN) == "Illegal header value b'Bearer <token>'"
