"""HD609 interpolation-secrets, the weak-credential rules and the git index reader."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from compose_helpers import run_compose

from hardener.cli import main
from hardener.compose.env_files import env_lines
from hardener.compose.git_index import tracked
from hardener.compose.weak_secrets import is_key_name, weak_credential
from hardener.transforms.interpolation_secrets import InterpolationSecrets


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.mark.parametrize(("name", "value", "why"), [
    pytest.param("NEXTAUTH_SECRET", "mysecret", "a placeholder", id="placeholder"),
    pytest.param("ENCRYPTION_KEY", "0" * 64, "one character repeated", id="all-zero-key"),
    pytest.param("DB_PASSWORD", "postgres", "shorter than 12 characters", id="short"),
    pytest.param("API_TOKEN", "123456789", "a placeholder", id="digits-placeholder"),
    pytest.param("JWT_SIGNING_KEY", "abcdefghijklmnop", "a counting or keyboard sequence", id="sequence"),
    pytest.param("APP_SECRET", "please-change-this-value", "a placeholder", id="long-placeholder"),
    pytest.param("DATABASE_URL", "postgres://app:admin@db/app", "a URL whose password is a placeholder", id="url"),
    pytest.param("SOME_SETTING", "changeme", "a placeholder", id="placeholder-any-name"),
    pytest.param("JWT_SECRET", "q7Vd2LxK9pRz4TbN8mWc", None, id="strong"),
    pytest.param("SESSION_SECRET", "", None, id="empty"),
    pytest.param("PORT", "3000", None, id="not-a-credential"),
    pytest.param("ADMIN_USER", "admin", None, id="user-name"),
    pytest.param("PUBLIC_KEY", "0000", None, id="public-key"),
    pytest.param("SECRETS_DIR", "/run/secrets", None, id="path"),
    pytest.param("DB_PASSWORD", "true", None, id="flag"),
    pytest.param("DATABASE_URL", "postgres://app:Xk9mQ2vLp8wRz4Tb@db/app", None, id="url-strong"),
])
def test_weak_credential(name: str, value: str, why: str | None) -> None:
    assert weak_credential(name, value) == why


@pytest.mark.parametrize(("name", "expected"), [
    ("ENCRYPTION_KEY", True), ("APP_KEY_BASE64", True), ("jwtSigningKey", True),
    ("PUBLIC_KEY", False), ("SSH_KEY_PATH", False), ("CACHE_KEY_PREFIX", False), ("KEY", False),
])
def test_is_key_name(name: str, expected: bool) -> None:
    assert is_key_name(name) is expected


def test_env_lines_follow_dotenv_rules() -> None:
    text = ("# comment\nexport A=1\nB='lit $X'\nC=\"x$Y\"\nD=bare # note\nE=$HOME\n"
            "F=\"multi\nG=ok\r\nH=crlf\n")
    got = [(e.name, e.value, e.line) for e in env_lines(text)]
    assert got == [("A", "1", 2), ("B", "lit $X", 3), ("C", None, 4), ("D", "bare", 5), ("E", None, 6),
                   ("F", None, 7), ("G", "ok", 8), ("H", "crlf", 9)]


def test_reports_defaults_in_any_value_with_lines(tmp_path: Path) -> None:
    text = ("services:\n  app:\n    image: a\n    command: --token ${API_TOKEN:-changeme}\n"
            "    labels:\n      pw: ${DB_PASSWORD-postgres}\n"
            "    healthcheck:\n      test: [CMD, check, '$${ESCAPED_PASSWORD:-admin}', '${OUTER_SECRET:-${INNER_SECRET:-test}}']\n"
            "    environment:\n      PORT: ${PORT:-3000}\n      REQ_SECRET: ${REQ_SECRET:?must be set}\n")
    out, reasons = run_compose(tmp_path, InterpolationSecrets(), text)
    assert out == text
    assert [r.split(" (")[0] for r in reasons] == [
        "weak default for the credential API_TOKEN", "weak default for the credential DB_PASSWORD",
        "weak default for the credential INNER_SECRET"]


def test_tracked_reads_the_index(tmp_path: Path) -> None:
    assert tracked(tmp_path, tmp_path / ".env") is None  # no repository: unknown
    git(tmp_path, "init", "-q")
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "db.env").write_text("B=2\n")
    assert tracked(tmp_path, tmp_path / ".env") is False  # no index yet
    git(tmp_path, "add", "sub/db.env")
    assert tracked(tmp_path, tmp_path / "sub" / "db.env") is True
    assert tracked(tmp_path, tmp_path / ".env") is False
    git(tmp_path, "update-index", "--index-version", "4")  # path-prefix compressed entries
    git(tmp_path, "add", ".env")
    assert tracked(tmp_path, tmp_path / ".env") is True


def test_dotenv_only_when_tracked_and_interpolated(tmp_path: Path) -> None:
    text = "services:\n  app:\n    image: a\n    environment:\n      DB_URL: postgres://u:${DB_PASSWORD}@db/x\n"
    files = {".env": "DB_PASSWORD=Tr0ub4dor-horse-battery\nOTHER_TOKEN=not-used-here-abc\n"}
    assert run_compose(tmp_path, InterpolationSecrets(), text, files)[1] == []  # no git: unknown
    git(tmp_path, "init", "-q")
    assert run_compose(tmp_path, InterpolationSecrets(), text, files)[1] == []  # untracked
    git(tmp_path, "add", ".env")
    reasons = run_compose(tmp_path, InterpolationSecrets(), text, files)[1]
    assert len(reasons) == 1 and reasons[0].startswith("literal credential DB_PASSWORD in .env line 1,")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_values_never_printed(fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = ["mysecretvalue", "0" * 48, "Tr0ub4dor-horse-battery", "django-insecure-xyz"]
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: example/web:1\n    env_file: web.env\n    environment:\n"
        f"      NEXTAUTH_SECRET: ${{NEXTAUTH_SECRET:-{values[0]}}}\n"
        f"      ENCRYPTION_KEY: ${{ENCRYPTION_KEY:-{values[1]}}}\n      DB: ${{DB_PASSWORD}}\n")
    (tmp_path / ".env").write_text(f"DB_PASSWORD={values[2]}\n")
    (tmp_path / "web.env").write_text(f"SECRET_KEY={values[3]}\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["diff", "--no-color", "--offline", "--unsafe", "--format", fmt,
                                       "--select", "HD607,HD609", "."])
    output = result.stdout + result.stderr
    assert "NEXTAUTH_SECRET" in output and "ENCRYPTION_KEY" in output and "SECRET_KEY" in output
    assert "DB_PASSWORD" in output
    for value in values:
        assert value not in output
