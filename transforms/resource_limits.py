"""HD606 resource-limits."""
from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.graph import TIERS, Graph, build_graph, image_family
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import (
    insert_mapping_entry,
    mapping_get,
    mapping_own,
    render_scalar,
    scalar_value,
    written_here,
)
from hardener.context import Context
from hardener.edits import Edit, merge_inserts
from hardener.knowledge import tiers
from hardener.model import Applicability, Finding
from hardener.options import Option
from hardener.why import Why

NAME = "resource-limits"
KINDS = ("memory", "cpus", "pids")
_DEPLOY = ("deploy", "resources", "limits")
# Every spelling Compose reads a limit from. cpu_quota/cpu_period/cpu_count/cpu_percent
# bound CPU too, and Docker refuses `cpus` beside a quota ("Conflicting options").
_SET_BY: dict[str, tuple[tuple[str, ...], ...]] = {
    "memory": (("mem_limit",), (*_DEPLOY, "memory")),
    "cpus": (("cpus",), ("cpu_quota",), ("cpu_period",), ("cpu_count",), ("cpu_percent",), (*_DEPLOY, "cpus")),
    "pids": (("pids_limit",), (*_DEPLOY, "pids")),
}
_LIMITS = (
    Option("memory", "string|number|false", None, "Memory limit, like 512M; false: add none; unset: the tier default."),
    Option("cpus", "string|number|false", None, "CPU limit in cores, like 1.5; false: add none; unset: the tier default."),
    Option("pids", "string|number|false", None, "Process limit; false: add none; unset: the tier default."),
)
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp]?)(?:i?b)?", re.I)  # go-units RAMInBytes
_CORES = re.compile(r"\d+(?:\.\d+)?")
_WINDOWS = re.compile(r"windows|nanoserver|servercore", re.I)
_VERSION = re.compile(r"([123])(?:\.(\d+))?")


