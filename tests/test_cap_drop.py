"""HD603 cap-drop."""
from __future__ import annotations

from pathlib import Path

import pytest
from compose_helpers import run_compose

from hardener.transforms.cap_drop import CapDrop


def run(tmp_path: Path, text: str, files: dict[str, str] | None = None,
        options: dict | None = None) -> tuple[str, list[str]]:
    return run_compose(tmp_path, CapDrop(), text, files, options)


REFUSE_UNKNOWN = {"cap-drop": {"unknown": "refuse"}}


def run_result(tmp_path: Path, text: str):
    from hardener.context import Context
    from hardener.engine import Options, process

    path = tmp_path / "compose.yaml"
    return process(str(path), "compose", text.encode(), [CapDrop()], Context(tmp_path).for_file(path), Options())


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            "services:\n  s:\n    image: redis:7\n",
            "services:\n  s:\n    image: redis:7\n    cap_drop:\n      - ALL\n    cap_add:\n      - SETGID\n      - SETUID\n",
            id="redis-block",
        ),
        pytest.param(
            "services:\n  s: {image: 'nginx:1.27'}\n",
            "services:\n  s: {image: 'nginx:1.27', cap_drop: [ALL], cap_add: [CHOWN, SETGID, SETUID, NET_BIND_SERVICE]}\n",
            id="nginx-flow",
        ),
        pytest.param(
            "services:\n  s:\n    image: grafana/grafana:11\n",
            "services:\n  s:\n    image: grafana/grafana:11\n    cap_drop:\n      - ALL\n",
            id="non-root-image-needs-none",
        ),
        pytest.param(
            "services:\n  s:\n    image: redis:7\n    cap_add:\n      - SETUID\n      - NET_ADMIN\n",
            "services:\n  s:\n    image: redis:7\n    cap_add:\n      - SETUID\n      - NET_ADMIN\n      - SETGID\n"
            "    cap_drop:\n      - ALL\n",
            id="merges-existing-cap-add-no-duplicates",
        ),
        pytest.param(
            "services:\n  s:\n    image: redis:7\n    cap_add: [CAP_SETUID, SETGID]\n",
            "services:\n  s:\n    image: redis:7\n    cap_add: [CAP_SETUID, SETGID]\n    cap_drop:\n      - ALL\n",
            id="cap-prefix-counts-as-present",
        ),
        pytest.param(
            "services:\n  s:\n    image: grafana/grafana:11\n    cap_drop: [NET_RAW]\n",
            "services:\n  s:\n    image: grafana/grafana:11\n    cap_drop: [NET_RAW, ALL]\n",
            id="partial-cap-drop-extended",
        ),
        pytest.param(
            "services:\r\n  s:\r\n    image: redis:7",
            "services:\r\n  s:\r\n    image: redis:7\r\n    cap_drop:\r\n      - ALL\r\n    cap_add:\r\n      - SETGID\r\n      - SETUID",
            id="crlf-no-final-newline",
        ),
    ],
)
def test_drops_capabilities(tmp_path, text, expected):
    assert run(tmp_path, text) == (expected, [])


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("services:\n  s:\n    image: postgres:16\n    cap_drop: [ALL]\n", id="already-all"),
        pytest.param("services:\n  s:\n    image: postgres:16\n    cap_drop:\n      - all\n", id="lowercase-all"),
        pytest.param("x-h: &h\n  cap_drop: [ALL]\nservices:\n  s:\n    <<: *h\n    image: redis:7\n", id="all-via-merge"),
    ],
)
def test_leaves_alone(tmp_path, text):
    assert run(tmp_path, text) == (text, [])


def test_built_non_root_gets_no_cap_add(tmp_path):
    files = {"app/Dockerfile": "FROM python:3.12-slim\nUSER 10001\n"}
    out, refusals = run(tmp_path, "services:\n  app:\n    build: ./app\n", files)
    assert (out, refusals) == ("services:\n  app:\n    build: ./app\n    cap_drop:\n      - ALL\n", [])


