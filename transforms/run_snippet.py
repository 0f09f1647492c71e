"""HD608 run-snippet."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from hardener.ci.images import builds_of, repo_images, slug_of
from hardener.compose.mounts import SCRATCH_PATHS as SCRATCH
from hardener.compose.mounts import path_under as under
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.knowledge import images

# The Compose transforms' own knowledge, not a copy: scratch paths go on tmpfs (read-only-root).
from hardener.knowledge.capabilities import RUNTIME_DEFAULT
from hardener.model import Applicability, Finding, Transform

NO_NEW_PRIVILEGES = "--security-opt no-new-privileges:true"


class RunSnippet(Transform):
    """Report the hardened `docker run` line for an image no Compose file runs.

    ## What it fixes
    Nothing by itself: for a Dockerfile that no Compose file in the repository builds, it
    reports the `docker run` line that runs the image with the same hardening the Compose
    transforms give a service: `--user`, `--cap-drop=ALL` (plus the capabilities the
    knowledge base says the base image needs when it runs as root, or CRI-O's default set
    when that is not known, as cap-drop does), `--read-only` with
    `--tmpfs` for `/tmp` and the image's scratch directories, `--security-opt
    no-new-privileges:true`, and each `EXPOSE`d port published on 127.0.0.1 only.

    ## Why
    Without a Compose file, how the container is started lives in a README or a shell
    history, and defaults to root with every capability and a writable root filesystem.
    The knowledge is the one cap-drop (HD603), read-only-root (HD604) and
    bind-ports-localhost (HD702) apply to Compose services.

    ## Example
        FROM node:20-alpine
        USER node
        EXPOSE 3000
        -> reported: "… docker run --rm --user 1000:1000 --cap-drop=ALL --read-only --tmpfs /tmp
           --security-opt no-new-privileges:true -p 127.0.0.1:3000:3000 app"

    ## Applicability
    report only (no change is made). Review the line: an app that writes outside `/tmp` and
    the listed paths needs a volume there, and a port meant to be public needs its
    `127.0.0.1:` removed.

    ## Refuses when
    Always, once per Dockerfile that no Compose file builds (the refusal is the report);
    the line says when the image runs as root or as an unknown user (`--user` is left out),
    when it switches users itself, or when an `EXPOSE` comes from a variable. Windows
    images, `FROM scratch` images without a command, and Dockerfiles a Compose `build:`
    may use through a variable get no line.

    ## References
    CIS Docker 5.3, 5.12, 5.13, 5.25; OWASP Docker Security Cheat Sheet rules 2, 3, 8
    """

    id = "HD608"
    name = "run-snippet"
    targets = ("dockerfile",)
    references = ("cis-docker:5.3", "cis-docker:5.12", "cis-docker:5.25")
    applicability = Applicability.REVIEW
    report_only = True

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stage = doc.final_stage()
        if ctx.file is None or stage is None or _composed(ctx, ctx.file):
            return
        base = images.resolve_stage(doc, stage)
        insts = base.instructions()
        if doc.escape == "`" or (base.info is not None and base.info.windows):
            return  # Windows containers: none of these flags apply
        if base.info is not None and base.info.name == "scratch" and images.last_start(insts) is None:
            return  # an artifact image (FROM scratch, no command): nothing to run
        notes: list[str] = []
        tag = slug_of(_relative(ctx, ctx.file))
        user, caps = _user(doc, base, ctx, notes)
        flags = [*user, "--cap-drop=ALL", *caps, "--read-only", *_tmpfs(base, insts, tag, notes),
                 NO_NEW_PRIVILEGES, *_ports(doc, insts, notes)]
        line = " ".join(["docker run --rm", *flags, tag])
        lead = "no Compose file runs this image" + "".join(f"; {n}" for n in notes)
        yield self.refuse(f"{lead}; run it hardened with: {line}", stage.from_.line)


def _composed(ctx: Context, path: Path) -> bool:
    """A Compose ``build:`` uses this Dockerfile, or may (a variable path in a folder above it)."""
    if builds_of(ctx, path):
        return True
    return any(build.unknown and _inside(path, build.compose.parent) for build in repo_images(ctx).builds)


