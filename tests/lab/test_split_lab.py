"""Build proof of split-build-stage (HD411): before and after the split, with buildah.

Each case copies a fixtures/apps app, writes a single-stage Dockerfile, lets hardener
split it (nothing else selected, so what changes is the split), builds both and checks:
the app's smoke test gives the same answer, the toolchain (``go``, ``gcc``) is gone from
the runtime image, and that image is smaller. Needs the build lab (see lab/plugin.py).
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

GO = ("FROM golang:1.19\nWORKDIR /src\nCOPY . /src\n"
      "RUN go build -o /usr/local/bin/greeter .\n\nEXPOSE 8080\nCMD greeter -addr :8080\n")
# python:3.11 is the lab's stand-in for the full image; gcc comes in as a build package
PYTHON = ("FROM python:3.11\nWORKDIR /app\n"
          "RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*\n"
          "COPY requirements.txt /app/\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n"
          "EXPOSE 8000\nCMD python app.py\n")
CASES = [
    pytest.param("go-svc", GO, "greeter -self-test", ("usr/lib/go/bin/go", "usr/bin/go", "usr/bin/gcc"), id="go"),
    pytest.param("py-web", PYTHON, "python app.py --self-test", ("usr/bin/gcc",), id="python"),
]


def _split(repo: Path) -> str:
    proc = subprocess.run([str(Path(sys.executable).parent / "hardener"), "apply", "--offline", "--no-color",
                           "--select", "split-build-stage", str(repo)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return (repo / "Dockerfile").read_text()


def _build(engine: Buildah, context: Path, tag: str, logs: Path) -> None:
    result = engine.build(context / "Dockerfile", context, tag, logs / f"{tag.rsplit(':', 1)[-1]}.log", timeout=900)
    assert result.ok, result.log.read_text()[-3000:]


@pytest.mark.parametrize(("app", "dockerfile", "smoke", "toolchain"), CASES)
def test_split_builds_runs_and_drops_the_toolchain(lab: Lab, tmp_path: Path, app: str, dockerfile: str,
                                                  smoke: str, toolchain: tuple[str, ...]) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    for side in (before, after):
        shutil.copytree(APPS / app, side)
        (side / "Dockerfile").write_text(dockerfile)
    split = _split(after)
    assert split.count("FROM ") == 2 and " AS build" in split, split
    engine = Buildah(lab.env)
    name = f"localhost/hardener-lab/split-{app}-{uuid.uuid4().hex[:8]}"
    tags = {side: f"{name}:{side.name}" for side in (before, after)}
    try:
        for side, tag in tags.items():
            _build(engine, side, tag, tmp_path / "logs")
        runs = {side.name: engine.run(tag, ["sh", "-c", smoke], timeout=60) for side, tag in tags.items()}
        assert runs["before"].returncode == 0 and runs["after"].returncode == 0, runs
        assert runs["before"].output == runs["after"].output, runs
        files = {side.name: engine.files(tag) for side, tag in tags.items()}
        assert any(t in files["before"].paths for t in toolchain), "the original image should carry the toolchain"
        assert not any(t in files["after"].paths for t in toolchain), [t for t in toolchain if t in files["after"].paths]
        assert files["after"].size < files["before"].size, (files["before"].size, files["after"].size)
        print(f"{app}: {files['before'].size / 1e6:.0f} MB -> {files['after'].size / 1e6:.0f} MB")
    finally:
        for tag in tags.values():
            engine.remove(tag)
