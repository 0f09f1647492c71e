"""HD603 cap-drop (and the small helpers the other image-aware Compose transforms share)."""
from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from hardener.compose.anchors import own_sequence
from hardener.compose.command import needs_no_capabilities, uses_raw_sockets
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_image import built_user, image_info, literal_image_info
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import (
    append_sequence_item,
    insert_mapping_entry,
    mapping_get,
    scalar_value,
)
from hardener.context import Context
from hardener.edits import Edit, merge_inserts
from hardener.knowledge import images
from hardener.knowledge.capabilities import RUNTIME_DEFAULT, WITHHELD
from hardener.knowledge.image_facts import image_facts
from hardener.model import Applicability, Finding
from hardener.options import Option
from hardener.why import Why, WhyKind


class CapDrop(ServiceTransform):
    """Drop all Linux capabilities and add back only the ones the image needs.

    ## What it fixes
    Services that keep Docker's default capability set (CHOWN, DAC_OVERRIDE, NET_RAW,
    SETUID, MKNOD …) although they need few or none of them.

    ## Why
    Every capability left is kernel attack surface for a compromised process. The
    knowledge base lists what each known image's entrypoint really uses (postgres chowns
    its data directory and switches user, nginx binds port 80); a service built from a
    Dockerfile in this repository that runs as a non-root user needs none, and neither does a
    service whose `user:` is a literal non-root user: a non-root process starts with empty
    permitted and effective sets and can use a capability only through a file that carries
    it (setcap, setuid-root), so nothing is added back. When what a
    service needs is not known (an image hardener does not know, a base image running a
    custom command, a Dockerfile it cannot read), it keeps the nine capabilities CRI-O
    grants every container by default (OpenShift runs public images with exactly these)
    and loses the five Docker adds on top: AUDIT_WRITE, MKNOD, NET_RAW (ARP/DNS spoofing on
    the bridge), SETFCAP and SYS_CHROOT. An image whose needs the knowledge base does not
    list but whose image config (recorded with its digest: lock, cache, or resolved in
    this run) makes it run as a non-root uid, with no `user:` set, drops ALL and gets
    nothing back: a non-root process holds no capabilities unless a file it executes
    carries them (setcap), which the image config cannot tell. A capability the file
    already drops is never added back. `[tool.hardener.cap-drop] unknown = "refuse"` refuses those services instead.

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
    NET_RAW is kept only when the service's command or health check runs a raw-socket tool
    (ping, fping, arping, traceroute, tcpdump, mtr, nmap) as a program — not when `ping`
    is an argument (`redis-cli ping`, `wget http://x/ping`).

    ## Refuses when
    The service runs `privileged: true` (or a variable): Docker grants it every capability
    whatever `cap_drop` says, so a cap_drop would be false assurance; host-access (HD602)
    reports the service. The file is a legacy v1 file, the service is an alias or not a
    mapping, has neither `image:` nor `build:`, runs a Windows image, is built from a Dockerfile that runs as
    root (run-as-non-root fixes that first), `cap_add` holds `ALL`, or `cap_drop`/`cap_add`
    come from a shared anchor; a service other services merge (`<<: *svc`) unless each of
    them would get the same change (then the one edit goes into the anchored service and
    they inherit it); with `unknown = "refuse"` also when its needs are unknown.
    `SYS_ADMIN` in `cap_add` is reported (it is nearly root).
    In a multi-file project (an override pair, a `-f` set, an include) it decides on the
    merged service, writes a new key to the service's base file (an edited one to the file
    that sets it) and gives an overlay that only extends the service nothing; it refuses when
    the projects that load the file need different changes, when the change would span two
    files, or when the file is a fragment no known project completes.

    ## References
    compose-lint CL-0006, CIS Docker 5.3, OWASP Docker Security Cheat Sheet rule 3
    """

    id = "HD603"
    name = "cap-drop"
    references = ("compose-lint:CL-0006", "cis-docker:5.3")
    applicability = Applicability.REVIEW
    options = (
        Option("unknown", "string", "runtime-default", "A service whose image's needs are unknown: keep CRI-O's "
               "default capability set, or refuse it.", choices=("runtime-default", "refuse")),
    )
    reads = ("image", "build", "extends", "user", "entrypoint", "command", "healthcheck", "privileged", "cap_drop",
             "cap_add")
    writes = ("cap_drop", "cap_add")
    pair_keys = ("image", "build", "user", "entrypoint", "command", "privileged", "cap_drop", "cap_add")
    project_aware = True  # decided on the merged project when the file is part of one

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        node = service.node
        have = _caps(mapping_get(node, "cap_add"))
        if "SYS_ADMIN" in have:  # reported even once hardened: cap_drop does not tame it
            yield self.refuse(f"service {service.name!r}: `cap_add: [SYS_ADMIN]` is nearly root; "
                              "find the narrower capability it needs", service.line)
        drop = mapping_get(node, "cap_drop")
        if drop is not None and "ALL" in _caps(drop):
            return
        if "ALL" in have:
            yield self.refuse(f"service {service.name!r}: `cap_add: [ALL]` undoes any cap_drop; "
                              "list the capabilities it needs", service.line)
            return
        privileged = _privileged(mapping_get(node, "privileged"))
        if privileged:
            yield self.refuse(f"service {service.name!r}: {privileged}; host-access (HD602) reports it", service.line)
            return
        why, needed = needed_caps(service, ctx)
        uid = _non_root_by_config(service, ctx) if why is not None and why.kind is WhyKind.UNKNOWN else None
        if uid is not None:
            why, needed = None, []
        fallback = why is not None and why.kind is WhyKind.UNKNOWN and self.option(ctx, "unknown") != "refuse"
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
        except ValueError as err:  # a splice helper met a node it cannot edit
            edits = Why(str(err))
        if isinstance(edits, Why):
            yield self.refuse(f"service {service.name!r}: {edits}", service.line)
            return
        added = ", ".join(missing) or "none"
        if uid is not None:
            reason = (f"service {service.name!r}: drops all capabilities (added back: none): its image config "
                      f"runs it as uid {uid}, and a non-root process has no capabilities unless a file it "
                      "runs is setuid-root or carries file capabilities (setcap)")
        elif idle:
            reason = (f"service {service.name!r}: {why}, but it runs only `{idle}`, which needs no "
                      "capability: drops all")
        elif fallback:
            lost = [c for c in WITHHELD if not (raw and c == "NET_RAW")]
            keeps = f"; keeps NET_RAW for `{raw}`" if raw else ""
            reason = (f"service {service.name!r}: {why}: keeps only the capabilities CRI-O grants by "
                      f"default (added back: {added}), drops {', '.join(lost)}{keeps}; remove what it "
                      "does not need")
        elif _non_root_user(node):
            reason = (f"service {service.name!r}: runs as `user: {_non_root_user(node)}`, and a non-root process "
                      "cannot use capabilities unless a file carries them (setcap, setuid-root): drops all")
        else:
            reason = f"service {service.name!r}: drops all capabilities (added back: {added})"
        yield self.change(edits, reason, service.line)


