"""The image knowledge base: lookups by repository and tag, stage chains, ARG defaults."""
from __future__ import annotations

import pytest

from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge import facts, images


def doc(text: str) -> DockerfileDoc:
    return DockerfileDoc.load(text.encode())


@pytest.mark.parametrize(
    "image, family, distro",
    [
        pytest.param("python:3.12", "python", "debian", id="python-default-debian"),
        pytest.param("python:3.12-slim", "python", "debian", id="python-slim"),
        pytest.param("python:3.12-alpine3.20", "python", "alpine", id="python-alpine"),
        pytest.param("docker.io/library/node:20-bookworm-slim", "node", "debian", id="node-bookworm"),
        pytest.param("node:20-alpine", "node", "alpine", id="node-alpine"),
        pytest.param("eclipse-temurin:21-jre-jammy", "openjdk", "ubuntu", id="temurin-jammy"),
        pytest.param("eclipse-temurin:21-jre-alpine", "openjdk", "alpine", id="temurin-alpine"),
        pytest.param("eclipse-temurin:21-jre-ubi9-minimal", "openjdk", "rhel-minimal", id="temurin-ubi-minimal"),
        pytest.param("golang:1.22-bullseye", "golang", "debian", id="golang-bullseye"),
        pytest.param("ubuntu:24.04", "ubuntu", "ubuntu", id="ubuntu"),
        pytest.param("alpine", "alpine", "alpine", id="alpine-untagged"),
        pytest.param("registry.access.redhat.com/ubi9/ubi:9.4", "ubi", "rhel", id="ubi"),
        pytest.param("registry.access.redhat.com/ubi9/ubi-minimal", "ubi-minimal", "rhel-minimal", id="ubi-minimal"),
        pytest.param("registry.access.redhat.com/ubi8-micro", "ubi-micro", "rhel-micro", id="ubi-micro"),
        pytest.param("amazonlinux:2023", "ubi-minimal", "rhel-minimal", id="amazonlinux"),
        pytest.param("rockylinux:9", "ubi", "rhel", id="rocky"),
        pytest.param("gcr.io/distroless/static-debian12", "distroless", "distroless", id="distroless"),
        pytest.param("cgr.dev/chainguard/python:latest", "chainguard", "wolfi", id="chainguard"),
        pytest.param("cgr.dev/chainguard/wolfi-base", "chainguard-base", "wolfi", id="wolfi-base"),
        pytest.param("scratch", "scratch", "scratch", id="scratch"),
        pytest.param("mcr.microsoft.com/windows/servercore:ltsc2022", "windows", "windows", id="windows"),
        pytest.param("mcr.microsoft.com/windows/nanoserver:ltsc2022", "windows", "windows", id="nanoserver"),
        pytest.param("nginx:1.27-alpine", "nginx", "alpine", id="nginx-alpine"),
        pytest.param("postgres:16", "postgres", "debian", id="postgres"),
    ],
)
def test_lookup_family_and_distro(image, family, distro):
    info = images.lookup(image)
    assert info is not None and (info.name, info.distro) == (family, distro)


@pytest.mark.parametrize(
    "image",
    [
        pytest.param("example.com/team/base:1", id="private-registry"),
        pytest.param("someone/python:3.12", id="not-official-python"),
        pytest.param("${BASE}", id="variable"),
        pytest.param("", id="empty"),
    ],
)
def test_lookup_unknown(image):
    assert images.lookup(image) is None


@pytest.mark.parametrize(
    "image, runs_as, user",
    [
        pytest.param("node:20", "0", "1000:1000", id="node-reuses-node"),
        pytest.param("gcr.io/distroless/base-debian12", "0", "65532:65532", id="distroless-root-tag"),
        pytest.param("gcr.io/distroless/base-debian12:nonroot", "65532:65532", "65532:65532", id="distroless-nonroot"),
        pytest.param("gcr.io/distroless/base-debian12:debug-nonroot", "65532:65532", "65532:65532", id="distroless-debug-nonroot"),
        pytest.param("cgr.dev/chainguard/node", "65532:65532", "65532:65532", id="chainguard-non-root"),
        pytest.param("python:3.12", "0", None, id="python-has-none"),
        pytest.param("php:8.3-fpm", "0", "33:33", id="php-debian-www-data"),
        pytest.param("php:8.3-fpm-alpine", "0", "82:82", id="php-alpine-www-data"),
        pytest.param("nginxinc/nginx-unprivileged:1.27", "101:101", "101:101", id="nginx-unprivileged"),
    ],
)
def test_users(image, runs_as, user):
    info = images.lookup(image)
    assert info is not None
    assert info.runs_as == runs_as
    assert (info.nonroot_user.numeric if info.nonroot_user else None) == user


