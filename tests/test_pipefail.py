"""HD407 pipefail."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.transforms.pipefail import Pipefail

BASH = 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
ASH = 'SHELL ["/bin/ash", "-o", "pipefail", "-c"]\n'


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("FROM debian:12\nRUN a | b\nRUN c | d\n", f"FROM debian:12\n{BASH}RUN a | b\nRUN c | d\n",
                     id="debian-once-per-stage"),
        pytest.param("FROM python:3.12-slim\nRUN x\nRUN a | b\n", f"FROM python:3.12-slim\nRUN x\n{BASH}RUN a | b\n",
                     id="before-first-pipe"),
        pytest.param("FROM node:20-alpine\nRUN a | b\n", f"FROM node:20-alpine\n{ASH}RUN a | b\n", id="alpine-ash"),
        pytest.param("FROM alpine:3.20\n  run a | b\n", 'FROM alpine:3.20\n  shell ["/bin/ash", "-o", "pipefail", "-c"]\n  run a | b\n',
                     id="indent-and-case-kept"),
        pytest.param("ARG V=12\nFROM debian:${V}\nRUN a | b\n", f"ARG V=12\nFROM debian:${{V}}\n{BASH}RUN a | b\n",
                     id="global-arg-resolved"),
        pytest.param("FROM ubuntu:24.04 AS a\nFROM a\nRUN a | b\n", f"FROM ubuntu:24.04 AS a\nFROM a\n{BASH}RUN a | b\n",
                     id="stage-parent-family"),
        pytest.param("FROM myco/base:jammy\nRUN a | b\n", f"FROM myco/base:jammy\n{BASH}RUN a | b\n",
                     id="codename-tag"),
        pytest.param("FROM debian:12\nRUN if true; then a | b; fi\n", f"FROM debian:12\n{BASH}RUN if true; then a | b; fi\n",
                     id="pipe-in-compound"),
        pytest.param("FROM debian:12\nRUN a || b\n", None, id="or-is-no-pipe"),
        pytest.param("FROM debian:12\nRUN a | b && echo foo\\ bar\n", f"FROM debian:12\n{BASH}RUN a | b && echo foo\\ bar\n",
                     id="escaped-space-is-same-in-both-shells"),
        pytest.param("FROM alpine:3\nRUN a | b\nRUN echo 'x\\ty'\n", f"FROM alpine:3\n{ASH}RUN a | b\nRUN echo 'x\\ty'\n",
                     id="ash-echo-unchanged"),
        pytest.param("FROM debian:12\nRUN echo 'a | b' \"c|d\"\n", None, id="quoted-pipe"),
        pytest.param("FROM debian:12\nRUN echo $(a | b)\n", None, id="pipe-in-substitution"),
        pytest.param(f"FROM debian:12\n{BASH}RUN a | b\n", None, id="already"),
        pytest.param('FROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL ["powershell", "-Command"]\nRUN a | b\n',
                     None, id="powershell"),
    ],
)
def test_pipefail(before: str, after: str | None, tmp_path: Path) -> None:
    output, _ = fix(Pipefail(), before, tmp_path)
    assert output == (before if after is None else after)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("FROM debian:12\nRUN curl -fsSL https://x/install.sh | sh\n", "downloaded script",
                     id="curl-sh"),
        pytest.param("FROM debian:12\nRUN wget -qO- https://x | sudo -E bash -\n", "downloaded script",
                     id="wget-sudo-bash"),
        pytest.param("FROM myorg/base:1\nRUN a | b\n", "not known to ship bash", id="unknown-base"),
        pytest.param("FROM ${BASE}\nRUN a | b\n", "build argument", id="arg-base"),
        pytest.param("FROM busybox:1.36\nRUN a | b\n", "no shell with pipefail", id="busybox"),
        pytest.param("FROM gcr.io/distroless/base\nRUN a | b\n", "no shell with pipefail", id="distroless"),
        pytest.param('FROM debian:12\nSHELL ["/bin/sh", "-c"]\nRUN a | b\n', "chose its own shell", id="own-shell"),
        pytest.param("FROM debian:12\nRUN a | b\nRUN yes | sdkmanager --licenses\n", "cut off", id="yes"),
        pytest.param("FROM debian:12\nRUN a | head -1\n", "cut off", id="head"),
        pytest.param("FROM debian:12\nRUN a | grep -q x\n", "cut off", id="grep-q"),
        pytest.param("# escape=`\nFROM debian:12\nRUN a | b\n", "backtick", id="windows-escape"),
        pytest.param("FROM debian:12\nRUN a | b\nRUN echo 'x\\ty' > /etc/f\n", "echoes backslashes", id="dash-echo"),
        pytest.param("FROM debian:12\nRUN a | b\nRUN if true; then echo \"a\\nb\"; fi\n", "echoes backslashes",
                     id="dash-echo-in-if"),
    ],
)
def test_refusals(text: str, reason: str, tmp_path: Path) -> None:
    _, refusals = fix(Pipefail(), text, tmp_path)
    assert any(reason in r for r in refusals), refusals


def test_crlf_file_gets_crlf_line(tmp_path: Path) -> None:
    text = "FROM debian:12\r\nRUN a | b\r\n"
    output, _ = fix(Pipefail(), text, tmp_path)
    assert output == 'FROM debian:12\r\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\r\nRUN a | b\r\n'
