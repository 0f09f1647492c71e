"""HD201 run-as-non-root."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.removal import env_pairs
from hardener.edits import Edit
from hardener.knowledge import images, writes
from hardener.knowledge import writable as writable_plan
from hardener.knowledge.config_runtime import config_obstacle, privileged_port_reason
from hardener.knowledge.dev_environment import dev_environment
from hardener.knowledge.host_mounts import host_writes
from hardener.knowledge.image_facts import image_facts
from hardener.knowledge.images import Base, UserSpec
from hardener.knowledge.start_ports import command_ports, start_words
from hardener.model import Applicability, Finding, Transform
from hardener.options import Option
from hardener.why import Why

_FS_KEYWORDS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR", "USER", "VOLUME")
_CREATES_USER = re.compile(r"(?:^|[;&|(]\s*)((?:useradd|adduser)\s[^;&|]*)")
_UID_FLAG = re.compile(r"(?:-u|--uid)[ =]+(\d+)")
_GID_FLAG = re.compile(r"\b(?:groupadd|addgroup)\b[^;&|]*?(?:-g|--gid)[ =]+(\d+)")
_TOOL_TEXT = {"shadow": "groupadd/useradd", "busybox": "addgroup/adduser", "passwd-file": "lines in /etc/passwd and /etc/group"}
_REPLS = frozenset("sh bash ash zsh dash python python2 python3 node irb ruby php jshell pwsh powershell ghci iex erl lua".split())
_NO_SHELL_UID = UserSpec("nonroot", 65532, 65532)


class RunAsNonRoot(Transform):
    """Make the final stage run as a non-root user that exists.

    ## What it fixes
    A final stage that runs its app as root because no `USER` names anyone else.

    ## Why
    A process that escapes the app as root owns the container and is one kernel bug away
    from the host. With a non-root user, app files stay root-owned and read-only to it.

    ## Example
        FROM python:3.12-slim               FROM python:3.12-slim
        COPY . /app                         COPY . /app
        CMD ["python", "/app/main.py"]  ->  RUN groupadd -r -g 10001 app && useradd -r -l -u 10001 -g app -M -s /usr/sbin/nologin app
                                            USER 10001:10001
                                            CMD ["python", "/app/main.py"]

    The user is created with the distro's own tools (`groupadd`/`useradd`, BusyBox
    `addgroup`/`adduser`, or a passwd line where neither exists), or the image's own
    non-root user is reused (node → `1000:1000`, distroless → `65532:65532`), or the user
    the Dockerfile gives its files to (`chown unit …`, `COPY --chown=www-data`) runs the app:
    by its fixed uid where the distro or the image fixes one (else refused, see below). `USER`
    is numeric and goes after the last instruction that changes the filesystem, so
    the build itself runs as before. Only the directories the app writes are created and
    chowned (not recursively), each cited with its source (`hardener explain facts`): its
    code (`source: code app/db.py:12`), a framework convention, the repo (`VOLUME`, `ENV`
    data directories, `.gitkeep` directories), its entrypoint or CMD, or a recorded run
    (`hardener.facts.toml`, `observed: writes /app/data`). When the app writes a path that
    cannot be resolved, the whole application directory goes to the user with `COPY --chown`
    and the reason cites the write; with no application directory to give, the change is
    `unsafe` — unless `hardener verify --learn` recorded a run: then the observed directories
    stand for the unresolved write, and the reason says so.
    uid/gid: `[tool.hardener.run-as-non-root] uid = 10001, gid = 10001, name = "app"`.

    ## Applicability
    review: the app can no longer write outside its volumes, bind ports below 1024, or
    read root-only files.

    A base image the knowledge base does not know, but whose image config (recorded with
    its digest by pin-base-image: lock, cache, or this run) names a non-root numeric user
    (or a name the knowledge base knows the uid of), is left alone: the stage already runs
    as that user. A base named through an ARG is not, since a build-arg can change it.

    The base's image config also tells what the container starts and listens on where the
    Dockerfile does not say (a CMD alone keeps the config's Entrypoint): an s6-overlay
    `/init` or user-switching Entrypoint, a root-only command, or a port below 1024 from
    its ExposedPorts or its command's `--port`/`--bind` flags is refused as below, naming
    the image config as the source.

    ## Refuses when
    The image drops privileges itself (gosu, su-exec, setpriv, s6-overlay's `/init`, an
    official database entrypoint), the base is Windows, or unknown and its distro cannot be told from the
    Dockerfile, it binds a port below 1024 (use a port ≥ 1024 or an `-unprivileged`
    variant; Docker Engine >= 20.10 lets non-root bind it, Kubernetes, `--sysctl`
    overrides and rootless engines do not), its start command or the entrypoint script it runs needs root (cron, sshd,
    service, update-ca-certificates, apt-get …; not when the script checks `id -u`), ONBUILD
    triggers would run as the new user, the image looks like a base for other Dockerfiles
    (no CMD/ENTRYPOINT, or a bare shell/REPL such as `CMD ["python3"]`), a volume
    would need a shell the image lacks to be chowned, the Dockerfile gives its files to a
    user a package creates whose uid is not known (`chown -R unit …`), or the app writes directly into a
    system directory (`/etc/app.conf`) or under `/root`, which the user must not own; a Python
    entrypoint script runs such a root-only command; the app opens the container engine's socket
    (`/var/run/docker.sock`); the image is a development environment (a `dev-envs` or
    `devcontainer` stage, or one that creates the IDE user `vscode`).

    The change is `unsafe` when a Compose service of the repository builds this Dockerfile and
    bind-mounts a host directory onto a path the app writes (`./data:/app/data`): the host
    directory keeps its owner, so the reason gives the command to run on the host first
    (`chown -R 10001:10001 ./data`). A named volume needs nothing: Docker copies the image's
    ownership into it.

    ## References
    hadolint DL3002, DL3066, checkov CKV_DOCKER_3, CKV_DOCKER_8, CIS Docker 4.1
    """

    id = "HD201"
    name = "run-as-non-root"
    targets = ("dockerfile",)
    references = ("hadolint:DL3002", "hadolint:DL3066", "checkov:CKV_DOCKER_3", "checkov:CKV_DOCKER_8")
    applicability = Applicability.REVIEW
    options = (
        Option("name", "string", "app", "Name of the user (and group) created when the image has none."),
        Option("uid", "int", 10001, "Its uid."),
        Option("gid", "int", None, "Its gid; unset: the uid."),
    )

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stage = doc.final_stage()
        if stage is None:
            return
        base = images.resolve_stage(doc, stage)
        user, _line = images.effective_user(base)
        if (user != "?" and not images.is_root_user(user)) or _had_non_root(base):
            return  # already non-root, or final-user-not-root's case ("?": unknown image)
        if user == "?" and _config_non_root(base, ctx):
            return  # the base's image config already runs it as a non-root uid: nothing to add
        why = _obstacle(doc, base, ctx)
        if why:
            yield self.refuse(why, stage.from_.line)
            return
        plan = _user_plan(doc, base, ctx)
        if isinstance(plan, Why):
            yield self.refuse(plan, stage.from_.line)
            return
        yield from self._fix(doc, base, ctx, *plan)

    def _fix(self, doc: DockerfileDoc, base: Base, ctx: Context, spec: UserSpec, create: str | None,
             how: str) -> Iterator[Finding]:
        stage = base.chain[-1]
        inherited = _volume_paths(tuple(i for s in base.chain[:-1] for i in s.instructions))
        if inherited:
            yield self.refuse(f"the volume {inherited[0]} is declared in an earlier stage; the classic builder "
                              "would discard a chown after it: create the user there", stage.from_.line)
            return
        writable = writable_plan.plan(writes.app_writes(doc, base, ctx.build_context, ctx.files.run_view()),
                                      _volume_paths(stage.instructions))
        if isinstance(writable, Why):
            yield self.refuse(writable, stage.from_.line)
            return
        chowned = _app_copies(stage.instructions, writable.app_dir) if writable.widen is not None else []
        dirs = list(writable.dirs)
        if chowned and writable.app_dir not in dirs:
            dirs.append(str(writable.app_dir))  # COPY --chown leaves an existing destination directory root's
        if dirs and create is None and not (base.info is None or base.info.shell):
            what = "the volumes" if all(d in _volume_paths(stage.instructions) for d in dirs) else "the paths the app writes,"
            yield self.refuse(f"the image has no shell to create and chown {what} {', '.join(dirs)}",
                              stage.from_.line)
            return
        steps = [create] if create else []
        if dirs:
            owned = " ".join([*dirs, *writable.files])
            steps.append(f"mkdir -p {' '.join(dirs)} && chown {spec.numeric} {owned}")
        nl, kw = doc.newline, _case(doc, stage.from_)
        anchor = [i for i in stage.instructions if i.keyword in _FS_KEYWORDS][-1]
        first_volume = next((i for i in stage.instructions if i.keyword == "VOLUME"), None)
        run_line = f"{kw('RUN')} {' && '.join(steps)}" if steps else None
        edits = []
        if run_line and first_volume is not None and first_volume.line <= anchor.line:
            line_start = doc.text.rfind("\n", 0, first_volume.start) + 1
            edits.append(Edit(line_start, line_start, run_line + nl))
            run_line = None
        tail = (nl + run_line if run_line else "") + f"{nl}{kw('USER')} {spec.numeric}"
        edits.append(Edit(anchor.end, anchor.end, tail))
        edits += [Edit(i.keyword_end, i.keyword_end, f" --chown={spec.numeric}") for i in chowned]
        kept = f"app files outside {writable.app_dir} stay root-owned" if chowned else "app files stay root-owned"
        reason = f"the container ran as root; it now runs as {spec.numeric} ({how})"
        if _prepared_owner(base.instructions()) is None:  # else the Dockerfile gave it files on purpose
            reason += f"; {kept}"
        tail_reason = writable_plan.describe(replace(writable, app_dir=writable.app_dir if chowned else None))
        if tail_reason:
            reason += f"; {tail_reason}"
        if base.via_arg:
            reason += f"; assumes the ARG default base {base.image}"
        level = Applicability.UNSAFE if writable.widen is not None and not chowned else None
        for bound in host_writes(doc, ctx, dirs):
            where = "which the app writes" if bound.written == bound.target else f"where the app writes {bound.written}"
            reason += (f"; {bound.who} bind-mounts the host directory {bound.source} onto {bound.target}, "
                       f"{where}: the new user cannot write it until you run `{bound.command(spec.numeric)}` "
                       f"on the host, {bound.near}")
            level = Applicability.UNSAFE
        yield self.change(edits, reason, stage.from_.line, end_line=anchor.end_line, applicability=level)


def _config_non_root(base: Base, ctx: Context) -> bool:
    if base.image is None or base.via_arg:
        return False
    facts = image_facts(ctx, base.image)
    return facts is not None and facts.non_root_uid is not None


def _had_non_root(base: Base) -> bool:
    """A non-root USER before the last one: final-user-not-root (HD203) restores it."""
    users = [i.args.strip() for i in base.instructions() if i.keyword == "USER"]
    return any(not images.is_root_user(u) for u in users[:-1])


def _obstacle(doc: DockerfileDoc, base: Base, ctx: Context) -> str | None:
    insts = base.instructions()
    info = base.info
    if doc.escape == "`" or (info and info.windows) or any(
        i.keyword == "SHELL" and re.search(r"(?i)powershell|pwsh|cmd(\.exe)?\b", i.args) for i in insts
    ):
        return "Windows base image: Windows containers have no USER with a uid to switch to"
    drops = images.drops_privileges(base, ctx.build_context)
    if drops:
        return f"the image drops privileges itself: {drops}; it must start as root"
    privileged = _privileged_port(doc, insts, info)
    if privileged is not None:
        port, source = privileged
        alt = f" or the {info.unprivileged_variant} image" if info and info.unprivileged_variant else \
            f" with ENV {info.facts.port_env[0]}" if info and info.facts.port_env else " or an `-unprivileged` image variant"
        return privileged_port_reason(port, f" ({source})", alt)
    command = images.root_start_command(insts, ctx.build_context)
    if command:
        return f"needs root at run time: the start command runs {command}"
    if from_config := config_obstacle(base, ctx):
        return from_config
    onbuild = next((i for i in insts if i.keyword == "ONBUILD"), None)
    if onbuild is not None:
        return f"needs root at build time of child images: ONBUILD (line {onbuild.line}) would run as the new user"
    dev = dev_environment(doc, base)
    if dev:
        return (f"the image is a development environment ({dev}): who works in it is the dev environment's "
                "choice (its IDE settings or remoteUser), not the Dockerfile's")
    base_like = _base_image_start(insts)
    if base_like:
        return (f"looks like a base image for other Dockerfiles ({base_like}); a USER here would make "
                "their RUN steps run as non-root; set USER in the Dockerfiles that run an app")
    return None


def _privileged_port(doc: DockerfileDoc, insts: list[Instruction],
                     info: images.ImageInfo | None) -> tuple[int, str] | None:
    """The first port below 1024 the container binds, and where that was read."""
    for inst in insts:
        if inst.keyword != "EXPOSE":
            continue
        for word in inst.args.split():
            value = images.substitute_args(doc, word.split("/")[0]) or ""
            first = value.split("-")[0]
            if first.isdigit() and 0 < int(first) < 1024:
                return int(first), f"EXPOSE on line {inst.line}"
    chosen = command_ports(start_words(insts))
    if chosen:
        return next(((port, f"its start command: {flag}") for port, flag in chosen if port < 1024), None)
    configured = _ports_from_env(doc, insts, info.facts.port_env) if info else None
    if configured is not None:
        return next(((port, "ENV " + "/".join(info.facts.port_env[:1])) for port in configured if port < 1024), None) \
            if info else None
    return (info.privileged_ports[0], f"{info.name}'s default, knowledge base") if info and info.privileged_ports else None


def _ports_from_env(doc: DockerfileDoc, insts: list[Instruction], names: tuple[str, ...]) -> list[int] | None:
    """Ports the Dockerfile chooses through the image's own variables (``ASPNETCORE_URLS=
    http://+:5000``, ``ASPNETCORE_HTTP_PORTS=8080``); None when it sets none of them."""
    found = None
    for inst in insts:
        if inst.keyword != "ENV":
            continue
        for pair in env_pairs(doc, inst):
            if pair.name in names:
                found = (found or []) + [int(p) for p in re.findall(r"(?:^|[:;\s])(\d{1,5})(?=[/;\s]|$)", pair.value)]
    return found


def _base_image_start(insts: list[Instruction]) -> str | None:
    """Why the image looks like a base for other builds, not an app: no start command of
    its own, or one that starts a bare shell or language REPL."""
    start = images.last_start(insts)
    if start is None:
        return "it sets no CMD or ENTRYPOINT"
    words = list(start.json) if start.json is not None else start.args.split()
    if start.keyword == "CMD" and len(words) == 1 and words[0].rsplit("/", 1)[-1] in _REPLS:
        return f"its CMD starts a bare {words[0]}"
    return None


def _user_plan(doc: DockerfileDoc, base: Base, ctx: Context) -> tuple[UserSpec, str | None, str] | Why:
    """(user, RUN command or None, how) or why not."""
    info = base.info
    own = _created_user(base.instructions())  # the author's own user comes first
    if own is not None:
        return own
    prepared = _prepared_owner(base.instructions())
    if prepared is not None:
        name, line = prepared
        distro = info.distro if info else images.distro_from_runs(base.instructions())
        if info is not None and info.nonroot_user is not None and info.nonroot_user.name == name:
            return info.nonroot_user, None, f"the image's own user {name}, who owns its files"
        if (static := _STATIC_USERS.get((distro or "", name))) is not None:
            return static, None, f"the user {name} that line {line} gives its files to; {distro} gives it a fixed uid"
        # a new uid could not write what the Dockerfile gave to this user, and a named USER is
        # one runtimes cannot verify as non-root (hadolint DL3066): its uid must come from the image
        return Why(f"line {line} gives the app's files to {name}, a user a package creates, whose uid is not known "
                   f"here; a new user could not write them: add `USER <uid>` with the uid `id -u {name}` prints "
                   "in the image")
    if info is not None and info.nonroot_user is not None:
        return info.nonroot_user, None, f"the image's own user {info.nonroot_user.name}"
    uid, gid = RunAsNonRoot.option(ctx, "uid"), RunAsNonRoot.option(ctx, "gid")
    spec = UserSpec(str(RunAsNonRoot.option(ctx, "name")), int(uid), int(uid if gid is None else gid))
    if info is not None and not info.shell:
        return _NO_SHELL_UID, None, f"{info.name} has no shell; the nonroot uid needs no passwd entry"
    distro = info.distro if info else images.distro_from_runs(base.instructions())
    if distro is None:
        return Why(f"unknown base image: {base.unknown}, and no apt-get/apk RUN shows its distro")
    tool = images.distro_facts(distro).user_tool
    command = images.user_create_command(tool, spec)
    if command is None:
        return Why(f"the {distro} base has no way to create a user")
    how = f"user {spec.name} created with {_TOOL_TEXT.get(tool, tool)} on {distro}"
    if info is None:
        how += f"; the base image is unknown, its package-manager RUN shows a {distro}-family distro"
    return spec, command, how


def _created_user(insts: list[Instruction]) -> tuple[UserSpec, None, str] | Why | None:
    """The Dockerfile creates a user itself but never switches to it: use its uid."""
    for run in reversed([i for i in insts if i.keyword == "RUN"]):
        command = next((m.group(1) for m in _CREATES_USER.finditer(run.args)), None)
        if command is None:
            continue
        uid = _UID_FLAG.search(command)
        if uid is None:
            return Why(f"the Dockerfile creates a user (line {run.line}) without a fixed uid; add `-u <uid>` and `USER <uid>`")
        gid = _GID_FLAG.search(run.args)
        spec = UserSpec("user", int(uid.group(1)), int(gid.group(1)) if gid else None)
        return spec, None, f"the user the Dockerfile creates on line {run.line}"
    return None


# `chown [-R] name[:group] path`: a named owner, not a number, root or a variable.
_CHOWN_TO_NAME = re.compile(r"\bchown\s+(?:-{1,2}[\w-]+\s+)*([a-z_][\w-]*)(?::[\w$-]*)?\s+[^-\s]")


# Users whose uid the distribution fixes (Debian's base-passwd, Alpine's static passwd).
_STATIC_USERS = {
    ("debian", "www-data"): UserSpec("www-data", 33, 33),
    ("ubuntu", "www-data"): UserSpec("www-data", 33, 33),
    ("alpine", "www-data"): UserSpec("www-data", 82, 82),
}


def _prepared_owner(insts: list[Instruction]) -> tuple[str, int] | None:
    """(name, line): the Dockerfile chowns its files to a user it never switches to, one a
    package created (nginx unit's ``unit``): that user owns what the app writes, so it is the
    one to run as. A new user would find those paths read-only."""
    for inst in reversed(insts):
        if inst.keyword == "RUN":
            names = [m.group(1) for m in _CHOWN_TO_NAME.finditer(inst.args)]
        elif inst.keyword in ("COPY", "ADD"):
            chown = inst.flag("chown")
            names = [(chown.value or "").split(":")[0]] if chown else []
        else:
            continue
        for name in names:
            if re.fullmatch(r"[a-z_][\w-]*", name) and name not in ("root", "nobody"):
                return name, inst.line
    return None


def _volume_paths(insts: tuple[Instruction, ...]) -> list[str]:
    paths: list[str] = []
    for inst in insts:
        if inst.keyword == "VOLUME":
            words = list(inst.json) if inst.json is not None else inst.args.split()
            paths += [w for w in words if w.startswith("/") and "$" not in w and w not in paths]
    return paths


def _app_copies(insts: Sequence[Instruction], app_dir: str | None) -> list[Instruction]:
    """The final stage's COPYs of the whole build context into the app directory (no --chown yet)."""
    found = []
    for inst in insts:
        words = list(inst.json) if inst.json is not None else inst.args.split()
        if inst.keyword == "COPY" and app_dir and inst.flag("from") is None and inst.flag("chown") is None \
                and len(words) == 2 and words[0] in (".", "./"):
            found.append(inst)
    return found


def _case(doc: DockerfileDoc, inst: Instruction) -> Callable[[str], str]:
    """Keywords in the file's own case (``from`` → ``run``/``user``)."""
    lower = doc.text[inst.keyword_start : inst.keyword_end].islower()
    return str.lower if lower else str