class ResourceLimits(ServiceTransform):
    """Bound each Compose service's memory, CPU and process count.

    ## What it fixes
    Services without a memory limit, a CPU limit or a pids limit.

    ## Why
    Unbounded, one runaway or compromised container (a leak, a fork bomb, a crypto
    miner) exhausts the host and takes every other service down with it. Limits go in
    the form the file's Compose version honours: `deploy.resources.limits` (memory,
    cpus) and `pids_limit` for Compose spec files, `deploy.resources.limits` only for
    version 3 files (their schema has no pids limit), `mem_limit`/`cpus`/`pids_limit`
    for version 2 files (`cpus` needs 2.2, `pids_limit` 2.1).

    ## Example
        services:
          db:
            image: postgres:16
        ->
            deploy:
              resources:
                limits:
                  memory: 1G
                  cpus: "1.0"
            pids_limit: 512

    ## Applicability
    unsafe when a value is a tier default from the knowledge base (a memory limit that
    is too low gets the service OOM-killed); review when every value added is
    configured: `[tool.hardener.resource-limits]` `memory`, `cpus`, `pids` (false: add
    none), per tier in `.tiers.<edge|app|data>`, per service in `.services.<name>`.

    ## Refuses when
    The file is a legacy v1 file or an override file, its `version:` is unknown, the
    service is an alias, not a mapping, uses `extends:` or has neither `image:` nor
    `build:`, other services merge it and would not all get the same limits,
    `deploy`/`resources`/`limits` come from an anchor or merge key, a
    configured value is invalid, or a memory/CPU reservation or `memswap_limit` would
    conflict with the new limit. A version without a form for a limit is reported.

    ## References
    compose-lint CL-0026, CIS Docker 5.10, 5.11 and 5.28, OWASP Docker Security Cheat Sheet rule 7
    """

    id = "HD606"
    name = NAME
    references = ("compose-lint:CL-0026", "cis-docker:5.10", "cis-docker:5.11", "cis-docker:5.28")
    applicability = Applicability.UNSAFE
    options = (
        *_LIMITS,
        Option("tiers", "table[table]", {}, "Limits per tier: [resource-limits.tiers.<tier>] memory, cpus, pids.",
               keys=TIERS, fields=_LIMITS),
        Option("services", "table[table]", {}, "Limits per service: [resource-limits.services.<name>] memory, "
               "cpus, pids.", fields=_LIMITS),
    )
    # Each form of each limit, what would conflict with one, and what makes a Windows container;
    # the tier comes from the stack graph (the knowledge base's image families).
    reads = ("image", "build", "extends", "platform", "isolation", "mem_limit", "mem_reservation",
             "memswap_limit", "cpus", "cpu_quota", "cpu_period", "cpu_count", "cpu_percent", "pids_limit",
             "deploy")
    writes = ("deploy", "mem_limit", "cpus", "pids_limit")

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """One pass over the services with the stack's graph (tiers); the versions without a
        form for a limit are reported once per document after it."""
        if ctx.file is not None and "override" in ctx.file.name.lower():
            yield self.refuse("an override file: a limit here replaces the one of the file it overrides; set limits there", 1)
            return
        graph = build_graph(doc, ctx)
        unplaced: dict[tuple[int, str], int] = {}  # (document, why) -> line of `version:`

        def one(service: Service) -> Iterator[Finding]:
            form = _form(doc.documents[service.doc_index])
            why = (form if isinstance(form, Why) else None) or _why_not(service)
            if why:
                yield self.refuse(f"service {service.name!r}: {why}", service.line)
                return
            assert isinstance(form, Form)
            missing = [k for k in KINDS if not any(_get(service.node, p) is not None for p in _SET_BY[k])]
            unplaced.update({(service.doc_index, form.missing[k]): form.line for k in missing if k in form.missing})
            if any(k in form.where for k in missing):
                yield from self._one(doc, service, ctx, _tier(graph, service), form, missing)

        yield from self.each_service(doc, ctx, one)  # a service others merge: once, when they all agree
        for (_index, why), line in unplaced.items():
            yield self.refuse(why, line)

    def _one(self, doc: ComposeDoc, service: Service, ctx: Context, tier: str, form: Form,
             missing: list[str]) -> Iterator[Finding]:
        values = _values(ctx, service.name, tier)
        if isinstance(values, Why):
            yield self.refuse(f"service {service.name!r}: {values}", service.line)
            return
        todo = {k: values[k] for k in missing if k in form.where and values[k].text}
        windows = "pids" in todo and _windows(doc.documents[service.doc_index], service.node)
        if windows:  # Docker refuses a pids limit for Windows containers
            del todo["pids"]
        why = _conflict(service.node, todo)
        if why:
            yield self.refuse(f"service {service.name!r}: {why}", service.line)
        if why or not todo:
            return
        try:
            edits = _edits(doc, service.node, {form.where[k]: v.text for k, v in todo.items()}, form)
        except ValueError as err:  # a splice helper met a node it cannot edit
            edits = Why(str(err))
        if isinstance(edits, Why):
            yield self.refuse(f"service {service.name!r}: {edits}", service.line)
            return
        defaults = any(not v.configured for v in todo.values())
        hint = (f"; configure [tool.hardener.{NAME}] memory/cpus/pids, .tiers.{tier} or "
                f".services.{service.name} to choose" if defaults else "")
        said = ", ".join(f"{k} {v.text}" for k, v in todo.items())
        said += " (no pids limit: Windows containers have none)" if windows else ""
        yield self.change(edits, f"service {service.name!r}: {said} ({_origin(todo)}{hint})", service.line,
                          applicability=Applicability.UNSAFE if defaults else Applicability.REVIEW)


def _origin(todo: dict[str, Value]) -> str:
    """Where the values came from: "data-tier defaults" or "memory: [tool…]; cpus, pids: …"."""
    sources: dict[str, list[str]] = {}
    for kind, value in todo.items():
        sources.setdefault(value.source, []).append(kind)
    if len(sources) == 1:
        source = next(iter(sources))
        return f"{source}s from the knowledge base" if source.endswith("default") else f"from {source}"
    return "; ".join(f"{', '.join(kinds)}: {source}" for source, kinds in sources.items())


@dataclass(frozen=True)
class Form:
    """Where a file of one Compose version takes each limit (a key path in the service)."""

    where: dict[str, tuple[str, ...]]
    missing: dict[str, str]  # kind -> why this version has no form for it
    line: int = 1  # of `version:`
    numeric_cpus: bool = False  # v2 schemas want `cpus` as a number, not a string


