from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hardener.writer import atomic_write

ORIGINAL = b"FROM python:3.12\r\nRUN echo hi\r\n"
NEW = b"FROM python:3.12-slim\r\nUSER 10001\r\n"


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("mode", [0o755, 0o600, 0o644, 0o640])
def test_replaces_content_and_keeps_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(ORIGINAL)
    path.chmod(mode)
    atomic_write(path, NEW)
    assert path.read_bytes() == NEW
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert siblings(path) == ["Dockerfile"]


def test_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "compose.yaml", b"services: {}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "compose.yaml").stat().st_mode) == 0o640
    assert os.umask(old) == old  # the umask was put back


def test_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "Dockerfile"
    target.write_bytes(ORIGINAL)
    target.chmod(0o755)
    link = tmp_path / "Dockerfile"
    link.symlink_to(Path("real") / "Dockerfile")
    atomic_write(link, NEW)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("real", "Dockerfile")
    assert target.read_bytes() == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert siblings(target) == ["Dockerfile"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "chmod"])
@pytest.mark.parametrize("mode", [0o755, 0o600])
def test_failure_leaves_the_original_intact_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, mode: int,
) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(ORIGINAL)
    path.chmod(mode)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, NEW)
    monkeypatch.undo()
    assert path.read_bytes() == ORIGINAL
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert siblings(path) == ["Dockerfile"]


def test_interrupt_also_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(ORIGINAL)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, NEW)
    monkeypatch.undo()
    assert path.read_bytes() == ORIGINAL
    assert siblings(path) == ["Dockerfile"]


def test_bad_data_leaves_the_original_intact(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(ORIGINAL)
    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == ORIGINAL
    assert siblings(path) == ["Dockerfile"]


def test_temp_file_lives_beside_the_target_with_a_hidden_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(ORIGINAL)
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append((os.path.dirname(src), os.path.basename(src)))
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(path, NEW)
    assert seen[0][0] == str(tmp_path)
    assert seen[0][1].startswith(".Dockerfile.")
    assert path.read_bytes() == NEW
