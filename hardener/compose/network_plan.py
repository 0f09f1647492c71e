"""segment-networks' plan: tier networks for the services on the implicit default network,
keeping exactly the connections the graph (hardener.compose.graph) says the stack uses."""
from __future__ import annotations

from dataclasses import dataclass

from hardener.compose.graph import Edge, Graph
from hardener.why import Why


@dataclass
class Plan:
    """New networks per service (in order) and the new top-level networks (name -> body)."""

    assignment: dict[str, list[str]]
    networks: dict[str, dict[str, bool]]
    notes: list[str]


def plan_segments(graph: Graph, egress: list[str], taken: set[str]) -> Plan | Why | None:
    """Tier networks for the services on the implicit default network.

    Returns why not when segmenting would be a guess, None when there is
    nothing to segment. Only connections that work today are kept: a pair that shares
    no network now is not a connection the stack uses.
    """
    free = [n for n, s in graph.services.items() if s.declared is None and s.network_mode is None]
    kept, notes = kept_pairs(graph)
    if isinstance(kept, Why):
        return kept
    notes = [*graph.notes, *notes]
    touched = [n for n in free if any(n in p for p in kept)]
    if not touched:
        return None
    for name in free:
        if name not in touched:
            if graph.tier(name) != "app":
                return Why(f"{graph.tier(name)} service {name!r} has no inferred connection; the graph is incomplete")
            notes.append(f"{name!r} has no inferred connection and stays on the default network")
    front, back, out = (_fresh(n, taken) for n in ("frontend", "backend", "egress"))
    assignment: dict[str, list[str]] = {}
    for name in touched:
        peers = [m for p in kept if name in p for m in p if m != name]
        if graph.tier(name) == "data":
            nets = [back] + ([out] if name in egress or graph.services[name].ports else [])
        else:
            nets = [front] + ([back] if any(graph.tier(m) == "data" for m in peers) else [])
        if any(m not in touched for m in peers):
            nets.append("default")  # a peer that keeps its own networks shares `default` with it
        assignment[name] = nets
    if _separates_nothing(graph, free, assignment, front):
        return None
    bodies = {front: {}, back: {"internal": True}, out: {}}
    used = {n for nets in assignment.values() for n in nets}
    return Plan(assignment, {n: b for n, b in bodies.items() if n in used}, notes)


def _separates_nothing(graph: Graph, free: list[str], assignment: dict[str, list[str]], front: str) -> bool:
    """Every service of the default network would move, together, to one new network: that only
    renames `default` (no pair loses a route it had), and a rename breaks what names the old
    network from outside (`external: {name: <project>_default}`, `docker run --network`)."""
    if set(assignment) != set(free) or any(nets != [front] for nets in assignment.values()):
        return False
    return not any("default" in graph.networks(n) for n in graph.services if n not in free)


def kept_pairs(graph: Graph) -> tuple[dict[frozenset[str], list[Edge]] | Why, list[str]]:
    kept: dict[frozenset[str], list[Edge]] = {}
    notes: list[str] = []
    for edges in graph.pairs().values():
        a, b = _resolve(graph, edges[0].client), _resolve(graph, edges[0].server)
        if a is None or b is None or a == b or not graph.networks(a) & graph.networks(b):
            continue
        if {graph.tier(a), graph.tier(b)} == {"edge", "data"}:
            if all(e.source == "depends_on" for e in edges):
                notes.append(f"{a}->{b} is start-up order only (depends_on), not kept as a connection")
                continue
            return Why(f"edge service and data service {a!r}/{b!r} talk directly"), notes
        kept[frozenset((a, b))] = edges
    return kept, notes


def _resolve(graph: Graph, name: str) -> str | None:
    """The service whose network namespace ``name`` uses; None for host/none/container:."""
    mode = graph.services[name].network_mode
    if mode is None:
        return name
    target = mode[len("service:"):] if mode.startswith("service:") else ""
    return target if target in graph.services and graph.services[target].network_mode is None else None


def _fresh(name: str, taken: set[str]) -> str:
    return next(c for c in (name, f"{name}-net", f"hardener-{name}", f"hardener-{name}-net") if c not in taken)
