"""The generated workflow's shell steps, run here as GitHub's runner would run them.

Each `run:` step is executed with `bash --noprofile --norc -eo pipefail` (GitHub's default
shell) and the step's `env:` with `${{ matrix.* }}`, `${{ env.* }}` and `${{ github.sha }}`
evaluated. What cannot run here is replaced, and each replacement is said where it is made:
the Gitleaks release is served by a local HTTP server (no network), and `docker build` is
either a stand-in that checks the build with BuildKit's own Dockerfile parser (the
`dockerfile` package) or, in the lab test, buildah building the image for real.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from ci_helpers import make_repo as _repo
from ci_helpers import run_gate as _run
from ruamel.yaml import YAML

from hardener.ci.github import data
from hardener.model import Change

SHA = "0" * 40
# A repository whose gate must pass: a Compose build from the root with an arg from .env and a
# target, one built from its own directory, one that needs a prior build step (skipped), and a
# test fixture (not built). Every image is FROM scratch so that buildah needs no base image.
FIXTURE_REPO = {
    ".env": "BASE=scratch\n",
    "compose.yaml": "services:\n"
                    "  api:\n"
                    "    build:\n"
                    "      context: ./\n"
                    "      dockerfile: services/api/Dockerfile\n"
                    "      target: runtime\n"
                    "      args: [BASE]\n"
                    "  worker:\n"
                    "    build: ./worker\n",
    "services/api/Dockerfile": "ARG BASE\nFROM ${BASE} AS runtime\nCOPY services/api/app.txt shared/ /app/\n"
                               "FROM runtime AS debug\nCOPY debug-only.txt /debug/\n",
    "services/api/app.txt": "api\n",
    "shared/lib.txt": "lib\n",
    "worker/Dockerfile": "FROM scratch\nCOPY job.txt /job/\n",
    "worker/job.txt": "job\n",
    "web/Dockerfile": "FROM scratch\nCOPY dist/ /srv/\n",
    ".gitignore": "dist/\n",
    "tests/e2e/Dockerfile": "FROM scratch\nCOPY nothing-here /x\n",
}


def _workflow(root: Path) -> dict:
    findings = _run(root, "services/api/Dockerfile") + _run(root, "web/Dockerfile") + _run(root, "worker/Dockerfile")
    [change] = [f for f in findings if isinstance(f, Change)]
    return YAML(typ="safe").load(change.files[0].content.decode())


def _evaluate(value: str, matrix: dict[str, str], env: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        scope, name = match.group(1), match.group(2)
        if scope == "matrix":
            return str(matrix.get(name, ""))
        if scope == "env":
            return env[name]
        assert (scope, name) == ("github", "sha"), match.group(0)
        return SHA
    return re.sub(r"\$\{\{\s*(matrix|env|github)\.([\w-]+)\s*\}\}", one, str(value))


def _run_step(step: dict, cwd: Path, matrix: dict[str, str], env: dict[str, str], path: str,
              override: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = step["run"]
    assert "${{" not in script, "repository values reach scripts only through env:"
    step_env = {k: _evaluate(v, matrix, env) for k, v in step.get("env", {}).items()}
    full = {"PATH": path, "HOME": str(cwd), "RUNNER_TEMP": env["RUNNER_TEMP"], **env, **step_env, **(override or {})}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=cwd, env=full, capture_output=True, text=True, check=False, timeout=120)


def _step(job: dict, name_start: str) -> dict:
    return next(s for s in job["steps"] if str(s.get("name", "")).startswith(name_start))


# ---------------------------------------------------------------- the matrix and the builds

# Stands in for `docker build` (no Docker engine here): parses the Dockerfile with BuildKit's
# parser and fails as the build would: an ARG a FROM needs has no value, --target names no
# stage, or a COPY source is not in the context.
FAKE_DOCKER = r'''
import glob, os, re, sys
import dockerfile
args = sys.argv[1:]
assert args[0] == "build", args
opts, build_args, rest = {}, {}, args[1:]
while rest[0].startswith("--"):
    flag, value = rest[0], rest[1]
    rest = rest[2:]
    if flag == "--build-arg":
        k, _, v = value.partition("=")
        build_args[k] = v
    else:
        opts[flag] = value
[context] = rest
cmds = dockerfile.parse_file(opts["--file"])
stages, defaults = [], {}
for c in cmds:
    if c.cmd == "ARG" and not stages:
        name, _, default = c.value[0].partition("=")
        defaults[name] = build_args.get(name, default)
    if c.cmd == "FROM":
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), ""), c.value[0])
        if not base:
            sys.exit(f"FROM {c.value[0]}: base name should not be blank")
        stages.append((c.value[2].lower() if len(c.value) > 2 else None, []))
    elif stages:
        stages[-1][1].append(c)
target = opts.get("--target")
if target is not None and target not in [s[0] for s in stages]:
    sys.exit(f"target stage {target} could not be found")
upto = [s[0] for s in stages].index(target) + 1 if target else len(stages)
for _name, body in stages[:upto]:
    for c in body:
        if c.cmd in ("COPY", "ADD") and not any(f.startswith("--from") for f in c.flags):
            for src in c.value[:-1]:
                if not glob.glob(os.path.join(context, src)):
                    sys.exit(f"COPY {src}: not found in context {context}")
print("built", opts["--tag"], "from", opts["--file"], "in", context, sorted(build_args.items()), target)
'''


def _fake_docker(bin_dir: Path) -> None:
    script = bin_dir / "docker"
    script.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    script.chmod(0o755)


def test_matrix_is_what_compose_builds(tmp_path):
    matrix = _workflow(_repo(tmp_path, FIXTURE_REPO))["jobs"]["images"]["strategy"]["matrix"]["include"]
    assert [(e["dockerfile"], e["context"], e["args"], e["target"]) for e in matrix] == [
        ("services/api/Dockerfile", ".", "BASE=scratch", "runtime"),
        ("worker/Dockerfile", "worker", "", ""),
    ]


def test_every_build_step_passes(tmp_path):
    root = _repo(tmp_path / "repo", FIXTURE_REPO)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_docker(bin_dir)
    job = _workflow(root)["jobs"]["images"]
    runner = {"RUNNER_TEMP": str(tmp_path)}
    for entry in job["strategy"]["matrix"]["include"]:
        env = {**runner, **{k: _evaluate(v, entry, runner) for k, v in job["env"].items()}}
        result = _run_step(_step(job, "Build"), root, entry, env, f"{bin_dir}:{os.environ['PATH']}")
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"from {entry['dockerfile']} in {entry['context']}" in result.stdout


def test_the_stand_in_build_fails_where_docker_would(tmp_path):
    """The build check bites: the Dockerfile's own directory as context (the old matrix) fails."""
    root = _repo(tmp_path / "repo", FIXTURE_REPO)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_docker(bin_dir)
    job = _workflow(root)["jobs"]["images"]
    entry = {**job["strategy"]["matrix"]["include"][0], "context": "services/api"}
    env = {"RUNNER_TEMP": str(tmp_path), "IMAGE": "x"}
    result = _run_step(_step(job, "Build"), root, entry, env, f"{bin_dir}:{os.environ['PATH']}")
    assert result.returncode != 0 and "not found in context" in result.stderr
    no_args = {**job["strategy"]["matrix"]["include"][0], "args": ""}
    result = _run_step(_step(job, "Build"), root, no_args, env, f"{bin_dir}:{os.environ['PATH']}")
    assert result.returncode != 0 and "base name should not be blank" in result.stderr