def _edits(doc: ComposeDoc, node: Node | None, drop: Node | None, missing: list[str]) -> list[Edit] | Why:
    appends: list[Edit] = []
    entries: list[tuple[str, list[str]]] = []
    if drop is None:
        entries.append(("cap_drop", ["ALL"]))
    else:
        seq = own_sequence(node, "cap_drop")
        if isinstance(seq, Why):
            return seq
        appends.append(append_sequence_item(doc, seq, "ALL"))
    if missing:
        add = mapping_get(node, "cap_add")
        if add is None:
            entries.append(("cap_add", missing))
        else:
            seq = own_sequence(node, "cap_add")
            if isinstance(seq, Why):
                return seq
            appends += [append_sequence_item(doc, seq, c) for c in missing]
    return merge_inserts(appends + [insert_mapping_entry(doc, node, k, v) for k, v in entries])


def needed_caps(service: Service, ctx: Context) -> tuple[Why | None, list[str]]:
    """(refusal, capabilities the service needs after ``cap_drop: [ALL]``). A refusal of kind
    UNKNOWN only says what the service needs is not known (it may still get the
    runtime-default set), unlike a reason it must not be touched at all."""
    build = mapping_get(service.node, "build")
    if build is not None:
        user = built_user(build, ctx)
        if user is None:
            return Why("it is built from a Dockerfile that cannot be read here", WhyKind.UNKNOWN), []
        if user == "?":  # no USER, and the base image's default user is not known: it may be root
            return Why("it is built from a Dockerfile with no USER on a base image whose user is not known",
                       WhyKind.UNKNOWN), []
        if images.is_root_user(user) and mapping_get(build, "target") is not None:
            return Why("the Dockerfile stage its `target:` builds runs as root; give that stage a non-root USER"), []
        if images.is_root_user(user):
            return Why("it is built from a Dockerfile that runs as root; run-as-non-root (HD201) on that file "
                       "makes it non-root or says why not"), []
        override = scalar_value(mapping_get(service.node, "user"))
        if override and images.is_root_user(override):
            return Why("its `user:` is root although the Dockerfile is not; what it needs as root is not known"), []
        return None, []
    if _non_root_user(service.node) is not None:
        # A non-root process starts with empty permitted and effective sets: it can use a
        # capability only through a file that carries it (setcap) or a setuid-root binary.
        # The image's entrypoint never runs its root-only steps (chown, gosu) as this user.
        return None, []
    why, info = image_info(service)
    if info is None:
        assert why is not None  # image_info gives a reason whenever it gives no entry
        if mapping_get(service.node, "image") is None:
            return Why(why), []
        known = literal_image_info(service)
        if known is not None and known.windows:
            return Why("a Windows container has no Linux capabilities to drop"), []
        return Why(why, WhyKind.UNKNOWN), []
    caps = info.facts.cap_add
    if caps is None:
        return Why(f"the knowledge base does not list the capabilities {info.name} needs", WhyKind.UNKNOWN), []
    bound = _host_dir_on_volume(service.node, info)
    if bound is not None and info.drops_privileges and "CHOWN" not in {str(c).upper() for c in caps}:
        # the entrypoint chowns its data directory as root (redis: `find . ! -user redis -exec chown`);
        # a named volume starts owned by the image's user, a host directory by whoever made it
        return Why(f"its entrypoint chowns {bound[1]} as root, and the host directory {bound[0]} is mounted "
                   "there: whether that needs CHOWN depends on who owns it", WhyKind.UNKNOWN), []
    return None, [str(c).upper() for c in caps]


