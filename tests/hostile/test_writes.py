"""Cases 1-3 of issue 22: nothing is written outside the tree, through a link, or over another file.

Each test builds the repository an attacker (or an unlucky user) would commit, runs
``hardener apply`` and checks three things: the sentinel directory outside the tree is
byte-identical, the run says what it refused (exit 2, the file named), and the file that
would have referred to the refused companion is untouched (all or nothing per group).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from hostile.conftest import FIXTURES, Run, tree_hash

SECRETS = FIXTURES / "HD607-compose-secrets" / "postgres-password" / "input"
FALCO = FIXTURES / "HD505-add-runtime-rules" / "stack" / "input"
GATE = FIXTURES / "HD504-add-ci-security-gate" / "node-service" / "input"
DOCKERFILE = "FROM python:3.12-slim\nCOPY . /app\nCMD [\"python\", \"/app/main.py\"]\n"


def _copy(source: Path, repo: Path) -> None:
    shutil.copytree(source, repo, dirs_exist_ok=True)


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and not p.is_symlink() and ".git" not in p.parts}


# -- case 1: the repository's config chooses the lock path --------------------------------------

@pytest.mark.parametrize("lock", ["/home/u/.bashrc", "../../home/.bashrc", "~/.bashrc", "sub/../../x.lock"])
def test_lock_path_outside_the_repo_is_refused_at_load(repo: Path, sentinel: Path, hardener_cli: Run, lock: str) -> None:
    lock = lock.replace("/home/u/", f"{sentinel}/")
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.hardener.pin-base-image]\nwrite-lock = true\nlock = "{lock}"\n')
    before = tree_hash(sentinel)
    result = hardener_cli("apply", "--offline", ".", cwd=repo)
    assert result.returncode == 2, result.stderr
    assert "pyproject.toml:6: pin-base-image.lock: expected a path inside the repository" in result.stderr
    assert tree_hash(sentinel) == before
    assert (repo / "Dockerfile").read_text() == DOCKERFILE


def _cached_digest(tmp_path: Path) -> str:
    """A digest for python:3.12-slim in the run's private cache, so --offline pins and writes the lock."""
    digest = "sha256:" + "a" * 64
    entry = {"digest": digest, "media_type": "application/vnd.oci.image.index.v1+json",
             "platforms": ["linux/amd64"], "tags": [], "fetched": 1.0}
    (tmp_path / "cache" / "hardener").mkdir(parents=True)
    images = {"docker.io/library/python:3.12-slim": entry}
    (tmp_path / "cache" / "hardener" / "digests.json").write_text(json.dumps({"version": 1, "images": images}))
    return digest


def test_a_file_that_is_not_a_lock_is_never_overwritten(repo: Path, tmp_path: Path, hardener_cli: Run) -> None:
    _cached_digest(tmp_path)
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "pyproject.toml").write_text('[tool.hardener.pin-base-image]\nwrite-lock = true\nlock = "notes.txt"\n')
    (repo / "notes.txt").write_text("my notes\n")
    result = hardener_cli("apply", "--offline", "--select", "pin-base-image", ".", cwd=repo)
    assert result.returncode == 2, result.stderr
    assert "Dockerfile: not written: notes.txt: exists and is not a hardener lock file" in result.stderr
    assert (repo / "notes.txt").read_text() == "my notes\n"
    assert (repo / "Dockerfile").read_text() == DOCKERFILE


