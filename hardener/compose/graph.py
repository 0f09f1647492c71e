"""Who talks to whom in a Compose file: the service graph, tiers and current networks.

Edges are inferred, never guessed from names alone: ``depends_on``, ``links``,
environment values that name another service as a host (URLs, ``HOST=db``,
``db:6379``; also ``env_file`` contents that exist beside the Compose file), reverse
proxy configuration files a service mounts or builds with (nginx, Caddyfile, Traefik file
provider, envoy, HAProxy: compose/proxy_conf.py), Traefik and Caddy labels, and
``network_mode: service:x``. ``external_links`` are recorded but point outside the file.
The tier of each service (edge, app, data) comes from the knowledge base by image family
(``families`` in ``hardener/data/images.toml``); a service that a proxy configuration makes
a proxy is edge too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.doc_memo import per_doc
from hardener.compose.listen import config_mounts, top_configs
from hardener.compose.proxy_conf import ProxyConf, proxy_configs, target_host
from hardener.compose.splice import mapping_get, scalar_value
from hardener.knowledge.tiers import family_tier
from hardener.limits import read_text_bounded
from hardener.options import Option

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc, Service
    from hardener.context import Context

TIERS = ("edge", "app", "data")
# [tool.hardener.segment-networks] tiers: read here, as every transform using the graph obeys it.
TIERS_OPTION = Option("tiers", "table[string]", {}, "Service -> tier (edge, app or data) where the inferred "
                      "one is wrong.", choices=TIERS)
_HOSTISH_KEY = re.compile(
    r"HOST|SERVER|ADDR|URL|URI|DSN|ENDPOINT|BROKER|NODES|SEEDS|PEERS|UPSTREAM|BACKEND", re.I
)
_IMAGE_KEY = re.compile(r"IMAGE|VERSION|TAG", re.I)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/\s]*@)?([A-Za-z0-9_.-]+)")
_HOST_PORT = re.compile(r"(?<![\w.@/:-])([A-Za-z_][A-Za-z0-9_.-]*):(\d{1,5})(?![\w.])")
_TEMPLATE_VAR = re.compile(r"\{\$(\w+)\}|\$\{(?:env\.)?(\w+)\}|\$(\w+)|\{env\.(\w+)\}")
_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+]([^}]*))?\}|\$[A-Za-z_][A-Za-z0-9_]*")
NGINX_FAMILIES = {"nginx", "openresty", "nginx-unprivileged", "swag", "nginx-proxy"}


@dataclass(frozen=True)
class Edge:
    client: str
    server: str
    source: str  # depends_on | links | env | proxy | network_mode
    detail: str = ""

    @property
    def pair(self) -> frozenset[str]:
        return frozenset((self.client, self.server))


@dataclass(frozen=True)
class ServiceNode:
    name: str
    tier: str
    family: str | None
    line: int
    network_mode: str | None  # "host", "service:db", …: not on Compose networks
    declared: tuple[str, ...] | None  # own or merged `networks:`; None = not declared
    ports: bool = False  # publishes ports


@dataclass
class Graph:
    services: dict[str, ServiceNode] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    external_links: list[tuple[str, str]] = field(default_factory=list)
    unread_env_files: list[tuple[str, str]] = field(default_factory=list)  # (service, path)
    notes: list[str] = field(default_factory=list)  # what the graph could not read, said in reasons

    def networks(self, name: str) -> frozenset[str]:
        """Networks the service is attached to now; ``service:x`` resolves to x's."""
        node = self.services[name]
        mode = node.network_mode
        if mode is not None:
            target = mode[len("service:"):] if mode.startswith("service:") else None
            if target in self.services and target != name:
                return self.networks(target)
            return frozenset()
        return frozenset(node.declared) if node.declared is not None else frozenset({"default"})

    def pairs(self) -> dict[frozenset[str], list[Edge]]:
        out: dict[frozenset[str], list[Edge]] = {}
        for edge in self.edges:
            out.setdefault(edge.pair, []).append(edge)
        return out

    def tier(self, name: str) -> str:
        return self.services[name].tier


def image_family(image: str | None) -> str | None:
    if not image or "$" in image:
        return None
    from hardener.oci.imageref import BadReference, parse

    try:
        return parse(image).family.lower()
    except BadReference:
        return None


def build_graph(doc: ComposeDoc, ctx: Context | None = None) -> Graph:
    """The graph of the first document that has ``services:``; one per document and file
    while the file is processed (compose/doc_memo.py), shared: do not change it."""
    if ctx is None:
        return _build_graph(doc, None)
    here = ctx.file.parent if ctx.file is not None else None
    overrides = ctx.option("segment-networks", "tiers", TIERS_OPTION.default)
    # it reads the doc, files beside ``here`` on the disk (env files, proxy configurations)
    # and the tiers option: the disk does not change while one file is processed
    return per_doc(doc, ctx.files, "graph", (here, overrides), lambda: _build_graph(doc, ctx))