@dataclass(frozen=True)
class Value:
    text: str  # "" = the configuration says not to add this limit
    source: str
    configured: bool


def _form(root: Node) -> Form | Why:
    node = mapping_own(root, "version")
    version = scalar_value(node)
    spec = {"memory": (*_DEPLOY, "memory"), "cpus": (*_DEPLOY, "cpus"), "pids": ("pids_limit",)}
    if node is None:
        return Form(spec, {})
    match = _VERSION.fullmatch((version or "").strip())
    if match is None or match.group(1) == "1":
        return Why(f"unknown Compose file version {version!r}")
    line = node.start_mark.line + 1
    minor = int(match.group(2) or 0)
    if match.group(1) == "3":
        why = (f"version {version}: its schema has no pids limit (docker stack deploy rejects "
               "`pids_limit`); delete the obsolete `version:` line to get one")
        return Form({k: spec[k] for k in ("memory", "cpus")}, {"pids": why}, line)
    where = {"memory": ("mem_limit",), "cpus": ("cpus",), "pids": ("pids_limit",)}
    since = {"cpus": 2, "pids": 1}
    missing = {k: f"version {version}: `{where[k][0]}` needs version 2.{n}; raise `version:` to 2.4 to get it"
               for k, n in since.items() if minor < n}
    return Form({k: p for k, p in where.items() if k not in missing}, missing, line, numeric_cpus=True)


def _why_not(service: Service) -> str | None:
    if mapping_get(service.node, "extends") is not None:
        return "it uses `extends:`; a limit here would replace the extended service's"
    if mapping_get(service.node, "image") is None and mapping_get(service.node, "build") is None:
        return "it has neither `image:` nor `build:` (a fragment another file completes); set limits where it is defined"
    return None


def _windows(root: Node, node: Node | None) -> bool:
    """A Windows container: Windows image, `isolation:`/`platform: windows`, or the `nat` network."""
    if mapping_get(node, "isolation") is not None or _WINDOWS.search(scalar_value(mapping_get(node, "image")) or ""):
        return True
    if (scalar_value(mapping_get(node, "platform")) or "").lower().startswith("windows"):
        return True
    networks = mapping_own(root, "networks")
    bodies = [v for _k, v in networks.value] if isinstance(networks, MappingNode) else []
    names = [_get(b, p) for b in bodies for p in (("driver",), ("name",), ("external", "name"))]
    return any((scalar_value(n) or "").lower() == "nat" for n in names)


def _tier(graph: Graph, service: Service) -> str:
    if service.doc_index == 0 and service.name in graph.services:
        return graph.tier(service.name)
    family = image_family(scalar_value(mapping_get(service.node, "image")))
    return tiers.family_tier(family)


@functools.lru_cache(maxsize=1)
def tier_limits() -> dict[str, dict[str, Any]]:
    """[limits] of the knowledge base: default limits per tier, keyed as the config tables are."""
    return {tier: dataclasses.asdict(limits) for tier, limits in tiers.limits().items()}


def _values(ctx: Context, service: str, tier: str) -> dict[str, Value] | Why:
    """Per limit: the service's table, the tier's, the global keys, else the tier default."""
    base = f"[tool.hardener.{NAME}"
    layers = [
        (_table(ResourceLimits.option(ctx, "services"), service), f"{base}.services.{service}]"),
        (_table(ResourceLimits.option(ctx, "tiers"), tier), f"{base}.tiers.{tier}]"),
        ({k: ResourceLimits.option(ctx, k) for k in KINDS if ResourceLimits.option(ctx, k) is not None}, f"{base}]"),
    ]
    default = (tier_limits()[tier], f"{tier}-tier default", False)
    out: dict[str, Value] = {}
    for kind in KINDS:
        table, source, configured = next(((t, s, True) for t, s in layers if kind in t), default)
        text = _normal(kind, table[kind])
        if text is None:
            what = "size like 512M" if kind == "memory" else "positive number"
            return Why(f"{source}: {kind} = {table[kind]!r} is not a {what}")
        out[kind] = Value(text, source, configured)
    return out


def _table(tables: Any, key: str) -> dict[str, Any]:
    found = tables.get(key) if isinstance(tables, dict) else None
    return found if isinstance(found, dict) else {}


