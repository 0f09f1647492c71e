"""``hardener verify --learn`` on lab apps whose write path is only known at run time.

Without facts, run-as-non-root cannot resolve where the app writes and gives the user the
whole application directory (``COPY --chown``). After ``verify --learn`` records a real run,
``apply --offline`` creates and chowns exactly the observed directory, keeps the code
root-owned, and the hardened image builds, runs as uid != 0 and passes its smoke test, which
exercises the write. A second --learn writes the same bytes. Needs the build lab.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hardener.knowledge.writes_facts import FACTS_FILE
from hardener.lab.buildengine import Buildah
from hardener.lab.learn import learn_path
from hardener.lab.verify import VerifyOptions, smoke_for
from lab.plugin import APPS, Lab, lab  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.lab

CASES = [
    pytest.param("py-spool", "/app", "/app/spool", "8000/tcp", id="config-json"),
    pytest.param("py-exports", "/srv/exporter", "/srv/exporter/out", None, id="configparser"),
]


def _apply(app: Path) -> str:
    proc = subprocess.run([str(Path(sys.executable).parent / "hardener"), "apply", "--offline", "--no-color",
                           "--select", "HD201", str(app)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


@pytest.mark.parametrize(("name", "app_dir", "observed", "port"), CASES)
def test_learned_facts_narrow_what_the_non_root_user_owns(lab: Lab, tmp_path: Path, name: str, app_dir: str,
                                                           observed: str, port: str | None) -> None:
    static, app = tmp_path / "static", tmp_path / "app"
    shutil.copytree(APPS / name, static)
    shutil.copytree(APPS / name, app)
    reasons = _apply(static)
    assert "COPY --chown=10001:10001 . ." in (static / "Dockerfile").read_text(), reasons  # the guess, widened
    original = (app / "Dockerfile").read_bytes()

    engine = Buildah(lab.env)
    options = VerifyOptions(engine="buildah", logs=tmp_path / "logs")
    [learned] = learn_path(app, options, engine=engine)
    assert learned.problem is None, (learned.problem, learned.smoke_output)
    assert learned.recording is not None and (observed, True) in learned.recording.writes, learned.recording
    assert learned.recording.uids == (0,)
    assert (port in learned.recording.ports) if port else not learned.recording.ports
    first = (app / FACTS_FILE).read_bytes()
    assert (app / "Dockerfile").read_bytes() == original  # the user's Dockerfile is not touched
    [again] = learn_path(app, options, engine=engine)
    assert again.problem is None and not again.changed and (app / FACTS_FILE).read_bytes() == first

    reasons = _apply(app)
    hardened = (app / "Dockerfile").read_text()
    assert "--chown" not in hardened, hardened
    assert f"mkdir -p {observed} && chown 10001:10001 {observed}" in hardened, hardened
    assert f"observed: writes {observed} ({FACTS_FILE})" in reasons, reasons

    tag = f"localhost/hardener-lab/learn-{name}-{uuid.uuid4().hex[:8]}:hardened"
    try:
        build = engine.build(app / "Dockerfile", app, tag, tmp_path / "logs" / "hardened.log", timeout=900)
        assert build.ok, build.log.read_text()[-3000:]
        smoke = smoke_for(app / "Dockerfile", options)
        run = engine.run(tag, ["sh", "-c", f"id -u; stat -c %u {app_dir}/*.py; {smoke.shown}"], timeout=60)
        lines = run.output.splitlines()
        assert run.returncode == 0 and smoke.expect and smoke.expect in run.output, run.output
        assert lines[0] == "10001" and lines[1] == "0", run.output  # non-root; the code stays root's
    finally:
        engine.remove(tag)
