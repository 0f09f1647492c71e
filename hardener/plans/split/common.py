"""Split one build stage into a builder and a runtime stage: the parts every ecosystem shares.

An ecosystem module (``stage_split_go``, ``_python``, ``_node``) reads the stage and returns
a ``Plan`` (runtime image, artifacts to copy, lines to add) or a refusal reason;
``stage_split_render.render`` turns the plan into one edit over the stage. Here: what the
stage's RUNs do (``read_steps``), which packages only the build needs (data in
build_packages.toml), and checks every ecosystem shares.
"""
from __future__ import annotations

import fnmatch
import functools
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.dockerfile.shell import Command, commands
from hardener.dockerfile.shell_edit import program, subcommand
from hardener.dockerfile.workdir import join_workdir
from hardener.edits import Edit
from hardener.knowledge import images
from hardener.why import Why

BUILDER = "build"
RUNTIME_ONLY = frozenset({"LABEL", "EXPOSE", "VOLUME", "HEALTHCHECK", "CMD", "ENTRYPOINT", "STOPSIGNAL"})
BOTH = frozenset({"ARG", "ENV", "WORKDIR", "USER", "SHELL"})
KNOWN = RUNTIME_ONLY | BOTH | {"FROM", "RUN", "COPY"}
USER_TOOLS = ("groupadd", "useradd", "addgroup", "adduser")
_HARMLESS = ("rm", "echo", "true", "set", "ls", "cd", "printf", "update-ca-certificates")  # builder-only effect
_FS = ("mkdir", "chown", "chmod", "touch", "ln", "cp", "mv", "git", "curl", "wget")  # writes that must land
# under a copied path (git clone, curl -o and wget download into the build)
_APT_OPTS = ("-o", "-c", "-t", "--option", "--config-file", "--target-release", "--default-release")
_APK_OPTS = ("-t", "--virtual", "-X", "--repository", "--root", "-p")


