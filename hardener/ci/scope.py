"""Which Dockerfiles a repository-level CI gate covers, and whether this run may propose one.

Test fixtures, examples and vendored trees build images nobody ships: a gate that builds and
scans them fails on images that are meant to be bad (hardener's own repository has 209 fixture
Dockerfiles). They are left out of the matrix by path (``not-production`` patterns, gitignore
syntax, configurable) and by the directory names discovery treats as vendored.

A run on a sub-path (``hardener diff examples/app``) was asked about those files, not about
the repository: it proposes a repository-level file only when ``repo-files`` is set, and
then covers the images under the paths it was given.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

NOT_PRODUCTION = (
    "test/", "tests/", "testdata/", "testing/", "fixtures/", "__fixtures__/", "__tests__/",
    "e2e/", "examples/", "example/", "samples/", "sample/", "demo/", "demos/", "*-test/", "_*test/",
)


# A pattern naming directories only ("tests/", "*-test/"): it matches a path under such a
# directory, never a file at the root. No "**", no leading "." or "!", no escapes or classes.
_DIRECTORY_ONLY = re.compile(r"(?!.*\*\*)[\w*-][\w.*-]*/")


def not_production(rel: str, patterns: Sequence[str]) -> str | None:
    """Why the Dockerfile at ``rel`` (posix, from the root) builds no production image."""
    from hardener.discover_rules import directory_reason

    parts = rel.split("/")[:-1]
    vendored = next((p for p in parts if directory_reason(p)), None)
    if vendored is not None:
        return f"under {vendored}/: {directory_reason(vendored)}"
    if not parts and all(_DIRECTORY_ONLY.fullmatch(p) for p in patterns):
        return None  # a root Dockerfile and directory patterns: pathspec (an import) is not needed
    if _spec(tuple(patterns)).match_file(rel):
        return "a test fixture or example (not-production patterns)"
    return None


@lru_cache(maxsize=16)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    """The compiled patterns: the gate asks once per Dockerfile of the repository, and
    compiling them each time was a third of its selection on a 700-Dockerfile tree."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(list(patterns))


def scoped(root: Path, scope: Sequence[Path]) -> list[Path] | None:
    """The requested paths when they are narrower than the repository, else None."""
    base = os.path.abspath(root)
    paths = [os.path.abspath(p) for p in scope]
    if not paths or any(base == p or base.startswith(p.rstrip(os.sep) + os.sep) for p in paths):
        return None
    return [Path(p) for p in paths]


def within(path: Path, scope: Sequence[Path]) -> bool:
    here = os.path.abspath(path)
    return any(here == str(p) or here.startswith(str(p).rstrip(os.sep) + os.sep) for p in scope)
