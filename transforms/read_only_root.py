"""HD604 read-only-root."""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from hardener.compose.anchors import own_sequence
from hardener.compose.command import writes_nothing
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.mounts import SCRATCH_PATHS, mount_targets, path_under
from hardener.compose.service_image import built_dockerfile, built_stage, image_info, literal_image_info
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import append_sequence_item, insert_mapping_entry, mapping_get, scalar_value
from hardener.compose.start_writes import start_writes
from hardener.context import Context
from hardener.edits import Edit, merge_inserts
from hardener.knowledge import images, writes
from hardener.knowledge.image_facts import image_facts
from hardener.model import Applicability, Finding
from hardener.why import Why

# Where most programs write scratch files: the unsafe guess for a service whose writes are unknown.
GUESSED = ("/tmp", "/run")


class ReadOnlyRoot(ServiceTransform):
    """Make the container's root filesystem read-only, with tmpfs where the image writes.

    ## What it fixes
    Services whose root filesystem is writable although the image only writes a few
    known scratch directories.

    ## Why
    With `read_only: true` an attacker cannot drop binaries or modify the image's files.
    The knowledge base lists where each known image writes: scratch directories
    (`/tmp`, `/run`, `/var/cache/nginx` …) get a `tmpfs`, data directories must stay on
    their volumes. A directory the image declares with `VOLUME` (postgres, redis, mongo,
    prometheus …) gets an anonymous volume from Docker when the service mounts nothing
    there, so it stays writable.

    ## Example
        services:
          web:
            image: nginx:1.27
        ->
            read_only: true
            tmpfs:
              - /var/cache/nginx
              - /var/run
              - /tmp

    ## Applicability
    review: plugins, custom commands or extra config can write elsewhere. unsafe (opt-in
    with `--unsafe`) for a service whose writes are not known (an unknown image, a
    Dockerfile that cannot be read or starts a script): read-only with tmpfs for `/tmp`
    and `/run` is then a guess to test, not knowledge. The anonymous volumes an image
    config declares (recorded with its digest: lock, cache, or this run) stay writable on
    a read-only root, so they need no tmpfs; the reason names them.

    ## Refuses when
    The file is a legacy v1 file, the service is an alias or not a mapping, its image is
    unknown, comes from a variable or is a base image running anything but programs that
    write no file (`sleep`, `tail -f /dev/null`, `echo` …), a data directory it writes is not
    on a volume, `read_only` is explicitly false, `tmpfs` comes from a shared anchor, or the
    service is an interactive tool container (`stdin_open` and `tty`: people exec into it).
    A service that overrides `entrypoint:` or runs a shell `command:` adds what that
    command writes (redirections, `tee`, `sed -i`, `cp`/`mv` targets …): scratch paths get
    a tmpfs, a write anywhere else (a config rendered into `/etc/nginx`) is refused, and a
    start script of its own makes the change an `unsafe` guess.
    A service built from a Dockerfile in the repository is hardened from that Dockerfile
    (the base image's known paths, plus `/tmp` when it starts a known runtime: python,
    gunicorn/uvicorn, node, java; VOLUMEs are volumes already) and refused when the
    Dockerfile cannot be read, its base image is unknown, or it starts a script or an
    unknown program (which may template configs or write anywhere).
    In a multi-file project (an override pair, a `-f` set, an include) it decides on the
    merged service, writes a new key to the service's base file (an edited one to the file
    that sets it) and gives an overlay that only extends the service nothing; it refuses when
    the projects that load the file need different changes, when the change would span two
    files, or when the file is a fragment no known project completes.

    ## References
    compose-lint CL-0007, CIS Docker 5.12
    """

    id = "HD604"
    name = "read-only-root"
    references = ("compose-lint:CL-0007", "cis-docker:5.12")
    applicability = Applicability.REVIEW
    reads = ("image", "build", "extends", "volumes", "tmpfs", "command", "entrypoint", "read_only", "stdin_open", "tty")
    writes = ("read_only", "tmpfs")
    pair_keys = ("image", "build", "user", "volumes", "tmpfs", "command", "entrypoint", "read_only")
    project_aware = True  # decided on the merged project when the file is part of one

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        if mapping_get(service.node, "read_only") is not None:
            return
        if _interactive(service):
            yield self.refuse(f"service {service.name!r}: an interactive tool container (`stdin_open` and `tty`): "
                              "people `docker exec` into it and write to $HOME, shell history and tool configs, "
                              "which a read-only root breaks", service.line)
            return
        yield from self._one(doc, service, ctx)

    def why_not(self, service: Service) -> Why | None:
        flag = scalar_value(mapping_get(service.node, "read_only"))
        if flag is not None and flag.lower() not in ("true", "yes", "on"):
            return Why("`read_only` is explicitly false") if flag.lower() in ("false", "no", "off") else None
        return None

    def _one(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        build = mapping_get(service.node, "build")
        source = ""
        image_volumes: list[str] = []
        writable: Sequence[str] | None  # None: the knowledge base does not know
        guess: str | None = None  # why the writable paths are unknown: only an unsafe guess is offered
        started = None  # what an overriding entrypoint/command writes at start
        if build is not None:
            found = built_writable(build, ctx)
            if isinstance(found, Why):
                guess, found = found.reason, (list(GUESSED), "")
            writable, source = found
            name = "its app"
        else:
            why, info = image_info(service)
            idle = writes_nothing(service.node) if info is None and _base_image(service) else None
            if info is None and idle is None:
                if not _guessable(service):
                    yield self.refuse(f"service {service.name!r}: {why}", service.line)
                    return
                guess, info = why, None
            if guess is not None:
                writable, name = list(GUESSED), "it"
            elif info is None:  # a base image whose command writes no file
                writable, name, source = [], "it", f"; it runs only `{idle}`, which writes no file"
            else:
                if info.facts.read_only_blocker:
                    yield self.refuse(f"service {service.name!r}: {info.name}: {info.facts.read_only_blocker}",
                                      service.line)
                    return
                writable, name = info.facts.writable_paths, info.name
                image_volumes = list(info.facts.volumes)  # anonymous volumes: stay writable
                started = start_writes(service.node, info.facts.entrypoint)
                if started is not None and started.unknown:
                    guess = f"{info.name}'s start is overridden and {started.unknown}"
                    writable = list(dict.fromkeys([*(writable or []), *GUESSED]))
                elif started is not None and writable is not None and started.paths:
                    writable = _with_start_writes(list(writable), started.paths)
                    name = f"{info.name} with its `{started.command}:`"
            if writable is None:
                guess, writable = f"the knowledge base does not list where {name} writes", list(GUESSED)
            config_volumes = [v for v in _config_volumes(service, ctx) if v not in image_volumes]
            if config_volumes:  # anonymous volumes the image config declares: writable on a read-only root
                image_volumes += config_volumes
                source += f"; its image config's volumes stay writable without a tmpfs: {', '.join(config_volumes)}"
        mounted = mount_targets(service.node) + image_volumes
        todo = [str(p) for p in writable if not any(path_under(str(p), m) for m in mounted)]
        data = [p for p in todo if not any(path_under(p, s) for s in SCRATCH_PATHS)]
        at_start = [p for p in data if p in started.paths] if started is not None else []
        if at_start and started is not None:
            yield self.refuse(
                f"service {service.name!r}: its `{started.command}:` writes {', '.join(at_start)} at start, "
                "which fails on a read-only root (a tmpfs there would hide the image's own files)",
                service.line,
            )
            return
        if data:
            yield self.refuse(
                f"service {service.name!r}: {name} writes data to {', '.join(data)}; "
                "put it on a named volume first, then read_only can be set"
                + (source if "(source: " in source else ""),
                service.line,
            )
            return
        try:
            edits = _edits(doc, service.node, todo)
        except ValueError as err:  # a splice helper met a node it cannot edit
            edits = Why(str(err))
        if isinstance(edits, Why):
            yield self.refuse(f"service {service.name!r}: {edits}", service.line)
            return
        extra = f" (tmpfs: {', '.join(todo)})" if todo else ""
        if guess is not None:
            yield self.change(edits, f"service {service.name!r}: {guess}; read-only with tmpfs for "
                              f"{', '.join(GUESSED)} is a guess: start it and use every feature before keeping it{source}",
                              service.line, applicability=Applicability.UNSAFE)
            return
        yield self.change(edits, f"service {service.name!r}: root filesystem is read-only{extra}{source}", service.line)


def _with_start_writes(writable: list[str], written: tuple[str, ...]) -> list[str]:
    """The image's writable paths plus what the start command writes: a scratch file by
    its scratch directory (a tmpfs is a directory), anything else as written."""
    for path in written:
        if any(path_under(path, w) for w in writable):
            continue
        scratch = next((s for s in SCRATCH_PATHS if path_under(path, s)), None)
        writable.append(scratch or path)
    return writable


def _interactive(service: Service) -> bool:
    """``stdin_open`` + ``tty``: a toolbox kept running to exec into (temporal admin-tools)."""
    return all((scalar_value(mapping_get(service.node, key)) or "").lower() in ("true", "yes", "on")
               for key in ("stdin_open", "tty"))


def _guessable(service: Service) -> bool:
    """An image that may be run read-only on a guess: named, and not a Windows one."""
    info = literal_image_info(service)
    return bool(scalar_value(mapping_get(service.node, "image"))) and not (info is not None and info.windows)


def _base_image(service: Service) -> bool:
    """The service runs a known base image (alpine, debian …), not a Windows one."""
    info = literal_image_info(service)
    return info is not None and info.facts.tier == "base" and not info.windows


def _edits(doc: ComposeDoc, node: Node | None, paths: list[str]) -> list[Edit] | Why:
    appends: list[Edit] = []
    entries: list[tuple[str, bool | list[str]]] = [("read_only", True)]
    if paths:
        existing = mapping_get(node, "tmpfs")
        if existing is None:
            entries.append(("tmpfs", paths))
        elif isinstance(existing, SequenceNode):
            seq = own_sequence(node, "tmpfs")
            if isinstance(seq, Why):
                return seq
            appends += [append_sequence_item(doc, seq, p) for p in paths]
        else:
            return Why("`tmpfs` is a single string; make it a list to add more paths")
    return merge_inserts(appends + [insert_mapping_entry(doc, node, k, v) for k, v in entries])




# Start commands whose writes are known: the runtime itself writes only temporary files.
def _config_volumes(service: Service, ctx: Context) -> list[str]:
    image = scalar_value(mapping_get(service.node, "image"))
    if not image or "$" in image:
        return []
    facts = image_facts(ctx, image)
    return list(facts.config.volumes) if facts is not None and facts.config is not None else []


# A shell script or an unknown binary may template configs or write anywhere: refused.
_RUNTIMES = re.compile(r"(python[\d.]*|gunicorn|uvicorn|hypercorn|daphne|waitress-serve|node|java)")


def built_writable(build: Node, ctx: Context) -> tuple[list[str], str] | Why:
    """Where a service built from a Dockerfile in the repo writes, and how that is known;
    else why it is not. The base image's known paths (knowledge base), plus /tmp when the
    Dockerfile starts a known runtime; VOLUMEs become volumes and need nothing here."""
    found = built_dockerfile(build, ctx)
    stage = built_stage(build, found[1]) if found else None
    if found is None or stage is None:
        return Why("it is built from a Dockerfile that cannot be read here; its writable paths are not known")
    path, doc = found
    base = images.resolve_stage(doc, stage)
    if base.info is None:
        return Why(f"it is built on {base.image or 'an unknown image'}, whose writable paths are not known")
    known = list(base.info.facts.writable_paths or ())
    start = images.last_start([i for s in base.chain for i in s.instructions])
    if start is None:
        if base.info.facts.tier == "base" or not known:
            return Why(f"it runs the default command of {base.info.name}, whose writes are not known")
        return known, f"; from {path.name}: the paths {base.info.name} writes"
    words = [w for w in (list(start.json) if start.json is not None else start.args.split())
             if w != "exec" and "=" not in w]
    program = words[0].rsplit("/", 1)[-1] if words else ""
    if not _RUNTIMES.fullmatch(program):
        return Why(f"its {start.keyword} runs `{program or start.args}`, not a known runtime; a script may write "
                   "anywhere")
    scratch = [p for p in known if any(path_under(p, s) for s in SCRATCH_PATHS)]
    facts = writes.app_writes(doc, base, _context_dir(build, ctx), ctx.files.run_view())
    if facts.unknown:
        return Why(f"its app writes a path hardener cannot resolve ({facts.unknown[0].cite()})")
    written = {d: w.cite() for d, w in facts.directories().items() if not any(path_under(d, s) for s in SCRATCH_PATHS)}
    if written:
        cited = "; ".join(f"{d} ({c})" for d, c in written.items())
        return sorted({"/tmp", *scratch, *written}), f"; from {path.name}: {program} on {base.info.name}; {cited}"
    return sorted({"/tmp", *scratch}), (f"; from {path.name}: {program} on {base.info.name} writes temporary files "
                                        "only — if the app writes into its own directory, put a volume there")


def _context_dir(build: Node, ctx: Context) -> Path | None:
    """The directory a ``build:`` sends (its ``context``, relative to the Compose file)."""
    context = scalar_value(build) if isinstance(build, ScalarNode) else scalar_value(mapping_get(build, "context"))
    if context is not None and ("$" in context or "://" in context):
        return None
    compose_dir = ctx.file.parent if ctx.file is not None else ctx.root
    return Path(compose_dir) / (context or ".")
