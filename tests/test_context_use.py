"""plans/copy/uses: which context files the COPY/ADD of a context's Dockerfiles take, and
whether a .dockerignore pattern may remove them (shared by HD303 and HD305)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener import repo_facts
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.engine import Options, process
from hardener.plans.copy.plan import KNOWN
from hardener.plans.copy.uses import context_use, judge
from hardener.transforms.generate_dockerignore import GenerateDockerignore
from hardener.transforms.narrow_copy import NarrowCopy

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"
APP = {"requirements.txt": "requests\n", "server.py": "import requests\nrequests.get('x', verify='certs/ca.pem')\n",
       "certs/ca.pem": CERT, "tests/fixture.pem": CERT, "docs/a.md": ""}
WHOLE = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . /app/\nCMD [\"python\", \"server.py\"]\n"
NARROWED = ("FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt server.py /app/\nCOPY certs/ /app/certs/\n"
            "CMD [\"python\", \"server.py\"]\n")


def tree(root: Path, files: dict[str, str]) -> list[str]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    repo_facts._CACHE.clear()
    return list(repo_facts.listing(root).paths)


def taken(root: Path, dockerfile: str) -> dict[str, str]:
    paths = tree(root, {**APP, "Dockerfile": dockerfile})
    use = context_use({"Dockerfile": DockerfileDoc.load(dockerfile.encode(), "Dockerfile")}, root, paths, list(KNOWN))
    return {p: u.source.keyword for p, u in use.named.items()}


def test_a_copy_all_takes_what_narrow_copy_keeps_before_and_after_it_ran(tmp_path: Path) -> None:
    before, after = taken(tmp_path / "a", WHOLE), taken(tmp_path / "b", NARROWED)
    assert set(before) == set(after) == {"requirements.txt", "server.py", "certs", "certs/ca.pem"}


def test_a_copy_all_narrow_copy_cannot_narrow_takes_every_file(tmp_path: Path) -> None:
    paths = tree(tmp_path, {**APP, "Dockerfile": "FROM x\nCOPY . .\n"})  # no CMD: no plan
    use = context_use({"Dockerfile": DockerfileDoc.load(b"FROM x\nCOPY . .\n", "Dockerfile")}, tmp_path, paths, list(KNOWN))
    assert not use.named and use.taker("tests/fixture.pem") is not None


@pytest.mark.parametrize("dockerfile", [pytest.param(WHOLE, id="before-narrow-copy"),
                                        pytest.param(NARROWED, id="after-narrow-copy")])
def test_generate_dockerignore_agrees_with_narrow_copy_in_either_order(tmp_path: Path, dockerfile: str) -> None:
    tree(tmp_path, {**APP, ".env": "API_TOKEN=t0k3n-9f8e\n", "Dockerfile": dockerfile})
    ctx = Context(tmp_path).for_file(tmp_path / "Dockerfile")
    result = process("Dockerfile", "dockerfile", dockerfile.encode(), [GenerateDockerignore(), NarrowCopy()], ctx, Options())
    ignore = result.companions[0].content.decode()
    assert "**/.env" in ignore and "*.pem" not in ignore
    assert any("takes certs/ca.pem, which holds only certificates" in r.reason for r in result.refusals)
    assert [c.applicability.name for c in result.changes if c.transform_id == "HD303"] == ["SAFE"]


def test_judge_secret_taken_by_a_directory_copy_is_a_cost_not_a_blocker(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"tls/key.pem": KEY, "tls/chain.pem": CERT})
    doc = DockerfileDoc.load(b"FROM x\nCOPY tls/ /etc/tls/\n", "Dockerfile")
    use = context_use({"Dockerfile": doc}, tmp_path, paths, list(KNOWN))
    alone = judge(use, ["tls/key.pem"], paths, tmp_path, by_content=True)
    both = judge(use, ["tls/chain.pem", "tls/key.pem"], paths, tmp_path, by_content=True)
    assert alone.blocker is None and alone.secrets == ("tls/key.pem holds a private key (EC PRIVATE KEY) and "
                                                       "COPY tls/ /etc/tls/ (line 2 of Dockerfile) takes it",)
    assert both.blocker == "COPY tls/ /etc/tls/ (line 2 of Dockerfile) takes tls/chain.pem, which holds only certificates"
    assert both.secret_paths == ("tls/key.pem",)


def test_judge_secret_copied_by_name_blocks(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"key.pem": KEY})
    doc = DockerfileDoc.load(b"FROM x\nCOPY key.pem /k\n", "Dockerfile")
    verdict = judge(context_use({"Dockerfile": doc}, tmp_path, paths, list(KNOWN)), ["key.pem"], paths, tmp_path,
                    by_content=True)
    assert verdict.blocker is not None and "excluding it fails the build" in verdict.blocker


def test_judge_without_content_keeps_every_named_path(tmp_path: Path) -> None:
    paths = tree(tmp_path, {"dist/a.js": ""})
    doc = DockerfileDoc.load(b"FROM x\nCOPY dist/ /srv/\n", "Dockerfile")
    verdict = judge(context_use({"Dockerfile": doc}, tmp_path, paths, list(KNOWN)), ["dist", "dist/a.js"], paths,
                    tmp_path, by_content=False)
    assert verdict.blocker == "COPY dist/ (line 2 of Dockerfile) needs dist"
