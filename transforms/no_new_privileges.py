"""HD601 no-new-privileges."""
from __future__ import annotations

import re
from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.override import NO_NEW_PRIVILEGES_KEYS, Completed, why_not
from hardener.compose.splice import append_sequence_item, insert_mapping_entry, mapping_get, mapping_own
from hardener.context import Context
from hardener.model import Applicability, Finding, Transform

OPTION = "no-new-privileges:true"
_NNP = re.compile(r"^no-new-privileges(?:[:=](true|false))?$", re.IGNORECASE)


class NoNewPrivileges(Transform):
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
    explicitly sets `no-new-privileges:false`.

    ## References
    compose-lint CL-0003, KICS "Container Privilege Escalation Allowed", CIS Docker 5.25
    """

    id = "HD601"
    name = "no-new-privileges"
    targets = ("compose",)
    references = ("compose-lint:CL-0003", "cis-docker:5.25")
    applicability = Applicability.REVIEW

    def run(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        if doc.is_legacy_v1:
            yield self.refuse("legacy v1 Compose file (no `services:`); migrate it to the Compose spec first", 1)
            return
        pair = why_not(ctx, NO_NEW_PRIVILEGES_KEYS)
        for service in doc.services():
            why = pair(service) if pair else None
            if isinstance(why, Completed):
                continue  # a partial override service: its base file gets the option, merged as a set
            if why:
                yield self.refuse(f"service {service.name!r}: {why}", service.line)
                continue
            yield from self._one(doc, service)

    def _one(self, doc: ComposeDoc, service: Service) -> Iterator[Finding]:
        why_not = _obstacle(service)
        if why_not:
            yield self.refuse(f"service {service.name!r}: {why_not}", service.line)
            return
        options = mapping_get(service.node, "security_opt")
        reason = f"service {service.name!r}: processes can no longer gain privileges through setuid binaries"
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
        elif not _own_list(service.node, options):
            yield self.refuse(
                f"service {service.name!r}: security_opt comes from a shared anchor; add the option there",
                service.line,
            )
        else:
            yield self.change([append_sequence_item(doc, options, OPTION)], reason, service.line)


def _obstacle(service: Service) -> str | None:
    if service.alias:
        return "the service is an alias of another; changing it would change the anchor"
    if not isinstance(service.node, MappingNode) or not service.node.value:
        return "the service definition is not a mapping"
    return None


def _values(options: Node) -> list[str] | None:
    if not isinstance(options, SequenceNode):
        return None
    return [item.value for item in options.value if isinstance(item, ScalarNode)]


def _nnp_settings(values: list[str]) -> set[str]:
    """The no-new-privileges values a list sets ("true"/"false"); a bare name means true."""
    found = (_NNP.match(v.strip()) for v in values)
    return {(m.group(1) or "true").lower() for m in found if m}


def _own_list(service: Node | None, options: Node) -> bool:
    """The list is written in this service (not merged in, not an ``*alias``)."""
    if mapping_own(service, "security_opt") is not options or not isinstance(service, MappingNode):
        return False
    key = next(k for k, v in service.value if v is options)
    return bool(options.start_mark.index > key.end_mark.index)