def _normal(kind: str, raw: Any) -> str | None:
    """The value as it is written into the file ("" for false: leave that limit out)."""
    if raw is False:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    text = str(raw).strip()
    if kind == "memory":
        return text if (_bytes(text) or 0) > 0 else None
    if kind == "cpus":
        return text if _CORES.fullmatch(text) and float(text) > 0 else None
    return text if text.isdigit() and int(text) > 0 else None


def _bytes(text: str | None) -> int | None:
    match = _SIZE.fullmatch((text or "").strip())
    if match is None:
        return None
    return int(float(match.group(1)) * 1024 ** " kmgtp".index(match.group(2).lower() or " "))


def _get(node: Node | None, path: tuple[str, ...]) -> Node | None:
    for key in path:
        node = mapping_get(node, key)
    return node


def _conflict(node: Node | None, todo: dict[str, Value]) -> str | None:
    """Docker refuses a memory limit below the reservation or swap limit, and cpus below the reservation."""
    if "memory" in todo:
        limit = _bytes(todo["memory"].text) or 0
        for label, path in (("mem_reservation", ("mem_reservation",)),
                            ("the memory reservation", ("deploy", "resources", "reservations", "memory"))):
            have = scalar_value(_get(node, path))
            if have is not None and ((size := _bytes(have)) is None or size > limit):
                return f"{label} {have} may exceed the memory limit {todo['memory'].text}; set the limit by hand"
        swap = scalar_value(_get(node, ("memswap_limit",)))
        if swap is not None and swap.strip() != "-1" and (_bytes(swap) or 0) < limit:
            return f"memswap_limit {swap} may be below the memory limit {todo['memory'].text}; set the limit by hand"
    cpus = scalar_value(_get(node, ("deploy", "resources", "reservations", "cpus")))
    if "cpus" in todo and cpus is not None and not (_CORES.fullmatch(cpus) and float(cpus) <= float(todo["cpus"].text)):
        return f"the CPU reservation {cpus} exceeds the limit {todo['cpus'].text}; set the limit by hand"
    return None


def _edits(doc: ComposeDoc, node: Node | None, leaves: dict[tuple[str, ...], str], form: Form) -> list[Edit] | Why:
    tree: dict[str, Any] = {}
    for path, text in leaves.items():
        branch = tree
        for key in path[:-1]:
            branch = branch.setdefault(key, {})
        branch[path[-1]] = int(text) if path[-1] in ("pids", "pids_limit") else text
    edits: list[Edit] = []
    why = _splice(doc, node, tree, edits)
    if why is not None:
        return why
    if form.numeric_cpus and "cpus" in tree:  # a v2 schema types `cpus` as a number
        quoted, plain = f"cpus: {render_scalar(tree['cpus'], quote=doc.quote)}", f"cpus: {tree['cpus']}"
        edits = [Edit(e.start, e.end, e.replacement.replace(quoted, plain, 1)) for e in edits]
    return merge_inserts(edits)


def _splice(doc: ComposeDoc, node: Node | None, tree: dict[str, Any], edits: list[Edit]) -> Why | None:
    """Insert ``tree`` into ``node``, descending into mappings that exist (deepest first);
    else why not (a mapping on the way that is not this service's own)."""
    later: list[Edit] = []
    for key, sub in tree.items():
        if isinstance(sub, dict) and mapping_get(node, key) is not None:
            own = _own_mapping(node, key)
            why = own if isinstance(own, Why) else _splice(doc, own, sub, edits)
            if why is not None:
                return why
        else:
            later.append(insert_mapping_entry(doc, node, key, sub))
    edits.extend(later)
    return None


def _own_mapping(node: Node | None, key: str) -> MappingNode | Why:
    """``key``'s mapping written in ``node`` itself, else why not (merged, aliased, anchored)."""
    value = mapping_own(node, key)
    if value is None:
        return Why(f"`{key}` comes from a merge key; a `{key}:` here would replace it, not extend it")
    if not isinstance(value, MappingNode) or not isinstance(node, MappingNode):
        return Why(f"`{key}` is not a mapping")
    if written_here(node, key) is None:
        return Why(f"`{key}` is an alias of a shared anchor; set the limits there")
    if getattr(value, "anchor", None):
        return Why(f"`{key}` carries an anchor other services may use; set the limits there")
    return value