def test_compose_fields_for_the_runtime_helper():
    info = images.lookup("postgres:16")
    assert info is not None
    assert info.facts.tier == "data" and info.facts.ports == (5432,)
    assert "/var/lib/postgresql/data" in (info.facts.writable_paths or ())
    assert (info.facts.healthcheck or ("",))[0] in ("CMD", "CMD-SHELL")
    assert info.compose_user == "999:999"
    assert images.lookup("postgres:16-alpine").compose_user == "70:70"  # type: ignore[union-attr]
    assert images.lookup("rabbitmq:3-alpine").compose_user is None  # type: ignore[union-attr]
    assert images.lookup("nginx").facts.tier == "edge"  # type: ignore[union-attr]


def test_every_entry_is_well_formed():
    kb = facts.load()
    for entry in kb.images:
        assert not entry.repositories or entry.distro in kb.distros, entry.name
        assert entry.tier in ("edge", "app", "data", "base"), entry.name
    for distro in kb.distros.values():
        assert distro.user_tool in (*kb.user_tools, "none")


@pytest.mark.parametrize(
    "tool, expected",
    [
        pytest.param("shadow", "groupadd -r -g 10001 app && useradd -r -l -u 10001 -g app -M -s /usr/sbin/nologin app", id="shadow"),
        pytest.param("busybox", "addgroup -S -g 10001 app && adduser -S -D -H -u 10001 -G app app", id="busybox"),
        pytest.param("none", None, id="none"),
    ],
)
def test_user_create_command(tool, expected):
    assert images.user_create_command(tool, images.UserSpec("app", 10001, 10001)) == expected


@pytest.mark.parametrize(
    "user, root",
    [("root", True), ("0", True), ("0:0", True), ("root:wheel", True), (" root ", True),
     ("1000", False), ("app", False), ("10001:10001", False), ("rootless", False)],
)
def test_is_root_user(user, root):
    assert images.is_root_user(user) is root


def test_stage_chain_resolves_aliases():
    d = doc("FROM python:3.12-alpine AS base\nRUN true\nFROM base AS build\nFROM build\nCMD x\n")
    base = images.resolve_stage(d, d.stages[-1])
    assert [s.index for s in base.chain] == [0, 1, 2]
    assert base.image == "python:3.12-alpine" and base.info is not None and base.info.distro == "alpine"


def test_alias_only_refers_to_earlier_stages():
    d = doc("FROM base\nFROM alpine AS base\n")
    base = images.resolve_stage(d, d.stages[0])
    assert base.info is None and "not in the knowledge base" in (base.unknown or "")


@pytest.mark.parametrize(
    "text, image",
    [
        pytest.param("ARG BASE=node:20-alpine\nFROM ${BASE}\n", "node:20-alpine", id="braced"),
        pytest.param("ARG BASE=node:20-alpine\nFROM $BASE\n", "node:20-alpine", id="plain"),
        pytest.param("ARG V=3.12\nFROM python:${V}-slim\n", "python:3.12-slim", id="inside"),
        pytest.param("ARG BASE\nFROM ${BASE}\n", None, id="no-default"),
        pytest.param("ARG BASE=a\nARG BASE=b\nFROM ${BASE}\n", None, id="two-declarations"),
        pytest.param("FROM ${BASE}\n", None, id="undeclared"),
    ],
)
def test_arg_defaults(text, image):
    d = doc(text)
    assert images.resolve_stage(d, d.stages[0]).image == image


def test_effective_user_follows_the_chain_and_lines():
    d = doc("FROM node:20 AS a\nUSER node\nFROM a\nUSER root\nRUN x\n")
    base = images.resolve_stage(d, d.stages[1])
    assert images.effective_user(base) == ("root", 4)
    assert images.effective_user(base, before_line=4) == ("node", 2)
    unknown = doc("FROM example.com/x\nRUN y\n")
    assert images.effective_user(images.resolve_stage(unknown, unknown.stages[0]))[0] == "?"