def test_a_lock_is_written_inside_the_repo(repo: Path, tmp_path: Path, hardener_cli: Run) -> None:
    digest = _cached_digest(tmp_path)
    (repo / "Dockerfile").write_text(DOCKERFILE)
    result = hardener_cli("apply", "--offline", "--lock", "--select", "pin-base-image", ".", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert digest in (repo / "hardener.lock").read_text()
    assert digest in (repo / "Dockerfile").read_text()


def test_a_lock_that_links_out_of_the_repo_is_refused(repo: Path, sentinel: Path, tmp_path: Path, hardener_cli: Run) -> None:
    _cached_digest(tmp_path)
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "hardener.lock").symlink_to(sentinel / ".bashrc")
    before = tree_hash(sentinel)
    result = hardener_cli("apply", "--offline", "--lock", "--select", "pin-base-image", ".", cwd=repo)
    assert result.returncode == 2
    assert "hardener.lock: refusing to write: a symlink leading outside" in result.stderr
    assert tree_hash(sentinel) == before
    assert (repo / "Dockerfile").read_text() == DOCKERFILE


# -- case 2: companions follow links out of the tree ---------------------------------------------

def _secrets_repo(repo: Path) -> tuple[list[str], dict[str, bytes]]:
    _copy(SECRETS, repo)
    return ["--select", "compose-secrets", "--unsafe"], _snapshot(repo)


def _falco_repo(repo: Path) -> tuple[list[str], dict[str, bytes]]:
    _copy(FALCO, repo)
    return ["--select", "add-runtime-rules"], _snapshot(repo)


def _gate_repo(repo: Path) -> tuple[list[str], dict[str, bytes]]:
    _copy(GATE, repo)
    return ["--select", "add-ci-security-gate"], _snapshot(repo)


def _dockerignore_repo(repo: Path) -> tuple[list[str], dict[str, bytes]]:
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "main.py").write_text("print('hi')\n")
    return ["--select", "generate-dockerignore"], _snapshot(repo)


OUT = [  # (repository, the link an attacker commits, what it points at under the sentinel)
    pytest.param(_secrets_repo, "secrets/db_postgres_password", ".ssh/authorized_keys", id="dangling-secret-file"),
    pytest.param(_secrets_repo, "secrets", ".ssh", id="secrets-dir"),
    pytest.param(_secrets_repo, ".gitignore", ".bashrc", id="gitignore-file"),
    pytest.param(_falco_repo, "deploy", "deploy", id="falco-dir-dangling"),
    pytest.param(_falco_repo, "deploy", ".ssh", id="falco-dir"),
    pytest.param(_gate_repo, ".github", ".ssh", id="github-dir"),
    pytest.param(_dockerignore_repo, ".dockerignore", ".bashrc", id="dockerignore-file"),
    pytest.param(_dockerignore_repo, ".dockerignore", "nothing", id="dockerignore-dangling"),
]


@pytest.mark.parametrize(("build", "link", "target"), OUT)
def test_companions_never_follow_a_link_out(repo: Path, sentinel: Path, hardener_cli: Run, build, link: str, target: str) -> None:
    args, _ = build(repo)
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    if (repo / link).is_file():
        (repo / link).unlink()
    (repo / link).symlink_to(sentinel / target)
    files = _snapshot(repo)
    before = tree_hash(sentinel)
    result = hardener_cli("apply", "--offline", *args, ".", cwd=repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to write" in result.stderr and "not written" in result.stderr
    assert tree_hash(sentinel) == before
    assert _snapshot(repo) == files  # the group is all or nothing: the referrer is untouched too


def test_without_the_links_the_same_repos_are_hardened(repo: Path, hardener_cli: Run) -> None:
    """The refusals above are about the links: the same repository without them is changed."""
    args, files = _secrets_repo(repo)
    result = hardener_cli("apply", "--offline", *args, ".", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "secrets" / "db_postgres_password").read_bytes() == b"example-not-real"
    assert _snapshot(repo)["compose.yaml"] != files["compose.yaml"]


# -- case 3: in-tree aliasing --------------------------------------------------------------------

@pytest.mark.parametrize("target", [".gitignore", "Dockerfile", "main.py"])
def test_a_companion_linked_to_another_file_is_refused(repo: Path, hardener_cli: Run, target: str) -> None:
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "main.py").write_text("print('hi')\n")
    (repo / ".gitignore").write_text("*.pyc\n")
    (repo / ".dockerignore").symlink_to(target)
    files = _snapshot(repo)
    result = hardener_cli("apply", "--offline", "--select", "generate-dockerignore", ".", cwd=repo)
    assert result.returncode == 2, result.stderr
    assert "Dockerfile: not written: .dockerignore: refusing to write: a symlink to" in result.stderr
    assert _snapshot(repo) == files
    assert os.readlink(repo / ".dockerignore") == target


