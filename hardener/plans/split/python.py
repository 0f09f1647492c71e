"""The Python plan of split-build-stage: pip installs into a venv the runtime stage copies.

The builder creates ``/opt/venv`` right after its FROM and puts it first on PATH, so every
``pip install`` of the original lands in the venv instead of the system site-packages.
The runtime image is the ``-slim`` variant of the same tag (same Python, same Debian
release), which has the interpreter the venv links to; it gets the venv and the app
directory. Packages the full image builds against its preinstalled headers (psycopg2 →
libpq) get their runtime library from ``[python] native`` in build_packages.toml.
"""
from __future__ import annotations

import re
from pathlib import Path

from hardener.dockerfile.doc import DockerfileDoc, Stage
from hardener.dockerfile.shell import Command
from hardener.dockerfile.shell_edit import has_option, subcommand
from hardener.dockerfile.workdir import working_dirs
from hardener.limits import read_text_bounded
from hardener.oci.imageref import ImageRef
from hardener.plans.split.common import (
    Plan,
    Steps,
    copy_outside,
    data,
    final_workdir,
    literal_words,
    runtime_packages,
    write_outside,
)
from hardener.why import Why

VENV = "/opt/venv"
_PY = re.compile(r"^python[\d.]*$")
_PIP = re.compile(r"^pip[\d.]*$")
_CODENAMES = ("bookworm", "bullseye", "buster", "trixie")
_PIP_SUBS = frozenset({"install", "uninstall", "wheel", "download", "config", "cache", "check", "freeze", "list"})
_CURRENT = "the venv's python must run the app"


def is_build(cmd: Command) -> bool:
    return _pip_sub(cmd) is not None or _py_module(cmd) == "compileall"


def _pip_sub(cmd: Command) -> int | None:
    """Index of the pip subcommand of ``pip …`` or ``python -m pip …`` (None if not pip)."""
    i = cmd.program_index()
    words = [w.value for w in cmd.words]
    if i < len(words) and _PIP.match(words[i].rsplit("/", 1)[-1]):
        sub = subcommand(cmd, i)
    elif _py_module(cmd) == "pip":
        sub = subcommand(cmd, words.index("pip", i))
    else:
        return None
    return sub if sub is not None and words[sub] in _PIP_SUBS else None


def _py_module(cmd: Command) -> str | None:
    i = cmd.program_index()
    words = [w.value for w in cmd.words]
    if i + 2 < len(words) and _PY.match(words[i].rsplit("/", 1)[-1]) and words[i + 1] == "-m":
        return words[i + 2]
    return None


def wants_split(ref: ImageRef, steps: Steps, stage: Stage) -> bool:
    """Worth it when pip installs something and the image is the full one or gets build packages."""
    if not any(_pip_sub(cmd) is not None for _, cmd in steps.build):
        return False
    dropped = runtime_packages(steps.packages, "", steps.manager)
    return _runtime_tag(ref.tag) != ref.tag or isinstance(dropped, Why) or bool(dropped[1])


def plan(doc: DockerfileDoc, stage: Stage, ref: ImageRef, steps: Steps, context: Path | None) -> Plan | Why:
    if ref.digest or not ref.is_official:
        return Why("only the official python image, by tag, has a known -slim runtime")
    tag = _runtime_tag(ref.tag)
    if tag is None:
        return Why(f"no -slim variant is known for python:{ref.tag or 'latest'} (pin a release tag such as 3.12)")
    why = _env_problem(stage) or _pip_problem(steps)
    if why:
        return Why(why)
    app = final_workdir(stage)
    cwd = working_dirs(doc)
    why = copy_outside(stage, cwd, app, "the venv and ") or write_outside(steps, cwd, [VENV] + ([app] if app else []))
    why = why or _start_problem(stage, cwd, app)
    if why:
        return Why(why)
    native = _native(steps, context) if not re.search(r"slim|alpine", ref.tag or "") else []
    if native and "alpine" in tag:
        return Why(f"{native[0]} needs a system library on Alpine that hardener does not know")
    artifacts = ((VENV, VENV),) + (((app, app),) if app and any(i.keyword == "COPY" for i in stage.instructions) else ())
    path = f'ENV PATH="{VENV}/bin:$PATH"'
    return Plan("python", f"{ref.name_as_written}:{tag}", artifacts,
                builder_head=(f"RUN python3 -m venv {VENV}", path), runtime_head=(path,),
                runtime_packages=tuple(native), package_manager="apk" if "alpine" in tag else "apt",
                notes=(f"pip installs into the venv {VENV}",))


