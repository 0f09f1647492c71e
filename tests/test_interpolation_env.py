"""HD609 is project-aware: the --env-file a repository command uses, and one owner (HD609,
not HD607) for an env file that is both `env_file:` and the interpolation file."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hardener.compose.interpolation_env import interpolation_files
from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Applicability
from hardener.transforms.compose_secrets import ComposeSecrets
from hardener.transforms.interpolation_secrets import InterpolationSecrets

COMPOSE = "services:\n  app:\n    image: ghcr.io/acme/app:1\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n"
CREDS = "DB_PASSWORD=Xk9mQ2vLp8wRz4Tb\nUNUSED_TOKEN=Xk9mQ2vLp8wRz4Tb\nPORT=80\n"


def _repo(tmp_path: Path, files: dict[str, str], tracked: list[str]) -> Path:
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-C", str(tmp_path), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "--", *tracked], check=True)
    return tmp_path / "compose.yaml"


def _reasons(path: Path, transform: object) -> list[str]:
    text = path.read_bytes()
    ctx = Context(path.parent).for_file(path)
    result = process(str(path), "compose", text, [transform], ctx, Options(Applicability.UNSAFE))  # type: ignore[list-item]
    assert result.failure is None and result.error is None
    return [r.reason for r in result.refusals]


@pytest.mark.parametrize(("command", "env"), [
    pytest.param("up:\n\tdocker compose -f compose.yaml --env-file config/prod.env up -d\n", "config/prod.env",
                 id="with-f"),
    pytest.param("up:\n\tdocker compose --env-file config/prod.env up -d\n", "config/prod.env", id="without-f"),
])
def test_env_file_of_a_command_is_read(command: str, env: str, tmp_path: Path) -> None:
    path = _repo(tmp_path, {"compose.yaml": COMPOSE, "Makefile": command, env: CREDS}, ["compose.yaml", env])
    sources = {s.path: s.how for s in interpolation_files(Context(tmp_path).for_file(path))}
    assert sources[(tmp_path / env).resolve()] == "--env-file of Makefile:2"
    reasons = _reasons(path, InterpolationSecrets())
    assert reasons == [f"literal credential DB_PASSWORD in {env} line 1 (--env-file of Makefile:2), which git tracks "
                       f"and this file interpolates: rotate it, untrack {env} (`git rm --cached {env}`, add it to "
                       f".gitignore) and commit a prod.env.example without values"]
    assert "Xk9m" not in reasons[0]


def test_untracked_env_file_is_not_reported(tmp_path: Path) -> None:
    files = {"compose.yaml": COMPOSE, "Makefile": "up:\n\tdocker compose --env-file prod.env up\n", "prod.env": CREDS}
    assert _reasons(_repo(tmp_path, files, ["compose.yaml"]), InterpolationSecrets()) == []


def test_command_in_another_folder_does_not_apply(tmp_path: Path) -> None:
    files = {"compose.yaml": COMPOSE, "other/Makefile": "up:\n\tdocker compose --env-file prod.env up\n",
             "other/prod.env": CREDS, "other/compose.yaml": COMPOSE}
    assert _reasons(_repo(tmp_path, files, ["compose.yaml", "other/prod.env"]), InterpolationSecrets()) == []


def test_dotenv_that_is_also_env_file_is_reported_once_by_hd609(tmp_path: Path) -> None:
    text = "services:\n  db:\n    image: postgres:16\n    env_file: .env\n    labels:\n      p: ${DB_PASSWORD}\n"
    path = _repo(tmp_path, {"compose.yaml": text, ".env": CREDS}, ["compose.yaml", ".env"])
    assert _reasons(path, ComposeSecrets()) == []
    reasons = _reasons(path, InterpolationSecrets())
    assert len(reasons) == 2, reasons
    assert "DB_PASSWORD in .env line 1, which git tracks and this file interpolates and service db reads as env_file" \
        in reasons[0]
    assert "UNUSED_TOKEN in .env line 2, which git tracks and service db reads as env_file" in reasons[1]


def test_other_env_files_stay_hd607s(tmp_path: Path) -> None:
    text = "services:\n  db:\n    image: postgres:16\n    env_file: db.env\n"
    path = _repo(tmp_path, {"compose.yaml": text, "db.env": CREDS}, ["compose.yaml", "db.env"])
    assert any("env_file db.env line 1" in r for r in _reasons(path, ComposeSecrets()))
    assert _reasons(path, InterpolationSecrets()) == []
