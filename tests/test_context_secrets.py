"""HD304 context-secrets: which copied files are reported, which are not."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.knowledge.secret_files import secret_kind
from hardener.transforms.context_secrets import ContextSecrets

COPY_ALL = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"


def reasons(root: Path, files: dict[str, str], dockerfile: str = COPY_ALL) -> list[str]:
    for rel, content in {**files, "Dockerfile": dockerfile}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    ctx = Context(root).for_file(root / "Dockerfile")
    result = process("Dockerfile", "dockerfile", dockerfile.encode(), [ContextSecrets()], ctx, Options())
    assert not result.changed  # report only
    return [r.reason for r in result.refusals]


@pytest.mark.parametrize(("files", "dockerfile", "reported"), [
    pytest.param({".env": "A=1"}, COPY_ALL, ".env (dotenv file)", id="dotenv"),
    pytest.param({".env.example": "A="}, COPY_ALL, None, id="dotenv-template"),
    pytest.param({".env": "A=1", ".dockerignore": ".env\n"}, COPY_ALL, None, id="dotenv-ignored"),
    pytest.param({".env": "A=1"}, "FROM x\nCOPY app.py /app/\n", None, id="not-copied"),
    pytest.param({"conf/.env": "A=1"}, "FROM x\nCOPY conf/ /etc/conf/\n", "conf/.env", id="copied-by-directory-source"),
    pytest.param({"k/id_ed25519": "k"}, COPY_ALL, "SSH private key", id="ssh-key"),
    pytest.param({"k/id_ed25519.pub": "k"}, COPY_ALL, None, id="ssh-public-key"),
    pytest.param({"tls/site.key": "k"}, COPY_ALL, "private key or certificate", id="key-file"),
    pytest.param({".aws/credentials": "x"}, COPY_ALL, "AWS credentials", id="aws"),
    pytest.param({".npmrc": "//r/:_authToken=abc\n"}, COPY_ALL, "npm registry token", id="npmrc-token"),
    pytest.param({".npmrc": "registry=https://r/\n"}, COPY_ALL, None, id="npmrc-without-token"),
    pytest.param({"sa.json": '{"type": "service_account", "private_key": "x"}'}, COPY_ALL, "gcloud", id="gcloud-key"),
    pytest.param({"data.json": '{"type": "other"}'}, COPY_ALL, None, id="plain-json"),
    pytest.param({".env": "A=1"}, "FROM x AS b\nFROM y\nCOPY --from=b /app /app\n", None, id="copy-from-stage"),
    pytest.param({"s.key": "k"}, "FROM x\nRUN --mount=type=bind,source=s.key,target=/k true\n", None, id="bind-mount-not-in-image"),
])
def test_reports(tmp_path: Path, files: dict[str, str], dockerfile: str, reported: str | None) -> None:
    found = reasons(tmp_path, files, dockerfile)
    if reported is None:
        assert found == []
    else:
        assert len(found) == 1 and reported in found[0]


def test_long_lists_are_cut(tmp_path: Path) -> None:
    found = reasons(tmp_path, {f"k{i}.pem": "" for i in range(8)})
    assert "and 3 more" in found[0]


def test_directories_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "x.key").mkdir()
    assert secret_kind(tmp_path, "x.key") is None