def _runtime_tag(tag: str | None) -> str | None:
    if not tag or tag == "latest":
        return None  # names no release: the slim image could be another Python
    if re.search(r"(^|-)(slim|alpine)", tag):
        return tag
    match = re.fullmatch(r"(3(?:\.\d+)*)(?:-(\w+))?", tag)
    if match is None or (match.group(2) and match.group(2) not in _CODENAMES):
        return None
    return f"{match.group(1)}-slim" + (f"-{match.group(2)}" if match.group(2) else "")


def _env_problem(stage: Stage) -> str | None:
    for inst in stage.instructions:
        if inst.keyword == "ENV" and re.search(r"(^|\s)(PATH|VIRTUAL_ENV|PYTHONUSERBASE)[= ]", inst.args):
            return f"the ENV at line {inst.line} sets PATH or a virtualenv; {_CURRENT}"
        if inst.keyword == "RUN" and re.search(r"\b(venv|virtualenv|poetry|pipenv|conda|uv)\b", inst.args):
            return f"the RUN at line {inst.line} manages its own environment (venv, poetry, pipenv, conda, uv)"
    return None


def _pip_problem(steps: Steps) -> str | None:
    for inst, cmd in steps.build:
        if cmd.words[cmd.program_index()].value.startswith("/"):
            return f"the RUN at line {inst.line} calls {cmd.words[cmd.program_index()].value} by path, past the venv"
        sub = _pip_sub(cmd)
        outside = ("--user", "--target", "--prefix", "--root", "--system")
        if sub is not None and has_option(cmd.words[sub + 1 :], outside, "t"):
            return f"the pip install at line {inst.line} installs outside the environment (--user, --target, --prefix)"
    if any(re.match(r"python3?-", p) and not p.endswith("-dev") for p in steps.packages):
        return "the stage installs Python packages with the system package manager, which the venv would not see"
    return None


def _start_problem(stage: Stage, cwd: dict[int, str | None], app: str | None) -> str | None:
    for inst in (i for i in stage.instructions if i.keyword in ("CMD", "ENTRYPOINT")):
        words = literal_words(inst)
        first = words[0] if words else ""
        if first.startswith("/") and not (first.startswith(VENV + "/") or (app and first.startswith(app + "/"))):
            return f"the {inst.keyword} at line {inst.line} runs {first}, not found through PATH; {_CURRENT}"
    return None


def _native(steps: Steps, context: Path | None) -> list[str]:
    """Runtime libraries of source-built packages the pip installs name (requirements files too)."""
    table = data()["python"]["native"]
    names: list[str] = []
    for _, cmd in steps.build:
        words = [w.value for w in cmd.words]
        for i, word in enumerate(words):
            if word in ("-r", "--requirement") and i + 1 < len(words) and context is not None:
                names += _requirements(context / Path(words[i + 1]).name)
            else:
                names.append(word)
    found = {re.split(r"[\[<>=~!;\s]", n.strip(), maxsplit=1)[0].lower() for n in names}
    return sorted({lib for pkg, lib in table.items() if pkg in found})


def _requirements(path: Path) -> list[str]:
    try:
        return read_text_bounded(path).splitlines()
    except OSError:
        return []
