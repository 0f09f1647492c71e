"""Issue 22, cases 8-10 and 12: oversized, exploding and blocking inputs are per-file errors.

Each case builds a small hostile repository in a temp dir beside a healthy Dockerfile, runs
the CLI under a memory cap and a timeout, and checks the exit code and that the healthy file
was still processed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hostile.bounded import run_bounded

HEALTHY = "FROM alpine:3.19\nMAINTAINER me\n"
ARGS = ["diff", "--no-color", "--offline", "--select", "maintainer-to-label,no-new-privileges,compose-secrets", "."]


def _repo(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    repo = tmp_path / "repo"
    (repo / "ok").mkdir(parents=True)
    (repo / "ok" / "Dockerfile").write_text(HEALTHY)
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return repo


def _alias_bomb() -> str:
    lines = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"x-{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\nservices:\n  web:\n    image: nginx\n    environment: *i\n"


BAD_FILES = [
    pytest.param({"big/Dockerfile": "FROM alpine\n" + "RUN true\n" * 150_000}, "over the 1 MiB limit", id="1.3MB-dockerfile"),
    pytest.param({"bomb/compose.yaml": _alias_bomb()}, "aliases expand to more than", id="alias-bomb"),
    pytest.param({"nest/compose.yaml": "services:\n  web:\n    image: nginx\nx-n: " + "[" * 1000 + "]" * 1000 + "\n"},
                 "nested more than 200 levels", id="flow-nesting-1000"),
    pytest.param({"nest/compose.yaml": "services:\n  web:\n    image: nginx\nx-n:\n"
                  + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1000)) + " " * 1001 + "v\n"},
                 "nested more than 200 levels", id="block-nesting-1000"),
    pytest.param({"json/Dockerfile": "FROM alpine\nCMD " + "[" * 20_000 + "]" * 20_000 + "\n"},
                 "JSON array nested too deeply", id="json-cmd-nesting"),
]


@pytest.mark.parametrize(("files", "message"), BAD_FILES)
def test_bad_file_is_a_per_file_error(tmp_path: Path, files: dict[str, str], message: str) -> None:
    assert len(_alias_bomb()) < 700  # the 0.6 KB bomb
    repo = _repo(tmp_path, files)
    start = time.monotonic()
    out = run_bounded(ARGS, repo, timeout=60)
    assert out.code == 2, out.stderr
    assert message in out.stderr
    assert "+LABEL org.opencontainers.image.authors" in out.stdout  # the healthy file was still done
    assert time.monotonic() - start < 30


def test_max_file_size_is_configurable(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {".hardener.toml": "max-file-size = 20\n"})
    out = run_bounded(ARGS, repo)
    assert out.code == 2 and "ok/Dockerfile: file is 31 bytes, over the 20 bytes limit (max-file-size)" in out.stderr


def test_max_file_size_cannot_be_lifted_without_bound(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {".hardener.toml": "max-file-size = 1_000_000_000_000\n"})
    out = run_bounded(ARGS, repo)
    assert out.code == 2 and "'max-file-size' must be a number of bytes from 1 to" in out.stderr


def test_deep_but_legal_yaml_is_processed(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"c/compose.yaml": "services:\n  web:\n    image: nginx\nx-n: " + "[" * 190 + "]" * 190 + "\n"})
    out = run_bounded(ARGS, repo)
    assert out.code == 0, out.stderr
    assert "+    security_opt:" in out.stdout


SECRET_COMPOSE = "services:\n  db:\n    image: postgres:16\n    env_file: {path}\n    environment:\n      POSTGRES_PASSWORD: hunter2hunter2\n"


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/stdin", "fifo.env"])
def test_env_file_that_never_ends_is_refused(tmp_path: Path, path: str) -> None:
    repo = _repo(tmp_path, {"s/compose.yaml": SECRET_COMPOSE.format(path=path)})
    if path == "fifo.env":
        os.mkfifo(repo / "s" / "fifo.env")
    args = ["diff", "--no-color", "--offline", "--unsafe", "--select", "compose-secrets,maintainer-to-label", "."]
    out = run_bounded(args, repo, timeout=60)
    assert out.code == 0, out.stderr
    assert "cannot be read (not a regular file, or over the size limit)" in out.stderr
    assert "+LABEL" in out.stdout


@pytest.mark.parametrize("name", [".dockerignore", ".gitignore", "package.json", ".git/info/exclude"])
def test_fifo_auxiliary_file_does_not_hang(tmp_path: Path, name: str) -> None:
    repo = _repo(tmp_path, {"ok/app.js": "console.log(1)\n"})
    (repo / ".git" / "info").mkdir(parents=True)
    target = repo / name if name.startswith(".git/") else repo / "ok" / name
    os.mkfifo(target)
    if name == ".gitignore":
        os.mkfifo(repo / name)
    out = run_bounded(["diff", "--no-color", "--offline", "."], repo, timeout=90)
    assert out.code in (0, 2), out.stderr  # 2: a companion hardener would write is a FIFO
    assert "+LABEL org.opencontainers.image.authors" in out.stdout


def test_non_utf8_directory_name(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {})
    bad = os.fsencode(repo) + b"/bad\xff"
    os.mkdir(bad)
    with open(bad + b"/Dockerfile", "wb") as fh:
        fh.write(HEALTHY.encode())
    out = run_bounded(ARGS, repo)
    assert out.code == 0, out.stderr
    assert '"a/bad\\377/Dockerfile"' in out.stdout and "a/ok/Dockerfile" in out.stdout
