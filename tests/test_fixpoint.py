"""One run reaches the fixed point across files: a Compose file reads its Dockerfile (and the
other file of an override pair) as this run hardens it, in `diff` as in `apply`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hardener.compose.override import other_services
from hardener.context import Context, FileView
from hardener.discover import Found
from hardener.engine import Options, process
from hardener.model import FileWrite
from hardener.runner import run_order
from hardener.transforms.cap_drop import CapDrop

HARDENER = str(Path(sys.executable).parent / "hardener")
ROOT_DOCKERFILE = 'FROM python:3.12-slim\nWORKDIR /app\nCOPY app.py .\nCMD ["python", "app.py"]\n'
COMPOSE = "services:\n  app:\n    build: ./web\n"  # compose.yaml sorts before web/: it used to go first


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text(ROOT_DOCKERFILE)
    (tmp_path / "web" / "app.py").write_text("print('hi')\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def _hardener(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARDENER, *args, "--offline", "--no-color"], capture_output=True, text=True)


def test_check_after_apply_exits_0(tmp_path: Path) -> None:
    """run-as-non-root changes the Dockerfile; cap-drop acts on the service in the same run."""
    repo = _repo(tmp_path)
    applied = _hardener("apply", str(repo))
    assert applied.returncode == 0, applied.stderr
    assert "USER 10001" in (repo / "web" / "Dockerfile").read_text()
    assert "cap_drop:\n      - ALL" in (repo / "compose.yaml").read_text(), applied.stderr
    check = _hardener("check", str(repo))
    assert check.returncode == 0, check.stderr


def test_diff_shows_what_apply_writes(tmp_path: Path) -> None:
    """A dry run reads the Dockerfile as hardened in memory: its patch is what apply does."""
    repo = _repo(tmp_path)
    patch = subprocess.run([HARDENER, "diff", "--offline", "--no-color", "."], cwd=repo, capture_output=True,
                           text=True).stdout
    assert "+    cap_drop:" in patch
    assert patch.index("a/compose.yaml") < patch.index("a/web/Dockerfile")  # shown in discovery order
    subprocess.run(["git", "apply"], cwd=repo, input=patch, text=True, check=True)
    assert _hardener("check", str(repo)).returncode == 0


def test_run_order_puts_dockerfiles_first_and_is_stable(tmp_path: Path) -> None:
    found = [Found(tmp_path / name, kind, tmp_path) for name, kind in
             [("compose.yaml", "compose"), ("a/Dockerfile", "dockerfile"), ("b.yml", "compose"),
              ("z/Dockerfile", "dockerfile")]]
    assert run_order(found) == [1, 3, 0, 2]


def test_file_view_reads_recorded_output_under_any_spelling(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    dockerfile = tmp_path / "web" / "Dockerfile"
    dockerfile.write_text("FROM a\n")
    view = FileView()
    child = view.child()
    child.record_output(dockerfile, b"FROM a\nUSER 1\n")
    assert view.read(tmp_path / "x" / ".." / "web" / "./Dockerfile") == b"FROM a\nUSER 1\n"
    assert child.read(dockerfile) == b"FROM a\nUSER 1\n"
    assert view.writes() == []  # an output is not a companion: the runner does not write it again
    view.stage(FileWrite(dockerfile, b"staged\n"))
    assert view.read(dockerfile) == b"staged\n"  # a companion write staged later wins
    assert FileView().read(dockerfile) == b"FROM a\n"  # another run sees the disk


def test_cap_drop_reads_the_dockerfile_as_hardened_in_the_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    path = repo / "compose.yaml"
    ctx = Context(repo)
    before = process(str(path), "compose", COMPOSE.encode(), [CapDrop()], ctx.for_file(path), Options())
    assert not before.changed and "runs as root" in before.refusals[0].reason
    ctx.files.record_output(repo / "web" / "Dockerfile", (ROOT_DOCKERFILE + "USER 10001\n").encode())
    after = process(str(path), "compose", COMPOSE.encode(), [CapDrop()], ctx.for_file(path), Options())
    assert after.output is not None and b"cap_drop" in after.output and not after.refusals


def test_override_partner_is_read_as_hardened_in_the_run(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: redis:7\n")
    override = tmp_path / "compose.override.yaml"
    override.write_text("services:\n  app:\n    ports: ['6379:6379']\n")
    ctx = Context(tmp_path)
    ctx.files.record_output(override, b"services:\n  app:\n    user: '999'\n")
    found = other_services(ctx.for_file(tmp_path / "compose.yaml"))
    assert found is not None and found[0] == "override"
    app = found[2]["app"]
    assert [str(k.value) for k, _ in app.node.value] == ["user"]
