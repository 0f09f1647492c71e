"""HD701 segment-networks.

A whole-stack transform on the ServiceTransform base: it keeps the legacy decision (with its
own wording) but plans every service's networks at once from the stack's graph, so it has no
per-service loop; a service others merge is refused only when one of them would inherit
networks it must not have (``anchor_obstacle``).
"""
from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode

from hardener.compose.doc import ComposeDoc
from hardener.compose.graph import TIERS_OPTION, Graph, build_graph
from hardener.compose.network_plan import Plan, plan_segments
from hardener.compose.project import Loaded
from hardener.compose.project_plan import plan_projects
from hardener.compose.project_view import env_project, fragment, projects_of, unplaced_overlay
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import insert_mapping_entry, mapping_get, mapping_own, merge_sources
from hardener.context import Context
from hardener.edits import Edit
from hardener.model import Applicability, Finding
from hardener.options import Option
from hardener.why import Why


class SegmentNetworks(ServiceTransform):
    """Replace the one default network with tier networks that carry only the inferred links.

    ## What it fixes
    Compose stacks where every service sits on the implicit `default` network, so the
    reverse proxy (or any compromised service) can open connections to the database.

    ## Why
    Network segmentation limits lateral movement: with `frontend` (edge and app
    services) and `backend` (app and data services, `internal: true` so it has no route
    out), the proxy can no longer reach the database at all, and the database cannot
    call out to the internet. Each connection the stack uses is inferred from
    `depends_on`, `links`, environment values naming a service as a host, `env_file`
    contents, nginx `proxy_pass`/`upstream` files and Traefik/Caddy labels, and is kept.

    ## Example
        services:
          proxy: {image: nginx:1.27, depends_on: [web]}
          web: {build: ., environment: [DB_HOST=db]}
          db: {image: postgres:16}
        ->
        proxy: networks [frontend]; web: networks [frontend, backend]; db: networks [backend]
        networks:
          frontend: {}
          backend:
            internal: true

    ## Applicability
    review: a connection the files do not show (a host name in application code or a
    config file hardener cannot see) stops working. Data services that must reach the
    internet are listed in `[tool.hardener.segment-networks] egress = ["svc"]`; they
    (and data services that publish ports, which an internal network cannot do) also
    join a separate `egress` network.

    ## Refuses when
    The file is legacy v1 or has several documents; it uses `extends`, `include`,
    `external_links` or an `env_file` that is not present (the graph would be
    incomplete); a service is an alias; the `default` network is customised; an edge
    service talks to a data service directly; a data or edge service has no inferred
    connection; or a shared anchor would have
    to change for some but not all of its users. Services that already declare
    networks keep them; `network_mode` services are left alone.

    ## References
    CIS Docker 5.30 (do not share the host's network namespace; segment container
    networks), OWASP Docker Security Cheat Sheet rule 5 (limit inter-container traffic).
    """

    id = "HD701"
    name = "segment-networks"
    references = ("cis-docker:5.30", "owasp-docker:rule-5")
    applicability = Applicability.REVIEW
    options = (
        Option("egress", "list[string]", (), "Data services that must reach the internet: they join an "
               "`egress` network too."),
        TIERS_OPTION,
    )
    reads = ("networks", "network_mode", "extends")  # and the stack graph: tiers and links
    writes = ("networks",)

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        yield self.refuse("cannot segment networks: legacy v1 Compose file (no `services:`)", 1)

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        projects = projects_of(ctx) or env_project(doc, ctx)
        if projects:
            yield from self._project(doc, ctx, projects)
            return
        fragment_of = fragment(doc, ctx) or unplaced_overlay(doc, ctx)
        if fragment_of is not None:
            yield self.refuse(f"cannot segment networks: {fragment_of}", 1)
            return
        obstacle = file_obstacle(doc)
        graph = build_graph(doc, ctx) if obstacle is None else None
        if graph is not None and graph.external_links:
            obstacle = f"service {graph.external_links[0][0]!r} uses external_links to containers outside this file"
        elif graph is not None and graph.unread_env_files:
            name, path = graph.unread_env_files[0]
            obstacle = f"service {name!r} reads env_file {path!r}, which is not here; it may name other services"
        if obstacle or graph is None:
            yield self.refuse(f"cannot segment networks: {obstacle}", 1)
            return
        result = plan_segments(graph, list(self.option(ctx, "egress") or []), _taken(doc, graph))
        if isinstance(result, Why):
            yield self.refuse(f"cannot segment networks: {result}", 1)
        elif result is not None:
            yield from self._edits(doc, graph, result)

    def _project(self, doc: ComposeDoc, ctx: Context, projects: list[Loaded]) -> Iterator[Finding]:
        """The file's part of the merged projects' plan; the other files get theirs when processed."""
        plan = plan_projects(projects, ctx, list(self.option(ctx, "egress") or []))
        if isinstance(plan, Why):
            yield self.refuse(f"cannot segment networks: {plan}", 1)
            return
        services = {s.name: s for s in doc.services() if s.doc_index == 0}
        todo = {n: nets for n, nets in (plan.mine.items() if plan else ())
                if n in services and mapping_get(services[n].node, "networks") is None}
        if plan is None or not todo:
            return
        problem = anchor_obstacle(doc, set(todo)) or file_obstacle(doc, project=True)
        declared = mapping_own(doc.documents[0], "networks")
        names = {str(k.value) for k, _v in declared.value} if isinstance(declared, MappingNode) else set()
        top = _top_level(doc, {n: b for n, b in plan.networks.items() if n not in names})
        if isinstance(top, Why) or problem:
            yield self.refuse(f"cannot segment networks: {problem or top}", 1)
            return
        edits = [insert_mapping_entry(doc, services[n].node, "networks", nets) for n, nets in todo.items()]
        lines = sorted(services[n].line for n in todo)
        members = "; ".join(f"{n}: {', '.join(nets)}" for n, nets in todo.items())
        others = f"; the project's other files get their part: {', '.join(sorted(plan.others))}" if plan.others else ""
        reason = (f"services leave the shared default network for tier networks ({members}), planned on the merged "
                  f"project {' and '.join(plan.projects)}{others}; connections kept: {', '.join(sorted(plan.kept))}")
        yield self.change(_merge_points([*edits, *top]), reason + "".join(f"; {n}" for n in plan.notes),
                          lines[0], end_line=lines[-1])

    def _edits(self, doc: ComposeDoc, graph: Graph, plan: Plan) -> Iterator[Finding]:
        services = {s.name: s for s in doc.services()}
        problem = anchor_obstacle(doc, set(plan.assignment))
        top = _top_level(doc, plan.networks)
        if isinstance(top, Why) or problem:
            yield self.refuse(f"cannot segment networks: {problem or top}", 1)
            return
        edits = [insert_mapping_entry(doc, services[n].node, "networks", nets) for n, nets in plan.assignment.items()]
        lines = sorted(services[n].line for n in plan.assignment)
        kept = ", ".join(sorted({f"{e.client}->{e.server} ({e.source})" for e in graph.edges
                                 if e.client in plan.assignment or e.server in plan.assignment}))
        members = "; ".join(f"{n}: {', '.join(nets)}" for n, nets in plan.assignment.items())
        internal = [n for n, body in plan.networks.items() if body.get("internal")]
        reason = (f"services leave the shared default network for tier networks ({members}); "
                  f"internal (no route out): {', '.join(internal) or 'none'}; connections kept: {kept}")
        yield self.change(_merge_points([*edits, *top]), reason + "".join(f"; {n}" for n in plan.notes),
                          lines[0], end_line=lines[-1])