@pytest.mark.parametrize(
    "runs, distro",
    [
        pytest.param("RUN apt-get update && apt-get install -y x\n", "debian", id="apt-get"),
        pytest.param("RUN apk add --no-cache x\n", "alpine", id="apk"),
        pytest.param("RUN sudo apt-get install -y x\n", None, id="sudo-proves-nothing"),
        pytest.param("RUN apt-get install -y x\nRUN apk add y\n", None, id="contradiction"),
        pytest.param("RUN echo apt-getx\n", None, id="no-package-manager"),
    ],
)
def test_distro_from_runs(runs, distro):
    d = doc("FROM example.com/base\n" + runs)
    assert images.distro_from_runs(list(d.instructions)) == distro


@pytest.mark.parametrize(
    "text, drops",
    [
        pytest.param('FROM debian\nENTRYPOINT ["gosu", "app", "x"]\n', True, id="gosu-entrypoint"),
        pytest.param("FROM alpine\nCMD su-exec app x\n", True, id="su-exec-cmd"),
        pytest.param("FROM debian\nCMD setpriv --reuid=1000 x\n", True, id="setpriv"),
        pytest.param("FROM debian\nCMD chroot --userspec=1000 / x\n", True, id="chroot-userspec"),
        pytest.param("FROM debian\nRUN apt-get install -y gosu\nCMD x\n", True, id="installs-gosu"),
        pytest.param("FROM postgres:16\n", True, id="official-db"),
        pytest.param('FROM postgres:16\nENTRYPOINT ["/my-entry"]\n', False, id="db-entrypoint-replaced"),
        pytest.param('FROM debian\nCMD ["gosux"]\n', False, id="similar-name"),
        pytest.param("FROM debian\nCMD x\n", False, id="plain"),
    ],
)
def test_drops_privileges(text, drops):
    d = doc(text)
    assert (images.drops_privileges(images.resolve_stage(d, d.stages[-1])) is not None) is drops


def test_drops_privileges_reads_the_entrypoint_script(tmp_path):
    (tmp_path / "entry.sh").write_text("#!/bin/sh\nexec su-exec app \"$@\"\n")
    d = doc('FROM alpine\nCOPY entry.sh /usr/local/bin/entry.sh\nENTRYPOINT ["/usr/local/bin/entry.sh"]\n')
    assert "su-exec" in (images.drops_privileges(images.resolve_stage(d, d.stages[0]), tmp_path) or "")
    (tmp_path / "entry.sh").write_text("#!/bin/sh\nexec \"$@\"\n")
    assert images.drops_privileges(images.resolve_stage(d, d.stages[0]), tmp_path) is None


@pytest.mark.parametrize(
    "text, command",
    [
        pytest.param('FROM debian\nCMD ["cron", "-f"]\n', "cron", id="cron"),
        pytest.param("FROM debian\nCMD service nginx start && tail -f /dev/null\n", "service", id="service"),
        pytest.param('FROM debian\nCMD ["sh", "-c", "/usr/sbin/sshd -D"]\n', "/usr/sbin/sshd", id="sh-c-sshd"),
        pytest.param('FROM debian\nCMD ["cron"]\nCMD ["app"]\n', None, id="overridden"),
        pytest.param('FROM debian\nCMD ["app", "init"]\n', None, id="argument-not-command"),
    ],
)
def test_root_start_command(text, command):
    d = doc(text)
    assert images.root_start_command(list(d.instructions)) == (repr(command) if command else None)


@pytest.mark.parametrize(
    "script, command",
    [
        pytest.param("#!/bin/sh\nupdate-ca-certificates\nexec cron -f\n", "update-ca-certificates", id="ca-then-cron"),
        pytest.param("#!/bin/sh\n# cron is started by the host\nexec app\n", None, id="comment-only"),
        pytest.param("#!/bin/sh\nif [ \"$(id -u)\" = 0 ]; then chown -R app /data; fi\nexec app\n", None,
                     id="guarded-by-uid-check"),
        pytest.param("#!/bin/sh\nexec node server.js\n", None, id="plain-app"),
    ],
)
def test_root_start_command_reads_the_entrypoint_script(tmp_path, script, command):
    (tmp_path / "entry.sh").write_text(script)
    d = doc('FROM debian\nCOPY entry.sh /entry.sh\nENTRYPOINT ["/entry.sh"]\n')
    found = images.root_start_command(list(d.instructions), tmp_path)
    if command is None:
        assert found is None
    else:
        assert found == f"{command!r} (in its entrypoint script entry.sh)"


