"""``hardener verify``: the report logic on real parts, and one lab run with a broken rewrite."""
from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardener.cli import main
from hardener.lab import verify as V
from hardener.lab.buildengine import (
    BuildResult,
    EngineMissing,
    ImageConfig,
    ImageFiles,
    RunResult,
    find_engine,
    list_tar,
    walk_tree,
)
from hardener.lab.leftovers import scan

BUILDAH_LOG = """STEP 1/4: FROM docker.io/library/python:3.11-slim
STEP 2/4: WORKDIR /app
STEP 3/4: RUN false
error running container: did not get container start message from parent: EOF
Error: building at STEP "RUN false": while running runtime: exit status 1
"""
BUILDKIT_LOG = """#6 [3/4] RUN false
#6 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1
------
 > [3/4] RUN false:
------
ERROR: failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1
"""


@pytest.mark.parametrize(("log", "expected"), [
    pytest.param(BUILDAH_LOG, ("RUN false", "while running runtime: exit status 1"), id="buildah"),
    pytest.param(BUILDKIT_LOG, ("RUN false", 'process "/bin/sh -c false" did not complete successfully: exit code: 1'), id="buildkit"),
    pytest.param("STEP 1/2: FROM x\nSTEP 2/2: COPY a b\nkilled\n", ("COPY a b", ""), id="plain-last-step"),
    pytest.param("nothing useful\n", None, id="no-step"),
])
def test_failing_step(log: str, expected: tuple[str, str] | None) -> None:
    assert V.failing_step(log) == expected


@pytest.mark.parametrize(("step", "line"), [
    pytest.param("RUN false", 3, id="found"),
    pytest.param("RUN pip install -r requirements.txt", 2, id="first-words"),
    pytest.param("RUN missing", None, id="absent"),
])
def test_step_line(step: str, line: int | None) -> None:
    text = "FROM python:3.11\nRUN pip install -r requirements.txt\nRUN false\n"
    assert V.step_line(text, step) == line


@pytest.mark.parametrize(("before", "after", "status"), [
    pytest.param(("/bin/sh", "-c", "python app.py"), ("python", "app.py"), "ok", id="shell-to-exec-same"),
    pytest.param(("python", "app.py"), ("python", "app.py"), "ok", id="unchanged"),
    pytest.param(None, None, "ok", id="none"),
    pytest.param(("/bin/sh", "-c", "python app.py $PORT"), ("python", "app.py", "$PORT"), "regression", id="shell-expansion-lost"),
    pytest.param(("python", "app.py"), ("python", "other.py"), "regression", id="different-command"),
])
def test_command_check(before: tuple[str, ...] | None, after: tuple[str, ...] | None, status: str) -> None:
    assert V._command_check("cmd", before, after).status == status


PASSWD = "root:x:0:0:root:/root:/bin/bash\napp:x:10001:10001::/home/app:/bin/sh\n"


@pytest.mark.parametrize(("user", "uid"), [
    pytest.param("", 0, id="no-user-is-root"),
    pytest.param("10001:10001", 10001, id="numeric"),
    pytest.param("app:app", 10001, id="name-from-passwd"),
    pytest.param("root", 0, id="root-by-name"),
    pytest.param("ghost", None, id="unknown-name"),
])
def test_resolve_uid(user: str, uid: int | None) -> None:
    assert V.resolve_uid(user, ImageFiles(frozenset(), PASSWD)) == uid


@pytest.mark.parametrize(("dockerfile", "non_root"), [
    pytest.param("FROM a\nUSER app\n", True, id="named-user"),
    pytest.param("FROM a\nUSER 10001:10001\n", True, id="numeric-user"),
    pytest.param("FROM a\nUSER app\nUSER root\n", False, id="last-user-root"),
    pytest.param("FROM a AS b\nUSER app\nFROM b2\nRUN x\n", False, id="user-only-in-earlier-stage"),
    pytest.param("FROM a\nRUN x\n", False, id="no-user"),
    pytest.param("FROM a\nUSER $APP_UID\n", False, id="variable-not-judged"),
])
def test_final_user_non_root(dockerfile: str, non_root: bool) -> None:
    assert V.is_non_root(V.final_user(dockerfile)) is non_root


def _built(tmp: Path, name: str = "b") -> BuildResult:
    return BuildResult(True, tmp / name, 1.0, 0)


def _side(tmp: Path, *, user: str = "", ports: tuple[str, ...] = ("8000/tcp",), out: str = "ok\n", code: int | None = 0,
          paths: tuple[str, ...] = ("app", "app/main.py"), entrypoint: tuple[str, ...] | None = None) -> V.Side:
    files = ImageFiles(frozenset(paths), PASSWD, size=1000)
    return V.Side(build=_built(tmp), config=ImageConfig(user=user, ports=ports, entrypoint=entrypoint, cmd=("python", "main.py")),
                  run=RunResult(code, out), uid=V.resolve_uid(user, files), files=files, leftovers=scan([set(paths)]))