@pytest.mark.lab
def test_every_image_builds_with_buildah(tmp_path):
    """`docker build` is buildah here (no Docker engine): the images are FROM scratch, so the
    build needs no base image and no network."""
    if shutil.which("buildah") is None or os.geteuid() != 0:
        pytest.skip("needs buildah and root")
    root = _repo(tmp_path / "repo", FIXTURE_REPO)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "docker"
    store = tmp_path / "store"
    shim.write_text(f'#!/bin/sh\n[ "$1" = build ] || exit 64\nshift\nexec buildah --root "{store}/root" '
                    f'--runroot "{store}/run" --storage-driver vfs bud --isolation chroot --pull=never "$@"\n')
    shim.chmod(0o755)
    job = _workflow(root)["jobs"]["images"]
    runner = {"RUNNER_TEMP": str(tmp_path)}
    for entry in job["strategy"]["matrix"]["include"]:
        env = {**runner, **{k: _evaluate(v, entry, runner) for k, v in job["env"].items()}}
        result = _run_step(_step(job, "Build"), root, entry, env, f"{bin_dir}:{os.environ['PATH']}")
        assert result.returncode == 0, result.stdout + result.stderr


def test_skipped_and_excluded_images_are_named(tmp_path):
    root = _repo(tmp_path, FIXTURE_REPO)
    findings = _run(root, "services/api/Dockerfile") + _run(root, "web/Dockerfile")
    [change] = [f for f in findings if isinstance(f, Change)]
    text = change.files[0].content.decode()
    assert "#   web/Dockerfile (context web): COPY dist/: not in the checkout" in text
    assert "tests/e2e" not in text


