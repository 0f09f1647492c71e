"""LICENSE / COPYING files → SPDX ids, and the ``licenses`` label value they support.

The text of a license file is identified with licenseclassifier (a pure-Python port of
Google's licensecheck with the SPDX license data: offline, no dependencies, and a coverage
threshold that makes it return nothing rather than a guess), imported lazily on first use.
A manifest's declared license is a label only when the license files agree with it.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from hardener.limits import read_text_bounded
from hardener.repo_metadata import PackageMeta

_LICENSE_FILES = re.compile(r"^(LICEN[CS]E|COPYING)([.-][A-Za-z0-9.-]+)?$", re.IGNORECASE)
# An id licenseclassifier gives to a GNU text: the text does not say "-only" or "-or-later"
# (that is in each source file's notice), so it confirms a declared id but is no label alone.
_GNU_FAMILY = re.compile(r"^(A|L)?GPL-\d\.\d$|^GFDL-\d\.\d$")
_OR_LATER = re.compile(r"(-only|-or-later|\+)$")


def license_spdx(directory: Path, stop: Path | None = None) -> str | None:
    """The SPDX id of the license text in ``directory`` or the nearest parent up to ``stop``,
    when its license files hold exactly one license that can stand alone."""
    ids = _file_ids(directory, stop)
    if not ids or len(ids) != 1:
        return None
    (only,) = ids
    return None if _GNU_FAMILY.match(only) else only


def licenses_label(directory: Path, stop: Path | None, meta: PackageMeta | None) -> str | None:
    """The ``licenses`` value that is a fact: the manifest's expression when the license files
    agree with it, else the files' own single license; a manifest's claim alone only when
    there is no license file (then nothing contradicts it), and never npm init's ``ISC``."""
    declared = meta.license if meta is not None else None
    if not _license_files_near(directory, stop):
        placeholder = meta is not None and meta.manifest == "package.json" and declared == "ISC"
        return None if placeholder else declared
    ids = _file_ids(directory, stop)
    if not ids:
        return None  # a license file we cannot read confirms nothing
    if declared and {_family(i) for i in _expression_ids(declared)} == {_family(i) for i in ids}:
        return declared
    return license_spdx(directory, stop)


def _file_ids(directory: Path, stop: Path | None) -> frozenset[str]:
    """Every SPDX id the nearest license files hold; empty when one of them is not recognised."""
    found: set[str] = set()
    for path in _license_files_near(directory, stop):
        ids = _identify(path)
        if not ids:
            return frozenset()
        found |= ids
    return frozenset(found)


def _license_files_near(directory: Path, stop: Path | None) -> list[Path]:
    current = directory.resolve()
    limit = stop.resolve() if stop is not None else current
    while True:
        files = _license_files(current)
        if files or current == limit or limit not in current.parents:
            return files
        current = current.parent


@functools.lru_cache(maxsize=4096)
def _license_files(directory: Path) -> list[Path]:
    """License files directly in ``directory`` (cached: every Dockerfile of a repo asks for the
    same root, whose listing can be long; the name is checked before the stat)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _LICENSE_FILES.match(p.name) and p.is_file())


@functools.lru_cache(maxsize=1024)
def _identify(path: Path) -> frozenset[str]:
    """The SPDX ids licenseclassifier finds in a license file (a port of Google's licensecheck,
    offline, with a coverage threshold: it returns nothing rather than a guess)."""
    from licenseclassifier import identify_license

    try:
        text = read_text_bounded(path, 200_000, truncate=True)
    except OSError:
        return frozenset()
    return frozenset(m.id for m in identify_license(text))


def _expression_ids(expression: str) -> list[str]:
    """The license ids of an SPDX expression (exceptions after WITH left out)."""
    words = expression.replace("(", " ").replace(")", " ").split()
    return [w for n, w in enumerate(words) if w not in ("AND", "OR", "WITH")
            and (n == 0 or words[n - 1] != "WITH")]


def _family(spdx_id: str) -> str:
    """``GPL-3.0-or-later``, ``GPL-3.0-only`` and ``GPL-3.0+`` all match the text ``GPL-3.0``."""
    return _OR_LATER.sub("", spdx_id)
