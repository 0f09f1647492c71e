"""The Node plan of split-build-stage: build with every dependency, ship production ones.

The builder runs the original steps (``npm ci``, ``npm run build``) and then
``npm prune --omit=dev`` (appended to the last RUN when the build ends with one):
prune removes the devDependencies in place, with no network and no lifecycle scripts,
where a second ``npm ci --omit=dev`` would download everything again and run
``prepare`` scripts without their devDependencies. The runtime image is the
``-slim`` variant of the same tag; it gets the app directory (sources, build output and
production node_modules) and already has the ``node`` user (1000).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from hardener.dockerfile.doc import DockerfileDoc, Stage
from hardener.dockerfile.shell import Command, commands
from hardener.dockerfile.shell_edit import append_command, ends_with_exit, has_option, program, subcommand
from hardener.dockerfile.workdir import working_dirs
from hardener.edits import Edit
from hardener.limits import read_bounded
from hardener.oci.imageref import ImageRef
from hardener.plans.split.common import (
    Plan,
    Steps,
    copy_outside,
    creates_user,
    final_workdir,
    literal_words,
    runtime_packages,
    write_outside,
)
from hardener.why import Why

_NPM_SUBS = frozenset({"ci", "install", "i", "run", "run-script", "prune", "cache", "config", "set", "audit", "rebuild"})
_CODENAMES = ("bookworm", "bullseye", "buster", "trixie")


def is_build(cmd: Command) -> bool:
    prog = program(cmd, ("npm",))
    if prog is not None:
        sub = subcommand(cmd, prog)
        return sub is not None and cmd.words[sub].value in _NPM_SUBS
    prog = program(cmd, ("node",))  # node build.js: a build script of the app
    return prog is not None and prog + 1 < len(cmd.words) and not cmd.words[prog + 1].value.startswith(("/", "-"))


def wants_split(ref: ImageRef, steps: Steps, stage: Stage) -> bool:
    """Worth it when the image is the full one, a build script runs, or build packages come in."""
    builds = any(_npm_sub(cmd) in ("run", "run-script") for _, cmd in steps.build)
    dropped = runtime_packages(steps.packages, "", steps.manager)
    return _runtime_tag(ref.tag) != ref.tag or builds or isinstance(dropped, Why) or bool(dropped[1])


def npm_lock_problem(context: Path, pinned: str) -> str | None:
    """Why the project's npm dependencies cannot be trusted to install the same way twice."""
    locks = {p.name for p in context.iterdir() if p.is_file()} if context.is_dir() else set()
    if locks & {"yarn.lock", "pnpm-lock.yaml"}:
        return "yarn and pnpm projects are not split yet"
    if not locks & {"package-lock.json", "npm-shrinkwrap.json"}:
        return f"no package-lock.json: {pinned} are not pinned"
    return None


def plan(doc: DockerfileDoc, stage: Stage, ref: ImageRef, steps: Steps, context: Path | None) -> Plan | Why:
    if ref.digest or not ref.is_official:
        return Why("only the official node image, by tag, has a known -slim runtime")
    tag = _runtime_tag(ref.tag)
    if tag is None:
        return Why(f"no -slim variant is known for node:{ref.tag or 'latest'} (pin a release tag such as 20)")
    if context is None:
        return Why("the build context is unknown: cannot read package.json")
    why = npm_lock_problem(context, "the production dependencies")
    if why:
        return Why(why)
    global_install = next((inst for inst, cmd in steps.build if _npm_sub(cmd) in ("install", "i")
                           and has_option(cmd.words, ("--global", "--location=global"), "g")), None)
    if global_install is not None:
        return Why(f"the npm install at line {global_install.line} is global; the runtime stage copies only the app directory")
    app = final_workdir(stage)
    cwd = working_dirs(doc)
    why = copy_outside(stage, cwd, app) or write_outside(steps, cwd, [app] if app else [])
    why = why or _dev_at_start(stage, context)
    if why:
        return Why(why)
    assert app is not None
    major = re.match(r"\d+", ref.tag or "")
    omit = "--production" if major and int(major.group()) < 16 else "--omit=dev"
    prune = f"npm prune {omit}"
    last = [i for i in stage.instructions if i.keyword in ("RUN", "COPY") and not creates_user(i.args)][-1]
    cmds = commands(last, doc.escape) if last.keyword == "RUN" else None
    inline: tuple[Edit, ...]
    tail: tuple[str, ...]
    if cmds and not ends_with_exit(cmds):  # one RUN more right after a RUN is hadolint DL3059
        inline, tail = (append_command(doc, last, cmds, prune),), ()
    else:
        inline, tail = (), (f"RUN {prune}",)
    return Plan("node", f"{ref.name_as_written}:{tag}", ((app, app),), builder_tail=tail, inline=inline,
                package_manager="apk" if "alpine" in tag else "apt", notes=(f"devDependencies pruned with {prune}",))


def _npm_sub(cmd: Command) -> str | None:
    prog = program(cmd, ("npm",))
    sub = subcommand(cmd, prog) if prog is not None else None
    return cmd.words[sub].value if sub is not None else None


def _runtime_tag(tag: str | None) -> str | None:
    if not tag or tag in ("latest", "current", "lts"):
        return None  # names no release: the slim image could be another Node
    if re.search(r"(^|-)(slim|alpine)", tag):
        return tag
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:-(\w+))?", tag)
    if match is None or (match.group(2) and match.group(2) not in _CODENAMES):
        return None
    return f"{tag}-slim"


def _dev_at_start(stage: Stage, context: Path) -> str | None:
    """The start command (or the npm script it runs) uses a devDependency that prune removes."""
    try:
        package = json.loads(read_bounded(context / "package.json"))
    except (OSError, ValueError):
        return "cannot read package.json"
    if not isinstance(package, dict):
        return "cannot read package.json"
    dev = set(package.get("devDependencies") or {})
    declared = package.get("scripts")
    scripts = declared if isinstance(declared, dict) else {}
    for inst in (i for i in stage.instructions if i.keyword in ("CMD", "ENTRYPOINT")):
        words = literal_words(inst)
        text = " ".join(words)
        for i, word in enumerate(words[:-1]):
            if word == "npm" or word.endswith("/npm"):
                name = words[i + 2] if words[i + 1] in ("run", "run-script") and i + 2 < len(words) else words[i + 1]
                text += " " + str(scripts.get(name, ""))
        hit = next((d for d in sorted(dev) if re.search(rf"(?<![\w@/.-]){re.escape(d)}(?![\w-])", text)), None)
        if hit:
            return f"the {inst.keyword} at line {inst.line} uses the devDependency {hit}, which npm prune removes"
    return None