# ---------------------------------------------------------------- Gitleaks from its release


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def release(tmp_path):
    """A local stand-in for the GitHub release (no network): a tarball whose `gitleaks`
    records its arguments, served over HTTP."""
    served = tmp_path / "served"
    served.mkdir()
    body = b"#!/bin/sh\necho \"gitleaks $*\" > \"$RUNNER_TEMP/gitleaks.ran\"\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("gitleaks")
        info.size, info.mode = len(body), 0o755
        tar.addfile(info, io.BytesIO(body))
    (served / "gitleaks.tar.gz").write_bytes(buf.getvalue())
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(served)))  # type: ignore[misc]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/gitleaks.tar.gz", hashlib.sha256(buf.getvalue()).hexdigest()
    finally:
        server.shutdown()


def _secrets_job(tmp_path: Path) -> dict:
    return _workflow(_repo(tmp_path / "repo", FIXTURE_REPO))["jobs"]["secrets"]


def test_gitleaks_is_the_pinned_release_binary(tmp_path):
    job = _secrets_job(tmp_path)
    install = _step(job, "Install Gitleaks")
    binary = data()["binaries"]["gitleaks"]
    assert install["env"] == {"GITLEAKS_URL": binary["url"], "GITLEAKS_SHA256": binary["sha256"]}
    assert binary["url"].startswith("https://github.com/gitleaks/gitleaks/releases/download/v")
    assert re.fullmatch(r"[0-9a-f]{64}", binary["sha256"])
    assert not any("gitleaks-action" in str(s.get("uses", "")) for s in job["steps"])


def test_gitleaks_install_verifies_the_checksum_then_runs(tmp_path, release):
    url, digest = release
    root = tmp_path / "repo"
    job = _secrets_job(tmp_path)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    env = {"RUNNER_TEMP": str(runner_temp)}
    install = _run_step(_step(job, "Install Gitleaks"), root, {}, env, os.environ["PATH"],
                        {"GITLEAKS_URL": url, "GITLEAKS_SHA256": digest})
    assert install.returncode == 0, install.stdout + install.stderr
    scan = _run_step(_step(job, "Gitleaks"), root, {}, env, os.environ["PATH"])
    assert scan.returncode == 0, scan.stderr
    assert (runner_temp / "gitleaks.ran").read_text() == "gitleaks git --redact --no-banner --verbose .\n"


def test_gitleaks_install_refuses_a_binary_whose_checksum_differs(tmp_path, release):
    url, _digest = release
    job = _secrets_job(tmp_path)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    # the workflow's own digest (the real release's) does not match the stand-in tarball
    install = _run_step(_step(job, "Install Gitleaks"), tmp_path / "repo", {}, {"RUNNER_TEMP": str(runner_temp)},
                        os.environ["PATH"], {"GITLEAKS_URL": url})
    assert install.returncode != 0 and "FAILED" in install.stdout + install.stderr
    assert not (runner_temp / "gitleaks").exists()
