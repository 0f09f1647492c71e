"""HD608 run-snippet: the hardened `docker run` line for a Dockerfile no Compose file builds."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.report import Mode, Report
from hardener.transforms.run_snippet import RunSnippet

NODE = "FROM node:20-alpine\nWORKDIR /app\nCOPY . .\nUSER node\nEXPOSE 3000\nCMD [\"node\", \"index.js\"]\n"
TAIL = "--security-opt no-new-privileges:true"


def snippets(root: Path, dockerfile: str, files: dict[str, str] | None = None,
             rel: str = "Dockerfile") -> list[tuple[int, str]]:
    for name, content in {**(files or {}), rel: dockerfile}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    ctx = Context(root).for_file(root / rel)
    result = process(rel, "dockerfile", dockerfile.encode(), [RunSnippet()], ctx, Options())
    assert result.error is None and result.failure is None and not result.changed  # report only
    return [(r.line, r.reason) for r in result.refusals]


def line_of(root: Path, dockerfile: str, **kwargs: object) -> str:
    [(_line, reason)] = snippets(root, dockerfile, **kwargs)  # type: ignore[arg-type]
    return reason.split("run it hardened with: ", 1)[1]


@pytest.mark.parametrize("dockerfile, expect", [
    pytest.param(NODE, f"docker run --rm --user 1000:1000 --cap-drop=ALL --read-only --tmpfs /tmp {TAIL} "
                       "-p 127.0.0.1:3000:3000 app", id="image-user-as-uid-gid"),
    pytest.param("FROM python:3.12-slim\nUSER 10001:10001\nCMD [\"python\"]\n",
                 f"docker run --rm --user 10001:10001 --cap-drop=ALL --read-only --tmpfs /tmp {TAIL} app",
                 id="numeric-user-as-written"),
    pytest.param("FROM python:3.12-slim\nRUN useradd -r appuser\nUSER appuser\n",
                 f"docker run --rm --user appuser --cap-drop=ALL --read-only --tmpfs /tmp {TAIL} app",
                 id="named-user-the-image-resolves"),
    pytest.param("ARG UID=4242\nFROM python:3.12-slim\nUSER $UID\n",
                 f"docker run --rm --user 4242 --cap-drop=ALL --read-only --tmpfs /tmp {TAIL} app",
                 id="user-from-arg-default"),
    pytest.param("FROM gcr.io/distroless/static-debian12:nonroot\nCOPY app /app\nENTRYPOINT [\"/app\"]\n",
                 f"docker run --rm --user 65532:65532 --cap-drop=ALL --read-only --tmpfs /tmp {TAIL} app",
                 id="image-that-runs-non-root-without-user"),
    pytest.param("FROM nginx:1.27\nCOPY site /usr/share/nginx/html\nEXPOSE 80\n",
                 "docker run --rm --cap-drop=ALL --cap-add=CHOWN --cap-add=SETGID --cap-add=SETUID "
                 "--cap-add=NET_BIND_SERVICE --read-only --tmpfs /tmp --tmpfs /var/cache/nginx --tmpfs /var/run "
                 f"{TAIL} -p 127.0.0.1:80:80 app", id="root-nginx-gets-kb-caps-and-scratch-tmpfs"),
    pytest.param("FROM nginxinc/nginx-unprivileged:1.27\nEXPOSE 8080\n",
                 f"docker run --rm --user 101:101 --cap-drop=ALL --read-only --tmpfs /tmp --tmpfs /var/cache/nginx "
                 f"{TAIL} -p 127.0.0.1:8080:8080 app", id="unprivileged-nginx"),
    pytest.param("FROM redis:7.2\nCOPY redis.conf /usr/local/etc/redis/\n",
                 "docker run --rm --cap-drop=ALL --cap-add=SETGID --cap-add=SETUID --read-only --tmpfs /tmp "
                 f"-v app-data:/data {TAIL} app", id="data-path-gets-a-named-volume"),
    pytest.param("FROM redis:7.2\nVOLUME /data\n",
                 f"docker run --rm --cap-drop=ALL --cap-add=SETGID --cap-add=SETUID --read-only --tmpfs /tmp {TAIL} app",
                 id="data-path-on-a-volume-already"),
])
def test_the_line(tmp_path, dockerfile, expect):
    assert line_of(tmp_path, dockerfile) == expect


def test_user_flag_matches_what_the_kb_says(tmp_path):
    """Sanity check on the KB the test above relies on (nginx-unprivileged runs as 101)."""
    from hardener.knowledge import images

    assert images.lookup("nginxinc/nginx-unprivileged:1.27").runs_as == "101:101"


@pytest.mark.parametrize("dockerfile, note, flag_absent", [
    pytest.param("FROM python:3.12-slim\nCMD [\"python\"]\n", "runs as root (no USER): run-as-non-root (HD201) adds a USER",
                 "--user", id="root-without-user"),
    pytest.param("FROM python:3.12-slim\nUSER root\n", "runs as root (USER root on line 2)", "--user", id="explicit-root"),
    pytest.param("FROM nginx:1.27\n", "build on nginxinc/nginx-unprivileged or add a USER", "--user",
                 id="root-with-unprivileged-variant"),
    pytest.param("FROM example.com/unknown:1\nCMD [\"x\"]\n", "its user is not known (the base image "
                 "'example.com/unknown:1' is not in the knowledge base): no --user", "--user", id="unknown-user"),
    pytest.param("FROM python:3.12-slim\nENV U=app\nUSER $U\n", "its user is not known (USER $U on line 3 comes "
                 "from a variable): no --user", "--user", id="user-from-env-variable"),
    pytest.param("FROM python:3.12-slim\nUSER 1000\nENTRYPOINT [\"gosu\", \"app\", \"run\"]\n",
                 "it starts as root because its ENTRYPOINT", "--user", id="switches-users-itself"),
    pytest.param("FROM python:3.12-slim\nCMD [\"python\"]\n", "the capabilities it needs as root are not known",
                 "--cap-add=NET_RAW", id="root-base-image-caps-unknown"),
    pytest.param(NODE.replace("EXPOSE 3000", "EXPOSE $PORT"), "EXPOSE $PORT (line 5) is not a literal port",
                 "-p ", id="exposed-port-from-variable"),
])
def test_notes_when_unsure(tmp_path, dockerfile, note, flag_absent):
    [(_line, reason)] = snippets(tmp_path, dockerfile)
    assert note in reason
    assert flag_absent not in reason.split("run it hardened with: ", 1)[1]


@pytest.mark.parametrize("expose, flags", [
    pytest.param("EXPOSE 80 443", "-p 127.0.0.1:80:80 -p 127.0.0.1:443:443", id="two-ports"),
    pytest.param("EXPOSE 53/udp 53/tcp", "-p 127.0.0.1:53:53/udp -p 127.0.0.1:53:53", id="protocols"),
    pytest.param("EXPOSE 8000-8002", "-p 127.0.0.1:8000-8002:8000-8002", id="range"),
    pytest.param("EXPOSE 80\nEXPOSE 80", "-p 127.0.0.1:80:80 app", id="duplicate-once"),
])
def test_ports_bound_to_localhost(tmp_path, expose, flags):
    dockerfile = f"ARG P=9000\nFROM python:3.12-slim\nUSER 1000\n{expose}\n"
    assert line_of(tmp_path, dockerfile).endswith(f"{TAIL} {flags}" + ("" if flags.endswith(" app") else " app"))


def test_port_from_arg_default(tmp_path):
    assert "-p 127.0.0.1:9000:9000" in line_of(tmp_path, "ARG P=9000\nFROM python:3.12-slim\nUSER 1\nEXPOSE $P\n")


@pytest.mark.parametrize("files, rel, reported", [
    pytest.param({"compose.yaml": "services:\n  a:\n    build: .\n"}, "Dockerfile", False, id="built-by-scalar-build"),
    pytest.param({"compose.yaml": "services:\n  a:\n    build:\n      context: .\n      dockerfile: svc/Dockerfile\n"},
                 "svc/Dockerfile", False, id="built-by-mapping-build"),
    pytest.param({"deploy/compose.yaml": "services:\n  a:\n    build: ../svc\n"}, "svc/Dockerfile", False,
                 id="built-from-another-folder"),
    pytest.param({"compose.yaml": "services:\n  a:\n    build: ./other\n"}, "Dockerfile", True, id="compose-builds-another"),
    pytest.param({"compose.yaml": "services:\n  a:\n    image: node:20\n"}, "Dockerfile", True, id="compose-without-build"),
    pytest.param({"compose.yaml": "services:\n  a:\n    build: ${CTX}\n"}, "svc/Dockerfile", False,
                 id="variable-build-may-use-it"),
    pytest.param({"other/compose.yaml": "services:\n  a:\n    build: ${CTX}\n"}, "svc/Dockerfile", True,
                 id="variable-build-in-a-sibling-folder"),
    pytest.param({}, "svc/Dockerfile", True, id="no-compose-at-all"),
])
def test_only_dockerfiles_no_compose_builds(tmp_path, files, rel, reported):
    assert bool(snippets(tmp_path, NODE, files, rel)) is reported


@pytest.mark.parametrize("dockerfile", [
    pytest.param("# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n", id="windows-escape"),
    pytest.param("FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCMD [\"cmd\"]\n", id="windows-base"),
    pytest.param("FROM golang:1.22 AS b\nRUN go build -o /x .\nFROM scratch\nCOPY --from=b /x /x\n", id="scratch-artifact"),
])
def test_leaves_alone(tmp_path, dockerfile):
    assert snippets(tmp_path, dockerfile) == []


def test_scratch_with_a_command_is_runnable(tmp_path):
    dockerfile = "FROM golang:1.22 AS b\nRUN go build -o /x .\nFROM scratch\nCOPY --from=b /x /x\nUSER 65532\nENTRYPOINT [\"/x\"]\n"
    [(line, reason)] = snippets(tmp_path, dockerfile)
    assert line == 3 and "--user 65532" in reason


def test_on_the_final_stage_and_its_chain(tmp_path):
    dockerfile = "FROM node:20-alpine AS base\nUSER node\nEXPOSE 3000\n\nFROM base\nCMD [\"node\"]\n"
    [(line, reason)] = snippets(tmp_path, dockerfile)
    assert line == 5 and "--user 1000:1000" in reason and "-p 127.0.0.1:3000:3000" in reason


@pytest.mark.parametrize("rel, tag", [
    pytest.param("Dockerfile", "app", id="root"),
    pytest.param("services/api/Dockerfile", "services-api", id="folder"),
    pytest.param("api/Dockerfile.prod", "api-prod", id="suffix"),
])
def test_image_name_from_the_path(tmp_path, rel, tag):
    assert line_of(tmp_path, NODE, rel=rel).endswith(f"3000:3000 {tag}")


def test_markdown_shows_the_line_as_a_code_block(tmp_path):
    from hardener.output import markdown as output_markdown

    root = tmp_path
    (root / "Dockerfile").write_text(NODE)
    result = process("Dockerfile", "dockerfile", NODE.encode(), [RunSnippet()],
                     Context(root).for_file(root / "Dockerfile"), Options())
    body = output_markdown.render(Report(Mode.DIFF, results=[result]))
    assert "no Compose file runs this image; run it hardened with:\n\n  ```sh\n  docker run --rm --user 1000:1000" in body


def test_markdown_leaves_other_refusals_as_text():
    from hardener.output.markdown import _with_command

    assert _with_command("the image 'x' is not in the knowledge base") == "the image 'x' is not in the knowledge base"


def test_root_image_with_unknown_needs_keeps_the_runtime_default_set(tmp_path):
    """The same set cap-drop (HD603) gives a Compose service whose needs are unknown."""
    [(_line, reason)] = snippets(tmp_path, "FROM python:3.12-slim\nCMD [\"python\"]\n")
    line = reason.split("run it hardened with: ", 1)[1]
    assert "--cap-drop=ALL --cap-add=CHOWN --cap-add=DAC_OVERRIDE --cap-add=FOWNER --cap-add=FSETID --cap-add=KILL " \
           "--cap-add=NET_BIND_SERVICE --cap-add=SETGID --cap-add=SETPCAP --cap-add=SETUID --read-only" in line
