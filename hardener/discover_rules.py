"""What discovery leaves out by default: vendored code, and files that only look like ours by name.

Hardening someone else's code in a ``vendor/`` tree is never what the user wants (a Go
project's CI re-vendors and fails on any edit), and a file named like a Dockerfile that is
JavaScript or prose makes every run fail with "BuildKit cannot parse this file". Each rule
here answers "skip this?" with a short reason, counted in the report. Nothing here applies
to a path the user names on the command line: discover.py only asks while walking.
"""
from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from pathlib import Path

from hardener.limits import read_bounded

# Reasons, as the report counts them.
VENDORED = "vendored directory"
VIRTUALENV = "virtual environment"
MANIFEST = "vendoring manifest"
SOURCE_NAME = "source or document file extension"
NO_FROM = "no FROM or parser directive"
NOT_MAPPING = "not a YAML mapping"

# Directory names that hold third-party code by convention of their ecosystem.
VENDORED_DIRS = frozenset({
    "vendor",  # Go (go mod vendor), PHP Composer, Ruby bundler
    "third_party", "third-party",  # C/C++, Bazel, Chromium-style monorepos
    "node_modules", "bower_components",
    "site-packages", "dist-packages",  # installed Python packages (dist-packages: Debian's name)
})
VIRTUALENV_DIRS = frozenset({".venv"})

# A file that marks its directory as vendored or installed code, whatever the directory's name.
# pyvenv.cfg: every virtualenv (venv/, .tox/py311/, env/ ...) has one at its top.
# .cargo-checksum.json: every crate `cargo vendor` unpacks (the target directory is free-form).
# Godeps.json: Godep's Godeps/ (its _workspace/ holds the copied sources).
# .bower.json: every package bower installs (the directory is configurable in .bowerrc).
_MANIFESTS = {"pyvenv.cfg": VIRTUALENV, ".cargo-checksum.json": MANIFEST, "Godeps.json": MANIFEST,
              ".bower.json": MANIFEST}

# Extensions that make a "Dockerfile.<ext>" name a source file, a document or data, never a
# Dockerfile: dockerfile.js (CodeMirror's mode), dockerfile.go (a Go parser), Dockerfile.md.
# .sh/.ps1/.bat: a script that builds or generates the image; pre-commit hands files over by
# name only, so the name must decide there. .yml/.yaml: a CI workflow named after its job.
SOURCE_EXTENSIONS = frozenset({
    "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "vue", "svelte", "map", "snap",
    "py", "pyi", "pyc", "go", "rb", "java", "kt", "kts", "scala", "groovy", "clj", "rs", "php",
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "cs", "fs", "swift", "m", "mm", "dart", "lua",
    "pl", "pm", "r", "ex", "exs", "erl", "hs", "ml", "nix", "el", "vim",
    "sh", "bash", "zsh", "fish", "ps1", "psm1", "bat", "cmd",
    "md", "markdown", "rst", "txt", "adoc", "asciidoc", "org", "tex", "html", "htm", "pdf",
    "json", "yml", "yaml", "toml", "xml", "ini", "cfg", "csv", "lock", "properties",
    "css", "scss", "sass", "less", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp",
    "zip", "gz", "tgz", "tar", "bz2", "xz",
})

HEAD_BYTES = 64 * 1024  # enough for any real preamble; a huge generated file is not read whole
_DIRECTIVE = re.compile(rb"#\s*(?:syntax|escape|check)\s*=", re.IGNORECASE)
_FROM_LINE = re.compile(rb"^[ \t]*FROM[ \t]", re.IGNORECASE | re.MULTILINE)
_YAML_KEY = re.compile(rb"""(?:"[^"]*"|'[^']*'|<<|[^\s#?:,\[\]{}&*!|>'"%@`-][^#]*?)[ \t]*:(?:\s|$)""")
_FLOW_MAPPING = re.compile(rb"\{\s*(?:[\"'\w}]|$)")  # not "{{" nor "{%": a template