def _verdict(tmp: Path, original: V.Side, hardened: V.Side, non_root: bool = False) -> V.Verdict:
    v = V.Verdict("Dockerfile", ("HD401",), V.Smoke(["/bin/sh", "-c", "t"], "t"), original, hardened, non_root)
    v.checks = V.judge(v)
    return v


def _status(v: V.Verdict, name: str) -> str:
    return next(c.status for c in v.checks if c.name == name)


def test_judge_identical_images_pass(tmp_path: Path) -> None:
    v = _verdict(tmp_path, _side(tmp_path), _side(tmp_path))
    assert not v.regression and not v.unverified
    assert {c.name: c.status for c in v.checks} == {
        "build": "ok", "smoke": "ok", "user": "info", "size": "info", "files": "ok", "leftovers": "ok",
        "ports": "ok", "entrypoint": "ok", "cmd": "ok"}
    assert V.exit_code([v]) == 0


@pytest.mark.parametrize(("hardened", "check"), [
    pytest.param({"out": "other\n"}, "smoke", id="smoke-output-differs"),
    pytest.param({"code": 1}, "smoke", id="smoke-exit-differs"),
    pytest.param({"ports": ()}, "ports", id="port-lost"),
    pytest.param({"entrypoint": ("tini", "--")}, "entrypoint", id="entrypoint-changed"),
    pytest.param({"user": "ghost"}, "user", id="user-not-in-passwd"),
])
def test_judge_regressions(tmp_path: Path, hardened: dict, check: str) -> None:
    v = _verdict(tmp_path, _side(tmp_path), _side(tmp_path, **hardened))
    assert _status(v, check) == "regression"
    assert V.exit_code([v]) == 1


def test_judge_uid_zero_is_a_regression_only_when_user_is_set(tmp_path: Path) -> None:
    # The hardened Dockerfile says USER app, but the image still runs as root.
    assert _status(_verdict(tmp_path, _side(tmp_path), _side(tmp_path), non_root=True), "user") == "regression"
    assert _status(_verdict(tmp_path, _side(tmp_path), _side(tmp_path, user="app")), "user") == "ok"
    assert _status(_verdict(tmp_path, _side(tmp_path, user="app"), _side(tmp_path)), "user") == "regression"


def test_judge_missing_files_listed_topmost_only(tmp_path: Path) -> None:
    before = _side(tmp_path, paths=("app", "app/main.py", "app/tests", "app/tests/a.py", "app/tests/b.py"))
    v = _verdict(tmp_path, before, _side(tmp_path))
    files = next(c for c in v.checks if c.name == "files")
    assert files.status == "info" and "3 paths" in files.detail and "/app/tests" in files.detail
    assert "/app/tests/a.py" not in files.detail


def test_judge_hardened_build_failure_quotes_the_step(tmp_path: Path) -> None:
    failed = V.Side(build=BuildResult(False, tmp_path / "h.log", 1.0, 1), failing_step="`RUN false` (line 3): exit status 1")
    v = _verdict(tmp_path, _side(tmp_path), failed)
    assert v.checks == [V.Check("build", "regression", "the hardened Dockerfile does not build: `RUN false` (line 3): exit status 1")]


def test_judge_original_build_failure_is_unverified(tmp_path: Path) -> None:
    v = _verdict(tmp_path, V.Side(build=BuildResult(False, tmp_path / "o.log", 1.0, 1)), _side(tmp_path))
    assert v.unverified and not v.regression and V.exit_code([v]) == 2


def test_judge_both_still_running_is_the_same(tmp_path: Path) -> None:
    o, h = _side(tmp_path), _side(tmp_path, out="different timing\n")
    o.run, h.run = RunResult(None, "a", True), RunResult(None, "b", True)
    assert _status(_verdict(tmp_path, o, h), "smoke") == "ok"


def test_smoke_precedence(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM a\n")
    assert V.smoke_for(tmp_path / "Dockerfile", V.VerifyOptions()).argv is None
    (tmp_path / "pyproject.toml").write_text('[tool.hardener.verify]\nsmoke = "from-config"\ntimeout = 5\n')
    assert V.smoke_for(tmp_path / "Dockerfile", V.VerifyOptions()).shown == "from-config"
    (tmp_path / V.SMOKE_FILE).write_text('smoke = "from-file"\nexpect = "ok"\n')
    smoke = V.smoke_for(tmp_path / "Dockerfile", V.VerifyOptions())
    assert (smoke.argv, smoke.expect) == (["/bin/sh", "-c", "from-file"], "ok")
    flagged = V.smoke_for(tmp_path / "Dockerfile", V.VerifyOptions(smoke="from-flag", timeout=3))
    assert (flagged.shown, flagged.expect, flagged.timeout) == ("from-flag", None, 3)


def test_file_listing_from_tar_and_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "proc").mkdir()
    (root / "proc/1").write_text("x")
    (root / "app").mkdir()
    (root / "app/main.py").write_text("print()\n")
    tree = walk_tree(root)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(root, arcname=".")
    buffer.seek(0)
    from_tar = list_tar(buffer)
    assert tree.paths == from_tar.paths == {"etc", "etc/passwd", "app", "app/main.py"}
    assert tree.passwd == from_tar.passwd == PASSWD
    assert tree.size == from_tar.size == len(PASSWD) + 8


