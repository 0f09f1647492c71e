"""hardener.repo_metadata: git remote/HEAD read from files, package manifests, LICENSE → SPDX."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hardener.knowledge.licenses import license_spdx, licenses_label
from hardener.repo_metadata import (
    PackageMeta,
    git_head,
    git_remote_url,
    normalise_remote,
    package_metadata,
    spdx_or_none,
)

TEXTS = Path(__file__).parent / "data" / "licenses"
MIT = (TEXTS / "MIT.txt").read_text()
APACHE = (TEXTS / "Apache-2.0.txt").read_text()
BSD3 = (TEXTS / "BSD-3-Clause.txt").read_text()
ISC = (TEXTS / "ISC.txt").read_text()
GPL3 = (TEXTS / "GPL-3.0.txt").read_text()


@pytest.mark.parametrize(("url", "expected"), [
    pytest.param("git@github.com:owner/repo.git", "https://github.com/owner/repo", id="scp"),
    pytest.param("ssh://git@github.com:22/owner/repo.git", "https://github.com/owner/repo", id="ssh-port"),
    pytest.param("https://user:tok3n@gitlab.com/g/p.git", "https://gitlab.com/g/p", id="credentials"),
    pytest.param("https://git.example.com:8443/a/b", "https://git.example.com:8443/a/b", id="https-port"),
    pytest.param("git://example.com/a/b.git", "https://example.com/a/b", id="git-protocol"),
    pytest.param("http://example.com/a.git", "http://example.com/a", id="http-kept"),
    pytest.param("/srv/git/repo.git", None, id="local-path"),
    pytest.param("../other", None, id="relative-path"),
    pytest.param("file:///srv/repo", None, id="file-url"),
])
def test_normalise_remote(url: str, expected: str | None) -> None:
    assert normalise_remote(url) == expected


def test_git_remote_and_head_from_files(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "config").write_text('[core]\n\tbare = false\n[remote "origin"]\n'
                                "\turl = git@github.com:o/r.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n")
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text("# pack-refs\n" + "a" * 40 + " refs/heads/main\n")
    assert git_remote_url(tmp_path) == "https://github.com/o/r"
    assert git_head(tmp_path) == "a" * 40
    (git / "refs" / "heads" / "main").write_text("b" * 40 + "\n")
    assert git_head(tmp_path) == "b" * 40


def test_no_git_no_remote(tmp_path: Path) -> None:
    assert git_remote_url(tmp_path) is None and git_head(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_real_git_repository(tmp_path: Path) -> None:
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("remote", "add", "origin", "https://ci:secret@example.org/team/app.git")
    run("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x")
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_remote_url(tmp_path) == "https://example.org/team/app"
    assert git_head(tmp_path) == sha


@pytest.mark.parametrize(("name", "content", "expected"), [
    pytest.param("package.json", '{"name": "web", "description": "A  site\\n", "version": "1.2.0", '
                 '"license": "MIT"}', ("web", "A site", "1.2.0", "MIT"), id="package-json"),
    pytest.param("package.json", '{"name": "web", "license": "SEE LICENSE IN x"}', ("web", None, None, None),
                 id="package-json-no-spdx"),
    pytest.param("pyproject.toml", '[project]\nname = "app"\ndynamic = ["version"]\nlicense = "Apache-2.0"\n',
                 ("app", None, None, "Apache-2.0"), id="pyproject-pep639"),
    pytest.param("pyproject.toml", '[project]\nname = "app"\nlicense = {text = "MIT"}\n',
                 ("app", None, None, None), id="pyproject-license-table"),
    pytest.param("pyproject.toml", '[tool.poetry]\nname = "p"\nversion = "0.1.0"\nlicense = "MIT"\n',
                 ("p", None, "0.1.0", "MIT"), id="poetry"),
    pytest.param("Cargo.toml", '[package]\nname = "etl"\nversion = "0.3.0"\nlicense = "MIT OR Apache-2.0"\n',
                 ("etl", None, "0.3.0", "MIT OR Apache-2.0"), id="cargo"),
    pytest.param("setup.cfg", "[metadata]\nname = lib\nversion = attr: lib.__version__\n",
                 ("lib", None, None, None), id="setup-cfg-attr-version"),
    pytest.param("pom.xml", '<project xmlns="http://maven.apache.org/POM/4.0.0"><artifactId>svc</artifactId>'
                 "<version>${revision}</version><description>Spring app</description></project>",
                 ("svc", "Spring app", None, None), id="pom-templated-version"),
    pytest.param("go.mod", "module github.com/o/backend/v2\n\ngo 1.22\n", ("backend", None, None, None),
                 id="go-mod-major-suffix"),
])
def test_package_metadata(name: str, content: str, expected: tuple, tmp_path: Path) -> None:
    (tmp_path / name).write_text(content)
    meta = package_metadata(tmp_path)
    assert meta is not None
    assert (meta.title, meta.description, meta.version, meta.license) == expected


@pytest.mark.parametrize(("name", "content"), [
    pytest.param("package.json", "{not json", id="broken-json"),
    pytest.param("Cargo.toml", "[workspace]\nmembers = ['a']\n", id="cargo-workspace"),
    pytest.param("package.json", '{"description": "no name"}', id="nameless"),
])
def test_package_metadata_unknown(name: str, content: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(content)
    assert package_metadata(tmp_path) is None


@pytest.mark.parametrize(("files", "expected"), [
    pytest.param({"LICENSE": MIT}, "MIT", id="mit"),
    pytest.param({"LICENSE.txt": APACHE}, "Apache-2.0", id="apache"),
    pytest.param({"COPYING": BSD3}, "BSD-3-Clause", id="bsd3"),
    pytest.param({"LICENSE.md": ISC}, "ISC", id="isc"),
    pytest.param({"LICENSE": GPL3}, None, id="gpl-only-or-later"),
    pytest.param({"LICENSE": "Apache License\nVersion 2.0, January 2004\n"}, None, id="a-heading-is-no-text"),
    pytest.param({"LICENSE": "This project is released under the MIT license."}, None, id="a-mention-is-no-text"),
    pytest.param({"LICENSE-MIT": MIT, "LICENSE-APACHE": APACHE}, None, id="dual"),
    pytest.param({"LICENSE": MIT + APACHE}, None, id="two-texts-in-one"),
    pytest.param({}, None, id="none"),
])
def test_license_spdx(files: dict[str, str], expected: str | None, tmp_path: Path) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert license_spdx(tmp_path) == expected


def test_license_found_in_parent_up_to_stop(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(MIT)
    sub = tmp_path / "services" / "api"
    sub.mkdir(parents=True)
    assert license_spdx(sub, tmp_path) == "MIT"
    assert license_spdx(sub, sub) is None


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("MIT", "MIT", id="id"),
    pytest.param("(MIT OR Apache-2.0)", "(MIT OR Apache-2.0)", id="expression"),
    pytest.param("UNLICENSED", None, id="unlicensed"),
    pytest.param("Apache License, Version 2.0", None, id="a-name"),
    pytest.param(None, None, id="none"),
])
def test_spdx_or_none(value: str | None, expected: str | None) -> None:
    assert spdx_or_none(value) == expected


def _meta(manifest: str, license_: str | None) -> PackageMeta:
    return PackageMeta(manifest, "app", license=license_)


@pytest.mark.parametrize(("files", "meta", "expected"), [
    pytest.param({"LICENSE": APACHE}, _meta("package.json", "ISC"), "Apache-2.0", id="npm-isc-contradicted"),
    pytest.param({}, _meta("package.json", "ISC"), None, id="npm-isc-without-license-file"),
    pytest.param({"LICENSE": ISC}, _meta("package.json", "ISC"), "ISC", id="isc-confirmed"),
    pytest.param({}, _meta("pyproject.toml", "MIT"), "MIT", id="declared-nothing-contradicts"),
    pytest.param({"LICENSE": MIT}, _meta("Cargo.toml", "Apache-2.0"), "MIT", id="file-wins"),
    pytest.param({"LICENSE-MIT": MIT, "LICENSE-APACHE": APACHE}, _meta("Cargo.toml", "MIT OR Apache-2.0"),
                 "MIT OR Apache-2.0", id="dual-confirmed"),
    pytest.param({"LICENSE-MIT": MIT, "LICENSE-APACHE": APACHE}, _meta("Cargo.toml", "MIT"), None,
                 id="dual-half-declared"),
    pytest.param({"LICENSE": GPL3}, _meta("package.json", "GPL-3.0-or-later"), "GPL-3.0-or-later",
                 id="gnu-text-confirms-or-later"),
    pytest.param({"LICENSE": GPL3}, None, None, id="gnu-text-alone"),
    pytest.param({"LICENSE": "All rights reserved."}, _meta("pyproject.toml", "MIT"), None,
                 id="unreadable-file-confirms-nothing"),
    pytest.param({"LICENSE": BSD3}, None, "BSD-3-Clause", id="file-only"),
])
def test_licenses_label(files: dict[str, str], meta: PackageMeta | None, expected: str | None,
                        tmp_path: Path) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert licenses_label(tmp_path, tmp_path, meta) == expected