def _build_graph(doc: ComposeDoc, ctx: Context | None) -> Graph:
    services = [s for s in doc.services() if s.doc_index == 0 and isinstance(s.node, MappingNode)]
    names = _host_names(services)
    here = ctx.file.parent if ctx is not None and ctx.file is not None else None
    graph = Graph()
    for service in services:
        graph.edges.extend(_service_edges(service, names, here))
        graph.unread_env_files.extend((service.name, p) for p in _unread_env_files(service, here))
        graph.external_links.extend((service.name, v) for v in _strings(mapping_get(service.node, "external_links")))
    proxies = _conf_edges(services, names, here, graph, top_configs(doc))
    graph.edges.extend(proxies)
    overrides = ctx.option("segment-networks", "tiers", TIERS_OPTION.default) if ctx is not None else {}
    proxied = {e.client for e in proxies}
    for service in services:
        graph.services[service.name] = _node(service, overrides, service.name in proxied)
    graph.edges.extend(_label_edges(services, graph))
    graph.edges = _dedupe(e for e in graph.edges if e.client != e.server and e.server in graph.services)
    return graph


def _node(service: Service, overrides: Any, is_proxy: bool) -> ServiceNode:
    family = image_family(scalar_value(mapping_get(service.node, "image")))
    tier = family_tier(family)
    if is_proxy and tier == "app":
        tier = "edge"
    if isinstance(overrides, dict) and overrides.get(service.name) in TIERS:
        tier = overrides[service.name]
    declared = mapping_get(service.node, "networks")
    ports = mapping_get(service.node, "ports")
    return ServiceNode(
        service.name, tier, family, service.line, scalar_value(mapping_get(service.node, "network_mode")),
        None if declared is None else tuple(_keys_or_items(declared)),
        isinstance(ports, SequenceNode) and bool(ports.value),
    )


def _dedupe(edges: Any) -> list[Edge]:
    seen: dict[tuple[str, str, str], Edge] = {}
    for edge in edges:
        seen.setdefault((edge.client, edge.server, edge.source), edge)
    return list(seen.values())


# reading service entries ----------------------------------------------------------


def _strings(node: Node | None) -> list[str]:
    if isinstance(node, SequenceNode):
        return [str(i.value) for i in node.value if isinstance(i, ScalarNode)]
    if isinstance(node, ScalarNode) and node.value:
        return [str(node.value)]
    return []


def _keys_or_items(node: Node | None) -> list[str]:
    if isinstance(node, MappingNode):
        return [str(k.value) for k, _v in node.value if isinstance(k, ScalarNode)]
    return _strings(node)


def _pairs_of(node: Node | None) -> list[tuple[str, str]]:
    """``environment``/``labels``: mapping or ``KEY=VALUE`` list, as (key, value)."""
    if isinstance(node, MappingNode):  # `<<: *common-env` merges count: a YAML loader sees them
        from hardener.compose.merge import plain

        return [(k, v if isinstance(v, str) else "") for k, v in plain(node).items()]
    return [tuple(item.split("=", 1)) if "=" in item else (item, "") for item in _strings(node)]  # type: ignore[misc]  # split("=", 1) of a text with "=": two parts


def _host_names(services: list[Service]) -> dict[str, str]:
    """Every name a service answers to on a network: its key, container_name, aliases."""
    names: dict[str, str] = {}
    for service in services:
        extra = [scalar_value(mapping_get(service.node, k)) for k in ("container_name", "hostname")]
        networks = mapping_get(service.node, "networks")
        if isinstance(networks, MappingNode):
            for _k, value in networks.value:
                extra += _strings(mapping_get(value, "aliases"))
        for name in extra:
            if name:
                names.setdefault(name.lower(), service.name)
    for service in services:
        names[service.name.lower()] = service.name
    return names


def _service_edges(service: Service, names: dict[str, str], here: Path | None) -> list[Edge]:
    node, me = service.node, service.name
    edges = [Edge(me, d, "depends_on") for d in _keys_or_items(mapping_get(node, "depends_on"))]
    edges += [Edge(me, link.split(":", 1)[0], "links") for link in _strings(mapping_get(node, "links"))]
    mode = scalar_value(mapping_get(node, "network_mode")) or ""
    if mode.startswith("service:"):
        edges.append(Edge(me, mode[len("service:"):], "network_mode"))
    env = _pairs_of(mapping_get(node, "environment")) + _env_files(mapping_get(node, "env_file"), here)
    for key, value in env:
        edges += [Edge(me, names[h], "env", key) for h in env_hosts(key, value) if h in names]
    return edges


def env_hosts(key: str, value: str) -> set[str]:
    """Host names an environment value points at (lower-case)."""
    value = _INTERPOLATION.sub(lambda m: m.group(1) or "", value.replace("$$", "$"))
    hosts = {m.group(1) for m in _URL.finditer(value)}
    if not _IMAGE_KEY.search(key):  # ``IMAGE=postgres:16`` is a reference, not a host
        hosts |= {m.group(1) for m in _HOST_PORT.finditer(value)}
    if _HOSTISH_KEY.search(key):
        hosts |= {part for part in re.split(r"[\s,;]+", value.strip()) if part}
    return {h.lower() for h in hosts}


