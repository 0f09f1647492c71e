"""HD502 add-oci-labels."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.transforms.oci_labels import AddOciLabels

OCI = "org.opencontainers.image."


def _fix(text: str, root: Path, files: dict[str, str] | None = None) -> str:
    for name, content in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    path = root / "Dockerfile"
    path.write_text(text)
    ctx = Context(root).for_file(path)
    result = process(str(path), "dockerfile", text.encode(), [AddOciLabels()], ctx, Options())
    assert result.failure is None and result.error is None, result.failure or result.error
    output = (result.output or text.encode()).decode()
    again = process(str(path), "dockerfile", output.encode(), [AddOciLabels()], ctx, Options())
    assert not again.changes, "a second run must change nothing"
    return output


def _git(root: Path, url: str) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {url}\n')


@pytest.mark.parametrize(("before", "after"), [
    pytest.param("FROM node:20\nRUN x\n", f'FROM node:20\nLABEL {OCI}base.name="node:20"\nRUN x\n', id="base-only"),
    pytest.param("from node:20\narg A=1\nrun x\n", f'from node:20\narg A=1\nlabel {OCI}base.name="node:20"\nrun x\n',
                 id="after-args-lowercase"),
    pytest.param("FROM a AS b\nFROM b\nCMD x\n", f'FROM a AS b\nFROM b\nLABEL {OCI}base.name="a"\nCMD x\n',
                 id="alias-chain-to-root-base"),
    pytest.param('FROM n\nLABEL a=b\nRUN x\n', f'FROM n\nLABEL a=b\nLABEL {OCI}base.name="n"\nRUN x\n',
                 id="after-last-label"),
])
def test_base_name(before: str, after: str, tmp_path: Path) -> None:
    assert _fix(before, tmp_path) == after


def test_everything_from_git_and_manifest(tmp_path: Path) -> None:
    _git(tmp_path, "https://ci:tok@github.com/o/web.git")
    pkg = {"name": "web", "description": 'say "hi" for $5 \\ more', "version": "2.0.0", "license": "MIT"}
    out = _fix("FROM node:20\nCOPY package*.json ./\nRUN npm ci\nCMD x\n", tmp_path, {"package.json": json.dumps(pkg)})
    assert out == (
        "FROM node:20\nCOPY package*.json ./\nRUN npm ci\nARG VCS_REF=\nARG BUILD_DATE=\n"
        f'LABEL {OCI}source="https://github.com/o/web" \\\n'
        f"      {OCI}revision=$VCS_REF \\\n"
        f"      {OCI}created=$BUILD_DATE \\\n"
        f'      {OCI}title="web" \\\n'
        f'      {OCI}description="say \\"hi\\" for \\$5 \\\\ more" \\\n'
        f'      {OCI}licenses="MIT" \\\n'
        f'      {OCI}base.name="node:20"\nCMD x\n')
    assert "tok" not in out


def test_build_args_reuse_declarations(tmp_path: Path) -> None:
    _git(tmp_path, "git@github.com:o/r.git")
    text = "ARG BUILD_DATE=now\nFROM scratch\nARG VCS_REF\nCOPY a /a\n"
    out = _fix(text, tmp_path)
    assert out == ("ARG BUILD_DATE=now\nFROM scratch\nARG VCS_REF\nARG BUILD_DATE\n"
                   f'LABEL {OCI}source="https://github.com/o/r" \\\n      {OCI}revision=$VCS_REF \\\n'
                   f"      {OCI}created=$BUILD_DATE\nCOPY a /a\n")


def test_windows_escape_and_crlf(tmp_path: Path) -> None:
    text = "# escape=`\r\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\r\nCOPY . .\r\nRUN go build\r\n"
    out = _fix(text, tmp_path, {"go.mod": "module example.com/tool\n"})
    assert out == ("# escape=`\r\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\r\n"
                   f'LABEL {OCI}title="tool" `\r\n'
                   f'      {OCI}base.name="mcr.microsoft.com/windows/servercore:ltsc2022"\r\nCOPY . .\r\nRUN go build\r\n')


def test_keys_already_set_are_not_repeated(tmp_path: Path) -> None:
    text = (f'FROM a AS base\nLABEL "{OCI}base.name"="a"\nFROM base\n'
            f"LABEL {OCI}title=x {OCI}licenses=MIT\n")
    assert _fix(text, tmp_path, {"package.json": '{"name": "y", "license": "MIT"}'}) == text


@pytest.mark.parametrize("text", [
    pytest.param("FROM scratch\nCOPY a /a\n", id="scratch"),
    pytest.param("ARG B=alpine\nFROM ${B}\n", id="variable-base"),
    pytest.param(f"FROM a\nLABEL {OCI}base.name=a\n", id="already-labelled"),
])
def test_nothing_known(text: str, tmp_path: Path) -> None:
    assert _fix(text, tmp_path) == text


def test_only_final_stage(tmp_path: Path) -> None:
    out = _fix("FROM golang AS build\nRUN go build\nFROM alpine\nCOPY --from=build /a /a\n", tmp_path)
    assert out.count("LABEL") == 1 and out.index("LABEL") > out.index("FROM alpine")


SERVER = "FROM golang:1.22\nCOPY go.mod go.sum ./\nCOPY cmd/ cmd/\nRUN go build ./cmd/server\nCMD [\"server\"]\n"
FRONT = '{"name": "web-ui", "description": "The front end", "version": "3.1.0"}'


@pytest.mark.parametrize(("text", "title"), [
    pytest.param(SERVER, "server-mod", id="go-server-not-the-front-end"),
    pytest.param(SERVER.replace("COPY go.mod go.sum ./", "COPY . ."), "server-mod", id="copy-all-runs-go-only"),
    pytest.param("FROM node:20\nCOPY package.json ./\nRUN npm ci\n", "web-ui", id="node-image"),
    pytest.param("FROM node:20\nCOPY ./ /app/\nCMD [\"node\", \"i.js\"]\n", "web-ui", id="copy-dot-slash"),
    pytest.param("FROM debian:12\nCOPY package.json ./\nRUN true\n", None, id="copied-never-run"),
    pytest.param("FROM node:20\nCOPY web/package.json ./\nRUN npm ci\n", None, id="a-subdirectory-manifest"),
])
def test_manifest_only_of_this_image(text: str, title: str | None, tmp_path: Path) -> None:
    out = _fix(text, tmp_path, {"package.json": FRONT, "go.mod": "module example.com/server-mod\n"})
    assert (f'{OCI}title="{title}"' in out) if title else f"{OCI}title" not in out
    if title != "web-ui":
        assert "front end" not in out and "3.1.0" not in out


@pytest.mark.parametrize("version", ["0.0.1", "2.3.4"])
def test_no_version_label(version: str, tmp_path: Path) -> None:
    # the manifest's version changes every release; a LABEL written once would go stale
    _git(tmp_path, "https://github.com/o/web.git")
    pkg = json.dumps({"name": "web", "version": version})
    out = _fix("FROM node:20\nCOPY . .\nRUN npm ci\n", tmp_path, {"package.json": pkg})
    assert f'{OCI}title="web"' in out and f"{OCI}version" not in out
