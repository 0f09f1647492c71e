"""Which files of an image's layers are tests, docs, VCS data, secrets or dev files.

`hardener verify` (and the lab) list, per layer, every such path the image still carries: a
file a later layer deletes is still in the layer that added it, so the scan reads each layer,
not the final tree. Only the application's part of the filesystem is judged: the system
(``usr/``, ``etc/``, ``var/``, …) and third-party trees (site-packages, node_modules, the Go
module cache) hold their own tests and docs, which hardening the Dockerfile cannot remove;
a top-level ``tests``/``docs`` package inside site-packages is still reported, since it can
only come from a project that packaged its tests.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

TEST, DOC, VCS, SECRET, DEV = "test", "doc", "vcs", "secret", "dev"
_SYSTEM = frozenset({"usr", "lib", "lib32", "lib64", "libx32", "bin", "sbin", "etc", "var", "proc", "sys", "dev",
                     "run", "boot", "tmp", "mnt", "media", "srv", "nix"})
_APP_UNDER_SYSTEM = ("usr/src/", "usr/local/src/", "var/www/", "srv/")
_THIRD_PARTY = re.compile(r"(^|/)(node_modules|bower_components|\.cache|\.npm|\.yarn|\.m2|\.gradle|go/pkg/mod"
                          r"|\.cargo/registry|vendor)(/|$)")
_PACKAGES = re.compile(r"(^|/)(site|dist)-packages/")
_VCS_PARTS = frozenset({".git", ".hg", ".svn", ".bzr"})
_TEST_PARTS = frozenset({"tests", "test", "__tests__", "testdata", "testing", ".pytest_cache", ".tox", ".nox",
                         "htmlcov", ".nyc_output", "coverage"})
_DOC_PARTS = frozenset({"docs", "doc", "documentation"})
_DEV_PARTS = frozenset({".github", ".gitlab", ".circleci", ".vscode", ".idea", ".devcontainer"})
_TEST_NAME = re.compile(r".*_test\.go|test_.*\.py|.*_test\.py|conftest\.py|.*\.(test|spec)\.[cm]?[jt]sx?"
                        r"|pytest\.ini|tox\.ini|noxfile\.py|\.coveragerc|phpunit\.xml(\.dist)?|jest\.config\.[cm]?[jt]s")
_DOC_NAME = re.compile(r"(CONTRIBUTING|CHANGELOG|CHANGES|HISTORY|CODE_OF_CONDUCT|AUTHORS)(\.\w+)?|mkdocs\.ya?ml",
                       re.IGNORECASE)
_DEV_NAME = re.compile(r"(requirements|requirements_|requirements-)?(dev|test|tests|lint|docs)[-_]?requirements\.txt"
                       r"|requirements[-_](dev|test|tests|lint|docs)\.txt|Makefile|\.editorconfig|\.pre-commit-config\.yaml"
                       r"|\.flake8|mypy\.ini|\.pylintrc|\.eslintrc.*|\.prettierrc.*|\.gitignore|\.gitattributes"
                       r"|Dockerfile.*|.*\.Dockerfile|(docker-)?compose.*\.ya?ml|Jenkinsfile"
                       r"|\.gitlab-ci\.yml|\.travis\.yml|Vagrantfile|\.golangci\.ya?ml")
# .dockerignore is not listed: it holds only patterns, and a `COPY .` can keep it out only if it
# names itself, which generate-dockerignore does not do (yet).
_SECRET_NAME = re.compile(r"\.env(\.(?!example$|sample$|template$|dist$)[\w.-]+)?|.*\.(pem|key|p12|pfx)|id_(rsa|dsa|ecdsa|ed25519)"
                          r"(?!\.pub$).*|\.pypirc|\.netrc|\.npmrc|credentials(\.json)?")
_SECRET_PARTS = frozenset({".ssh", ".aws", ".gnupg"})


@dataclass(frozen=True)
class Leftover:
    layer: int  # 0-based, in the image's order
    path: str
    kind: str  # TEST, DOC, VCS, SECRET or DEV


def classify(path: str) -> str | None:
    """The kind of an image path ("app/tests/test_a.py" -> TEST), None for everything else."""
    path = path.removeprefix("./").strip("/")
    if not _is_app(path):
        return None
    parts = path.split("/")
    name = parts[-1]
    if _VCS_PARTS & set(parts):
        return VCS
    if _SECRET_PARTS & set(parts[:-1]) or _SECRET_NAME.fullmatch(name):
        return SECRET
    if _TEST_PARTS & set(parts) or _TEST_NAME.fullmatch(name):
        return TEST
    if _DOC_PARTS & set(parts) or _DOC_NAME.fullmatch(name):
        return DOC
    if _DEV_PARTS & set(parts) or _DEV_NAME.fullmatch(name):
        return DEV
    return None


def _is_app(path: str) -> bool:
    packages = _PACKAGES.search(path)
    if packages:  # only a top-level tests/docs package there can be the project's own leak
        first = path[packages.end():].split("/", 1)[0]
        return first in ("tests", "test", "docs", "doc")
    if _THIRD_PARTY.search(path) or path.startswith(("usr/share/", "usr/local/go/", "usr/lib/go")):
        return False
    return path.split("/", 1)[0] not in _SYSTEM or path.startswith(_APP_UNDER_SYSTEM)


def scan(layers: Iterable[Iterable[str]]) -> list[Leftover]:
    """Every test/doc/VCS/secret/dev path of each layer; below a reported directory only the
    directory itself is listed (whiteouts, the deletion markers, are not files)."""
    found: list[Leftover] = []
    for index, paths in enumerate(layers):
        reported: list[str] = []
        for path in sorted(p.removeprefix("./").strip("/") for p in paths):
            name = path.rsplit("/", 1)[-1]
            if not path or name.startswith(".wh.") or any(path.startswith(r + "/") for r in reported):
                continue
            kind = classify(path)
            if kind is not None:
                found.append(Leftover(index, path, kind))
                reported.append(path)
    return found


def summary(found: list[Leftover], shown: int = 12) -> str:
    """One line for `hardener verify`: "3 in the layers: /app/tests (test, layer 4), …"."""
    if not found:
        return "no test, doc, VCS, secret or dev file in any layer"
    items = [f"/{f.path} ({f.kind}, layer {f.layer + 1})" for f in found[:shown]]
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return f"{len(found)} test/doc/VCS/secret/dev paths in the layers: {', '.join(items)}{more}"
