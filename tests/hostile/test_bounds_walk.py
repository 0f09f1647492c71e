"""walk_bounded: the one bounded directory walk (Compose project discovery, proxy configs)."""
from __future__ import annotations

from pathlib import Path

from hardener.limits import walk_bounded


def _tree(root: Path) -> None:
    for rel in ("a.txt", "sub/b.txt", "sub/deep/c.txt", ".hidden/d.txt", "skip/e.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    (root / "loop").symlink_to(root)  # never followed
    (root / "link.txt").symlink_to(root / "a.txt")


def test_depth_descend_and_symlinks(tmp_path: Path) -> None:
    _tree(tmp_path)
    enter = lambda d: d.name not in ("skip", ".hidden")  # noqa: E731
    found = {p.relative_to(tmp_path).as_posix() for p in walk_bounded(tmp_path, 1, 1000, enter)}
    assert found == {"a.txt", "sub/b.txt"}
    found = {p.relative_to(tmp_path).as_posix() for p in walk_bounded(tmp_path, 5, 1000, enter)}
    assert found == {"a.txt", "sub/b.txt", "sub/deep/c.txt"}


def test_budget_stops_the_walk(tmp_path: Path) -> None:
    for n in range(50):
        (tmp_path / f"d{n}").mkdir()
        (tmp_path / f"d{n}" / "f.txt").write_text("x")
    found = list(walk_bounded(tmp_path, 3, 60, lambda d: True))
    assert len(found) < 50  # 50 folders are 50 entries; their files would need 50 more
