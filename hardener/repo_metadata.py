"""Facts about a repository for image labels: git remote and HEAD, package metadata, license.

Everything here reads files and never runs git (a repository's config can name programs
git would execute). Each function returns None when it is not sure: a label with a
guessed value is worse than no label.
"""
from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from hardener.limits import read_bounded, read_text_bounded

_SPDX_EXPRESSION = re.compile(
    r"^\(?[A-Za-z0-9.+-]+\)?( (AND|OR|WITH) \(?[A-Za-z0-9.+-]+\)?)*$"
)
_NOT_A_LICENSE = ("UNLICENSED", "SEE LICENSE IN", "PROPRIETARY", "UNKNOWN", "OTHER")


@dataclass(frozen=True)
class PackageMeta:
    """Metadata a package manifest declares; a field is None when it is absent or computed."""

    manifest: str  # file name it came from
    title: str | None = None
    description: str | None = None
    version: str | None = None
    license: str | None = None  # an SPDX expression


# ---------------------------------------------------------------- git


def git_dir(root: Path) -> Path | None:
    """The git directory of ``root`` (following a worktree's ``gitdir:`` file)."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        line = read_text_bounded(dot).strip()
        if line.startswith("gitdir:"):
            target = (root / line.removeprefix("gitdir:").strip()).resolve()
            return target if target.is_dir() else None
    return None


def git_remote_url(root: Path, remote: str = "origin") -> str | None:
    """The remote's URL as an https address without credentials, or None."""
    gdir = git_dir(root)
    if gdir is None:
        return None
    import configparser  # here, like in each reader: a few ms that most runs never need

    config = _common_dir(gdir) / "config"
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(read_text_bounded(config))
    except (OSError, configparser.Error):
        return None
    section = f'remote "{remote}"'
    url = parser.get(section, "url", fallback=None) if parser.has_section(section) else None
    return normalise_remote(url.strip().strip('"')) if url else None


def git_head(root: Path) -> str | None:
    """The commit HEAD points at (40 or 64 hex digits), or None."""
    gdir = git_dir(root)
    if gdir is None:
        return None
    try:
        head = read_bounded(gdir / "HEAD").decode("utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", head) else None
    ref = head.removeprefix("ref:").strip()
    return _resolve_ref(_common_dir(gdir), gdir, ref)


def _common_dir(gdir: Path) -> Path:
    common = gdir / "commondir"
    if common.is_file():
        return (gdir / read_bounded(common).decode("utf-8").strip()).resolve()
    return gdir


def _resolve_ref(common: Path, gdir: Path, ref: str) -> str | None:
    for base in (gdir, common):
        loose = base / ref
        if loose.is_file():
            value = read_bounded(loose).decode("utf-8").strip()
            return value if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in read_text_bounded(packed).splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
                return sha
    return None


def normalise_remote(url: str) -> str | None:
    """``git@host:o/r.git``, ``ssh://``, ``git://``, ``https://user:tok@`` → ``https://host/o/r``."""
    scp = re.fullmatch(r"(?:[^@/\s]+@)?([A-Za-z0-9.-]+):(?!//)([^\s]+)", url)
    if scp and "://" not in url:
        host, path = scp.groups()
        return _https(host, path)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git") or not parts.hostname:
        return None  # a local path or an unknown transport: no public address
    if parts.scheme == "http":
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(("http", host, _clean_path(parts.path), "", ""))
    host = parts.hostname
    if parts.scheme == "https" and parts.port:
        host += f":{parts.port}"  # an ssh port says nothing about the web address
    return _https(host, parts.path)


def _https(host: str, path: str) -> str | None:
    clean = _clean_path(path)
    return f"https://{host}{clean}" if clean.strip("/") else None


def _clean_path(path: str) -> str:
    path = "/" + path.strip("/")
    return path.removesuffix(".git")


# ---------------------------------------------------------------- package manifests


# the programs (and base image names) that build or run each manifest's package
MANIFEST_TOOLS: dict[str, tuple[str, ...]] = {
    "package.json": ("npm", "npx", "yarn", "pnpm", "node", "nodejs", "bun", "corepack"),
    "pyproject.toml": ("pip", "pip3", "python", "python3", "poetry", "uv", "pipenv", "pdm", "hatch"),
    "Cargo.toml": ("cargo", "rust", "rustc"),
    "setup.cfg": ("pip", "pip3", "python", "python3"),
    "pom.xml": ("mvn", "mvnw", "maven", "java", "eclipse-temurin", "openjdk", "amazoncorretto"),
    "go.mod": ("go", "golang"),
}