@pytest.mark.parametrize(
    "script, command",
    [
        pytest.param("import subprocess\nCA = 'update-ca-certificates'\nsubprocess.run([CA])\n",
                     "update-ca-certificates", id="constant-run-later"),
        pytest.param("import os\nos.system(\"apt-get install -y curl\")\n", "apt-get", id="os-system-with-args"),
        pytest.param("import os, subprocess\nif os.geteuid() == 0:\n    subprocess.run(['chown', 'app', '/d'])\n",
                     None, id="guarded-by-uid-check"),
        pytest.param("print('cron')\n", None, id="no-command-run"),
        pytest.param("import subprocess\nsubprocess.run(['git', 'status'])\nLOG = 'see mount docs'\n", None,
                     id="other-commands-and-prose"),
    ],
)
def test_root_start_command_reads_a_python_entrypoint(tmp_path, script, command):
    (tmp_path / "start.py").write_text(script)
    d = doc('FROM python:3.12-slim\nCOPY start.py /start.py\nENTRYPOINT ["/start.py"]\n')
    found = images.root_start_command(list(d.instructions), tmp_path)
    assert found == (f"{command!r} (run by its entrypoint script start.py)" if command else None)


def test_s6_overlay_init_must_start_as_root():
    text = ('FROM debian\nADD https://github.com/just-containers/s6-overlay/releases/download/v3.2.0.2/'
            's6-overlay-noarch.tar.xz /tmp\nENTRYPOINT ["/init"]\n')
    d = doc(text)
    assert "s6-overlay" in (images.drops_privileges(images.resolve_stage(d, d.stages[0])) or "")
    plain = doc('FROM debian\nCOPY init /init\nENTRYPOINT ["/init"]\n')  # an /init of its own: no evidence
    assert images.drops_privileges(images.resolve_stage(plain, plain.stages[0])) is None


@pytest.mark.parametrize(
    "image, port, health",
    [
        pytest.param("prom/prometheus:v3.1.0", 9090, True, id="prometheus"),
        pytest.param("prom/alertmanager:v0.28.0", 9093, False, id="alertmanager-no-9090-probe"),
        pytest.param("quay.io/prometheus/node-exporter:v1.8.2", 9100, False, id="node-exporter-no-9090-probe"),
    ],
)
def test_prometheus_family_has_its_own_ports_and_probes(image, port, health):
    """They once shared one entry and with it a health check on 9090 that only Prometheus serves."""
    info = images.lookup(image)
    assert info is not None and info.facts.ports == (port,)
    assert (info.facts.healthcheck is not None) == health


@pytest.mark.parametrize(("ref", "user", "distro", "shell"), [
    ("mcr.microsoft.com/dotnet/aspnet:8.0", "app:1654", "debian", True),
    ("mcr.microsoft.com/dotnet/sdk:10.0-noble", "app:1654", "ubuntu", True),
    ("mcr.microsoft.com/dotnet/runtime:9.0-alpine", "app:1654", "alpine", True),
    ("mcr.microsoft.com/dotnet/aspnet:8.0-jammy-chiseled", "app:1654", "distroless", False),
    ("mcr.microsoft.com/dotnet/aspnet", "app:1654", "debian", True),
    ("mcr.microsoft.com/dotnet/aspnet:6.0", None, "debian", True),
    ("mcr.microsoft.com/dotnet/runtime:7.0-bullseye-slim", None, "debian", True),
])
def test_dotnet_images_know_their_app_user(ref: str, user: str | None, distro: str, shell: bool) -> None:
    """.NET 8+ ships user app (1654); creating it again fails the build (dotnet/docs#35958)."""
    info = images.lookup(ref)
    assert info is not None and info.name in ("dotnet", "aspnet")
    have = None if info.nonroot_user is None else f"{info.nonroot_user.name}:{info.nonroot_user.uid}"
    assert (have, info.distro, info.shell) == (user, distro, shell)