@pytest.mark.parametrize(
    "text, files, reason",
    [
        pytest.param("services:\n  s:\n    image: acme/thing\n", {}, "not in the knowledge base", id="unknown"),
        pytest.param("services:\n  s:\n    image: ${IMG}\n", {}, "comes from a variable", id="variable"),
        pytest.param("services:\n  s:\n    image: python:3.12\n", {}, "base image", id="base-image"),
        pytest.param("services:\n  s:\n    build: .\n", {"Dockerfile": "FROM python:3.12\n"}, "runs as root", id="built-root"),
        pytest.param("services:\n  s:\n    build: ./missing\n", {}, "cannot be read", id="built-missing"),
        pytest.param("services:\n  s:\n    build: .\n    user: root\n", {"Dockerfile": "FROM python:3.12\nUSER 1000\n"},
                     "`user:` is root", id="built-non-root-but-user-root"),
        pytest.param("services:\n  s:\n    image: redis:7\n    cap_add: [ALL]\n", {}, "cap_add: [ALL]", id="cap-add-all"),
        pytest.param("x-a: &a\n  cap_add: [NET_ADMIN]\nservices:\n  s:\n    <<: *a\n    image: redis:7\n", {},
                     "shared anchor", id="cap-add-from-anchor"),
        pytest.param("services:\n  a: &a\n    image: redis:7\n  b: *a\n", {}, "alias", id="alias-service"),
        pytest.param("services:\n  a: &a\n    image: redis:7\n  b:\n    <<: *a\n    image: acme/x:1\n", {},
                     "merged into b", id="service-anchor-merged-differs"),
        pytest.param("db:\n  image: redis:3\n", {}, "legacy v1", id="legacy-v1"),
    ],
)
def test_refuses(tmp_path, text, files, reason):
    out, refusals = run(tmp_path, text, files, REFUSE_UNKNOWN)
    assert any(reason in r for r in refusals), refusals


DEFAULT_SET = "    cap_drop:\n      - ALL\n    cap_add:\n" + "".join(
    f"      - {c}\n" for c in ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                                "SETGID", "SETPCAP", "SETUID"))


@pytest.mark.parametrize(
    "text, files, why",
    [
        pytest.param("services:\n  s:\n    image: acme/thing\n", {}, "not in the knowledge base", id="unknown"),
        pytest.param("services:\n  s:\n    image: ${IMG}\n", {}, "comes from a variable", id="variable"),
        pytest.param("services:\n  s:\n    image: python:3.12\n", {}, "base image", id="base-image"),
        pytest.param("services:\n  s:\n    build: ./missing\n", {}, "cannot be read", id="built-missing"),
    ],
)
def test_unknown_needs_keep_the_runtime_default_set(tmp_path, text, files, why):
    """What the service needs is unknown: it keeps CRI-O's default set and loses the five
    capabilities Docker adds on top (NET_RAW, MKNOD, ...), with a reason saying so."""
    out, refusals = run(tmp_path, text, files)
    assert out == text + DEFAULT_SET and refusals == []
    reasons = [c.reason for c in run_result(tmp_path, text).changes]
    assert len(reasons) == 1 and why in reasons[0] and "NET_RAW" in reasons[0], reasons


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("services:\n  s:\n    image: acme/thing\n    cap_add: [NET_RAW]\n",
                     "services:\n  s:\n    image: acme/thing\n    cap_add: [NET_RAW, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, "
                     "NET_BIND_SERVICE, SETGID, SETPCAP, SETUID]\n    cap_drop:\n      - ALL\n",
                     id="own-cap-add-kept"),
        pytest.param("services:\n  s:\n    image: acme/thing\n    cap_drop: [SETUID, KILL]\n",
                     "services:\n  s:\n    image: acme/thing\n    cap_drop: [SETUID, KILL, ALL]\n    cap_add:\n"
                     "      - CHOWN\n      - DAC_OVERRIDE\n      - FOWNER\n      - FSETID\n      - NET_BIND_SERVICE\n"
                     "      - SETGID\n      - SETPCAP\n",
                     id="dropped-caps-stay-dropped"),
        pytest.param("services:\n  s:\n    image: redis:7\n    cap_drop: [SETUID]\n",
                     "services:\n  s:\n    image: redis:7\n    cap_drop: [SETUID, ALL]\n    cap_add:\n      - SETGID\n",
                     id="known-image-dropped-cap-not-re-granted"),
    ],
)
def test_existing_settings_are_respected(tmp_path, text, expected):
    assert run(tmp_path, text) == (expected, [])


def test_windows_image_is_refused_even_with_the_fallback(tmp_path):
    text = "services:\n  s:\n    image: mcr.microsoft.com/windows/servercore:ltsc2022\n"
    out, refusals = run(tmp_path, text)
    assert out == text and any("Windows" in r for r in refusals), refusals


