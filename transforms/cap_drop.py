"""HD603 cap-drop (and the small helpers the other image-aware Compose transforms share)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener import compose_override, images
from hardener.compose_anchors import merge_users, per_service, shape_problem
from hardener.compose_command import needs_no_capabilities, uses_raw_sockets
from hardener.compose_doc import ComposeDoc, Service
from hardener.context import Context
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform
from hardener.yaml_splice import (
    append_sequence_item,
    insert_mapping_entry,
    mapping_get,
    mapping_own,
    scalar_value,
)

if TYPE_CHECKING:
    from hardener.dockerfile_doc import DockerfileDoc



class CapDrop(Transform):
    """Drop all Linux capabilities and add back only the ones the image needs.

    ## What it fixes
    Services that keep Docker's default capability set (CHOWN, DAC_OVERRIDE, NET_RAW,
    SETUID, MKNOD …) although they need few or none of them.

    ## Why
    Every capability left is kernel attack surface for a compromised process. The
    knowledge base lists what each known image's entrypoint really uses (postgres chowns
    its data directory and switches user, nginx binds port 80); a service built from a
    Dockerfile in this repository that runs as a non-root user needs none. When what a
    service needs is not known (an image hardener does not know, a base image running a
    custom command, a Dockerfile it cannot read), it keeps the nine capabilities CRI-O
    grants every container by default (OpenShift runs public images with exactly these)
    and loses the five Docker adds on top: AUDIT_WRITE, MKNOD, NET_RAW (ARP/DNS spoofing on
    the bridge), SETFCAP and SYS_CHROOT. A capability the file already drops is never
    added back. `[tool.hardener.cap-drop] unknown = "refuse"` refuses those services instead.

    ## Example
        services:
          cache:
            image: redis:7.2
        ->
            cap_drop:
              - ALL
            cap_add:
              - SETGID
              - SETUID

    ## Applicability
    review: a custom command or plugin may need a capability the image's default
    entrypoint does not; with the runtime-default set, an image that pings, sniffs, makes
    device nodes, chroots (sshd) or sets file capabilities needs the one it uses back.

    ## Refuses when
    The file is a legacy v1 file, the service is an alias or not a mapping, has neither
    `image:` nor `build:`, runs a Windows image, is built from a Dockerfile that runs as
    root (run-as-non-root fixes that first), `cap_add` holds `ALL`, or `cap_drop`/`cap_add`
    come from a shared anchor; a service other services merge (`<<: *svc`) unless each of
    them would get the same change (then the one edit goes into the anchored service and
    they inherit it); with `unknown = "refuse"` also when its needs are unknown.
    `SYS_ADMIN` in `cap_add` is reported (it is nearly root). With `compose.override.yaml`
    beside it: a base service whose override sets a key this reads (`image`, `user`,
    `command` …) or `cap_add: [ALL]` (the override is hardened instead), and an override
    service its base completes (the base is hardened).

    ## References
    compose-lint CL-0006, CIS Docker 5.3, OWASP Docker Security Cheat Sheet rule 3
    """

    id = "HD603"
    name = "cap-drop"
    targets = ("compose",)
    references = ("compose-lint:CL-0006", "cis-docker:5.3")
    applicability = Applicability.REVIEW

    def run(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        pair = compose_override.why_not(ctx, compose_override.CAP_DROP_KEYS)
        yield from per_service(self, doc, lambda service: self._one(doc, service, ctx), pair)

    def _one(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        node = service.node
        have = _caps(mapping_get(node, "cap_add"))
        if "SYS_ADMIN" in have:  # reported even once hardened: cap_drop does not tame it
            yield self.refuse(f"service {service.name!r}: `cap_add: [SYS_ADMIN]` is nearly root; find the narrower capability it needs", service.line)
        drop = mapping_get(node, "cap_drop")
        if drop is not None and "ALL" in _caps(drop):
            return
        if "ALL" in have:
            yield self.refuse(f"service {service.name!r}: `cap_add: [ALL]` undoes any cap_drop; list the capabilities it needs", service.line)
            return
        why, needed = needed_caps(service, ctx)
        fallback = isinstance(why, Unknown) and ctx.option(self.name, "unknown", "runtime-default") != "refuse"
        if why and not fallback:
            yield self.refuse(f"service {service.name!r}: {why}", service.line)
            return
        raw = uses_raw_sockets(node) if fallback else None
        idle = needs_no_capabilities(node) if fallback and mapping_get(node, "healthcheck") is None else None
        if fallback:
            needed = [] if idle else list(RUNTIME_DEFAULT) + (["NET_RAW"] if raw else [])
        dropped = _caps(drop)  # a capability the file already drops stays dropped
        missing = [c for c in needed if c not in have and c not in dropped]
        try:
            edits = _edits(doc, node, drop, missing)
        except ValueError as err:
            yield self.refuse(f"service {service.name!r}: {err}", service.line)
            return
        added = ", ".join(missing) or "none"
        if idle:
            reason = (f"service {service.name!r}: {why}, but it runs only `{idle}`, which needs no "
                      "capability: drops all")
        elif fallback:
            lost = [c for c in WITHHELD if not (raw and c == "NET_RAW")]
            keeps = f"; keeps NET_RAW for `{raw}`" if raw else ""
            reason = (f"service {service.name!r}: {why}: keeps only the capabilities CRI-O grants by "
                      f"default (added back: {added}), drops {', '.join(lost)}{keeps}; remove what it "
                      "does not need")
        else:
            reason = f"service {service.name!r}: drops all capabilities (added back: {added})"
        yield self.change(edits, reason, service.line)


def _edits(doc: ComposeDoc, node: Node | None, drop: Node | None, missing: list[str]) -> list[Edit]:
    appends: list[Edit] = []
    entries: list[tuple[str, list[str]]] = []
    if drop is None:
        entries.append(("cap_drop", ["ALL"]))
    else:
        appends.append(append_sequence_item(doc, own_sequence(node, "cap_drop"), "ALL"))
    if missing:
        add = mapping_get(node, "cap_add")
        if add is None:
            entries.append(("cap_add", missing))
        else:
            seq = own_sequence(node, "cap_add")
            appends += [append_sequence_item(doc, seq, c) for c in missing]
    return merge_inserts(appends + [insert_mapping_entry(doc, node, k, v) for k, v in entries])


# CRI-O's default set (cri-o/cri-o#3119, 2020; Podman's containers.conf is close): OpenShift
# runs arbitrary public images with it, so a service whose needs are unknown keeps these.
RUNTIME_DEFAULT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                   "SETGID", "SETPCAP", "SETUID")
WITHHELD = ("AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SYS_CHROOT")  # Docker grants them too


class Unknown(str):
    """A refusal reason that only says what the service needs is not known (it may still
    get the runtime-default set), unlike a reason it must not be touched at all."""


def needed_caps(service: Service, ctx: Context) -> tuple[str | None, list[str]]:
    """(refusal, capabilities the service needs after ``cap_drop: [ALL]``)."""
    build = mapping_get(service.node, "build")
    if build is not None:
        user = built_user(build, ctx)
        if user is None:
            return Unknown("it is built from a Dockerfile that cannot be read here"), []
        if images.is_root_user(user):
            return "it is built from a Dockerfile that runs as root; run-as-non-root (HD201) fixes it there", []
        override = scalar_value(mapping_get(service.node, "user"))
        if override and images.is_root_user(override):
            return "its `user:` is root although the Dockerfile is not; what it needs as root is not known", []
        return None, []
    why, info = image_info(service)
    if info is None:
        if mapping_get(service.node, "image") is None:
            return why, []
        known = literal_image_info(service)
        if known is not None and known.windows:
            return "a Windows container has no Linux capabilities to drop", []
        return Unknown(why), []
    caps = info.get("cap_add")
    if caps is None:
        return Unknown(f"the knowledge base does not list the capabilities {info.name} needs"), []
    return None, [str(c).upper() for c in caps]


def image_info(service: Service) -> tuple[str | None, images.ImageInfo | None]:
    """The KB entry of the service's image, or the reason there is none to rely on."""
    image = scalar_value(mapping_get(service.node, "image"))
    if not image:
        return extends_note(service.node) or "it has neither `image:` nor `build:`", None
    if "$" in image:
        image = literal_repository(image) or ""
        if not image:
            return f"the image {scalar_value(mapping_get(service.node, 'image'))!r} comes from a variable", None
    info = images.lookup(image)
    if info is None:
        return f"the image {image!r} is not in the knowledge base", None
    if info.get("tier") in (None, "base"):
        return f"{info.name} is a base image running an arbitrary command; what it needs cannot be known", None
    return None, info


