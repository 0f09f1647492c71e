"""HD602 host-access."""
from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.anchors import SILENT, Silent
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_transform import ServiceTransform, WhyNot
from hardener.compose.splice import mapping_get, scalar_value
from hardener.context import Context
from hardener.model import Applicability, Finding

SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
           "/var/run/crio/crio.sock", "/run/podman/podman.sock")
SENSITIVE = ("/", "/etc", "/proc", "/sys", "/root", "/boot", "/dev", "/var/run", "/run", "/var/lib/docker")
NAMESPACES = ("pid", "ipc", "uts", "userns_mode", "cgroup")
DANGEROUS_CAPS = {"ALL", "SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN", "DAC_READ_SEARCH", "SYS_RAWIO"}


class HostAccess(ServiceTransform):
    """Report services that reach into the host, with the safer alternative for each.

    ## What it fixes
    Nothing by itself: it reports `privileged: true`, host namespaces (`pid`, `ipc`,
    `uts`, `userns_mode`, `cgroup: host`), `network_mode: host`, container-engine sockets,
    sensitive host paths (`/`, `/etc`, `/proc`, `/sys`, …) mounted writable, and dangerous
    `cap_add` entries (`ALL`, `SYS_ADMIN`, …).

    ## Why
    Each of these hands the container a way out to the host: a mounted Docker socket is
    root on the host, `privileged` disables every isolation feature. They are deliberate
    choices hardener cannot undo without knowing why they were made, so a human decides,
    with the concrete alternative in the report.

    ## Example
        volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
        -> refused: "mounts the Docker socket: use a socket proxy …"

    ## Applicability
    report only (no change is made).

    ## Refuses when
    Always, for each finding above: the refusal is the report.

    ## References
    compose-lint CL-0001, CL-0002, CL-0008, CL-0010, CL-0011, CL-0013; CIS Docker 5.4, 5.9, 5.15, 5.31
    """

    id = "HD602"
    name = "host-access"
    references = ("compose-lint:CL-0001", "compose-lint:CL-0002", "compose-lint:CL-0008",
                  "compose-lint:CL-0010", "compose-lint:CL-0011", "compose-lint:CL-0013")
    applicability = Applicability.REVIEW
    report_only = True
    reads = ("privileged", *NAMESPACES, "network_mode", "volumes", "cap_add")
    writes = ()
    shared = False  # a report: every service that reaches the host is named, merged ones too

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        yield from self.services(doc, ctx)  # a report: whatever `services:` the file has

    def gate(self, service: Service, why_not: WhyNot | None) -> Silent | None:
        # An alias is reported too (at its anchor): it reaches the host as much as the anchor.
        return None if isinstance(service.node, MappingNode) else SILENT

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        for node, why in _problems(service):
            yield self.refuse(f"service {service.name!r}: {why}", doc.line_of(node.start_mark.index))


def _problems(service: Service) -> Iterator[tuple[Node, str]]:
    node = service.node
    privileged = mapping_get(node, "privileged")
    if privileged is not None and _truthy(privileged):
        yield privileged, ("runs privileged (every isolation feature off); drop `privileged` and "
                           "grant only the capabilities (`cap_add`) and `devices` it really needs")
    for key in NAMESPACES:
        value = mapping_get(node, key)
        if value is not None and scalar_value(value) == "host":
            yield value, f"shares the host's {key.replace('_mode', '')} namespace; remove `{key}: host`"
    network = mapping_get(node, "network_mode")
    if network is not None and scalar_value(network) == "host":
        yield network, ("uses the host network; give it a Compose network and publish only the "
                        "ports it serves (bound to 127.0.0.1 unless public)")
    yield from _mounts(mapping_get(node, "volumes"))
    yield from _caps(mapping_get(node, "cap_add"))


def _mounts(volumes: Node | None) -> Iterator[tuple[Node, str]]:
    if not isinstance(volumes, SequenceNode):
        return
    for item in volumes.value:
        source, read_only = _mount(item)
        if source is None:
            continue
        clean = source.rstrip("/") or "/"
        if clean in SOCKETS:
            yield item, (f"mounts the container engine socket {clean} (root on the host); use a "
                         "socket proxy (e.g. tecnativa/docker-socket-proxy) that allows only the API "
                         "calls it needs")
        elif clean in SENSITIVE and not read_only:
            yield item, (f"mounts the host path {clean} writable; mount only the file it needs, "
                         "read-only (`:ro`), or use a named volume")


def _mount(item: Node) -> tuple[str | None, bool]:
    """(host source, read-only) of a short or long volume entry; None for named volumes."""
    if isinstance(item, ScalarNode):
        parts = str(item.value).split(":")
        if len(parts) < 2 or not parts[0].startswith("/"):
            return None, False
        return parts[0], len(parts) > 2 and "ro" in parts[2].split(",")
    if isinstance(item, MappingNode):
        source = scalar_value(mapping_get(item, "source"))
        if scalar_value(mapping_get(item, "type")) != "bind" or not source or not source.startswith("/"):
            return None, False
        return source, _truthy(mapping_get(item, "read_only"))
    return None, False


def _caps(caps: Node | None) -> Iterator[tuple[Node, str]]:
    if not isinstance(caps, SequenceNode):
        return
    for item in caps.value:
        name = (scalar_value(item) or "").upper().removeprefix("CAP_")
        if name in DANGEROUS_CAPS:
            yield item, (f"adds capability {name}, which reaches the host kernel or other containers; "
                         "find the narrower capability it needs or drop it")


def _truthy(node: Node | None) -> bool:
    return (scalar_value(node) or "").lower() in ("true", "yes", "on", "1")
