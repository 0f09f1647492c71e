"""HD201 run-as-non-root: each 'fixes it' case beside a 'leaves it alone' case."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener import judges
from hardener.context import Context
from hardener.engine import Options, process
from hardener.transforms.run_as_non_root import RunAsNonRoot


def run(tmp_path: Path, text: str, options: dict | None = None, files: dict[str, str] | None = None):
    for name, body in (files or {}).items():
        (tmp_path / name).write_text(body)
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    ctx = Context(tmp_path, options or {}).for_file(path)
    result = process(str(path), "dockerfile", text.encode(), [RunAsNonRoot()], ctx, Options())
    assert result.failure is None and result.error is None
    out = result.output.decode() if result.output is not None else text
    if out != text:
        assert judges.dockerfile_problem(out) is None
    return out, [r.reason for r in result.refusals]


@pytest.mark.parametrize(
    "text, added",
    [
        pytest.param("FROM debian:12\nCOPY a /a\nCMD [\"/a\"]\n",
                     "RUN groupadd -r -g 10001 app && useradd -r -l -u 10001 -g app -M -s /usr/sbin/nologin app\nUSER 10001:10001\n",
                     id="debian"),
        pytest.param("FROM alpine:3.20\nCOPY a /a\nCMD [\"/a\"]\n",
                     "RUN addgroup -S -g 10001 app && adduser -S -D -H -u 10001 -G app app\nUSER 10001:10001\n",
                     id="alpine"),
        pytest.param("FROM busybox:1.36\nCOPY a /a\nCMD [\"/a\"]\n",
                     "RUN addgroup -S -g 10001 app && adduser -S -D -H -u 10001 -G app app\nUSER 10001:10001\n",
                     id="busybox"),
        pytest.param("FROM node:20-alpine\nCOPY a /a\nCMD [\"node\", \"/a\"]\n", "USER 1000:1000\n", id="node-reuses"),
        pytest.param("FROM gcr.io/distroless/java21-debian12\nCOPY a.jar /a.jar\nCMD [\"/a.jar\"]\n",
                     "USER 65532:65532\n", id="distroless-reuses-nonroot"),
        pytest.param("FROM scratch\nCOPY a /a\nCMD [\"/a\"]\n", "USER 65532:65532\n", id="scratch"),
        pytest.param("FROM amazonlinux:2023\nCOPY a /a\nCMD [\"/a\"]\n",
                     "RUN echo 'app:x:10001:10001::/nonexistent:/sbin/nologin' >> /etc/passwd && echo 'app:x:10001:' >> /etc/group\nUSER 10001:10001\n",
                     id="amazonlinux-passwd-lines"),
        pytest.param("FROM python:3.12\nRUN useradd -u 1234 web\nCOPY a /a\nCMD [\"/a\"]\n", "USER 1234\n",
                     id="reuses-created-uid"),
        pytest.param("FROM node:20\nRUN groupadd -g 1500 w && useradd -u 1500 -g w w\nCOPY a /a\nCMD [\"/a\"]\n",
                     "USER 1500:1500\n", id="created-user-before-image-user"),
        pytest.param("FROM php:8.3-fpm-alpine\nCOPY a /a\nCMD [\"php-fpm\"]\n", "USER 82:82\n", id="php-alpine-www-data"),
    ],
)
def test_adds_user_before_cmd(tmp_path, text, added):
    out, refusals = run(tmp_path, text)
    assert refusals == []
    head, _, cmd = text.rpartition("CMD")
    assert out == head + added + "CMD" + cmd


def test_user_goes_after_the_last_filesystem_step(tmp_path):
    text = "FROM debian:12\nRUN a\nEXPOSE 8080\nCOPY b /b\nENV X=1\nHEALTHCHECK CMD true\nCMD [\"b\"]\n"
    out, _ = run(tmp_path, text)
    lines = out.splitlines()
    assert lines.index("USER 10001:10001") == lines.index("COPY b /b") + 2


def test_volume_is_created_and_chowned_before_it_is_declared(tmp_path):
    out, _ = run(tmp_path, "FROM debian:12\nVOLUME [\"/data\", \"/cache\"]\nCMD [\"x\"]\n")
    assert "&& mkdir -p /data /cache && chown 10001:10001 /data /cache\nVOLUME" in out
    assert out.endswith("VOLUME [\"/data\", \"/cache\"]\nUSER 10001:10001\nCMD [\"x\"]\n")


def test_configured_uid_gid_and_name(tmp_path):
    out, _ = run(tmp_path, "FROM ubuntu:24.04\nCMD [\"x\"]\n",
                 {"run-as-non-root": {"uid": 4242, "gid": 4343, "name": "svc"}})
    assert "groupadd -r -g 4343 svc && useradd -r -l -u 4242 -g svc" in out and "USER 4242:4343" in out


def test_keeps_crlf_and_lowercase(tmp_path):
    text = "from alpine:3.20\r\ncopy a /a\r\ncmd [\"/a\"]\r\n"
    path = tmp_path / "Dockerfile"
    path.write_bytes(text.encode())
    ctx = Context(tmp_path).for_file(path)
    result = process(str(path), "dockerfile", text.encode(), [RunAsNonRoot()], ctx, Options())
    assert result.output is not None
    assert b"copy a /a\r\nrun addgroup" in result.output and b"\r\nuser 10001:10001\r\ncmd" in result.output


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("FROM debian:12\nUSER 1000\nCMD [\"x\"]\n", id="already-user"),
        pytest.param("FROM debian:12\nUSER app\nCMD [\"x\"]\n", id="already-named-user"),
        pytest.param("FROM gcr.io/distroless/static:nonroot\nCMD [\"x\"]\n", id="nonroot-tag"),
        pytest.param("FROM cgr.dev/chainguard/python\nCMD [\"x\"]\n", id="chainguard-non-root"),
        pytest.param("FROM nginxinc/nginx-unprivileged:1.27\n", id="unprivileged-variant"),
        pytest.param("FROM debian:12\nCMD [\"bash\", \"-c\", \"run\"]\nUSER 1\n", id="shell-with-args-already-user"),
        pytest.param("FROM debian:12\nUSER 1000\nUSER root\nRUN x\n", id="final-user-not-roots-case"),
        pytest.param("FROM node:20 AS base\nUSER node\nFROM base\nCMD [\"x\"]\n", id="inherited-user"),
    ],
)
def test_leaves_non_root_alone(tmp_path, text):
    assert run(tmp_path, text) == (text, [])


@pytest.mark.parametrize(
    "text, files, reason",
    [
        pytest.param("FROM nginx:1.27\n", {}, "nginxinc/nginx-unprivileged", id="nginx"),
        pytest.param("FROM debian:12\nEXPOSE 443/tcp\nCMD [\"x\"]\n", {}, "port 443", id="expose-443"),
        pytest.param("ARG P=80\nFROM debian:12\nEXPOSE ${P}\nCMD [\"x\"]\n", {}, "port 80", id="expose-arg"),
        pytest.param("FROM redis:7\n", {}, "drops privileges", id="redis"),
        pytest.param("FROM mysql:8\nCOPY my.cnf /etc/mysql/conf.d/\n", {}, "drops privileges", id="mysql"),
        pytest.param("FROM debian:12\nCOPY e.sh /e.sh\nENTRYPOINT [\"/e.sh\"]\n", {"e.sh": "exec gosu app \"$@\"\n"},
                     "entrypoint script e.sh", id="gosu-script"),
        pytest.param("# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nCMD x\n", {}, "Windows", id="windows"),
        pytest.param("FROM debian:12\nSHELL [\"powershell\", \"-c\"]\nCMD x\n", {}, "Windows", id="powershell"),
        pytest.param("FROM example.com/x:1\nCMD [\"x\"]\n", {}, "unknown base image", id="unknown"),
        pytest.param("FROM ${IMG}\nCMD [\"x\"]\n", {}, "unknown base image", id="unknown-arg"),
        pytest.param("FROM debian:12\nCMD [\"/usr/sbin/sshd\", \"-D\"]\n", {}, "needs root at run time", id="sshd"),
        pytest.param("FROM debian:12\nONBUILD RUN make\n", {}, "ONBUILD", id="onbuild"),
        pytest.param("FROM scratch\nVOLUME /data\nCMD [\"x\"]\n", {}, "no shell", id="scratch-volume"),
        pytest.param("FROM debian:12 AS b\nVOLUME /data\nFROM b\nCMD [\"x\"]\n", {}, "earlier stage", id="inherited-volume"),
        pytest.param("FROM python:3.12\nRUN useradd web\nCMD [\"x\"]\n", {}, "without a fixed uid", id="created-no-uid"),
        pytest.param("FROM debian:12\nRUN apt-get update\n", {}, "base image for other", id="no-start-command"),
        pytest.param("FROM python:3.12\nRUN pip install x\nCMD [\"python3\"]\n", {}, "bare python3", id="bare-repl"),
        pytest.param("FROM debian:12\nCMD bash\n", {}, "bare bash", id="bare-shell"),
        pytest.param("FROM node:22\nRUN adduser --disabled-password vscode\nCMD [\"node\", \"a.js\"]\n", {},
                     "creates the IDE user vscode", id="ide-user"),
        pytest.param("FROM node:22 AS devcontainer\nCMD [\"node\", \"a.js\"]\n", {}, "named devcontainer",
                     id="devcontainer-stage"),
    ],
)
def test_refuses(tmp_path, text, files, reason):
    out, refusals = run(tmp_path, text, files=files)
    assert out == text
    assert len(refusals) == 1 and reason in refusals[0], refusals


def test_inferred_distro_for_unknown_base(tmp_path):
    out, _ = run(tmp_path, "FROM example.com/base:1\nRUN apk add --no-cache curl\nCMD [\"x\"]\n")
    assert "adduser -S -D -H -u 10001" in out


def test_only_the_final_stage_changes(tmp_path):
    text = "FROM golang:1.22 AS build\nRUN go build -o /app\n\nFROM alpine:3.20\nCOPY --from=build /app /app\nCMD [\"/app\"]\n"
    out, _ = run(tmp_path, text)
    assert out.startswith("FROM golang:1.22 AS build\nRUN go build -o /app\n\nFROM alpine:3.20\n")
    assert out.count("USER") == 1


@pytest.mark.parametrize(
    "cmd, writable",
    [
        pytest.param("CMD python app.py > app.log 2>&1", True, id="redirect"),
        pytest.param("CMD touch ready && python app.py", True, id="touch"),
        pytest.param("CMD python app.py > /dev/stdout", False, id="absolute"),
        pytest.param("CMD python app.py 2>&1", False, id="fd-dup"),
        pytest.param('CMD ["python", "app.py"]', False, id="plain"),
    ],
)
def test_workdir_chowned_only_when_the_start_command_writes_there(tmp_path, cmd, writable):
    out, _ = run(tmp_path, f"FROM debian:12\nWORKDIR /srv/app\nCOPY . .\n{cmd}\n")
    assert ("mkdir -p /srv/app && chown 10001:10001 /srv/app" in out) is writable
    assert "USER 10001:10001" in out


def test_installing_the_adduser_package_is_not_creating_a_user(tmp_path):
    out, refusals = run(tmp_path, "FROM debian:12\nRUN apt-get install -y adduser && sudo -u 5 true\nCMD [\"x\"]\n")
    assert refusals == [] and "USER 10001:10001" in out