def test_sys_admin_reported_but_hardened(tmp_path):
    out, refusals = run(tmp_path, "services:\n  s:\n    image: grafana/grafana:11\n    cap_add: [SYS_ADMIN]\n")
    assert "cap_drop:\n      - ALL\n" in out and any("SYS_ADMIN" in r for r in refusals)


@pytest.mark.parametrize(
    "image, expected",
    [
        pytest.param("postgres:${PG_VERSION}", "postgres", id="tag-variable"),
        pytest.param("postgres:${PG_VERSION:-16}-alpine", "postgres", id="tag-variable-with-default"),
        pytest.param("registry.local:5000/team/api:$TAG", "registry.local:5000/team/api", id="registry-port"),
        pytest.param("${REGISTRY}/postgres:16", None, id="name-variable"),
        pytest.param("${IMG}", None, id="whole-variable"),
        pytest.param("${IMG:-postgres}", None, id="whole-variable-with-default"),
        pytest.param("registry:${PORT}/app", None, id="port-variable"),
        pytest.param("postgres:16", None, id="no-variable"),
    ],
)
def test_literal_repository(image, expected):
    from hardener.compose.service_image import literal_repository

    assert literal_repository(image) == expected


def test_tag_from_a_variable_uses_the_repository_facts(tmp_path):
    """Only the tag is a variable: capabilities belong to the repository, so it is hardened."""
    text = "services:\n  s:\n    image: redis:${REDIS_VERSION:-7}\n"
    out, refusals = run(tmp_path, text)
    assert refusals == [] and out == text + "    cap_drop:\n      - ALL\n    cap_add:\n      - SETGID\n      - SETUID\n"
    out, refusals = run(tmp_path, "services:\n  s:\n    image: ${REGISTRY}/redis:7\n", options=REFUSE_UNKNOWN)
    assert any("comes from a variable" in r for r in refusals)


@pytest.mark.parametrize(
    "service, keeps_raw",
    [
        pytest.param("    image: alpine:3.20\n    command: ping localhost -c 1\n", True, id="ping-command"),
        pytest.param("    image: acme/probe:1\n    healthcheck:\n      test: [\"CMD-SHELL\", \"ping -c1 gw || exit 1\"]\n",
                     True, id="ping-healthcheck"),
        pytest.param("    image: alpine:3.20\n    command: [\"sh\", \"-c\", \"sleep 1 && /usr/sbin/tcpdump -i any\"]\n",
                     True, id="tcpdump-in-sh-c"),
        pytest.param("    image: alpine:3.20\n    command: sleep infinity\n", False, id="sleep"),
    ],
)
def test_unknown_needs_keep_net_raw_for_raw_socket_tools(tmp_path, service, keeps_raw):
    """ping, tcpdump … open raw sockets: with the runtime-default set they keep NET_RAW."""
    text = "services:\n  s:\n" + service
    out, _ = run(tmp_path, text)
    assert ("- NET_RAW" in out) == keeps_raw, out


@pytest.mark.parametrize(
    "text, note",
    [
        pytest.param("services:\n  base:\n    image: redis:7\n  web:\n    extends: base\n", "extends 'base', which",
                     id="same-file-string"),
        pytest.param("services:\n  web:\n    extends:\n      file: common.yml\n      service: app\n",
                     "extends 'app' in common.yml", id="other-file"),
    ],
)
def test_extending_service_points_at_the_service_it_extends(tmp_path, text, note):
    """Compose merges the extended service (hardening included) into this one: the image and
    the place to edit are there, so this service gets no change of its own."""
    out, refusals = run(tmp_path, text)
    assert "  web:\n    extends" in out and not out.split("  web:")[1].count("cap_drop")
    assert any(note in r for r in refusals), refusals


@pytest.mark.parametrize(
    "service, capless",
    [
        pytest.param("    image: alpine\n    command: sleep infinity\n", True, id="sleep-infinity"),
        pytest.param("    image: alpine\n    command: tail -f /dev/null\n", True, id="tail-dev-null"),
        pytest.param("    image: acme/x:1\n    command: [\"sh\", \"-c\", \"echo hi && sleep 30\"]\n", True, id="echo-sleep"),
        pytest.param("    image: alpine\n    command: cat /run/secrets/bar\n", False, id="cat-may-read-others-files"),
        pytest.param("    image: alpine\n    command: tail -f /var/log/app.log\n", False, id="tail-of-a-file"),
        pytest.param("    image: alpine\n    command: sleep infinity\n    healthcheck:\n      test: [\"CMD\", \"/check\"]\n",
                     False, id="health-check-runs-more"),
        pytest.param("    image: alpine\n", False, id="default-command"),
    ],
)
def test_idle_commands_need_no_capability(tmp_path, service, capless):
    text = "services:\n  s:\n" + service
    out, _ = run(tmp_path, text)
    assert "cap_drop:\n      - ALL\n" in out
    assert ("cap_add" not in out) == capless, out


