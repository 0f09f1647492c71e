"""Build proof of the build-context transforms (generate-dockerignore, narrow-copy).

Each case copies a fixtures/apps app that copies its whole context, adds what real
repositories carry next to the code (an ``.env`` with a secret, a ``.git`` directory, a
private key, tests), hardens the copy with everything that runs by default, builds both
with buildah and checks: the original image holds those files (so the test can fail),
the hardened one holds none of them and nothing under the app directory that the
original did not, and the smoke test answers the same. (Whole-image size is not compared:
the non-root user's passwd lines can outweigh a few small files.) Needs the build lab (see lab/plugin.py).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hardener.lab.buildengine import Buildah
from lab.plugin import APPS, Lab, lab  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.lab

JUNK = {
    ".env": "DATABASE_PASSWORD=hunter2\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".git/config": "[core]\n\tbare = false\n",
    "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n",
    "tests/test_smoke_extra.py": "def test_nothing():\n    assert True\n",
}
CASES = [
    pytest.param("py-web", "app", "python app.py --self-test", id="python"),
    pytest.param("node-svc", "usr/src/app", "node server.js --self-test", id="node"),
]


def _harden(repo: Path) -> str:
    proc = subprocess.run([str(Path(sys.executable).parent / "hardener"), "apply", "--offline", "--no-color",
                           str(repo)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _unwanted(paths: frozenset[str] | set[str], workdir: str) -> list[str]:
    names = [f"{workdir}/{name}" for name in (".env", ".git/HEAD", "id_rsa", "tests/test_smoke_extra.py")]
    return [n for n in names if n in paths]


@pytest.mark.parametrize(("app", "workdir", "smoke"), CASES)
def test_hardened_context_keeps_secrets_and_junk_out(lab: Lab, tmp_path: Path, app: str, workdir: str,
                                                     smoke: str) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    for side in (before, after):
        shutil.copytree(APPS / app, side)
        for rel, text in JUNK.items():
            (side / rel).parent.mkdir(parents=True, exist_ok=True)
            (side / rel).write_text(text)
    reasons = _harden(after)
    assert "generate-dockerignore" in reasons, reasons
    engine = Buildah(lab.env)
    name = f"localhost/hardener-lab/context-{app}-{uuid.uuid4().hex[:8]}"
    tags = {side: f"{name}:{side.name}" for side in (before, after)}
    try:
        for side, tag in tags.items():
            result = engine.build(side / "Dockerfile", side, tag, tmp_path / "logs" / f"{side.name}.log", timeout=900)
            assert result.ok, result.log.read_text()[-3000:]
        files = {side.name: engine.files(tag) for side, tag in tags.items()}
        assert _unwanted(files["before"].paths, workdir), "the legacy image should carry the junk (or the test proves nothing)"
        assert _unwanted(files["after"].paths, workdir) == []
        runs = {side.name: engine.run(tag, ["sh", "-c", smoke], timeout=60) for side, tag in tags.items()}
        assert runs["before"].returncode == 0 and runs["after"].returncode == 0, runs
        assert runs["before"].output == runs["after"].output, runs
        app_files = {k: {p for p in v.paths if p.startswith(workdir + "/")} for k, v in files.items()}
        assert app_files["after"] < app_files["before"], sorted(app_files["after"] - app_files["before"])
        print(f"{app}: {len(app_files['before'])} -> {len(app_files['after'])} paths under /{workdir}, "
              f"{files['before'].size} -> {files['after'].size} bytes")
    finally:
        for tag in tags.values():
            engine.remove(tag)
