"""segment-networks on a multi-file project: one plan for the merged project, each file its part.

Every project that loads the file is merged (compose/project.py) from the files as they were
before the run, its graph built from the merged services and planned like a single file
(compose/network_plan.py). The plans must agree on every service they touch; the combined
assignment must keep every linked pair of every project on a shared network in every profile;
and every service that changes must be defined in a file hardener processes, so each file's
part is written when that file is processed. Otherwise the answer is a Why naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.compose.graph import Graph, build_graph
from hardener.compose.network_plan import kept_pairs, plan_segments
from hardener.compose.project import Loaded
from hardener.compose.project_view import describe, merged_doc
from hardener.discover import classify
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.context import Context


@dataclass
class ProjectPlan:
    """What this file gets (service -> networks, new top-level networks), and for the reason
    the projects, their kept connections, notes, and the other files that get their part."""

    mine: dict[str, list[str]] = field(default_factory=dict)
    networks: dict[str, dict[str, bool]] = field(default_factory=dict)
    projects: list[str] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    others: set[str] = field(default_factory=set)


def plan_projects(projects: list[Loaded], ctx: Context, egress: list[str]) -> ProjectPlan | Why | None:
    """The file's part of the plan of every project that loads it (see the module docstring)."""
    assert ctx.file is not None
    me, root = ctx.file.resolve(), ctx.root
    combined: dict[str, list[str]] = {}
    owners: dict[str, Path] = {}
    bodies: dict[str, dict[str, bool]] = {}
    graphs: list[tuple[Loaded, Graph]] = []
    out = ProjectPlan()
    for loaded in projects:
        name = describe(loaded, root)
        graph = _graph(loaded, ctx)
        if isinstance(graph, Why):
            return graph.about(f"project {name}")
        plan = plan_segments(graph, egress, _taken(loaded, graph))
        if isinstance(plan, Why):
            return plan.about(f"project {name}")
        graphs.append((loaded, graph))
        out.projects.append(name)
        if plan is None:
            continue
        out.notes.extend(n for n in plan.notes if n not in out.notes)
        bodies.update(plan.networks)
        for service, nets in plan.assignment.items():
            # a service two projects place differently joins both answers' networks: each
            # project keeps its links, and the reachability check below holds all of them
            combined[service] = list(dict.fromkeys([*combined.get(service, []), *nets]))
            owner = loaded.services[service].owner()
            if owner is None or classify(owner.name) != "compose":
                where = owner.name if owner is not None else "no file"
                return Why(f"service {service!r} of project {name} is defined in {where}, which hardener does not "
                           "process as a Compose file; segment it by hand or rename the file compose.*.yaml")
            owners[service] = owner
    if not combined:
        return None
    why = _reachable(graphs, combined, root)
    if why is not None:
        return why
    # a project where a service stays on `default` says so; another project may still move it
    out.notes = [n for n in out.notes if not any(n.startswith(f"{s!r} ") for s in combined)]
    out.mine = {s: n for s, n in combined.items() if owners[s] == me}
    out.others = {_rel(o, root) for s, o in owners.items() if o != me}
    used = {n for nets in out.mine.values() for n in nets}
    out.networks = {n: b for n, b in bodies.items() if n in used}
    out.kept = {f"{e.client}->{e.server} ({e.source})" for _l, g in graphs for e in g.edges
                if e.client in combined or e.server in combined}
    return out


def _graph(loaded: Loaded, ctx: Context) -> Graph | Why:
    if loaded.problems:
        return Why(loaded.problems[0])
    doc = merged_doc(loaded)
    graph = build_graph(doc, ctx.for_file(loaded.project.files[0]))
    if graph.external_links:
        return Why(f"service {graph.external_links[0][0]!r} uses external_links to containers outside the project")
    if graph.unread_env_files:
        name, path = graph.unread_env_files[0]
        return Why(f"service {name!r} reads env_file {Path(path).name!r}, which is not here; it may name other services")
    return graph


def _taken(loaded: Loaded, graph: Graph) -> set[str]:
    names = {n for s in graph.services.values() for n in (s.declared or ())}
    return names | set(loaded.networks)


def _reachable(graphs: list[tuple[Loaded, Graph]], combined: dict[str, list[str]], root: Path) -> Why | None:
    """Every pair a project keeps (linked and sharing a network today) still shares one, in
    every profile of that project, once each touched service has its new networks."""
    for loaded, graph in graphs:
        kept, _notes = kept_pairs(graph)
        if isinstance(kept, Why):
            return kept
        for profile in loaded.profiles():
            active = set(loaded.active(profile))
            for pair in kept:
                a, b = sorted(pair)
                if {a, b} <= active and not set(_after(graph, a, combined)) & set(_after(graph, b, combined)):
                    where = f" with profile {profile!r}" if profile else ""
                    return Why(f"{a} and {b} would share no network{where} in project {describe(loaded, root)}")
    return None


def _after(graph: Graph, name: str, combined: dict[str, list[str]]) -> frozenset[str]:
    mode = graph.services[name].network_mode or ""
    if mode.startswith("service:") and mode[len("service:"):] in graph.services:
        return _after(graph, mode[len("service:"):], combined)
    return frozenset(combined[name]) if name in combined else graph.networks(name)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
