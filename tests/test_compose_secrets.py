"""HD607 compose-secrets."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardener import judges
from hardener.cli import main
from hardener.compose.env_secrets import entries, is_credential_name, is_literal
from hardener.context import Context
from hardener.engine import FileResult, Options, process
from hardener.model import Applicability
from hardener.transforms.compose_secrets import ComposeSecrets

UNSAFE = Options(Applicability.UNSAFE)
PG = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2\n"
PG_OUT = ("services:\n  db:\n    image: postgres:16\n    environment:\n"
          "      POSTGRES_PASSWORD_FILE: /run/secrets/db_postgres_password\n"
          "    secrets:\n      - db_postgres_password\n"
          "secrets:\n  db_postgres_password:\n    file: ./secrets/db_postgres_password\n")
GITIGNORE = b"# added by hardener (compose-secrets): Compose secrets files hold credentials\n/secrets/\n"


def run(tmp_path: Path, text: str, files: dict[str, str] | None = None, raw: bytes | None = None) -> FileResult:
    for name, body in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    path = tmp_path / "compose.yaml"
    data = text.encode() if raw is None else raw
    path.write_bytes(data)
    result = process(str(path), "compose", data, [ComposeSecrets()], Context(tmp_path).for_file(path), UNSAFE)
    assert result.failure is None and result.error is None
    if result.output is not None and result.output != data:
        assert judges.compose_problems(result.output.decode()) == []
    return result


def written(result: FileResult, root: Path) -> dict[str, bytes]:
    return {w.path.relative_to(root).as_posix(): w.content for w in result.companions}


def refusals(result: FileResult) -> list[str]:
    return [r.reason for r in result.refusals]


@pytest.mark.parametrize(
    "text, expected, secret",
    [
        pytest.param(PG, PG_OUT, "db_postgres_password", id="postgres-mapping"),
        pytest.param(
            "services:\n  db:\n    image: mysql:8.4\n    environment:\n      - MYSQL_ROOT_PASSWORD=r00t\n      - MYSQL_DATABASE=app\n",
            "services:\n  db:\n    image: mysql:8.4\n    environment:\n"
            "      - MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db_mysql_root_password\n      - MYSQL_DATABASE=app\n"
            "    secrets:\n      - db_mysql_root_password\n"
            "secrets:\n  db_mysql_root_password:\n    file: ./secrets/db_mysql_root_password\n",
            "db_mysql_root_password",
            id="mysql-list",
        ),
        pytest.param(
            "services:\n  db: {image: 'mariadb:11', environment: {MARIADB_PASSWORD: 'p w'}}\n",
            "services:\n  db: {image: 'mariadb:11', environment: {MARIADB_PASSWORD_FILE: /run/secrets/db_mariadb_password}, "
            "secrets: [db_mariadb_password]}\nsecrets:\n  db_mariadb_password:\n    file: ./secrets/db_mariadb_password\n",
            "db_mariadb_password",
            id="mariadb-flow-quoted",
        ),
        pytest.param(
            PG + "secrets:\n  other:\n    file: ./other.txt\n",
            PG_OUT.replace("secrets:\n  db_postgres_password", "secrets:\n  other:\n    file: ./other.txt\n  db_postgres_password"),
            "db_postgres_password",
            id="merges-top-level-secrets",
        ),
        pytest.param(
            PG + "    secrets:\n      - other\nsecrets:\n  other:\n    external: true\n",
            "services:\n  db:\n    image: postgres:16\n    environment:\n"
            "      POSTGRES_PASSWORD_FILE: /run/secrets/db_postgres_password\n"
            "    secrets:\n      - other\n      - db_postgres_password\n"
            "secrets:\n  other:\n    external: true\n  db_postgres_password:\n    file: ./secrets/db_postgres_password\n",
            "db_postgres_password",
            id="merges-service-secrets-list",
        ),
        pytest.param(
            PG + "secrets:\n  db_postgres_password:\n    external: true\n",
            PG_OUT.replace("db_postgres_password", "db_postgres_password_2").replace(
                "secrets:\n  db_postgres_password_2:", "secrets:\n  db_postgres_password:\n    external: true\n  db_postgres_password_2:"),
            "db_postgres_password_2",
            id="name-collision-gets-suffix",
        ),
        pytest.param(
            PG.replace("hunter2", "a$$b"), PG_OUT, "db_postgres_password", id="dollar-escape",
        ),
        pytest.param(
            PG.replace("hunter2", "12345"), PG_OUT, "db_postgres_password", id="number-value",
        ),
    ],
)
def test_moves_credential(tmp_path, text, expected, secret):
    result = run(tmp_path, text)
    assert result.output.decode() == expected
    assert refusals(result) == []
    files = written(result, tmp_path)
    assert sorted(files) == [".gitignore", f"secrets/{secret}"] and files[".gitignore"] == GITIGNORE
    assert all(w.mode == 0o600 for w in result.companions if w.path.parent.name == "secrets")


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param("'p w'", b"p w", id="quoted"),
        pytest.param("a$$b", b"a$b", id="dollar-escape"),
        pytest.param("12345", b"12345", id="decimal"),
        pytest.param('"x\\ty"', b"x\ty", id="double-quoted-escape"),
    ],
)
def test_secret_file_holds_what_compose_passed(tmp_path, value, expected):
    result = run(tmp_path, PG.replace("hunter2", value))
    assert written(result, tmp_path)["secrets/db_postgres_password"] == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PG.replace("hunter2", "${PG_PASSWORD}"), id="interpolated"),
        pytest.param(PG.replace("hunter2", "${PG_PASSWORD:-x}"), id="interpolated-default"),
        pytest.param(PG.replace("hunter2", '""'), id="empty"),
        pytest.param(PG.replace(" hunter2", ""), id="null-from-shell"),
        pytest.param("services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_PASSWORD\n", id="list-no-value"),
        pytest.param(PG.replace("POSTGRES_PASSWORD: hunter2", "POSTGRES_PASSWORD_FILE: /run/secrets/pw"), id="already-file"),
        pytest.param(PG.replace("POSTGRES_PASSWORD: hunter2", "MYSQL_ALLOW_EMPTY_PASSWORD: 'yes'"), id="flag"),
        pytest.param(PG.replace("POSTGRES_PASSWORD: hunter2", "PASSWORD_MIN_LENGTH: '12'"), id="setting-not-credential"),
        pytest.param(PG.replace("POSTGRES_PASSWORD: hunter2", "POSTGRES_USER: app"), id="not-a-credential-name"),
        pytest.param(PG.replace("hunter2", "hunter2  # hardener: ignore=compose-secrets"), id="suppressed"),
    ],
)
def test_leaves_alone(tmp_path, text):
    result = run(tmp_path, text)
    assert (result.output, refusals(result), result.companions) == (text.encode(), [], ())


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param("services:\n  app:\n    image: acme/app\n    environment:\n      API_TOKEN: abc\n",
                     "the image 'acme/app' is not known to read *_FILE", id="unknown-image"),
        pytest.param("services:\n  app:\n    image: redis:7\n    environment:\n      - REDIS_PASSWORD=abc\n",
                     "redis:7 does not read REDIS_PASSWORD_FILE", id="image-without-file-env"),
        pytest.param("services:\n  app:\n    image: acme/app\n    environment:\n      DATABASE_URL: postgres://u:pw@db/x\n",
                     "a URL with a password", id="url-with-password"),
        pytest.param(PG.replace("image: postgres:16", "build: ./db"), "built from a Dockerfile", id="built"),
        pytest.param(PG + "    user: '999:999'\n", "runs as user 999:999", id="non-root-user"),
        pytest.param(PG + "    cap_drop: [ALL]\n", "DAC_OVERRIDE", id="cap-drop-all"),
        pytest.param(PG + "    entrypoint: [sh, -c]\n", "`entrypoint:` replaces", id="entrypoint"),
        pytest.param(PG + "    command: bash -c 'x'\n", "does not start the postgres server", id="custom-command"),
        pytest.param(PG + "    healthcheck:\n      test: pg_isready -p $$POSTGRES_PASSWORD\n",
                     "its healthcheck uses $POSTGRES_PASSWORD", id="healthcheck-uses-it"),
        pytest.param(PG + "    env_file: db.env\n", "env_file db.env sets it too", id="env-file-sets-it"),
        pytest.param(PG.replace("      POSTGRES_PASSWORD: hunter2\n",
                                "      POSTGRES_PASSWORD: hunter2\n      POSTGRES_PASSWORD_FILE: /x\n"),
                     "POSTGRES_PASSWORD_FILE is set as well", id="file-variant-set-too"),
        pytest.param("x-env: &env\n  POSTGRES_PASSWORD: hunter2\nservices:\n  db:\n    image: postgres:16\n"
                     "    environment: *env\n", "shared anchor", id="env-alias"),
        pytest.param("services:\n  db:\n    image: postgres:16\n    environment: &env\n      POSTGRES_PASSWORD: x\n"
                     "  db2:\n    image: postgres:16\n    environment: *env\n", "shared anchor", id="env-anchor-shared"),
        pytest.param("x-s: &s\n  environment:\n    POSTGRES_PASSWORD: x\nservices:\n  db:\n    <<: *s\n    image: postgres:16\n",
                     "shared anchor", id="env-via-merge-key"),
        pytest.param("version: '3'\n" + PG, "predates Compose secrets", id="old-version"),
        pytest.param(PG + "    secrets:\n", "not a list", id="secrets-null"),
        pytest.param(PG + "secrets:\n", "top-level `secrets:` is not a mapping", id="top-level-secrets-null"),
        pytest.param(PG.replace("hunter2", "1.50"), "not read it as a plain string", id="float-value"),
        pytest.param("services:\n  db:\n    image: postgres:16\n    environment:\n      - \"POSTGRES_PASSWORD='x'\"\n",
                     "quoted inside the list item", id="quotes-in-list-item"),
    ],
)
def test_reports_without_changing(tmp_path, text, reason):
    result = run(tmp_path, text, {"db.env": "POSTGRES_PASSWORD=other\n"})
    assert result.output == text.encode() and result.companions == ()
    assert any(reason in r for r in refusals(result)), refusals(result)
    assert all("rotate it and move it to a secret/env file" in r for r in refusals(result))


def test_legacy_v1_reports_only_its_credentials(tmp_path):
    result = run(tmp_path, "db:\n  image: postgres\n  environment:\n    POSTGRES_PASSWORD: x\n")
    assert [(r.line, "legacy v1" in r.reason) for r in result.refusals] == [(4, True)]
    assert refusals(run(tmp_path, "db:\n  image: postgres\n  environment:\n    POSTGRES_USER: x\n")) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PG, id="moved"),
        pytest.param(PG.replace("POSTGRES_PASSWORD", "DB_PASSWORD").replace("postgres:16", "acme/x"), id="reported"),
        pytest.param("services:\n  a:\n    image: acme/a\n    environment:\n      - URL=https://me:hunter2@x.org/\n", id="url"),
    ],
)
def test_reason_never_contains_the_value(tmp_path, text):
    result = run(tmp_path, text)
    reasons = [c.reason for c in result.changes] + refusals(result)
    assert reasons and not any("hunter2" in r for r in reasons)


def test_crlf_keeps_line_ends(tmp_path):
    raw = PG.replace("\n", "\r\n").encode()
    result = run(tmp_path, "", raw=raw)
    assert result.output == PG_OUT.replace("\n", "\r\n").encode()


def test_gitignore_already_ignoring_is_left_alone(tmp_path):
    result = run(tmp_path, PG, {".gitignore": "node_modules\nsecrets/\n"})
    assert ".gitignore" not in written(result, tmp_path)


def test_root_gitignore_covers_a_subdirectory(tmp_path):
    (tmp_path / ".gitignore").write_text("**/secrets/\n")
    sub = tmp_path / "deploy"
    sub.mkdir()
    path = sub / "compose.yaml"
    path.write_text(PG)
    result = process(str(path), "compose", PG.encode(), [ComposeSecrets()], Context(tmp_path).for_file(path), UNSAFE)
    assert sorted(written(result, tmp_path)) == ["deploy/secrets/db_postgres_password"]


@pytest.mark.parametrize(
    "gitignore, expected",
    [
        pytest.param("dist", b"dist\n\n" + GITIGNORE, id="no-final-newline"),
        pytest.param("dist\r\n", b"dist\r\n\r\n" + GITIGNORE.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param("secrets/\n!secrets/db_postgres_password\n", None, id="re-included-gets-block"),
    ],
)
def test_gitignore_appended_keeping_bytes(tmp_path, gitignore, expected):
    result = run(tmp_path, PG, {".gitignore": gitignore})
    got = written(result, tmp_path)[".gitignore"]
    assert got == (expected if expected is not None else gitignore.encode() + b"\n" + GITIGNORE)


@pytest.mark.parametrize(
    "files, expected",
    [
        pytest.param({"Dockerfile": "FROM scratch\n"}, b"# added by hardener (compose-secrets): keep Compose secrets "
                     b"files out of the image\nsecrets/\n", id="created-for-build-context"),
        pytest.param({".dockerignore": ".git\n"}, b".git\n\n# added by hardener (compose-secrets): keep Compose "
                     b"secrets files out of the image\nsecrets/\n", id="extended"),
        pytest.param({".dockerignore": "secrets\n"}, None, id="already-excluded"),
        pytest.param({".dockerignore": "*\n!app\n"}, None, id="allow-list-excludes-it"),
        pytest.param({}, None, id="no-build-context-no-file"),
    ],
)
def test_dockerignore(tmp_path, files, expected):
    result = run(tmp_path, PG, files)
    assert written(result, tmp_path).get(".dockerignore") == expected


def test_existing_secret_file_with_other_content_is_not_overwritten(tmp_path):
    result = run(tmp_path, PG, {"secrets/db_postgres_password": "something else"})
    assert "secrets/db_postgres_password_2" in written(result, tmp_path)
    assert "secrets/db_postgres_password" not in written(result, tmp_path)


def test_two_services_in_one_change(tmp_path):
    text = PG + "  db2:\n    image: mysql:8\n    environment:\n      MYSQL_PASSWORD: pw1\n      MYSQL_ROOT_PASSWORD: pw2\n"
    result = run(tmp_path, text)
    assert len(result.changes) == 1
    assert sorted(written(result, tmp_path)) == [".gitignore", "secrets/db2_mysql_password",
                                                  "secrets/db2_mysql_root_password", "secrets/db_postgres_password"]
    second = run(tmp_path, result.output.decode())
    assert second.output == result.output and second.changes == ()


@pytest.mark.parametrize(
    "name, expected",
    [
        pytest.param("DB_PASSWORD", True, id="password"),
        pytest.param("RABBITMQ_DEFAULT_PASS", True, id="pass"),
        pytest.param("GITHUB_TOKEN", True, id="token"),
        pytest.param("SECRET_KEY_BASE", True, id="secret-key-base"),
        pytest.param("AWS_SECRET_ACCESS_KEY", True, id="access-key"),
        pytest.param("stripeApiKey", True, id="camel-case"),
        pytest.param("PRIVATE_KEY", True, id="private-key"),
        pytest.param("PASSWORD_FILE", False, id="file-variant"),
        pytest.param("TOKEN_URL", False, id="token-url"),
        pytest.param("BYPASS_CACHE", False, id="bypass-is-not-pass"),
        pytest.param("MYSQL_RANDOM_ROOT_PASSWORD", False, id="random-flag"),
        pytest.param("KEY", False, id="bare-key"),
        pytest.param("PWD", False, id="working-directory"),
    ],
)
def test_credential_names(name, expected):
    assert is_credential_name(name) is expected


@pytest.mark.parametrize(
    "value, expected",
    [
        pytest.param("hunter2", True, id="literal"),
        pytest.param("changeme", True, id="placeholder-counts"),
        pytest.param("", False, id="empty"),
        pytest.param("yes", False, id="flag"),
        pytest.param("/run/secrets/pw", False, id="path"),
        pytest.param(None, False, id="none"),
    ],
)
def test_literal_values(value, expected):
    assert is_literal(value) is expected


def test_entries_of_both_forms():
    from hardener.compose.doc import ComposeDoc

    doc = ComposeDoc.load(b"services:\n  s:\n    environment:\n      - A=1\n      - B\n      - D=a$$b\n"
                          b"  t:\n    environment:\n      C: x=y\n      E: ${X}\n      F: pre$X\n      G: 'a$$b'\n")
    got = [(e.name, e.value) for s in doc.services() for e in entries(s.node.value[0][1])]
    assert got == [("A", "1"), ("B", None), ("D", "a$b"), ("C", "x=y"), ("E", None), ("F", None), ("G", "a$b")]


def test_apply_through_cli_writes_0600_and_second_run_is_noop(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text(PG)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["apply", "--select", "HD607", "."]).exit_code == 0
    assert (tmp_path / "compose.yaml").read_text() == PG, "unsafe: not applied without --unsafe"
    applied = runner.invoke(main, ["apply", "--select", "HD607", "--unsafe", "."])
    assert applied.exit_code == 0, applied.stderr
    assert "hunter2" not in applied.stderr
    secret = tmp_path / "secrets" / "db_postgres_password"
    assert secret.read_bytes() == b"hunter2"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (tmp_path / "compose.yaml").read_text() == PG_OUT
    assert (tmp_path / ".gitignore").read_bytes() == GITIGNORE
    again = runner.invoke(main, ["check", "--select", "HD607", "--unsafe", "."])
    assert again.exit_code == 0, again.stderr


PG_WITH_SECRET = (PG + "    secrets:\n      - other\nsecrets:\n  other:\n    file: ./other.txt\n")


@pytest.mark.parametrize(("text", "extra", "moved"), [
    pytest.param(PG, (), False, id="with-compose-user-refuses"),
    pytest.param(PG_WITH_SECRET, (), False, id="with-compose-user-same-round-refuses"),
    pytest.param(PG, ("--ignore", "HD204"), True, id="without-compose-user-moves"),
])
def test_compose_user_in_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, extra: tuple,
                                      moved: bool) -> None:
    """compose-user would run postgres as 999:999, which cannot read a 0600 file owned by the
    host user: with both active, the secret stays (refused with the reason) and the user is set,
    also when both edits could land in the same round (the service already lists a secret)."""
    (tmp_path / "compose.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["apply", "--offline", "--unsafe", "--select", "HD204,HD607", *extra, "."])
    assert result.exit_code == 0, result.output
    out = (tmp_path / "compose.yaml").read_text()
    assert ("POSTGRES_PASSWORD_FILE" in out) is moved
    assert ('user: 999:999' in out) is not moved
    if not moved:
        assert "999:999, which cannot read a 0600 secrets file" in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_diff_never_shows_the_secrets_file_content(tmp_path, monkeypatch, fmt):
    """The new secrets file's patch shows its size, not the value (which the Compose file's
    removed line still shows: it was in the repository already)."""
    (tmp_path / "compose.yaml").write_text(PG)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["diff", "--select", "HD607", "--unsafe", "--format", fmt, "."])
    assert result.exit_code == 0, result.stderr
    if fmt == "json":
        import json

        patch = next(c["diff"] for c in json.loads(result.stdout)["companions"] if c["path"].endswith("db_postgres_password"))
    else:
        patch = result.stdout.split("+++ b/secrets/db_postgres_password", 1)[1]
    assert "hunter2" not in patch and "<secret: 7 bytes, not shown; `hardener apply` writes it>" in patch
    assert "-      POSTGRES_PASSWORD: hunter2" in result.stdout  # the Compose file's own removed line
    assert not (tmp_path / "secrets").exists()
