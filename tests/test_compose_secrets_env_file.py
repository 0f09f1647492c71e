"""HD607 compose-secrets on credentials in `env_file:` files that git tracks."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hardener import judges
from hardener.context import Context
from hardener.engine import FileResult, Options, process
from hardener.model import Applicability
from hardener.transforms.compose_secrets import ComposeSecrets

DB_ENV = "POSTGRES_USER=app\nPOSTGRES_PASSWORD=Tr0ub4dor-horse-battery\n"
PG = "services:\n  db:\n    image: postgres:16\n    env_file: db.env\n"


def run(tmp_path: Path, text: str, files: dict[str, str], track: bool = True) -> FileResult:
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True)
    if track:
        subprocess.run(["git", "-C", str(tmp_path), "add", *files], check=True)
    result = process(str(path), "compose", text.encode(), [ComposeSecrets()], Context(tmp_path).for_file(path),
                     Options(Applicability.UNSAFE))
    assert result.failure is None and result.error is None
    if result.output is not None and result.output != text.encode():
        assert judges.compose_problems(result.output.decode()) == []
    return result


def test_moves_a_tracked_env_file_credential(tmp_path: Path) -> None:
    result = run(tmp_path, PG, {"db.env": DB_ENV})
    assert result.output is not None
    assert result.output.decode() == (
        PG + "    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db_postgres_password\n"
        "    secrets:\n      - db_postgres_password\n"
        "secrets:\n  db_postgres_password:\n    file: ./secrets/db_postgres_password\n")
    writes = {w.path.name: w for w in result.companions}
    assert writes["db.env"].content == b"POSTGRES_USER=app\n" and not writes["db.env"].sensitive
    assert writes["db_postgres_password"].content == b"Tr0ub4dor-horse-battery" and writes["db_postgres_password"].sensitive


def test_appends_to_a_list_environment(tmp_path: Path) -> None:
    text = PG + "    environment:\n      - POSTGRES_DB=app\n"
    result = run(tmp_path, text, {"db.env": DB_ENV})
    assert result.output is not None
    assert "      - POSTGRES_DB=app\n      - POSTGRES_PASSWORD_FILE=/run/secrets/db_postgres_password\n" in result.output.decode()


@pytest.mark.parametrize(("text", "files", "why"), [
    pytest.param(PG + "  other:\n    image: postgres:16\n    env_file: [db.env]\n", {"db.env": DB_ENV},
                 "env_file db.env is read by other as well", id="shared"),
    pytest.param(PG + "    environment:\n      POSTGRES_PASSWORD_FILE: /run/x\n", {"db.env": DB_ENV},
                 "`environment:` sets POSTGRES_PASSWORD_FILE too", id="file-variant-set"),
    pytest.param("services:\n  web:\n    image: example/web:1\n    env_file: web.env\n", {"web.env": "SECRET_KEY=abc-def-ghi-jkl-mno\n"},
                 "the image 'example/web:1' is not known to read *_FILE", id="unknown-image"),
    pytest.param(PG, {"db.env": DB_ENV + "POSTGRES_PASSWORD=again-and-again-x\n"},
                 "env_file db.env sets POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE more than once", id="twice"),
])
def test_refuses_with_file_line_and_variable(tmp_path: Path, text: str, files: dict[str, str], why: str) -> None:
    result = run(tmp_path, text, files)
    assert result.output is None or result.output == text.encode()
    reasons = [r.reason for r in result.refusals]
    assert reasons and all(why in r for r in reasons), reasons
    assert all(" line " in r and ("POSTGRES_PASSWORD" in r or "SECRET_KEY" in r) for r in reasons)
    assert not any(v in r for r in reasons for v in ("Tr0ub4dor", "abc-def", "again-and"))


def test_untracked_env_file_is_left_alone(tmp_path: Path) -> None:
    result = run(tmp_path, PG, {"db.env": DB_ENV}, track=False)
    assert (result.output is None or result.output == PG.encode()) and result.refusals == ()