def file_obstacle(doc: ComposeDoc, *, project: bool = False) -> str | None:
    """Why the service graph of this (Compose-spec) file cannot be trusted to be complete, or
    None; in a ``project`` the merged project's graph is used, so include/extends are read."""
    if len(doc.documents) != 1:
        return "the file has several YAML documents"
    if project:
        return _alias_or_default(doc)
    if mapping_own(doc.documents[0], "include") is not None:
        return "the file uses `include`, so some services are defined elsewhere"
    for service in doc.services():
        if service.alias:
            return f"service {service.name!r} is an alias of another; its networks would change with the anchor"
        if mapping_get(service.node, "extends") is not None:
            return f"service {service.name!r} uses `extends`, so part of it is defined elsewhere"
    return _alias_or_default(doc)


def _alias_or_default(doc: ComposeDoc) -> str | None:
    for service in doc.services():
        if service.alias:
            return f"service {service.name!r} is an alias of another; its networks would change with the anchor"
    if mapping_own(mapping_own(doc.documents[0], "networks"), "default") is not None:
        return "the `default` network is customised; moving services off it changes more than segmentation"
    return None


def anchor_obstacle(doc: ComposeDoc, edited: set[str]) -> str | None:
    """An edited service mapping merged into a service that would not get its own networks."""
    nodes = {s.name: s.node for s in doc.services()}
    edited_ids = {id(nodes[n]): n for n in edited}
    for name, node in nodes.items():
        if name in edited or mapping_get(node, "networks") is not None:
            continue
        stack, seen = list(merge_sources(node)), set()
        while stack:
            source = stack.pop()
            if id(source) in edited_ids:
                return (f"service {edited_ids[id(source)]!r} is merged into {name!r} (anchor), which would "
                        "inherit networks it must not have")
            if id(source) not in seen:
                seen.add(id(source))
                stack.extend(merge_sources(source))
    return None


def _taken(doc: ComposeDoc, graph: Graph) -> set[str]:
    names = {n for s in graph.services.values() for n in (s.declared or ())}
    top = mapping_own(doc.documents[0], "networks")
    if isinstance(top, MappingNode):
        names |= {str(k.value) for k, _v in top.value}
    return names


def _top_level(doc: ComposeDoc, bodies: dict[str, dict[str, bool]]) -> list[Edit] | Why:
    root = doc.documents[0]
    top = mapping_own(root, "networks")
    if top is None:
        return [insert_mapping_entry(doc, root, "networks", dict(bodies))] if bodies else []
    if not isinstance(top, MappingNode) or not top.value and not top.flow_style:
        return Why("the top-level `networks:` is empty or not a mapping")
    return [insert_mapping_entry(doc, top, name, body) for name, body in bodies.items()]


def _merge_points(edits: list[Edit]) -> list[Edit]:
    """Insertions at one offset become one edit, in the order they were made."""
    merged: dict[tuple[int, int], str] = {}
    for edit in edits:
        key = (edit.start, edit.end)
        merged[key] = merged.get(key, "") + edit.replacement
    return [Edit(s, e, text) for (s, e), text in merged.items()]