def _env_file_paths(node: Node | None) -> list[str | None]:
    return [scalar_value(mapping_get(i, "path")) if isinstance(i, MappingNode) else scalar_value(i)
            for i in (node.value if isinstance(node, SequenceNode) else [node] if node is not None else [])]


def _unread_env_files(service: Service, here: Path | None) -> list[str]:
    """env_file entries whose contents are unknown: the host names in them are unknown too."""
    paths = _env_file_paths(mapping_get(service.node, "env_file"))
    return [str(p) for p in paths if here is None or not p or "$" in p or not (here / p).is_file()]


def _env_files(node: Node | None, here: Path | None) -> list[tuple[str, str]]:
    if here is None:
        return []
    found: list[tuple[str, str]] = []
    for rel in _env_file_paths(node):
        file = here / rel if rel and "$" not in rel else None
        if file is None or not file.is_file() or file.stat().st_size > 1_000_000:
            continue
        for line in read_text_bounded(file).splitlines():  # env_file: /dev/zero, /dev/stdin are refused
            line = line.strip().removeprefix("export ").strip()
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                found.append((key.strip(), value.strip().strip("'\"")))
    return found


# reverse proxies ------------------------------------------------------------------


def _label_edges(services: list[Service], graph: Graph) -> list[Edge]:
    """Traefik/Caddy labels: the labelled service is reached by the proxy service."""
    edges = []
    for kind in ("traefik", "caddy"):
        proxies = [s for s, n in graph.services.items() if (n.family or "").startswith(kind)]
        for service in services:
            labels = dict(_pairs_of(mapping_get(service.node, "labels")))
            keys = [k for k in labels if k == kind or k.startswith((kind + ".", kind + "_"))]
            if keys and labels.get(f"{kind}.enable", "true").strip().lower() != "false":
                edges += [Edge(p, service.name, "proxy", f"{kind} labels") for p in proxies]
    return edges


def _conf_edges(services: list[Service], names: dict[str, str], here: Path | None,
                graph: Graph, configs: dict[str, str | None]) -> list[Edge]:
    """A proxy configuration links the service that mounts it (a bind mount or a ``configs:``
    entry of that file, or a build from a folder holding it) to the services it names; an
    nginx one with no owner, to the nginx-family services."""
    if here is None:
        return []
    edges: list[Edge] = []
    by_name = {s.name: s for s in services}
    for conf in proxy_configs(here.resolve()):
        owners = [s.name for s in services if _owns(s, here, conf.path, configs)]
        if not owners and conf.kind == "nginx":
            owners = [s.name for s in services
                      if image_family(scalar_value(mapping_get(s.node, "image"))) in NGINX_FAMILIES]
        hosts = [names[t] for t in conf.hosts if t in names]
        edges += [Edge(o, h, "proxy", conf.path.name) for o in owners for h in sorted(hosts)]
        for owner in owners:
            unknown = [t for t in conf.unknown if not _from_environment(t, by_name[owner], names, edges, conf)]
            if unknown:
                graph.notes.append(f"{conf.path.name} of {owner} also sends traffic to {', '.join(unknown[:3])}, "
                                   "which hardener cannot resolve: no link from it")
    return edges


def _from_environment(target: str, service: Service, names: dict[str, str], edges: list[Edge],
                      conf: ProxyConf) -> bool:
    """A template target (``$BACKEND``, ``{$UPSTREAM}``) filled from the owner's environment,
    as envsubst or Caddy does at start: its link, when every variable in it is set there."""
    env = dict(_pairs_of(mapping_get(service.node, "environment")))
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = next(g for g in match.groups() if g)
        missing = missing or name not in env
        return env.get(name, "")

    filled = _TEMPLATE_VAR.sub(value, target)
    if missing:
        return False
    hosts = [names[h.lower()] for h in target_host(filled, []) if h.lower() in names]
    edges += [Edge(service.name, h, "proxy", conf.path.name) for h in hosts]
    return True


def _owns(service: Service, here: Path, conf: Path, configs: dict[str, str | None]) -> bool:
    """The service mounts the file (or a folder holding it) or builds from a folder holding it."""
    sources = [m.source if m.source.startswith((".", "/")) else f"./{m.source}"
               for m in config_mounts(service.node, configs) if not m.source.startswith("config:")]
    for item in (v for v in [mapping_get(service.node, "volumes")] if isinstance(v, SequenceNode)):
        for vol in item.value:
            text = scalar_value(vol) or scalar_value(mapping_get(vol, "source")) or ""
            sources.append(text.split(":", 1)[0])
    build = mapping_get(service.node, "build")
    sources.append(scalar_value(build) or scalar_value(mapping_get(build, "context")) or "")
    for source in sources:
        if source.startswith((".", "/")) and "$" not in source:
            path = (here / source).resolve()
            if path == here.resolve() or path in here.resolve().parents:
                continue  # the whole project (``build: .``, ``.:/app``) is not a proxy's config
            if path == conf or path in conf.parents:
                return True
    return False


# segmentation plan ----------------------------------------------------------------