def package_metadata(directory: Path, accept: Callable[[str], bool] | None = None) -> PackageMeta | None:
    """Metadata of the first manifest found in ``directory`` that names its package (and, with
    ``accept``, whose file name it accepts)."""
    for name, reader in _READERS:
        path = directory / name
        # the stat first: ``accept`` walks the whole Dockerfile, asked of every manifest name
        if not path.is_file() or (accept is not None and not accept(name)):
            continue
        import configparser  # for the except clause below

        try:
            meta = reader(path)
        except (OSError, ValueError, UnicodeDecodeError, tomllib.TOMLDecodeError,
                configparser.Error, SyntaxError):
            meta = None
        if meta is not None and meta.title:
            return meta
    return None


def _package_json(path: Path) -> PackageMeta | None:
    data = json.loads(read_bounded(path))
    if not isinstance(data, dict):
        return None
    lic = data.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    return PackageMeta(path.name, _text(data.get("name")), _text(data.get("description")),
                       _text(data.get("version")), spdx_or_none(lic))


def _pyproject(path: Path) -> PackageMeta | None:
    data = tomllib.loads(read_bounded(path).decode("utf-8"))
    project = data.get("project")
    if isinstance(project, dict) and project.get("name"):
        lic = project.get("license")
        lic = lic if isinstance(lic, str) else None  # {file=…}/{text=…} is no SPDX id
        return PackageMeta(path.name, _text(project.get("name")), _text(project.get("description")),
                           _text(project.get("version")), spdx_or_none(lic))
    poetry = data.get("tool", {}).get("poetry")
    if isinstance(poetry, dict):
        return PackageMeta(path.name, _text(poetry.get("name")), _text(poetry.get("description")),
                           _text(poetry.get("version")), spdx_or_none(poetry.get("license")))
    return None


def _cargo(path: Path) -> PackageMeta | None:
    package = tomllib.loads(read_bounded(path).decode("utf-8")).get("package")
    if not isinstance(package, dict):
        return None  # a workspace root
    return PackageMeta(path.name, _text(package.get("name")), _text(package.get("description")),
                       _text(package.get("version")), spdx_or_none(package.get("license")))


def _setup_cfg(path: Path) -> PackageMeta | None:
    import configparser

    parser = configparser.RawConfigParser(strict=False)
    parser.read_string(read_bounded(path).decode("utf-8"))
    if not parser.has_section("metadata"):
        return None

    def get(key: str) -> str | None:
        return _text(parser.get("metadata", key, fallback=None))

    version = get("version")
    version = None if version and version.startswith(("attr:", "file:")) else version
    return PackageMeta(path.name, get("name"), get("description"), version,
                       spdx_or_none(get("license")))


def _pom(path: Path) -> PackageMeta | None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(read_bounded(path))
    ns = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""

    def field(name: str) -> str | None:
        node = root.find(f"{ns}{name}")
        return _text(node.text) if node is not None else None

    title = field("name") or field("artifactId")
    # the license element holds a name ("Apache License, Version 2.0"), not an SPDX id
    return PackageMeta(path.name, title, field("description"), field("version"), None)


def _go_mod(path: Path) -> PackageMeta | None:
    match = re.search(r"^module\s+(\S+)", read_bounded(path).decode("utf-8"), re.MULTILINE)
    if not match:
        return None
    parts = match.group(1).strip('"').split("/")
    if len(parts) > 1 and re.fullmatch(r"v\d+", parts[-1]):
        parts.pop()  # github.com/o/r/v2 is the module r, major version 2
    return PackageMeta(path.name, _text(parts[-1]))


_READERS = (
    ("package.json", _package_json),
    ("pyproject.toml", _pyproject),
    ("Cargo.toml", _cargo),
    ("setup.cfg", _setup_cfg),
    ("pom.xml", _pom),
    ("go.mod", _go_mod),
)


def _text(value: object) -> str | None:
    """A single-line literal value; templated values (``${revision}``, ``{{ }}``) are None."""
    if not isinstance(value, str):
        return None
    clean = " ".join(value.split())
    if not clean or "${" in clean or "{{" in clean or "@" + "project" in clean:
        return None
    return clean


def spdx_or_none(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    clean = value.strip()
    if not _SPDX_EXPRESSION.match(clean) or clean.upper().startswith(_NOT_A_LICENSE):
        return None
    return clean