@pytest.mark.parametrize("preferred", ["auto", "buildah", "podman", "docker"])
def test_missing_engine_is_reported(tmp_path: Path, preferred: str) -> None:
    with pytest.raises(EngineMissing):
        find_engine(preferred, env={"PATH": str(tmp_path)})


@pytest.mark.parametrize(("path", "shown"), [
    pytest.param("root/.npm/_logs/2026-debug-0.log", False, id="npm-log"),
    pytest.param("root/.cache/go-build/68/6884-a", False, id="go-cache"),
    pytest.param("usr/lib/python3/__pycache__/x.pyc", False, id="pycache"),
    pytest.param("var/log/apt/history.log", False, id="var-log"),
    pytest.param("app/tests/test_app.py", True, id="app-file"),
    pytest.param("usr/share/cache-doc", True, id="cache-in-name-only"),
])
def test_volatile_paths_not_reported_missing(tmp_path: Path, path: str, shown: bool) -> None:
    v = _verdict(tmp_path, _side(tmp_path, paths=("app", path)), _side(tmp_path, paths=("app",)))
    assert (("/" + path) in next(c.detail for c in v.checks if c.name == "files")) is shown


def test_cli_nothing_to_verify(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text('FROM debian:bookworm-slim\nCMD ["bash"]\n')
    result = CliRunner().invoke(main, ["verify", "--select", "HD301", "--logs", str(tmp_path / "logs"), str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "nothing to verify" in result.output
    assert json.loads((tmp_path / "logs/report.json").read_text()) == []
    assert (tmp_path / "Dockerfile").read_text() == 'FROM debian:bookworm-slim\nCMD ["bash"]\n'


# -- the lab: a deliberately broken rewrite is caught -------------------------------------
from lab.plugin import APPS, lab  # noqa: E402,F401  (the session fixture)

from hardener.model import Transform  # noqa: E402


class BreakBuild(Transform):
    """Test-only transform: inserts ``RUN false`` before the first RUN (a broken rewrite)."""

    id, name, targets = "HD999", "test-break-build", ("dockerfile",)

    def run(self, doc, ctx):  # type: ignore[no-untyped-def]
        from hardener.edits import Edit

        if "RUN false" in doc.text:
            return
        first = next(i for i in doc.instructions if i.keyword == "RUN")
        yield self.change([Edit(first.start, first.start, "RUN false" + doc.newline)], "break the build", first.line)


@pytest.fixture
def broken_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from hardener import runner

    # a run takes its transforms from active_transforms (the registry's modules load lazily)
    real = runner.active_transforms
    monkeypatch.setattr(runner, "active_transforms", lambda config, kinds=None: [*real(config, kinds), BreakBuild()])
    yield


@pytest.mark.lab
def test_lab_broken_rewrite_is_caught(lab, broken_registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = tmp_path / "py-web"
    import shutil

    shutil.copytree(APPS / "py-web", app)
    before = {p: p.read_bytes() for p in app.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["verify", "--engine", "buildah", "--logs", str(tmp_path / "logs"), str(app)])
    assert result.exit_code == 1, result.output
    assert "HD999" in result.output
    # The line moves as other transforms add lines above it; the step and its line are quoted.
    assert re.search(r"FAIL the hardened Dockerfile does not build: `RUN false` \(line \d+\): exit status 1", result.output), result.output
    assert 'Error: building at STEP "RUN false"' in result.output  # the log tail
    assert "REGRESSION" in result.output
    assert (tmp_path / "logs" / "py-web-dockerfile.hardened.build.log").is_file()
    assert {p: p.read_bytes() for p in app.rglob("*") if p.is_file()} == before  # the user's files untouched


def test_judge_lists_the_test_files_left_in_the_layers(tmp_path: Path) -> None:
    shipped = _side(tmp_path, paths=("app", "app/main.py", "app/tests", "app/tests/test_a.py"))
    v = _verdict(tmp_path, shipped, shipped)
    check = next(c for c in v.checks if c.name == "leftovers")
    assert check.status == "info" and "/app/tests (test, layer 1)" in check.detail and "(before: 1)" in check.detail
    assert not v.regression