@functools.lru_cache(maxsize=1)
def data() -> Mapping[str, Any]:
    text = resources.files("hardener").joinpath("data/build_packages.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class Plan:
    ecosystem: str
    runtime_base: str
    artifacts: tuple[tuple[str, str], ...]  # (path in the builder, path in the runtime)
    builder_head: tuple[str, ...] = ()  # instructions right after the builder's FROM
    builder_tail: tuple[str, ...] = ()  # instructions after the builder's last build step
    runtime_head: tuple[str, ...] = ()  # instructions right after the runtime's FROM
    inline: tuple[Edit, ...] = ()  # small edits inside builder instructions (doc offsets)
    runtime_packages: tuple[str, ...] = ()
    package_manager: str = "apt"
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Steps:
    """What the stage's RUNs do, as far as the split cares."""

    packages: tuple[str, ...]  # every package apt-get/apk installs
    manager: str | None  # apt | apk
    build: tuple[tuple[Instruction, Command], ...]  # the ecosystem's own build commands
    writes: tuple[tuple[Instruction, str, str], ...] = ()  # (RUN, program, path) builder-only RUNs write


def read_steps(doc: DockerfileDoc, stage: Stage, is_build: Callable[[Command], bool]) -> Steps | Why:
    """Classify every RUN command, or say which one the split cannot account for."""
    packages: list[str] = []
    managers: set[str] = set()
    build: list[tuple[Instruction, Command]] = []
    writes: list[tuple[Instruction, str, str]] = []
    for inst in (i for i in stage.instructions if i.keyword == "RUN"):
        cmds = commands(inst, doc.escape)
        if not cmds or inst.flags:
            why = "has flags" if inst.flags else "is not plain shell hardener can split"
            return Why(f"the RUN at line {inst.line} {why}")
        kinds: list[str] = []
        paths: list[tuple[str, str]] = []
        for cmd in cmds:
            kind = _kind(cmd, is_build, packages, managers)
            if kind is None:
                return Why(f"the RUN at line {inst.line} runs `{_name(cmd)}`: hardener cannot tell whether the "
                           "runtime needs what it does")
            kinds.append(kind)
            if kind == "build":
                build.append((inst, cmd))
            paths += [(_name(cmd), p) for p in _written(cmd, kind)]
        if "user" in kinds:
            if any(k not in ("user", "harmless", "fs") for k in kinds):
                return Why(f"the RUN at line {inst.line} creates a user and also builds: split it by hand")
            continue  # a user-creating RUN is copied into the runtime stage as it is
        if any(_name(c) == "chown" for c in cmds):
            return Why(f"the chown in the RUN at line {inst.line} would be lost: COPY --from makes files root-owned")
        if any(_name(c) == "cd" for c in cmds) and any(not p.startswith("/") for _, p in paths):
            return Why(f"the RUN at line {inst.line} changes directory with cd and then writes relative paths")
        writes += [(inst, name, p) for name, p in paths]
    if len(managers) > 1:
        return Why("the stage uses both apt-get and apk")
    return Steps(tuple(packages), managers.pop() if managers else None, tuple(build), tuple(writes))


def _name(cmd: Command) -> str:
    i = cmd.program_index()
    return cmd.words[i].value.rsplit("/", 1)[-1] if i < len(cmd.words) else "?"


def _written(cmd: Command, kind: str) -> list[str]:
    """Paths a command writes that the runtime may need (a builder-only write is lost)."""
    out = [r.value for r in cmd.redirects if ">" in r.raw and r.value not in ("/dev/null", "&1", "&2", "1", "2")]
    if kind != "fs":
        return out
    name, i = _name(cmd), cmd.program_index()
    words = [w.value for w in cmd.words[i + 1 :]]
    args = [w for w in words if not w.startswith("-")]
    if name in ("git", "curl", "wget"):
        return out + _fetched(name, words, args)
    if name == "chmod":
        return out  # a mode change: the runtime needs the file only if it is copied, and then gets the mode
    if name == "chown":
        return out + args[1:]
    return out + (args[-1:] if name in ("cp", "mv", "ln") else args)


def _fetched(name: str, words: list[str], args: list[str]) -> list[str]:
    """Where git clone, curl -o and wget put what they download ("." = the working directory)."""
    if name == "git":
        if args[:1] != ["clone"]:
            return ["."]  # checkout, submodule …: they change the work tree
        return [args[-1] if len(args) > 2 else args[-1].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")]
    flag = ("-o", "--output") if name == "curl" else ("-O", "--output-document")
    short = flag[0][1]  # also at the end of a cluster: curl -fsSLo FILE
    target = next((words[n + 1] for n, w in enumerate(words[:-1])
                   if w == flag[1] or (w.startswith("-") and not w.startswith("--") and w.endswith(short))), None)
    target = target or next((w.split("=", 1)[1] for w in words if w.startswith(flag[1] + "=")), None)
    if target is None and name == "wget":
        target = "."  # the URL's basename, in the working directory
    return [target] if target and target != "-" else []


def _kind(cmd: Command, is_build: Callable[[Command], bool], packages: list[str], managers: set[str]) -> str | None:
    if not cmd.words:
        return "harmless"
    if program(cmd, USER_TOOLS) is not None:
        return "user"
    for names, manager, opts, verb in ((("apt-get", "apt"), "apt", _APT_OPTS, "install"),
                                       (("apk",), "apk", _APK_OPTS, "add")):
        prog = program(cmd, names)
        if prog is None:
            continue
        sub = subcommand(cmd, prog, opts)
        managers.add(manager)
        if sub is not None and cmd.words[sub].value == verb:
            packages += _package_words(cmd, sub, opts)
        return "packages"
    if is_build(cmd):
        return "build"
    if program(cmd, _FS) is not None:
        return "fs"
    if program(cmd, _HARMLESS) is not None:
        return "harmless"  # only the builder sees it
    return None


def _package_words(cmd: Command, sub: int, takes_value: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    skip = False
    for word in cmd.words[sub + 1 :]:
        if skip:
            skip = False
        elif word.value in takes_value:
            skip = True
        elif not word.value.startswith("-"):
            out.append(re.split(r"[=<>~]", word.value, maxsplit=1)[0])
    return out


def runtime_packages(packages: tuple[str, ...], runtime_text: str, manager: str | None = "apt"
                     ) -> tuple[list[str], list[str]] | Why:
    """(packages the runtime installs, build-only ones dropped), or why a package is unknown.

    ``runtime_text`` is what the running container executes (CMD, ENTRYPOINT, HEALTHCHECK):
    a fetcher such as curl stays when it appears there."""
    table = data()["packages"]
    libraries = table["runtime_of"].get(manager or "apt", {})
    keep: list[str] = []
    dropped: list[str] = []
    for name in dict.fromkeys(packages):
        if any(fnmatch.fnmatchcase(name, p) for p in table["build_only"]):
            dropped.append(name)
        elif name in table["fetchers"]:
            (keep if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", runtime_text) else dropped).append(name)
        elif name in libraries:
            dropped.append(name)
            keep.append(libraries[name])
        elif re.search(r"-dev(el)?$", name):
            return Why(f"the runtime library of {name} is unknown for {manager} (hardener/data/"
                       "build_packages.toml lists the known ones)")
        elif "$" in name or "*" in name:
            return Why(f"the package {name!r} is not literal")
        else:
            keep.append(name)
    return list(dict.fromkeys(keep)), dropped


def install_line(manager: str, packages: list[str]) -> str:
    names = " ".join(packages)
    if manager == "apk":
        return f"apk add --no-cache {names}"
    return (f"apt-get update && apt-get install -y --no-install-recommends {names} "
            "&& rm -rf /var/lib/apt/lists/*")


def write_outside(steps: Steps, cwd: Mapping[int, str | None], roots: list[str]) -> str | None:
    """A builder RUN that writes where the runtime stage copies nothing from."""
    for inst, name, path in steps.writes:
        where = join_workdir(cwd.get(inst.start), path)
        if where is None or not any(where == r or where.startswith(r.rstrip("/") + "/")
                                    or (name == "mkdir" and r.startswith(where.rstrip("/") + "/")) for r in roots):
            return f"the RUN at line {inst.line} writes outside the copied paths ({path})"
    return None


def copy_outside(stage: Stage, cwd: Mapping[int, str | None], app: str | None, also: str = "") -> str | None:
    """A COPY whose destination is not under the app directory (the runtime copies only that)."""
    for inst in (i for i in stage.instructions if i.keyword == "COPY"):
        dest = join_workdir(cwd.get(inst.start), literal_words(inst)[-1])
        if app in (None, "/") or dest is None or not (dest == app or dest.startswith(app.rstrip("/") + "/")):
            return (f"the COPY at line {inst.line} puts files outside the app directory "
                    f"({app or 'no WORKDIR'}); the runtime stage copies only {also}that directory")
    return None


def final_workdir(stage: Stage) -> str | None:
    current = None
    for inst in stage.instructions:
        if inst.keyword == "WORKDIR":
            current = join_workdir(current, inst.args)
    return current


def runtime_gap(stage: Stage, plan: Plan) -> str | None:
    """Something the start or health command needs that the runtime image would lack."""
    return _missing_user(stage, plan.runtime_base) or _health_tool(stage, plan) or _missing_shell(stage, plan)


def _missing_user(stage: Stage, runtime: str) -> str | None:
    """A USER by name that the runtime image would not have."""
    info = images.lookup(runtime)
    known = {"root", "nobody"} | ({info.nonroot_user.name} if info and info.nonroot_user else set())
    created = " ".join(i.args for i in stage.instructions if i.keyword == "RUN" and creates_user(i.args))
    for inst in (i for i in stage.instructions if i.keyword == "USER"):
        name = inst.args.strip().split(":", 1)[0]
        if not name.isdigit() and name not in known and not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", created):
            return f"USER {name} (line {inst.line}) may not exist in {runtime}"
    return None


def _missing_shell(stage: Stage, plan: Plan) -> str | None:
    shell = next((i for i in stage.instructions if i.keyword == "SHELL" and i.json and "bash" in i.json[0]), None)
    if shell is not None and plan.runtime_base.split("/")[-1].startswith("alpine"):
        return f"the SHELL at line {shell.line} is bash, which {plan.runtime_base} does not have"
    return None


def _health_tool(stage: Stage, plan: Plan) -> str | None:
    """curl/wget in the HEALTHCHECK, which the full base image had and the runtime image lacks."""
    text = " ".join(i.args for i in stage.instructions if i.keyword == "HEALTHCHECK")
    for tool in ("curl", "wget"):
        busybox = tool == "wget" and plan.runtime_base.split("/")[-1].startswith("alpine")
        if re.search(rf"(?<![\w-]){tool}(?![\w-])", text) and tool not in plan.runtime_packages and not busybox:
            return (f"the HEALTHCHECK uses {tool}, which {plan.runtime_base} does not have; "
                    "install it in the Dockerfile first")
    return None


def creates_user(args: str) -> bool:
    return bool(re.search(r"\b(groupadd|useradd|addgroup|adduser)\b", args))


def runtime_text(stage: Stage) -> str:
    return " ".join(i.args for i in stage.instructions if i.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK"))


def literal_words(inst: Instruction) -> list[str]:
    return list(inst.json) if inst.json is not None else inst.args.split()
