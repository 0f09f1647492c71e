"""The image knowledge base (``hardener/data/images.toml``) and lookups on it.

``lookup("python:3.12-alpine")`` tells the distro, the tools to create a user, the
image's own non-root user and whether it already runs as one. ``resolve_stage`` finds
what a Dockerfile stage is really built on: ``FROM alias`` through the stage chain,
``FROM ${BASE}`` through the ARG default when one ARG declaration holds it.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardener.knowledge.facts import Distro, ImageFacts, KnowledgeBase, load
from hardener.knowledge.records import UserSpec as UserSpec  # re-exported: callers build users
from hardener.limits import read_text_bounded
from hardener.oci.imageref import BadReference, ImageRef, parse

if TYPE_CHECKING:
    from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage

ROOT_USERS = frozenset({"root", "0"})
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class ImageInfo:
    """What the knowledge base says about one image reference: the entry's facts, and the
    ones the tag decides (distro, user, ports, ``user:``) resolved for this tag."""

    name: str  # the KB family, e.g. "python"
    distro: str
    shell: bool
    user_tool: str  # shadow | busybox | passwd-file | none
    package_manager: str
    windows: bool
    runs_as: str  # "0" or "uid:gid"
    nonroot_user: UserSpec | None
    drops_privileges: str | None
    entrypoint: str | None
    privileged_ports: tuple[int, ...]
    unprivileged_variant: str | None
    facts: ImageFacts = field(repr=False)
    tag: str = ""

    @property
    def compose_user(self) -> str | None:
        """The fixed ``user:`` a Compose service of this image can run with, if documented."""
        for pattern, user in self.facts.compose_user_tags:
            if re.search(pattern, self.tag):
                return user or None
        return self.facts.compose_user or None

    @property
    def runs_as_root(self) -> bool:
        return is_root_user(self.runs_as)


def is_root_user(user: str) -> bool:
    """``root``, ``0``, ``root:grp``, ``0:0`` … (the user part decides, as for DL3002)."""
    return user.split(":", 1)[0].strip() in ROOT_USERS


def user_create_command(tool: str, user: UserSpec) -> str | None:
    spec = load().user_tools.get(tool)
    return None if spec is None else spec.format(uid=user.uid, gid=user.gid, name=user.name)


def _key(ref: ImageRef) -> str:
    return ref.repository if ref.is_docker_hub else f"{ref.registry}/{ref.repository}"


def _find_entry(key: str) -> ImageFacts | None:
    """Exact repository first, else the longest matching pattern (most specific)."""
    kb = load()
    if not _FOUND_IN or _FOUND_IN[0] is not kb:  # another knowledge base (a test's): start over
        _FOUND.clear()
        _FOUND_IN[:] = [kb]
    if key not in _FOUND:
        _FOUND[key] = _search(kb, key)
    return _FOUND[key]


# Answers per repository for the run: every Compose service asks about its image in every
# transform and round, and each ask matched every pattern of the knowledge base.
_FOUND: dict[str, ImageFacts | None] = {}
_FOUND_IN: list[KnowledgeBase] = []


def _search(kb: KnowledgeBase, key: str) -> ImageFacts | None:
    best: tuple[int, ImageFacts] | None = None
    for entry in kb.images:
        for pattern in entry.repositories:
            if pattern == key:
                return entry
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(key, pattern):
                if best is None or len(pattern) > best[0]:
                    best = (len(pattern), entry)
    return best[1] if best else None


def distro_of_tag(tag: str) -> str | None:
    return next((distro for pattern, distro in load().tag_suffixes if re.search(pattern, tag)), None)


def lookup(image: str | ImageRef) -> ImageInfo | None:
    """Knowledge about an image reference; None when the KB does not know it."""
    if isinstance(image, str):
        if image.strip().lower() == "scratch":
            image = ImageRef("scratch", "docker.io", "scratch", None, None, "scratch")
        else:
            try:
                image = parse(image)
            except BadReference:
                return None
    entry = _find_entry("scratch" if image.repository == "scratch" else _key(image))
    if entry is None:
        return None
    return _info(entry, image.tag or "")


def _info(entry: ImageFacts, tag: str) -> ImageInfo:
    distro = str(entry.distro)  # an entry with repositories has one (facts.load checks it)
    if entry.flavoured and tag:
        distro = distro_of_tag(tag) or distro
    facts = distro_facts(distro)
    user = next((u for pattern, u in entry.nonroot_user_tags if re.search(pattern, tag)), entry.nonroot_user)
    runs_as = entry.runs_as
    if user and any(re.search(p, tag) for p in entry.nonroot_tags):
        runs_as = user.numeric
    ports = entry.privileged_ports + tuple(port for pattern, port in entry.tag_ports if re.search(pattern, tag))
    return ImageInfo(
        entry.name, distro, facts.shell, facts.user_tool, facts.package_manager, facts.windows, runs_as, user,
        entry.drops_privileges, entry.entrypoint, ports, entry.unprivileged_variant, entry, tag,
    )


# ---------------------------------------------------------------- Dockerfile stages


@dataclass(frozen=True)
class Base:
    """What a stage is built on, following ``FROM alias`` back to an external image."""

    chain: tuple[Stage, ...]  # the external-image stage first, the asked stage last
    image: str | None  # the external reference with ARGs substituted; None when unknown
    info: ImageInfo | None
    via_arg: bool = False  # the reference came from an ARG default (a build-arg can change it)
    unknown: str | None = None  # why the image is not known

    def instructions(self) -> list[Instruction]:
        return [i for s in self.chain for i in s.instructions]


def stage_chain(doc: DockerfileDoc, stage: Stage) -> tuple[Stage, ...]:
    chain = [stage]
    while True:
        current = chain[0]
        parent = doc.stage_named(current.base, before=current.index)
        if parent is None or parent in chain:
            return tuple(chain)
        chain.insert(0, parent)


def resolve_stage(doc: DockerfileDoc, stage: Stage) -> Base:
    chain = stage_chain(doc, stage)
    written = chain[0].base
    image = substitute_args(doc, written)
    if image is None:
        return Base(chain, None, None, unknown=f"the base image {written!r} comes from build arguments without one default")
    info = lookup(image)
    reason = None if info else f"the base image {image!r} is not in the knowledge base"
    return Base(chain, image, info, via_arg=image != written, unknown=reason)


def global_args(doc: DockerfileDoc) -> dict[str, list[str | None]]:
    """Every ARG declared before the first FROM: name → the defaults of each declaration."""
    found: dict[str, list[str | None]] = {}
    for inst in doc.instructions:
        if inst.keyword == "FROM":
            break
        if inst.keyword == "ARG":
            for word in inst.args.split():
                name, eq, value = word.partition("=")
                found.setdefault(name, []).append(value.strip("\"'") if eq else None)
    return found


def substitute_args(doc: DockerfileDoc, text: str) -> str | None:
    """``text`` with each ``$VAR`` replaced by its single ARG default; None when unsure."""
    args = global_args(doc)
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        defaults = args.get(match.group(1) or match.group(2), [])
        if len(defaults) != 1 or defaults[0] is None:
            missing = True
            return ""
        return defaults[0]

    result = _VAR.sub(one, text)
    return None if missing or "$" in result else result


def effective_user(base: Base, before_line: int | None = None) -> tuple[str, int | None]:
    """The user in effect (at the end of the chain, or before a line): value and USER line.

    Without a USER instruction it is the image's default user (line None); "?" when the
    image is unknown.
    """
    last: Instruction | None = None
    for inst in base.instructions():
        if before_line is not None and inst.stage == base.chain[-1].index and inst.line >= before_line:
            break
        if inst.keyword == "USER":
            last = inst
    if last is not None:
        return last.args.strip(), last.line
    return (base.info.runs_as if base.info else "?"), None


_PKG_DISTRO = (
    (re.compile(r"(^|[\s;&|(])apt-get\s|(^|[\s;&|(])apt\s+install"), "debian"),
    (re.compile(r"(^|[\s;&|(])apk\s+(add|update|upgrade)"), "alpine"),
)


def distro_from_runs(instructions: list[Instruction]) -> str | None:
    """The distro the Dockerfile's own RUNs prove (apt-get → Debian family, apk → Alpine).

    A RUN that calls apt-get or apk without sudo succeeded as root on that base, so the
    base has the package manager and the distro's standard user tools.
    """
    found = {
        distro
        for inst in instructions
        if inst.keyword == "RUN" and "sudo" not in inst.args
        for pattern, distro in _PKG_DISTRO
        if pattern.search(inst.args)
    }
    return found.pop() if len(found) == 1 else None


def distro_facts(distro: str) -> Distro:
    return load().distros[distro]


def root_runtime_commands() -> frozenset[str]:
    return load().root_runtime


_DROP_TOOLS = re.compile(
    r"(^|[\s;&|(\"'/])("
    r"(?:gosu|su-exec|setpriv|runuser|s6-setuidgid|setuidgid)(?![\w.-])"
    r"|chpst\s+-u|chroot\s+--userspec|su\s+(?:-\S+\s+)*-c|su\s+-\s|exec\s+su\s)"
)


def drops_privileges(base: Base, context_dir: Any = None) -> str | None:
    """How the image switches users by itself at start (so it must start as root), or None."""
    insts = base.instructions()
    in_effect = (next((j for j in reversed(insts) if j.keyword == k), None) for k in ("ENTRYPOINT", "CMD"))
    for inst in (i for i in in_effect if i is not None):
        if drop := _DROP_TOOLS.search(inst.args):
            return f"its {inst.keyword} (line {inst.line}) switches users itself ({drop.group(2).split()[0]})"
    for inst in insts:
        if inst.keyword == "RUN" and re.search(r"\b(gosu|su-exec)\b", inst.args):
            return f"it installs gosu/su-exec (line {inst.line}) to switch users at start"
    if s6 := _s6_overlay_init(insts):
        return s6
    script = entrypoint_script(insts, context_dir)
    if script is not None:
        name, text = script
        match = _DROP_TOOLS.search(text)
        if match:
            return f"its entrypoint script {name} switches users itself ({match.group(2).split()[0]})"
    entry = next((i for i in reversed(insts) if i.keyword == "ENTRYPOINT"), None)
    info = base.info
    if info is not None and info.drops_privileges:
        own = info.entrypoint or ""
        if entry is None or (own and own in entry.args):
            return f"the {info.name} image: {info.drops_privileges}"
    return None


def _s6_overlay_init(insts: list[Instruction]) -> str | None:
    """s6-overlay's ``/init`` as the entrypoint: it starts as root, prepares the container and
    starts each service under the user its run script names (``s6-setuidgid``), so a USER
    before it breaks the whole supervision tree."""
    entry = next((i for i in reversed(insts) if i.keyword == "ENTRYPOINT"), None)
    if entry is None:
        return None
    words = list(entry.json) if entry.json else entry.args.split()
    if not words or words[0] != "/init":
        return None
    installs = next((i for i in insts if i.keyword in ("RUN", "ADD", "COPY") and "s6-overlay" in i.args), None)
    if installs is None:
        return None
    return (f"its ENTRYPOINT (line {entry.line}) is s6-overlay's /init (installed at line {installs.line}), "
            "which prepares the container and starts each service under its own user")


def entrypoint_script(insts: list[Instruction], context_dir: Any) -> tuple[str, str] | None:
    """The build-context file the ENTRYPOINT (or CMD) runs, when a COPY put it there."""
    from pathlib import Path

    start = next((i for i in reversed(insts) if i.keyword == "ENTRYPOINT"), None) or next(
        (i for i in reversed(insts) if i.keyword == "CMD"), None
    )
    if start is None or context_dir is None:
        return None
    words = list(start.json) if start.json else start.args.split()
    words = [w for w in words if w not in ("sh", "/bin/sh", "bash", "/bin/bash", "-c", "exec")]
    if not words:
        return None
    target = words[0].split()[0]
    for inst in insts:
        if inst.keyword not in ("COPY", "ADD") or inst.flag("from") or inst.heredocs:
            continue
        parts = list(inst.json) if inst.json else inst.args.split()
        if len(parts) < 2:
            continue
        dest = parts[-1]
        for src in parts[:-1]:
            path = Path(context_dir) / src.lstrip("/")
            base_name = target.rsplit("/", 1)[-1]
            candidates = [path]
            if path.is_dir():
                root = dest.rstrip("/") + "/"
                candidates = [path / target[len(root):]] if target.startswith(root) else []
                candidates.append(path / base_name)
            for cand in candidates:
                if cand.is_file() and cand.name == base_name and (
                    target == base_name or target.startswith(dest.rstrip("/")) or dest.endswith(base_name)
                ):
                    try:
                        return src, read_text_bounded(cand, 200_000, truncate=True)
                    except OSError:
                        return None
    return None


def root_start_command(insts: list[Instruction], context_dir: Any = None) -> str | None:
    """The first command of CMD/ENTRYPOINT, or of the entrypoint script they run, that needs
    root at run time (cron, sshd …), quoted for a reason: ``'cron'`` or ``'cron' (in its
    entrypoint script entry.sh)``."""
    root_cmds = root_runtime_commands()
    for keyword in ("ENTRYPOINT", "CMD"):
        inst = next((i for i in reversed(insts) if i.keyword == keyword), None)
        if inst is None:
            continue
        text = " ".join(inst.json) if inst.json else inst.args
        if found := _first_root_command(text, root_cmds):
            return repr(found)
    script = entrypoint_script(insts, context_dir)
    if script is None:
        return None
    name, text = script
    if _is_python(name, text):
        found = _python_root_command(text, root_cmds)
        return f"{found!r} (run by its entrypoint script {name})" if found else None
    # A script that checks its own uid runs the root-only steps only as root: not evidence.
    if re.search(r"\$\(id -u\)|`id -u`|\$\{?EUID\b|\$\{?UID\b", text):
        return None
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    found = next((cmd for line in lines if (cmd := _first_root_command(line, root_cmds))), None)
    return f"{found!r} (in its entrypoint script {name})" if found else None


def switching_tool(text: str) -> str | None:
    """The user-switching tool a start command calls (gosu, su-exec, setpriv …), or None."""
    match = _DROP_TOOLS.search(text)
    return match.group(2).split()[0] if match else None


def root_command(text: str) -> str | None:
    """The first command in ``text`` that needs root at run time (cron, sshd …), or None."""
    return _first_root_command(text, root_runtime_commands())


def _is_python(name: str, text: str) -> bool:
    return name.endswith(".py") or bool(re.match(r"#!\S*python", text))


def _python_root_command(text: str, root_cmds: frozenset[str]) -> str | None:
    """A root-only command a Python start script runs: a string literal whose first word is
    one (``CA_UPDATE_CMD = 'update-ca-certificates'`` … ``subprocess.run([CA_UPDATE_CMD])``), in
    a script that runs commands at all (subprocess, os.system, os.popen, os.exec*). A script
    that checks its own uid (``os.geteuid()``) decides by itself: not evidence."""
    if not re.search(r"\bsubprocess\b|\bos\.(?:system|popen|exec\w*|spawn\w*)\b", text) or re.search(
            r"\bos\.get(?:e)?uid\(", text):
        return None
    for match in re.finditer(r"""(?<![\w])[rbuf]?(['"])([\w./-]+)(?:\s[^'"\n]*)?\1""", text):
        if match.group(2) in root_cmds:
            return match.group(2)
    return None


def _first_root_command(text: str, root_cmds: frozenset[str]) -> str | None:
    for part in re.split(r"&&|\|\||[;|]|\bsh -c\b|\bbash -c\b", text):
        words = [w.strip("\"'") for w in part.split() if "=" not in w and w not in ("exec", "nohup")]
        if words and words[0] in root_cmds:
            return words[0]
    return None


def last_start(insts: list[Instruction]) -> Instruction | None:
    """The ENTRYPOINT in effect, else the CMD in effect."""
    for keyword in ("ENTRYPOINT", "CMD"):
        inst = next((i for i in reversed(insts) if i.keyword == keyword), None)
        if inst is not None:
            return inst
    return None