def _inside(path: Path, folder: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real.startswith(top.rstrip(os.sep) + os.sep)


def _relative(ctx: Context, path: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(ctx.root)).as_posix()
    except ValueError:
        return path.name


def _user(doc: DockerfileDoc, base: images.Base, ctx: Context, notes: list[str]) -> tuple[list[str], list[str]]:
    """(``--user`` flags, ``--cap-add`` flags), with a note when the user is root or unknown."""
    written, line = images.effective_user(base)
    user = images.substitute_args(doc, written) or "?" if "$" in written else written
    switches = images.drops_privileges(base, ctx.build_context)
    if switches:
        notes.append(f"it starts as root because {switches}: no --user")
        return [], _root_caps(base, notes)
    if user == "?":
        why = f"USER {written} on line {line} comes from a variable" if line else base.unknown
        notes.append(f"its user is not known ({why}): no --user")
        return [], []
    if images.is_root_user(user):
        where = f"USER {user} on line {line}" if line else "no USER"
        variant = base.info.unprivileged_variant if base.info is not None else None
        fix = f"build on {variant} or add a USER" if variant else "run-as-non-root (HD201) adds a USER"
        notes.append(f"it runs as root ({where}): {fix}, then add --user")
        return [], _root_caps(base, notes)
    return [f"--user {_numeric(user, base)}"], []


def _numeric(user: str, base: images.Base) -> str:
    """The knowledge base's uid:gid for the image's own named user, else the USER as written."""
    own = base.info.nonroot_user if base.info is not None else None
    if own is not None and user.split(":", 1)[0] == own.name:
        return own.numeric
    return user


def _root_caps(base: images.Base, notes: list[str]) -> list[str]:
    """What the knowledge base says a root-started image needs back after --cap-drop=ALL."""
    info = base.info
    caps = info.facts.cap_add if info is not None and info.facts.tier != "base" else None
    if caps is None:  # the same runtime-default set cap-drop (HD603) gives such a service
        notes.append("the capabilities it needs as root are not known: it keeps CRI-O's default set; "
                     "drop what it does not use")
        return [f"--cap-add={c}" for c in RUNTIME_DEFAULT]
    return [f"--cap-add={str(c).upper()}" for c in caps]


def _tmpfs(base: images.Base, insts: list[Instruction], tag: str, notes: list[str]) -> list[str]:
    """``--tmpfs`` for /tmp and the image's scratch paths; a data path gets a named volume."""
    info = base.info
    known = info.facts.writable_paths if info is not None and info.facts.tier != "base" else None
    volumes = [p for i in insts if i.keyword == "VOLUME" for p in (list(i.json) if i.json else i.args.split())]
    flags = ["--tmpfs /tmp"]
    for path in [str(p) for p in known or ()]:
        if under(path, "/tmp") or any(under(path, v) for v in volumes):
            continue
        if any(under(path, s) for s in SCRATCH):
            flags.append(f"--tmpfs {path}")
        else:
            name = re.sub(r"[^a-z0-9]+", "-", f"{tag}-{path}".lower()).strip("-")
            flags.append(f"-v {name}:{path}")
            notes.append(f"{info.name if info else 'it'} keeps data in {path} (a named volume here)")
    return list(dict.fromkeys(flags))


_PORT = re.compile(r"(\d+(?:-\d+)?)(?:/(tcp|udp|sctp))?", re.IGNORECASE)


def _ports(doc: DockerfileDoc, insts: list[Instruction], notes: list[str]) -> list[str]:
    """``-p 127.0.0.1:P:P`` for every EXPOSEd port (bind-ports-localhost's default)."""
    flags: list[str] = []
    for inst in (i for i in insts if i.keyword == "EXPOSE"):
        for word in inst.args.split():
            value = images.substitute_args(doc, word) if "$" in word else word
            match = _PORT.fullmatch(value or "")
            if match is None:
                notes.append(f"EXPOSE {word} (line {inst.line}) is not a literal port: publish it yourself")
                continue
            proto = f"/{match.group(2).lower()}" if match.group(2) and match.group(2).lower() != "tcp" else ""
            flags.append(f"-p 127.0.0.1:{match.group(1)}:{match.group(1)}{proto}")
    return list(dict.fromkeys(flags))
