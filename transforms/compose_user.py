"""HD204 compose-user."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.anchors import SILENT, Silent, shape_problem
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_image import built_dockerfile, built_stage
from hardener.compose.service_transform import ServiceTransform, WhyNot
from hardener.compose.splice import insert_mapping_entry, mapping_get, scalar_value
from hardener.context import Context
from hardener.knowledge import images
from hardener.knowledge.image_facts import image_facts
from hardener.model import Applicability, Finding
from hardener.why import Why, WhyKind


class ComposeUser(ServiceTransform):
    """Run third-party Compose services as their fixed non-root uid.

    ## What it fixes
    A service using an image that starts as root only to switch to its own user (the
    official redis, postgres, mysql, mariadb, mongo and rabbitmq images), without `user:`.

    ## Why
    Such an entrypoint runs as root first: it chowns data directories and then drops
    privileges with gosu. Started directly as the image's own uid it skips that step, so
    nothing in the container ever runs as root. Images built from a Dockerfile are made
    non-root in the Dockerfile (run-as-non-root, HD201), not here.

    ## Example
        services:
          cache:
            image: redis:7.2
        ->
            user: 999:999

    ## Applicability
    review: an existing volume whose files belong to another uid can no longer be
    chowned by the entrypoint.

    ## Refuses when
    The image is unknown (not in the knowledge base, and no image config recorded with
    its digest says it runs as a non-root uid: then it needs no `user:` and nothing is
    said) or not known to run safely as a fixed uid (e.g. binds a port
    below 1024: use an `-unprivileged` variant), the service bind-mounts a host
    directory onto a path it writes (the host directory must be chowned first), it is
    built from a Dockerfile that still runs as root, or its `user:` is root.

    In a multi-file project (an override pair, a `-f` set, an include) it decides on the
    merged service, writes a new key to the service's base file (an edited one to the file
    that sets it) and gives an overlay that only extends the service nothing; it refuses when
    the projects that load the file need different changes, when the change would span two
    files, or when the file is a fragment no known project completes.

    ## References
    CIS Docker 5.x (run as non-root), OWASP Docker Security Cheat Sheet rule 2
    """

    id = "HD204"
    name = "compose-user"
    references = ("cis-docker:4.1",)
    applicability = Applicability.REVIEW
    reads = ("image", "build", "user", "volumes")
    writes = ("user",)
    pair_keys = ("image", "build", "user")
    project_aware = True  # decided on the merged project when the file is part of one
    shared = False  # each service gets its own user, merged services included

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        return iter(())  # nothing to say: the other Compose transforms already name the file legacy

    def gate(self, service: Service, why_not: WhyNot | None) -> Why | None | Silent:
        # An alias or a non-mapping is passed over silently, and so is a partial override
        # service whose base file gets the user.
        why = SILENT if shape_problem(service) else (why_not(service) if why_not is not None else None)
        return SILENT if isinstance(why, Why) and why.kind is WhyKind.HARDENED_THERE else why

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        why, user = _verdict(service, ctx)
        if why:
            yield self.refuse(f"service {service.name!r}: {why}", service.line)
        elif user:
            edit = insert_mapping_entry(doc, service.node, "user", user)
            reason = f"service {service.name!r}: the image runs as {user} without a root start"
            yield self.change([edit], reason, service.line)


def _verdict(service: Service, ctx: Context) -> tuple[str | None, str | None]:
    """(refusal reason, user to set); both None: nothing to do."""
    node = service.node
    user = scalar_value(mapping_get(node, "user"))
    if mapping_get(node, "user") is not None:
        return ("`user:` is root" if user and images.is_root_user(user) else None), None
    if mapping_get(node, "build") is not None:
        return _built(mapping_get(node, "build"), ctx), None
    image = scalar_value(mapping_get(node, "image"))
    if not image:
        return None, None
    if "$" in image:
        return f"the image {image!r} comes from a variable", None
    info = images.lookup(image)
    if info is None:
        return _unknown(image, ctx), None
    if not info.runs_as_root:
        return None, None
    fixed = info.compose_user
    if not fixed:
        facts = image_facts(ctx, image)  # the knowledge base wins; a disagreeing config is named
        return _why_root(info) + (facts.note() if facts is not None else ""), None
    bound = _bind_mount_onto(node, list(info.facts.writable_paths or ()))
    if bound:
        return (f"bind-mounts {bound[0]} onto {bound[1]}, which it writes; chown that host directory "
                f"to {fixed} first, then set user: \"{fixed}\""), None
    return None, str(fixed)


def _unknown(image: str, ctx: Context) -> str | None:
    """An image the knowledge base does not know: its image config may say it already runs
    as a non-root uid (nothing to do); otherwise the refusal, with what the config says."""
    facts = image_facts(ctx, image)
    if facts is not None and facts.non_root_uid is not None:
        return None
    why = f"the image {image!r} is not in the knowledge base"
    if facts is not None and facts.config is not None:
        user = facts.config.user or "root"
        return f"{why}, and its image config runs it as {user}, not a known non-root uid"
    return why + (facts.note() if facts is not None else "")


def _why_root(info: images.ImageInfo) -> str:
    if info.privileged_ports:
        alt = f" (or use {info.unprivileged_variant})" if info.unprivileged_variant else ""
        return f"{info.name} binds port {info.privileged_ports[0]} as root{alt}"
    if info.facts.tier == "base":
        return f"{info.name} is a base image running an arbitrary command; its user cannot be known"
    return f"{info.name} is not known to run as a fixed non-root uid"


def _built(build: Node | None, ctx: Context) -> str | None:
    """Refusal for a service built from a Dockerfile that runs as root (None: fine)."""
    found = built_dockerfile(build, ctx)
    stage = built_stage(build, found[1]) if found else None
    if found is None or stage is None:
        return None  # not readable here: nothing to say
    path, doc = found
    user, _line = images.effective_user(images.resolve_stage(doc, stage))
    if images.is_root_user(user):
        compose_dir = ctx.file.parent if ctx.file is not None else ctx.root
        if mapping_get(build, "target") is not None:  # run-as-non-root changes only the last stage
            return f"the stage of {_rel(path, compose_dir)} its `target:` builds runs as root; give it a non-root USER"
        return (f"it is built from {_rel(path, compose_dir)}, which runs as root; run-as-non-root (HD201) on that "
                "file makes it non-root or says why not")
    return None


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _bind_mount_onto(node: Node | None, writable: list[str]) -> tuple[str, str] | None:
    volumes = mapping_get(node, "volumes")
    if not isinstance(volumes, SequenceNode):
        return None
    for item in volumes.value:
        source, target = _mount(item)
        if source is None or target is None or not source.startswith((".", "/", "~", "$")):
            continue
        if any(target == w or target.startswith(w.rstrip("/") + "/") or w.startswith(target.rstrip("/") + "/")
               for w in writable):
            return source, target
    return None


def _mount(item: Node) -> tuple[str | None, str | None]:
    if isinstance(item, ScalarNode):
        text = str(item.value)
        masked = re.sub(r"\$\{[^}]*\}", lambda m: "$" * len(m.group()), text)  # ${A:-x} holds ':'
        cuts = [i for i, ch in enumerate(masked) if ch == ":"]
        if not cuts:
            return None, None
        end = cuts[1] if len(cuts) > 1 else len(text)
        return text[: cuts[0]], text[cuts[0] + 1 : end]
    if isinstance(item, MappingNode) and scalar_value(mapping_get(item, "type")) == "bind":
        return scalar_value(mapping_get(item, "source")) or ".", scalar_value(mapping_get(item, "target"))
    return None, None