@pytest.mark.parametrize(
    "service, keeps_raw",
    [
        pytest.param("    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]\n", False, id="redis-cli-ping-exec"),
        pytest.param("    healthcheck:\n      test: redis-cli -h localhost ping\n", False, id="redis-cli-ping-string"),
        pytest.param("    healthcheck:\n      test: [\"CMD-SHELL\", \"wget -qO- http://localhost/ping || exit 1\"]\n",
                     False, id="wget-url-ending-in-ping"),
        pytest.param("    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -f http://localhost:8080/ping\"]\n",
                     False, id="curl-url-ending-in-ping"),
        pytest.param("    command: [\"sh\", \"-c\", \"echo ping | nc db 6379\"]\n", False, id="ping-as-echo-argument"),
        pytest.param("    healthcheck:\n      test: [\"CMD\", \"/bin/ping\", \"-c1\", \"db\"]\n", True, id="ping-by-path-exec"),
        pytest.param("    healthcheck:\n      test: ping -c1 db\n", True, id="ping-string-form"),
        pytest.param("    healthcheck:\n      test: [\"CMD-SHELL\", \"sudo -u probe fping db || exit 1\"]\n",
                     True, id="fping-after-sudo"),
        pytest.param("    healthcheck:\n      test: [\"CMD-SHELL\", \"test -f /ok && exec arping -c1 gw\"]\n",
                     True, id="arping-after-and-exec"),
        pytest.param("    command: [\"sh\", \"-c\", \"env A=1 timeout 5 mtr -r gw; sleep 60\"]\n", True, id="env-timeout-prefix"),
        pytest.param("    healthcheck:\n      test: [\"NONE\"]\n", False, id="healthcheck-none"),
    ],
)
def test_net_raw_only_for_raw_socket_programs(tmp_path, service, keeps_raw):
    """NET_RAW is kept for a raw-socket tool run as a program (argv[0], after a path, a prefix such
    as sudo/exec/env or a list operator), never for `ping` as an argument or inside a URL."""
    out, _ = run(tmp_path, "services:\n  s:\n    image: acme/probe:1\n" + service)
    assert "cap_drop" in out and ("- NET_RAW" in out) == keeps_raw, out


@pytest.mark.parametrize("value", ["true", "yes", "'true'", "${PRIVILEGED:-false}"])
def test_privileged_service_gets_no_cap_drop(tmp_path, value):
    """Docker ignores cap_drop on a privileged container: adding it would be false assurance."""
    text = f"services:\n  s:\n    image: redis:7\n    privileged: {value}\n"
    out, refusals = run(tmp_path, text)
    assert out == text
    assert any("Docker ignores cap_drop" in r and "HD602" in r for r in refusals), refusals


def test_unprivileged_service_still_dropped(tmp_path):
    out, _ = run(tmp_path, "services:\n  s:\n    image: redis:7\n    privileged: false\n")
    assert "cap_drop" in out


TWO_STAGES = "FROM node:20 AS development\nCMD [\"npm\", \"run\", \"dev\"]\n\nFROM development AS prod\nUSER 1000:1000\n"


@pytest.mark.parametrize(
    "build, expected",
    [
        pytest.param("build: .", "drops-all", id="no-target-final-stage"),
        pytest.param("build:\n      context: .\n      target: prod", "drops-all", id="target-non-root-stage"),
        pytest.param("build:\n      context: .\n      target: development", "refused", id="target-root-stage"),
        pytest.param("build:\n      context: .\n      target: Development", "refused", id="target-case-insensitive"),
        pytest.param("build:\n      context: .\n      target: missing", "runtime-default", id="target-unknown"),
    ],
)
def test_built_service_reads_the_stage_its_target_builds(tmp_path, build, expected):
    """`target:` picks the stage Compose runs: its user decides, not the last stage's."""
    text = f"services:\n  s:\n    {build}\n"
    out, refusals = run(tmp_path, text, {"Dockerfile": TWO_STAGES})
    if expected == "refused":
        assert out == text and any("its `target:` builds runs as root" in r for r in refusals), refusals
    else:
        assert "cap_drop:\n      - ALL\n" in out and ("- CHOWN" in out) == (expected == "runtime-default"), out