def test_a_companion_linked_to_a_file_of_its_kind_is_written_through(repo: Path, hardener_cli: Run) -> None:
    """A link inside the tree to a file of the same kind is an ordinary setup: written through."""
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "main.py").write_text("print('hi')\n")
    (repo / "docker").mkdir()
    (repo / "docker" / ".dockerignore").write_text("*.pyc\n")
    (repo / ".dockerignore").symlink_to("docker/.dockerignore")
    result = hardener_cli("apply", "--offline", "--select", "generate-dockerignore", ".", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / ".dockerignore").is_symlink()
    assert "*.pyc" in (repo / "docker" / ".dockerignore").read_text()
    assert ".git" in (repo / "docker" / ".dockerignore").read_text()


# -- groups: one refused group does not stop the others; a shared companion is written with each ----

def test_a_refused_group_leaves_the_other_groups_written(repo: Path, sentinel: Path, hardener_cli: Run) -> None:
    _copy(SECRETS, repo / "bad")
    _copy(SECRETS, repo / "good")
    (repo / "bad" / "secrets").mkdir()
    (repo / "bad" / "secrets" / "db_postgres_password").symlink_to(sentinel / ".ssh" / "authorized_keys")
    before = tree_hash(sentinel)
    result = hardener_cli("apply", "--offline", "--select", "compose-secrets", "--unsafe", ".", cwd=repo)
    assert result.returncode == 2
    assert "bad/compose.yaml: not written: bad/secrets/db_postgres_password: refusing to write" in result.stderr
    assert (repo / "bad" / "compose.yaml").read_bytes() == (SECRETS / "compose.yaml").read_bytes()
    assert (repo / "good" / "compose.yaml").read_bytes() != (SECRETS / "compose.yaml").read_bytes()
    assert (repo / "good" / "secrets" / "db_postgres_password").read_bytes() == b"example-not-real"
    assert tree_hash(sentinel) == before


def test_a_shared_companion_is_written_with_each_group_that_changes_it(repo: Path, hardener_cli: Run) -> None:
    (repo / "Dockerfile").write_text(DOCKERFILE)
    (repo / "Dockerfile.prod").write_text(DOCKERFILE)
    (repo / "main.py").write_text("print('hi')\n")
    diff = hardener_cli("diff", "--offline", "--select", "generate-dockerignore", ".", cwd=repo)
    result = hardener_cli("apply", "--offline", "--select", "generate-dockerignore", ".", cwd=repo)
    assert result.returncode == 0, result.stderr
    written = (repo / ".dockerignore").read_text()
    assert "Dockerfile" in written and "Dockerfile.prod" in written
    assert all(f"+{line}" in diff.stdout for line in written.splitlines())  # what diff promised, no more
    assert hardener_cli("check", "--offline", "--select", "generate-dockerignore", ".", cwd=repo).returncode == 0


def test_a_fifo_where_a_secret_goes_is_refused_without_hanging(repo: Path, hardener_cli: Run) -> None:
    _copy(SECRETS, repo)
    (repo / "secrets").mkdir()
    os.mkfifo(repo / "secrets" / "db_postgres_password")
    result = hardener_cli("apply", "--offline", "--select", "compose-secrets", "--unsafe", ".", cwd=repo, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "secrets/db_postgres_password: refusing to write: not a regular file (FIFO)" in result.stderr
    assert (repo / "compose.yaml").read_bytes() == (SECRETS / "compose.yaml").read_bytes()