def directory_reason(name: str) -> str | None:
    """Why a directory is skipped by its name alone (no I/O: node_modules is never listed)."""
    if name in VENDORED_DIRS:
        return VENDORED
    return VIRTUALENV if name in VIRTUALENV_DIRS else None


def manifest_reason(dirpath: str, names: set[str]) -> str | None:
    """Why a directory is skipped by what it holds (``names``: its entries)."""
    for manifest, reason in _MANIFESTS.items():
        if manifest in names:
            return reason
    if "modules.txt" in names and _go_modules_txt(os.path.join(dirpath, "modules.txt")):
        return MANIFEST
    if "composer" in names and os.path.isfile(os.path.join(dirpath, "composer", "installed.json")):
        return MANIFEST  # Composer's vendor-dir, whatever config.vendor-dir renamed it to
    return None


def _go_modules_txt(path: str) -> bool:
    """Go writes ``# module version`` lines; a modules.txt of anything else is not a vendor tree."""
    head = _head(Path(path), 256)
    return head is not None and head.startswith(b"# ")


def source_extension(name: str) -> bool:
    """The part after the name's last dot is a source, document or data extension.

    Only asked of ``Dockerfile.<suffix>`` names: ``Dockerfile-go`` (no dot) is a variant.
    """
    _, dot, ext = name.rpartition(".")
    return bool(dot) and ext.lower() in SOURCE_EXTENSIONS


def may_match_below(patterns: Sequence[str], rel: str) -> bool:
    """Whether a gitignore-style pattern can match a path below directory ``rel``.

    Lets discovery skip a node_modules/ tree without walking it when no include pattern
    could bring anything in it back; errs towards walking.
    """
    depth = rel.split("/")
    for pattern in patterns:
        body = pattern.rstrip("/")
        if body.startswith("!"):
            continue  # a negation takes back, it never brings anything in
        if "/" not in body:
            return True  # matches at any depth, as in .gitignore
        if _prefix_may_match(body.lstrip("/").split("/"), depth):
            return True
    return False


def _prefix_may_match(parts: list[str], depth: list[str]) -> bool:
    for directory, part in zip(depth, parts, strict=False):
        if part == "**":
            return True
        if not fnmatch.fnmatchcase(directory, part):
            return False
    return len(parts) > len(depth)


def content_reason(path: Path, kind: str) -> str | None:
    """Why a walked file is not a ``kind`` by its first bytes; None when it may be (or cannot be read).

    An unreadable file stays a candidate so the run reports it, as it always did.
    """
    head = _head(path, HEAD_BYTES)
    if head is None:
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if kind == "dockerfile":
        return None if _dockerfile_preamble(head) else NO_FROM
    return None if _yaml_mapping(head) else NOT_MAPPING


def _dockerfile_preamble(head: bytes) -> bool:
    """BuildKit's rule: parser directives first, then ARGs may precede the first FROM."""
    seen_comment = False
    for line in head.splitlines():
        text = line.strip()
        if not text:
            seen_comment = True  # directives end at the first blank line
            continue
        if text.startswith(b"#"):
            if not seen_comment and _DIRECTIVE.match(text):
                return True
            seen_comment = True
            continue
        keyword = text.split(None, 1)[0].upper()
        return keyword == b"FROM" or (keyword == b"ARG" and _FROM_LINE.search(head) is not None)
    return False


def _yaml_mapping(head: bytes) -> bool:
    """The first content line is a top-level key (or a flow mapping): what every Compose file starts with."""
    for line in head.splitlines():
        text = line.rstrip()
        if text.startswith(b"---"):
            text = text[3:].strip()
        if not text.strip() or text.lstrip().startswith(b"#") or text.startswith(b"%"):
            continue
        return _YAML_KEY.match(text) is not None or _FLOW_MAPPING.match(text) is not None
    return False


def _head(path: Path, size: int) -> bytes | None:
    try:
        return read_bounded(path, size, truncate=True)  # a FIFO named Dockerfile must not block the walk
    except OSError:
        return None
