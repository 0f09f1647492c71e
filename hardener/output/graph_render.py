"""Pictures of a service graph for the markdown report: ASCII before => after, and Mermaid."""
from __future__ import annotations

import re

from hardener.compose.graph import Graph


def render_ascii(graph_before: Graph, graph_after: Graph) -> str:
    """A plain-text picture for the report: networks per service and per edge, before ⇒ after."""
    names = list(graph_before.services)
    width = max((len(n) for n in names), default=4)
    lines = ["services (tier: networks before => after)"]
    for name in names:
        after = graph_after.services.get(name)
        lines.append(f"  {name:<{width}}  {graph_before.tier(name):<4}  "
                     f"{_nets(graph_before, name)} => {_nets(graph_after, name) if after else '(gone)'}")
    lines.append("edges (shared networks before => after)")
    for edges in graph_before.pairs().values():
        a, b = edges[0].client, edges[0].server
        sources = ",".join(sorted({e.source for e in edges}))
        lines.append(f"  {a:>{width}} --> {b:<{width}}  {sources:<12} "
                     f"{_shared(graph_before, a, b)} => {_shared(graph_after, a, b)}")
    lines.append(f"edge services sharing a network with data services: "
                 f"before {_exposed(graph_before)}, after {_exposed(graph_after)}")
    return "\n".join(lines) + "\n"


def render_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart: services by tier, networks as hexagons, inferred edges as arrows."""
    lines = ["flowchart LR"]
    for name, node in graph.services.items():
        lines.append(f"  {_mid(name)}[\"{name} ({node.tier})\"]")
    nets = sorted({n for name in graph.services for n in graph.networks(name)})
    lines += [f"  net_{_mid(net)}{{{{{net}}}}}" for net in nets]
    for name in graph.services:
        lines += [f"  {_mid(name)} -.- net_{_mid(net)}" for net in sorted(graph.networks(name))]
    lines += [f"  {_mid(e.client)} -->|{e.source}| {_mid(e.server)}" for e in graph.edges]
    return "\n".join(lines) + "\n"


def _mid(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _nets(graph: Graph, name: str) -> str:
    mode = graph.services[name].network_mode
    if mode is not None:
        return f"network_mode {mode}"
    return ", ".join(sorted(graph.networks(name))) or "-"


def _shared(graph: Graph, a: str, b: str) -> str:
    if a not in graph.services or b not in graph.services:
        return "-"
    return ", ".join(sorted(graph.networks(a) & graph.networks(b))) or "-"


def _exposed(graph: Graph) -> str:
    pairs = [f"{e}-{d}" for e in graph.services if graph.tier(e) == "edge"
             for d in graph.services if graph.tier(d) == "data" and graph.networks(e) & graph.networks(d)]
    return ", ".join(pairs) if pairs else "none"