def _host_dir_on_volume(node: Node | None, info: images.ImageInfo) -> tuple[str, str] | None:
    """(host path, volume) of a writable bind mount onto one of the image's volumes."""
    from hardener.compose.listen import bind_mounts

    for mount in bind_mounts(node):
        target = mount.target.rstrip("/") or "/"
        if not mount.read_only and target in info.facts.volumes:
            return mount.source, target
    return None


def _non_root_user(node: Node | None) -> str | None:
    user = scalar_value(mapping_get(node, "user"))
    return user if user and "$" not in user and not images.is_root_user(user) else None


def _non_root_by_config(service: Service, ctx: Context) -> str | None:
    """The non-root uid the service's image config runs it as, when nothing overrides it."""
    image = scalar_value(mapping_get(service.node, "image"))
    if not image or "$" in image or mapping_get(service.node, "user") is not None:
        return None
    if mapping_get(service.node, "build") is not None:
        return None  # the Dockerfile decides the user, not the image's config
    facts = image_facts(ctx, image)
    return facts.non_root_uid if facts is not None else None


def _privileged(node: Node | None) -> str | None:
    """Why a `privileged:` value rules cap_drop out: Docker grants a privileged container every
    capability whatever cap_drop says, so adding it would only look like hardening."""
    value = (scalar_value(node) or "").strip()
    if value.lower() in ("true", "yes", "on", "1"):
        return "runs `privileged: true`, where Docker ignores cap_drop (it would be false assurance)"
    if "$" in value:
        return f"`privileged: {value}` comes from a variable; with it true, Docker ignores cap_drop"
    return None


def _caps(node: Node | None) -> set[str]:
    if isinstance(node, ScalarNode):
        items = [node]
    elif isinstance(node, SequenceNode):
        items = [i for i in node.value if isinstance(i, ScalarNode)]
    else:
        return set()
    return {str(i.value).strip().upper().removeprefix("CAP_") for i in items}
