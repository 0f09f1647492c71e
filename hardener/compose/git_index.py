"""Whether git tracks a file, read from the repository's index (``git ls-files``, without git).

hardener never runs git (a repository's config can name programs git would execute), so the
index file is read with dulwich, which knows every index version (v2–v4, path compression,
extensions). The answer is a fact or nothing: ``None`` when there is no repository or the
index cannot be read, so a caller can say "unknown" instead of guessing.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from hardener.repo_metadata import git_dir


def tracked(root: Path, path: Path) -> bool | None:
    """Whether the index of the repository at ``root`` holds ``path`` (None: no git, or an
    index that cannot be read: unknown)."""
    gdir = git_dir(root)
    if gdir is None:
        return None
    index = gdir / "index"
    try:
        stat = os.stat(index)
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except (OSError, ValueError):  # no index yet (a fresh `git init`), or a path outside the repo
        return False if gdir.is_dir() and not index.exists() else None
    paths = _paths(str(index), stat.st_mtime_ns, stat.st_size)
    return None if paths is None else rel in paths


@lru_cache(maxsize=16)
def _paths(index: str, mtime_ns: int, size: int) -> frozenset[str] | None:
    """The index's paths; mtime and size are in the key so a changed index is read again."""
    from dulwich.index import Index

    try:
        return frozenset(p.decode("utf-8", "surrogateescape") for p in Index(index).paths())
    except Exception:  # a damaged or unknown index is "unknown", never a crash
        return None
