"""Discovery's default skips: vendored trees, and files named like ours that are not (issue 19, item 1)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from hardener import discover_rules as rules
from hardener.cli import main
from hardener.config import load_config
from hardener.discover import classify, discover, discovery

DOCKERFILE = "FROM alpine:3.19\nADD app.sh /app/\n"
COMPOSE = "services:\n  app:\n    image: redis:7\n"
GO_MODULES = "# github.com/x/y v1.2.3\n## explicit; go 1.21\ngithub.com/x/y\n"


def tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def walked(root: Path, **kwargs: object) -> tuple[list[str], dict[str, int]]:
    result = discovery([root], **kwargs)  # type: ignore[arg-type]
    assert result.errors == []
    return [os.path.relpath(f.path, root).replace(os.sep, "/") for f in result.found], result.skipped


# --- vendored and installed code ---------------------------------------------------------

@pytest.mark.parametrize(("files", "reason"), [
    pytest.param({"vendor/modules.txt": GO_MODULES, "vendor/github.com/x/y/Dockerfile": DOCKERFILE},
                 rules.VENDORED, id="go-vendor"),
    pytest.param({"web/node_modules/pkg/Dockerfile": DOCKERFILE}, rules.VENDORED, id="node-modules"),
    pytest.param({"app/bower_components/pkg/compose.yaml": COMPOSE}, rules.VENDORED, id="bower"),
    pytest.param({"src/lib/third_party/zlib/Dockerfile": DOCKERFILE}, rules.VENDORED, id="nested-third-party"),
    pytest.param({"third-party/zlib/Dockerfile": DOCKERFILE}, rules.VENDORED, id="third-party-hyphen"),
    pytest.param({"lib/python3.11/site-packages/pkg/Dockerfile": DOCKERFILE}, rules.VENDORED, id="site-packages"),
    pytest.param({".venv/lib/pkg/Dockerfile": DOCKERFILE}, rules.VIRTUALENV, id="dot-venv"),
    pytest.param({"venv/pyvenv.cfg": "home = /usr/bin\n", "venv/lib/pkg/Dockerfile": DOCKERFILE},
                 rules.VIRTUALENV, id="venv-with-pyvenv-cfg"),
    pytest.param({".tox/py311/pyvenv.cfg": "home = /usr/bin\n", ".tox/py311/x/compose.yml": COMPOSE},
                 rules.VIRTUALENV, id="tox-env"),
    pytest.param({"deps/modules.txt": GO_MODULES, "deps/x/Dockerfile": DOCKERFILE}, rules.MANIFEST,
                 id="go-modules-txt-any-name"),
    pytest.param({"rust/serde/.cargo-checksum.json": "{}", "rust/serde/Dockerfile": DOCKERFILE}, rules.MANIFEST,
                 id="cargo-vendor"),
    pytest.param({"libs/composer/installed.json": "{}", "libs/acme/pkg/Dockerfile": DOCKERFILE}, rules.MANIFEST,
                 id="composer-renamed-vendor-dir"),
    pytest.param({"Godeps/Godeps.json": "{}", "Godeps/_workspace/src/x/Dockerfile": DOCKERFILE}, rules.MANIFEST,
                 id="godep"),
])
def test_vendored_directory_is_skipped_and_counted(tmp_path: Path, files: dict[str, str], reason: str) -> None:
    tree(tmp_path, {"Dockerfile": DOCKERFILE, **files})
    assert walked(tmp_path) == (["Dockerfile"], {reason: 1})


@pytest.mark.parametrize("files", [
    pytest.param({"venv/lib/Dockerfile": DOCKERFILE}, id="venv-without-pyvenv-cfg"),
    pytest.param({"docs/modules.txt": "Modules of the app: api, web\n", "docs/Dockerfile": DOCKERFILE},
                 id="modules-txt-not-go"),
    pytest.param({"vendors/Dockerfile": DOCKERFILE}, id="similar-name"),
    pytest.param({"Vendor/Dockerfile": DOCKERFILE}, id="other-case"),
    pytest.param({"composer/Dockerfile": DOCKERFILE}, id="composer-without-installed-json"),
])
def test_lookalike_directory_is_walked(tmp_path: Path, files: dict[str, str]) -> None:
    tree(tmp_path, files)
    assert walked(tmp_path) == (sorted(files.keys() - {"docs/modules.txt"}), {})


def test_include_brings_a_skipped_directory_back(tmp_path: Path) -> None:
    tree(tmp_path, {"vendor/modules.txt": GO_MODULES, "vendor/x/Dockerfile": DOCKERFILE,
                    "node_modules/p/Dockerfile": DOCKERFILE})
    assert walked(tmp_path, include=["/vendor/"]) == (["vendor/x/Dockerfile"], {rules.VENDORED: 1})


def test_include_can_name_something_inside_a_skipped_directory(tmp_path: Path) -> None:
    tree(tmp_path, {"third_party/ours/Dockerfile": DOCKERFILE, "third_party/theirs/Dockerfile": DOCKERFILE,
                    "third_party/ours/deep/compose.yaml": COMPOSE})
    found, skipped = walked(tmp_path, include=["third_party/ours/"])
    assert found == ["third_party/ours/Dockerfile", "third_party/ours/deep/compose.yaml"]
    assert skipped == {rules.VENDORED: 1}


def test_include_can_name_a_single_file(tmp_path: Path) -> None:
    tree(tmp_path, {"vendor/a/Dockerfile": DOCKERFILE, "vendor/b/Dockerfile": DOCKERFILE})
    assert walked(tmp_path, include=["/vendor/b/Dockerfile"])[0] == ["vendor/b/Dockerfile"]


def test_include_does_not_override_exclude_or_gitignore(tmp_path: Path) -> None:
    tree(tmp_path, {"vendor/a/Dockerfile": DOCKERFILE, "vendor/b/Dockerfile": DOCKERFILE,
                    ".gitignore": "vendor/b/\n"})
    assert walked(tmp_path, include=["vendor/"], exclude=["vendor/a/"])[0] == []


def test_invalid_include_pattern_is_reported(tmp_path: Path) -> None:
    tree(tmp_path, {"vendor/Dockerfile": DOCKERFILE})
    found, errors = discover([tmp_path], include=("!", "vendor/"))
    assert [f.path.relative_to(tmp_path).as_posix() for f in found] == ["vendor/Dockerfile"]
    assert [e.message for e in errors] == ["invalid include pattern '!'"]


def test_explicit_paths_inside_vendored_trees_are_taken(tmp_path: Path) -> None:
    tree(tmp_path, {"vendor/modules.txt": GO_MODULES, "vendor/x/Dockerfile": DOCKERFILE,
                    "node_modules/p/compose.yaml": COMPOSE, "node_modules/p/dockerfile.js": "var x;\n"})
    named = [tmp_path / "vendor", tmp_path / "node_modules" / "p" / "compose.yaml",
             tmp_path / "node_modules" / "p" / "dockerfile.js"]
    found, errors = discover(named)
    assert errors == []
    assert [(f.path.relative_to(tmp_path).as_posix(), f.kind) for f in found] == [
        ("node_modules/p/compose.yaml", "compose"), ("node_modules/p/dockerfile.js", "dockerfile"),
        ("vendor/x/Dockerfile", "dockerfile"),
    ]


def test_walking_from_inside_a_vendored_tree_takes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path, {"node_modules/p/Dockerfile": DOCKERFILE, "node_modules/p/node_modules/q/Dockerfile": DOCKERFILE})
    monkeypatch.chdir(tmp_path / "node_modules")
    assert walked(Path(".")) == (["p/Dockerfile"], {rules.VENDORED: 1})


@pytest.mark.parametrize(("patterns", "rel", "expected"), [
    pytest.param([], "vendor", False, id="none"),
    pytest.param(["vendor/"], "third_party", True, id="unanchored-matches-anywhere"),
    pytest.param(["/third_party/ours/"], "third_party", True, id="anchored-below"),
    pytest.param(["/third_party/ours/"], "node_modules", False, id="anchored-elsewhere"),
    pytest.param(["/third_party/"], "third_party", False, id="the-directory-itself-is-matched-before"),
    pytest.param(["/src/**/Dockerfile"], "src/a/vendor", True, id="double-star"),
    pytest.param(["/src/*/ours/"], "lib/vendor", False, id="glob-elsewhere"),
    pytest.param(["!vendor/"], "vendor", False, id="negation"),
])
def test_may_match_below(patterns: list[str], rel: str, expected: bool) -> None:
    assert rules.may_match_below(patterns, rel) is expected


# --- names and contents ------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "dockerfile.js", "Dockerfile.md", "dockerfile.go", "Dockerfile.ts", "dockerfile.py", "Dockerfile.txt",
    "Dockerfile.json", "Dockerfile.yml", "dockerfile.yaml", "Dockerfile.sh", "Dockerfile.html", "Dockerfile.xml",
    "Dockerfile.prod.sh", "Dockerfile-dev.md", "dockerfile.spec.ts", "Containerfile.rst", "dockerfile.js.map",
])
def test_classify_rejects_source_and_document_extensions(name: str) -> None:
    assert classify(name) is None


@pytest.mark.parametrize("name", ["Dockerfile-go", "Dockerfile.golang", "Dockerfile.node", "Dockerfile.js-app",
                                  "js.Dockerfile", "Dockerfile.python3", "docker-compose.yml"])
def test_classify_keeps_variants_that_only_contain_a_language_name(name: str) -> None:
    assert classify(name) is not None


def test_codemirror_mode_and_other_source_files_are_not_candidates(tmp_path: Path) -> None:
    tree(tmp_path, {
        "public/plugins/codemirror-5.65.2/mode/dockerfile/dockerfile.js": "var from = 'from';\n",
        "docs/Dockerfile.md": "```\nFROM alpine\n```\n", "pkg/dockerfile/dockerfile.go": "package dockerfile\n",
        "Dockerfile": DOCKERFILE,
    })
    assert walked(tmp_path) == (["Dockerfile"], {rules.SOURCE_NAME: 3})


@pytest.mark.parametrize("content", [
    pytest.param(b"FROM alpine\n", id="from"),
    pytest.param(b"from alpine\n", id="lowercase"),
    pytest.param(b"# syntax=docker/dockerfile:1\nFROM alpine\n", id="syntax-directive"),
    pytest.param(b"# escape=`\n\nFROM mcr.microsoft.com/windows/servercore\n", id="escape-directive"),
    pytest.param(b"#syntax=docker/dockerfile:1.7\n", id="directive-only"),
    pytest.param(b"# a comment\n\n   FROM alpine AS base\n", id="comment-first"),
    pytest.param(b"ARG VERSION=3.19\nARG OTHER=\\\n  x\nFROM alpine:${VERSION}\n", id="args-first"),
    pytest.param(b"\xef\xbb\xbfFROM alpine\r\nRUN true\r\n", id="bom-crlf"),
    pytest.param(b"\xef\xbb\xbf# syntax=docker/dockerfile:1\r\nFROM alpine\r\n", id="bom-crlf-directive"),
    pytest.param(b"FROM alpine\n# caf\xe9 in latin-1\n", id="not-utf8"),
])
def test_dockerfile_content_that_is_a_candidate(tmp_path: Path, content: bytes) -> None:
    tree(tmp_path, {"Dockerfile": content})
    assert walked(tmp_path) == (["Dockerfile"], {})


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(b"# only a comment\n", id="comment-only"),
    pytest.param(b"Copy this file to Dockerfile and set IMAGE.\nFROM is up to you.\n", id="prose"),
    pytest.param(b"RUN apt-get update\nFROM alpine\n", id="instruction-before-from"),
    pytest.param(b"ARG VERSION=1\n", id="arg-without-from"),
    pytest.param(b"# docs\n# syntax=docker/dockerfile:1\nRUN x\n", id="directive-after-a-comment"),
    pytest.param(b"\x00\x01\x02binary", id="binary"),
])
def test_dockerfile_content_that_is_not(tmp_path: Path, content: bytes) -> None:
    tree(tmp_path, {"Dockerfile.example": content})
    assert walked(tmp_path) == ([], {rules.NO_FROM: 1})


def test_only_the_head_of_a_file_is_read(tmp_path: Path) -> None:
    tree(tmp_path, {"Dockerfile": b"#" * (rules.HEAD_BYTES + 10) + b"\nFROM alpine\n"})
    assert walked(tmp_path) == ([], {rules.NO_FROM: 1})


@pytest.mark.parametrize(("content", "taken"), [
    pytest.param(COMPOSE, True, id="services"),
    pytest.param("# stack\n---\nversion: '3'\nservices: {}\n", True, id="comment-and-document-start"),
    pytest.param("web:\n  image: nginx\n", True, id="legacy-v1"),
    pytest.param('{"services": {"a": {"image": "x"}}}\n', True, id="json"),
    pytest.param("\ufeffservices:\r\n  a:\r\n    image: x\r\n", True, id="bom-crlf"),
    pytest.param('"x-common": &c\n  restart: always\n', True, id="quoted-key"),
    pytest.param("", False, id="empty"),
    pytest.param("- a\n- b\n", False, id="a-list"),
    pytest.param("{% if prod %}\nservices: {}\n{% endif %}\n", False, id="jinja-template"),
    pytest.param("{{ compose }}\n", False, id="go-template"),
    pytest.param("just text\n", False, id="text"),
])
def test_compose_content(tmp_path: Path, content: str, taken: bool) -> None:
    tree(tmp_path, {"docker-compose.yml": content.encode()})
    assert walked(tmp_path) == ((["docker-compose.yml"], {}) if taken else ([], {rules.NOT_MAPPING: 1}))


def test_an_explicit_file_is_taken_whatever_its_content(tmp_path: Path) -> None:
    tree(tmp_path, {"Dockerfile": "", "compose.yaml": "- a\n"})
    found, errors = discover([tmp_path / "Dockerfile", tmp_path / "compose.yaml"])
    assert (len(found), errors) == (2, [])


# --- configuration, CLI and the pre-commit hooks ---------------------------------------

def test_include_is_read_from_the_config(tmp_path: Path) -> None:
    (tmp_path / ".hardener.toml").write_text('include = ["vendor/"]\nexclude = ["docs/"]\n')
    config = load_config(tmp_path)
    assert (config.include, config.exclude) == (("vendor/",), ("docs/",))


def test_include_must_be_a_list_of_strings(tmp_path: Path) -> None:
    from hardener.errors import BadInput

    (tmp_path / ".hardener.toml").write_text('include = "vendor/"\n')
    with pytest.raises(BadInput, match="'include' must be a list of strings"):
        load_config(tmp_path)


def _repo(root: Path) -> None:
    tree(root, {
        "Dockerfile": "FROM alpine:3.19\nCOPY app.sh /app/\n", "app.sh": "echo\n",
        "public/plugins/codemirror-5.65.2/mode/dockerfile/dockerfile.js": "(function(mod) { mod(); })\n",
        "vendor/modules.txt": GO_MODULES, "vendor/github.com/x/y/Dockerfile": "FROM alpine\nADD a.sh /\n",
        "node_modules/p/Dockerfile": "this is not a Dockerfile\n",
    })


def test_cli_diff_on_a_tree_with_vendored_and_source_files_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["diff", "--offline", "--no-color", "--select", "add-to-copy", "."])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "not discovered: source or document file extension (1), vendored directory (2)" in result.stderr
    report = CliRunner().invoke(main, ["diff", "--offline", "--format", "json", "--select", "add-to-copy", "."])
    document = json.loads(report.stdout)
    assert [f["path"] for f in document["files"]] == ["Dockerfile"]
    assert document["skipped"] == {rules.SOURCE_NAME: 1, rules.VENDORED: 2}


def test_cli_include_from_the_config_brings_vendor_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(tmp_path)
    (tmp_path / ".hardener.toml").write_text('include = ["/vendor/"]\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--offline", "--no-color", "--select", "add-to-copy", "."])
    assert result.exit_code == 1, result.stderr
    assert "vendor/github.com/x/y/Dockerfile:2: HD301" in result.stderr


def test_json_report_with_skips_matches_the_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    _repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    report = CliRunner().invoke(main, ["diff", "--offline", "--format", "json", "."])
    schema = json.loads((ROOT / "hardener" / "data" / "report.schema.json").read_text())
    jsonschema.validate(json.loads(report.stdout), schema)


@pytest.mark.parametrize("extension", sorted(rules.SOURCE_EXTENSIONS))
def test_pre_commit_hooks_skip_every_source_extension(extension: str) -> None:
    """pre-commit names files explicitly, and an explicit file is always taken: the hook must filter."""
    name = f"mode/dockerfile/dockerfile.{extension}"
    for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()):
        matched = re.search(hook["files"], name) is not None and re.search(hook["exclude"], name) is None
        assert not matched, hook["id"]
