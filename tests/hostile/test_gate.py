"""The write gate itself (hardener.writer.Gate): each rule on its own, without a run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hardener.options import path_problem
from hardener.writer import Changed, Gate, Refused, atomic_write
from hostile.conftest import tree_hash


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return tmp_path / "repo"


def test_writes_inside_and_creates_missing_directories(root: Path) -> None:
    Gate.at(root).write(root / "deploy" / "falco" / "rules.yaml", b"x\n")
    assert (root / "deploy" / "falco" / "rules.yaml").read_bytes() == b"x\n"


@pytest.mark.parametrize("rel", ["../outside/x", "sub/../../outside/x", "/etc/passwd-hardener-test"])
def test_outside_the_root(root: Path, rel: str) -> None:
    target = Path(rel) if rel.startswith("/") else root / rel
    with pytest.raises(Refused, match="outside"):
        Gate.at(root).write(target, b"x")
    assert not target.exists()


def test_a_directory_link_out_is_not_followed_and_nothing_is_created(root: Path) -> None:
    outside = root.parent / "outside"
    (root / ".github").symlink_to(outside)
    before = tree_hash(outside)
    with pytest.raises(Refused, match="symlink leading outside"):
        Gate.at(root).write(root / ".github" / "workflows" / "x.yml", b"x")
    assert tree_hash(outside) == before


def test_a_dangling_directory_link_is_not_created(root: Path) -> None:
    (root / "secrets").symlink_to(root.parent / "outside" / "new")
    with pytest.raises(Refused):
        Gate.at(root).write(root / "secrets" / "pw", b"x")
    assert not (root.parent / "outside" / "new").exists()


def test_a_directory_link_inside_is_followed(root: Path) -> None:
    (root / "ci").mkdir()
    (root / ".github").symlink_to("ci")
    Gate.at(root).write(root / ".github" / "w.yml", b"x")
    assert (root / "ci" / "w.yml").read_bytes() == b"x"


def test_non_regular_targets(root: Path) -> None:
    os.mkfifo(root / ".dockerignore")
    (root / "adir").mkdir()
    gate = Gate.at(root)
    with pytest.raises(Refused, match="FIFO"):
        gate.write(root / ".dockerignore", b"x")
    with pytest.raises(Refused, match="dir"):
        gate.write(root / "adir", b"x")
    (root / "dev").symlink_to("/dev/null")
    with pytest.raises(Refused, match="outside"):
        gate.write(root / "dev", b"x")


def test_links_to_other_files_of_the_run_or_of_another_kind(root: Path) -> None:
    (root / "sub" / ".dockerignore").write_text("a\n")
    (root / ".dockerignore").symlink_to("sub/.dockerignore")
    (root / ".gitignore").write_text("g\n")
    (root / "other.dockerignore").symlink_to(".gitignore")
    Gate.at(root).check(root / ".dockerignore")  # a link to a file of its kind, not written by the run
    with pytest.raises(Refused, match="another file this run writes"):
        Gate.at(root, [root / "sub" / ".dockerignore"]).check(root / ".dockerignore")
    with pytest.raises(Refused, match="another kind"):
        Gate.at(root).check(root / "other.dockerignore")


def test_a_file_changed_since_it_was_read_is_not_replaced(root: Path) -> None:
    path = root / "Dockerfile"
    path.write_bytes(b"FROM a\n")
    with pytest.raises(Changed):
        Gate.at(root).write(path, b"FROM b\n", expect=b"FROM old\n")
    assert path.read_bytes() == b"FROM a\n"
    with pytest.raises(Changed):
        atomic_write(path, b"FROM b\n", expect=None)  # expected absent, but someone created it
    assert sorted(p.name for p in root.iterdir()) == ["Dockerfile", "sub"]  # no temp file left


@pytest.mark.parametrize(("value", "ok"), [
    ("hardener.lock", True), ("locks/images.lock", True), ("./a.lock", True),
    ("/abs.lock", False), ("../x", False), ("a/../../x", False), ("~/x", False), ("C:\\x", False),
    ("", False), (".", False), ("a\\..\\..\\x", False),
])
def test_path_options(value: str, ok: bool) -> None:
    assert (path_problem(value) is None) is ok