def literal_image_info(service: Service) -> images.ImageInfo | None:
    """The KB entry of a literally named image, base images included (image_info skips them)."""
    image = scalar_value(mapping_get(service.node, "image"))
    return images.lookup(image) if image and "$" not in image else None


def extends_note(node: Node | None) -> str | None:
    """Why a service that takes its image from ``extends:`` gets nothing here: Compose merges
    the extended service into it, hardening included, so that service is the place to edit."""
    ext = mapping_get(node, "extends")
    if ext is None:
        return None
    name = scalar_value(ext) if isinstance(ext, ScalarNode) else scalar_value(mapping_get(ext, "service"))
    where = None if isinstance(ext, ScalarNode) else scalar_value(mapping_get(ext, "file"))
    base = f"{name!r}" + (f" in {where}" if where else "")
    return f"it extends {base}, which defines its image; hardening that service also hardens this one"


def literal_repository(image: str) -> str | None:
    """``postgres:${PG_VERSION}`` -> ``postgres``: only the tag comes from a variable. The facts
    image_info's callers read (capabilities, writable paths, health command, tier) belong to
    the repository, not the tag; None when the name itself holds a variable."""
    ref = image.split("@", 1)[0]
    masked = re.sub(r"\$\{[^}]*\}", lambda m: "$" * len(m.group(0)), ref)  # a ':-' default is no tag separator
    cut = masked.rfind(":")
    name, tag = ref[:cut], masked[cut + 1:]
    if cut <= 0 or "/" in tag or "$" in name or "$" not in tag:
        return None
    return name


