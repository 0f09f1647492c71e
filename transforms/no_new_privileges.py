"""HD601 no-new-privileges."""
from __future__ import annotations

import re
from collections.abc import Iterator

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from hardener.compose.anchors import SILENT, Silent, shape_problem
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_transform import ServiceTransform, WhyNot
from hardener.compose.setuid_use import setuid_use
from hardener.compose.splice import append_sequence_item, insert_mapping_entry, mapping_get, written_here
from hardener.context import Context
from hardener.model import Applicability, Finding
from hardener.why import Why

OPTION = "no-new-privileges:true"
_NNP = re.compile(r"^no-new-privileges(?:[:=](true|false))?$", re.IGNORECASE)


class NoNewPrivileges(ServiceTransform):
    """Add `security_opt: [no-new-privileges:true]` to every Compose service.

    ## What it fixes
    Services that let processes gain privileges through setuid/setgid binaries or file
    capabilities after the container starts.

    ## Why
    With `no-new-privileges` the kernel refuses privilege gains on exec, so an attacker
    inside the container cannot use `su`, `sudo` or a planted setuid binary to become root.

    ## Example
        services:
          web:
            image: nginx:1.27
        ->
            security_opt:
              - no-new-privileges:true

    ## Applicability
    review: an entrypoint that relies on a setuid helper (`su`, `sudo`) to switch users
    stops working; `gosu`, `su-exec` and `USER` are not affected.

    ## Refuses when
    The file is a legacy v1 file (no `services:`), the service is an alias of another or
    not a mapping, its `security_opt` comes from a shared anchor or is not a list, or it
    explicitly sets `no-new-privileges:false`; the service relies on setuid privilege gains:
    its command runs `sudo`/`su`/`doas`, the Dockerfile it builds installs sudo or writes
    `/etc/sudoers`, or it is the service a `devcontainer.json` attaches to (dev container
    images ship sudo for the developer).

    In a multi-file project (an override pair, a `-f` set, an include) it decides on the
    merged service, writes a new key to the service's base file (an edited one to the file
    that sets it) and gives an overlay that only extends the service nothing; it refuses when
    the projects that load the file need different changes, when the change would span two
    files, or when the file is a fragment no known project completes.

    ## References
    compose-lint CL-0003, KICS "Container Privilege Escalation Allowed", CIS Docker 5.25
    """

    id = "HD601"
    name = "no-new-privileges"
    references = ("compose-lint:CL-0003", "cis-docker:5.25")
    applicability = Applicability.REVIEW
    reads = ("security_opt",)
    writes = ("security_opt",)
    pair_keys = ("security_opt",)
    project_aware = True  # decided on the merged project when the file is part of one
    shared = False  # each service gets its own option, merged services included

    def gate(self, service: Service, why_not: WhyNot | None) -> Why | None | Silent:
        # The pair first: a partial override service says nothing, its base file gets the option
        # (merged as a set), even when it is no mapping here.
        why = (why_not(service) if why_not is not None else None) or shape_problem(service)
        return SILENT if why is not None and why.kind.completed else why

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        options = mapping_get(service.node, "security_opt")
        reason = f"service {service.name!r}: processes can no longer gain privileges through setuid binaries"
        needs = setuid_use(service.name, service.node, ctx.file, ctx) if ctx.file is not None else None
        if needs and (options is None or "true" not in _nnp_settings(_values(options) or [])):
            yield self.refuse(f"service {service.name!r}: {needs}", service.line)
            return
        if options is None:
            edit = insert_mapping_entry(doc, service.node, "security_opt", [OPTION])
            yield self.change([edit], reason, service.line)
            return
        values = _values(options)
        if values is None:
            yield self.refuse(f"service {service.name!r}: security_opt is not a plain list", service.line)
        elif "true" in _nnp_settings(values):
            return
        elif _nnp_settings(values):
            yield self.refuse(f"service {service.name!r}: no-new-privileges is explicitly disabled", service.line)
        elif written_here(service.node, "security_opt") is not options:
            yield self.refuse(
                f"service {service.name!r}: security_opt comes from a shared anchor; add the option there",
                service.line,
            )
        else:
            yield self.change([append_sequence_item(doc, options, OPTION)], reason, service.line)


def _values(options: Node) -> list[str] | None:
    if not isinstance(options, SequenceNode):
        return None
    return [item.value for item in options.value if isinstance(item, ScalarNode)]


def _nnp_settings(values: list[str]) -> set[str]:
    """The no-new-privileges values a list sets ("true"/"false"); a bare name means true."""
    found = (_NNP.match(v.strip()) for v in values)
    return {(m.group(1) or "true").lower() for m in found if m}
