"""The command line as users and CI meet it: exit codes, bad input, apply, formats, config."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from hardener.cli import main

LEGACY = b"FROM python:3.12-slim\nMAINTAINER ops@example.com\nADD app.py /app/\nCMD python /app/app.py\n"
COMPOSE = b"services:\n  web:\n    image: nginx:1.27\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Dockerfile").write_bytes(LEGACY)
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "compose.yaml").write_bytes(COMPOSE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


# The transforms of the core issue: tests of CLI behaviour must not change as transforms land.
CORE = "HD301,HD401,HD501,HD601"


def invoke(*args: str):
    if args and args[0] in ("diff", "apply", "check", ".") and "--select" not in args:
        args = (*args, "--select", CORE, "--offline")
    return CliRunner().invoke(main, list(args))


def test_diff_is_default_and_writes_nothing(repo: Path) -> None:
    result = invoke(".")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("diff --git a/Dockerfile b/Dockerfile\n")
    assert "+COPY app.py /app/" in result.stdout
    assert "2 files would be hardened (2 safe, 2 review), 0 unchanged" in result.stderr
    assert (repo / "Dockerfile").read_bytes() == LEGACY


def test_patch_applies_with_git(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], check=True)
    patch = invoke("diff", ".").stdout
    subprocess.run(["git", "apply", "-"], input=patch.encode(), check=True)
    assert invoke("check", ".").exit_code == 0


def test_check_exit_codes(repo: Path) -> None:
    result = invoke("check", ".")
    assert result.exit_code == 1
    assert "would harden Dockerfile" in result.stderr
    assert result.stdout == ""
    assert invoke("apply", ".").exit_code == 0
    assert invoke("check", ".").exit_code == 0
    assert invoke("diff", "--exit-code", ".").exit_code == 0


def test_diff_exit_code_flag(repo: Path) -> None:
    assert invoke("diff", "--exit-code", ".").exit_code == 1


def test_apply_keeps_mode_and_crlf(repo: Path) -> None:
    crlf = LEGACY.replace(b"\n", b"\r\n")
    (repo / "Dockerfile").write_bytes(crlf)
    os.chmod(repo / "Dockerfile", 0o640)
    assert invoke("apply", "--select", "HD301", ".").exit_code == 0
    data = (repo / "Dockerfile").read_bytes()
    assert data == crlf.replace(b"ADD app.py", b"COPY app.py")
    assert stat.S_IMODE(os.stat(repo / "Dockerfile").st_mode) == 0o640


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("compose.yaml", b"services:\n  web: [\n", "invalid YAML"),
        ("Dockerfile", b"FROM a\nRUN \xff\xfe\n", "not valid UTF-8"),
        # FROM first: a walked file that does not start like a Dockerfile is not taken at all
        ("Dockerfile", b"FROM a\n\x7fELF\x00\x00\x00\x01", "binary file"),
        ("Dockerfile", b"FROM a\nRUN <<EOF\nunterminated\n", "unterminated heredoc"),
        ("Dockerfile", b"FROM a\nFROBNICATE x\n", "unknown instruction"),
    ],
)
def test_bad_input_reported_other_files_go_on(tmp_path, monkeypatch, name, content, message) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / name).write_bytes(content)
    good = tmp_path / "good"
    good.mkdir()
    (good / "Dockerfile").write_bytes(LEGACY)
    monkeypatch.chdir(tmp_path)
    result = invoke("apply", "bad", "good")
    assert result.exit_code == 2
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith(f"bad/{name}:"))
    assert message in line and line.split(":")[1].isdigit()
    assert (bad / name).read_bytes() == content
    assert (good / "Dockerfile").read_bytes() != LEGACY


def test_unreadable_file_is_bad_input(repo: Path, monkeypatch) -> None:
    # CI runs as root, which reads any file whatever its mode: a permission error is
    # simulated (the one mock here), the rest of the run is real.
    (repo / "sub").mkdir()
    (repo / "sub" / "Dockerfile").write_bytes(LEGACY)
    from hardener import runner

    real = runner.read_bounded

    def read_bounded(path: Path, limit: int) -> bytes:  # the runner reads its inputs through limits.read_bounded
        if path.parent.name == "sub":
            raise PermissionError(13, "Permission denied")
        return real(path, limit)

    monkeypatch.setattr(runner, "read_bounded", read_bounded)
    result = invoke("diff", "sub", "Dockerfile")
    assert result.exit_code == 2
    assert "sub/Dockerfile: cannot read: Permission denied" in result.stderr
    assert "+COPY app.py" in result.stdout


def test_missing_path(repo: Path) -> None:
    result = invoke("diff", "nope")
    assert result.exit_code == 2 and "nope" in result.stderr


def test_json_format(repo: Path) -> None:
    result = invoke("diff", "--format", "json", ".")
    report = json.loads(result.stdout)
    assert report["version"] == 1 and report["exit_code"] == 0
    files = {f["path"]: f for f in report["files"]}
    assert files["Dockerfile"]["status"] == "changed"
    ids = [c["id"] for c in files["Dockerfile"]["changes"]]
    assert sorted(ids) == ["HD301", "HD401", "HD501"]
    change = files["compose.yaml"]["changes"][0]
    assert change["applicability"] == "review" and change["line"] == 2 and change["applied"]


def test_select_ignore_and_thresholds(repo: Path) -> None:
    only = json.loads(invoke("diff", "--format", "json", "--select", "HD5", "--ignore", "HD502", ".").stdout)
    ids = {c["id"] for f in only["files"] for c in f["changes"]}
    assert "HD501" in ids and all(i.startswith("HD5") and i != "HD502" for i in ids)
    ignored = json.loads(invoke("diff", "--format", "json", "--select", CORE, "--ignore", "add-to-copy,HD4", ".").stdout)
    assert {c["id"] for f in ignored["files"] for c in f["changes"]} == {"HD501", "HD601"}
    safe = json.loads(invoke("diff", "--format", "json", "--safe-only", ".").stdout)
    compose = next(f for f in safe["files"] if f["path"] == "compose.yaml")
    assert compose["status"] == "unchanged" and compose["changes"][0]["applied"] is False
    assert invoke("diff", "--unsafe", "--safe-only", ".").exit_code == 2


def test_config_in_pyproject(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[tool.hardener]\nignore = ["HD6"]\n[tool.hardener.applicability]\nexec-form = "safe"\n'
    )
    report = json.loads(invoke("diff", "--format", "json", ".").stdout)
    changes = {c["id"]: c for f in report["files"] for c in f["changes"]}
    assert "HD601" not in changes and changes["HD401"]["applicability"] == "safe"


def test_inline_suppression(repo: Path) -> None:
    (repo / "Dockerfile").write_bytes(LEGACY.replace(b"ADD", b"# hardener: ignore=add-to-copy\nADD"))
    assert "+COPY" not in invoke("diff", ".").stdout


def test_no_color_and_plain_pipe(repo: Path, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in invoke("diff", ".").output


def test_explain_and_list() -> None:
    listing = invoke("list")
    assert listing.exit_code == 0 and "HD301  add-to-copy" in listing.stdout
    explained = invoke("explain", "exec-form")
    assert "## Refuses when" in explained.stdout and explained.stdout.startswith("HD401 exec-form")
    assert invoke("explain", "HD999").exit_code == 2


def test_explain_facts_names_every_source() -> None:
    explained = invoke("explain", "facts")
    assert explained.exit_code == 0
    for source in ("``code``", "``convention``", "``repo``", "``entrypoint``", "``observed``", "hardener.facts.toml",
                   "bind-mounts"):
        assert source in explained.stdout


def test_version_and_interrupt(repo: Path, monkeypatch) -> None:
    assert invoke("--version").stdout.startswith("hardener, version ")

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr("hardener.runner.run", interrupted)
    assert invoke("diff", ".").exit_code == 130


def test_failed_judge_leaves_file_untouched(repo: Path, monkeypatch) -> None:
    monkeypatch.setattr("hardener.judges.dockerfile_problem", lambda text: "synthetic" if "COPY" in text else None)
    result = invoke("apply", ".")
    assert result.exit_code == 3
    assert "hardener failed, file left unchanged" in result.stderr
    assert (repo / "Dockerfile").read_bytes() == LEGACY


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = next(ln.strip() for ln in readme.splitlines() if "pytest" in ln and "pip install" in ln)
    assert command in ci


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_gitignored_files_are_skipped(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], check=True)
    (repo / "build").mkdir()
    (repo / "build" / "Dockerfile").write_bytes(LEGACY)
    (repo / ".gitignore").write_text("build/\n")
    assert "build/Dockerfile" not in invoke("diff", ".").stdout


def test_offline_is_accepted_and_reaches_transforms(repo: Path, monkeypatch) -> None:
    seen = []
    real = __import__("hardener.engine", fromlist=["process"]).process

    def spy(path, kind, raw, transforms, ctx, options):
        seen.append(ctx.offline)
        return real(path, kind, raw, transforms, ctx, options)

    monkeypatch.setattr("hardener.runner.process", spy)
    assert invoke("apply", "--offline", ".").exit_code == 0
    assert seen and all(seen)


def test_companion_files_in_diff_apply_and_json(repo: Path, monkeypatch) -> None:
    from hardener.model import FileWrite, Transform

    class Secrets(Transform):
        """Test-only transform: creates a 0600 companion file once."""

        id, name, targets = "HD999", "test-companion", ("dockerfile",)

        def run(self, doc, ctx):
            target = ctx.file.parent / "secrets" / "token.txt"
            yield self.change([], "move the token", 1, files=(FileWrite(target, b"x\n", 0o600),))

    monkeypatch.setattr("hardener.runner.active_transforms", lambda config, kinds=None: [Secrets()])
    subprocess.run(["git", "init", "-q"], check=True)
    diff = invoke("diff", ".")
    assert diff.exit_code == 0
    assert "diff --git a/secrets/token.txt b/secrets/token.txt\nnew file mode 100644\n--- /dev/null\n" in diff.stdout
    subprocess.run(["git", "apply", "--check", "-"], input=diff.stdout.encode(), check=True)
    report = json.loads(invoke("diff", "--format", "json", ".").stdout)
    assert report["companions"][0]["path"] == "secrets/token.txt"
    assert report["companions"][0]["status"] == "created"
    assert invoke("check", ".").exit_code == 1
    assert invoke("apply", ".").exit_code == 0
    assert (repo / "secrets" / "token.txt").read_bytes() == b"x\n"
    assert stat.S_IMODE(os.stat(repo / "secrets" / "token.txt").st_mode) == 0o600
    assert invoke("check", ".").exit_code == 0