def built_dockerfile(build: Node | None, ctx: Context) -> tuple[Path, DockerfileDoc] | None:
    """The Dockerfile a ``build:`` uses, parsed; None when it cannot be read here (a variable,
    a remote context, ``dockerfile_inline``, a missing or broken file)."""
    from hardener.dockerfile_doc import DockerfileDoc

    compose_dir = ctx.file.parent if ctx.file is not None else ctx.root
    if isinstance(build, ScalarNode):
        context, name = scalar_value(build), None
    else:
        context = scalar_value(mapping_get(build, "context"))
        name = scalar_value(mapping_get(build, "dockerfile"))
    if mapping_get(build, "dockerfile_inline") is not None:
        return None
    path = Path(compose_dir) / (context or ".") / (name or "Dockerfile")
    if "$" in str(path) or "://" in (context or "") or not path.is_file():
        return None
    try:
        return path, DockerfileDoc.load(path.read_bytes(), str(path))
    except Exception:  # a broken Dockerfile is reported when the Dockerfile itself is processed
        return None


def built_user(build: Node, ctx: Context) -> str | None:
    """The final user of the Dockerfile a ``build:`` uses; None when it cannot be read."""
    found = built_dockerfile(build, ctx)
    stage = found[1].final_stage() if found else None
    if stage is None:
        return None
    user, _line = images.effective_user(images.resolve_stage(found[1], stage))  # type: ignore[index]
    return str(user)


def obstacle(doc: ComposeDoc, service: Service) -> str | None:
    """Why a service cannot be edited on its own: an alias, not a mapping, or merged into others."""
    why = shape_problem(service)
    if why is None and (users := merge_users(doc, service)):
        return f"its anchor is merged into {', '.join(u.name for u in users)}; an edit would change them too"
    return why


def own_sequence(service: Node | None, key: str) -> Node:
    """The list under ``key`` written in this service itself, else ValueError (anchor/merge)."""
    value = mapping_own(service, key)
    if not isinstance(value, SequenceNode) or not isinstance(service, MappingNode):
        raise ValueError(f"`{key}` comes from a shared anchor or is not a list; change it there")
    key_node = next(k for k, v in service.value if v is value)
    if value.start_mark.index <= key_node.end_mark.index:  # ``key: *alias``
        raise ValueError(f"`{key}` is an alias of a shared anchor; change it there")
    return value


def merge_inserts(edits: list[Edit]) -> list[Edit]:
    """Join insertions at the same offset into one edit (in list order): one change may not
    hold two edits at one point, and appending to the last list of a service lands exactly
    where a new key of that service goes."""
    out: list[Edit] = []
    for edit in edits:
        same = next((i for i, e in enumerate(out) if e.start == e.end == edit.start == edit.end), None)
        if same is None:
            out.append(edit)
        else:
            out[same] = Edit(edit.start, edit.end, out[same].replacement + edit.replacement)
    return out


def _caps(node: Node | None) -> set[str]:
    if isinstance(node, ScalarNode):
        items = [node]
    elif isinstance(node, SequenceNode):
        items = [i for i in node.value if isinstance(i, ScalarNode)]
    else:
        return set()
    return {str(i.value).strip().upper().removeprefix("CAP_") for i in items}
