"""HD702 bind-ports-localhost.

A whole-stack transform on the ServiceTransform base: it keeps the legacy decision (with its
own wording) but runs its own loop, because which services it touches and how comes from the
stack's graph (tiers, who uses a data service), the host-network mode of any service and
whether the file binds IPv6 anywhere; a service others merge is judged on its own `ports`.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.ci_stack import ci_stack
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.graph import Graph, build_graph
from hardener.compose.project import Loaded
from hardener.compose.project_view import env_project, fragment, merged_doc, projects_of, unplaced_overlay
from hardener.compose.public_entry import readme_entries
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import insert_mapping_entry, mapping_get, mapping_own, scalar_value, written_here
from hardener.context import Context
from hardener.edits import Edit
from hardener.model import Applicability, Finding
from hardener.options import Option

_PROTO = re.compile(r"/(tcp|udp|sctp)$", re.I)
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::?-(\d+(?:-\d+)?))?\}|\$([A-Za-z_]\w*)")
_PORT_NAME = re.compile(r"PORT(S|_RANGE|_NUMBER|_NO)?$", re.I)  # ${DB_PORT}, ${X_PORT_RANGE}, …
_PUBLIC_WORDS = re.compile(r"\b(public(ly)?|inbound|ingress|internet|firewall|entry ?points?)\b", re.I)
_PORT_NUMBER = re.compile(r"(?<![\w.:/-])(\d{2,5})(?![\w.:/-])")
USER_PORTS = (80, 443)  # host ports that face users: an app service publishing them is the edge


class BindPortsLocalhost(ServiceTransform):
    """Publish the ports of non-edge services on 127.0.0.1 instead of every interface.

    ## What it fixes
    `ports: ["5432:5432"]` on a database, cache or application service: Docker listens
    on 0.0.0.0 (and `[::]`) and its iptables rules bypass UFW/firewalld, so the port is
    open to the whole network.

    ## Why
    Only edge services (reverse proxies) need to face users. Other published ports are
    for the operator on the host; binding them to `127.0.0.1` keeps that use and closes
    them to everyone else. From another machine, an SSH tunnel still reaches them
    (`ssh -L 5432:127.0.0.1:5432 host`).

    ## Example
        ports:
          - "5432:5432"        ->  - "127.0.0.1:5432:5432"
          - 6379               ->  - 127.0.0.1::6379
          - target: 80         ->    host_ip: 127.0.0.1 (added)

    ## Applicability
    review: clients on other machines lose access to the port; the reason says how to
    keep it (an SSH tunnel, or the `public` list). Edge services (reverse proxies, and
    services a proxy config in the repo routes from) keep public ports, as do services
    listed in `[tool.hardener.bind-ports-localhost] public = ["svc"]` and the host ports
    an app service publishes to users: 80 and 443 by default (`user-ports = [80, 443]`), on
    the host or in the container (`5000:80` is a web UI), so an app serving the web keeps
    that port and loses only its debug/admin ones (long syntax and `${HTTP_PORT:-80}` alike). An app service that is the only one
    publishing host ports is the stack's entry point and keeps them, as does a service the
    repository's README names as the public entry (compose/public_entry.py); a file that already
    binds most of its published ports to a loopback address left the others open on
    purpose, and they stay. When the file already binds IPv6, a `[::1]` twin is added. unsafe: a data
    service that other services of the stack use has its `ports` turned into `expose`
    (reachable only from the stack's networks).

    ## Refuses when
    The file starts a test or CI stack (it sits in `tests/`, `ci/`, `e2e/` … or its name says
    `test`/`ci`: test runners may connect by the host's address), the file is legacy v1, a
    service is an alias, its `ports` come from a shared anchor,
    or a port uses a variable that may hold an address (`${BIND}:80`, `$$`, `${X:?err}`,
    a `host_ip` variable). A variable whose name ends in PORT, PORTS, PORT_RANGE or PORT_NUMBER
    (`${DB_PORT:-5432}:5432`) is taken to hold a port and bound; the reason says so.

    ## References
    compose-lint CL-0005, CIS Docker 5.14 (bind incoming container traffic to a specific
    host interface).
    """

    id = "HD702"
    name = "bind-ports-localhost"
    references = ("compose-lint:CL-0005", "cis-docker:5.14")
    applicability = Applicability.REVIEW
    options = (
        Option("public", "list[string]", (), "Services whose ports stay public (users reach them directly)."),
        Option("user-ports", "list[int|string]", USER_PORTS, "Host ports an app service publishes to users; "
               "they stay public."),
    )
    reads = ("ports", "expose")  # and the stack graph: tiers, links, network modes
    writes = ("ports", "expose")  # `ports:` becomes `expose:` for a data service only the stack uses

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        yield self.refuse("legacy v1 Compose file (no `services:`)", 1)

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        projects = projects_of(ctx) or env_project(doc, ctx)
        fragment_of = (fragment(doc, ctx) or unplaced_overlay(doc, ctx)) if not projects else None
        if fragment_of is not None:
            yield self.refuse(f"cannot bind ports: {fragment_of}", 1)
            return
        tests = ci_stack(ctx.file, ctx.root) if ctx.file is not None else None
        if tests is not None and doc.services():
            yield self.refuse(f"cannot bind ports: {tests}; a test runner reaches its ports, and CI jobs often "
                              "connect by the host's address (`hostname -I`), not 127.0.0.1; bind them by hand if "
                              "yours never does", 1)
            return
        graph, sole = _stack(doc, ctx, projects)
        public = set(self.option(ctx, "public") or [])
        user_ports = frozenset(str(p) for p in self.option(ctx, "user-ports"))
        ipv6 = _uses_ipv6(doc)
        host_mode = any(s.network_mode == "host" for s in graph.services.values())
        deliberate = _loopback_binding(doc) and _loopback_binding(_as_written(doc, ctx))
        folders = [ctx.file.parent, ctx.root] if ctx.file is not None else [ctx.root]
        readme = readme_entries(folders, [s.name for s in doc.services()], ctx.files.run_view())
        for service in doc.services():
            node = graph.services.get(service.name)
            if node is None or node.tier == "edge" or service.name in public or node.network_mode == "host":
                continue
            ports = mapping_get(service.node, "ports")
            if not isinstance(ports, SequenceNode) or not ports.value:
                continue
            if service.name in readme:
                yield self.refuse(f"service {service.name!r}: {readme[service.name]} names it as the public entry "
                                  "point; its ports stay public (bind them by hand if that is wrong)", service.line)
                continue
            if deliberate is not None and any(_bindable_item(i) for i in ports.value):
                yield self.refuse(
                    f"service {service.name!r}: the file already binds {deliberate} to this host and leaves these "
                    "ports on every interface, a deliberate choice; list the service as public or bind it by hand",
                    service.line)
                continue
            if node.tier == "app" and service.name in sole:
                yield self.refuse(
                    f"service {service.name!r}: the only service that publishes host ports is the stack's entry "
                    "point; its ports stay public (bind them by hand if users never reach it directly)", service.line)
                continue
            if service.alias or written_here(service.node, "ports") is not ports:
                yield self.refuse(f"service {service.name!r}: ports come from a shared anchor or alias", service.line)
                continue
            unknown = next((i for i in ports.value if _unknown_variable(i)), None)
            if unknown is not None:
                yield self.refuse(f"service {service.name!r}: port {scalar_value(unknown) or _long_text(unknown)!r} "
                                  "uses a variable that may hold an address; its bind address is unknown", service.line)
                continue
            if not host_mode:
                yield from self._expose(doc, graph, service, ports)
            yield from self._bind(doc, service, node.tier, ports, ipv6, user_ports)

    def _bind(self, doc: ComposeDoc, service: Service, tier: str, ports: SequenceNode, ipv6: bool,
              user_ports: frozenset[str]) -> Iterator[Finding]:
        edits: list[Edit] = []
        shown: list[str] = []
        kept: list[str] = []
        named: list[str] = []  # ports the file's own comments call public
        comment_ports = _comment_ports(doc)
        for item in ports.value:
            if isinstance(item, MappingNode):
                published = scalar_value(mapping_get(item, "published"))
                target = scalar_value(mapping_get(item, "target"))
                text = f"{published}:{target}" if published else f"{target}"
                if mapping_own(item, "host_ip") is not None:
                    continue
                if (published or target) in comment_ports:
                    named.append(f"{text} (line {comment_ports[published or target or '']})")
                    continue
                if tier == "app" and _faces_users(f"{published or target}:{target}", user_ports):
                    kept.append(text)
                    continue
                edits.append(insert_mapping_entry(doc, item, "host_ip", "127.0.0.1"))
                shown.append(text)
            elif isinstance(item, ScalarNode) and _bindable(str(item.value)):
                host = _host_port(str(item.value)) or _container_port(str(item.value)) or ""
                if host in comment_ports:
                    named.append(f"{item.value} (line {comment_ports[host]})")
                    continue
                if tier == "app" and _faces_users(str(item.value), user_ports):
                    kept.append(str(item.value))  # the edge: a port that faces users
                    continue
                edits += _bind_scalar(doc, ports, item, ipv6)
                shown.append(str(item.value))
        if edits:
            port = next((h for p in shown if (h := _hint_port(p))), "PORT")
            why = f"; kept public: {', '.join(kept)} (user-facing port)" if kept else ""
            why += f"; kept public as the file's comment says: {', '.join(named)}" if named else ""
            names = sorted({m.group(1) or m.group(3) for p in shown for m in _VARIABLE.finditer(p)})
            if names:
                why += f"; {', '.join(names)} taken to hold a port number (by the name)"
            yield self.change(edits, (
                f"service {service.name!r} ({tier}): published ports {', '.join(shown)} listened on every "
                f"interface; now only on this host (from elsewhere: ssh -L {port}:127.0.0.1:{port} host; "
                f"if users reach it directly, list it in [tool.hardener.bind-ports-localhost] public){why}"),
                service.line)

    def _expose(self, doc: ComposeDoc, graph: Graph, service: Service, ports: SequenceNode) -> Iterator[Finding]:
        clients = sorted({e.client for e in graph.edges if e.server == service.name})
        if graph.services[service.name].tier != "data" or not clients or mapping_get(service.node, "expose") is not None:
            return
        values = [_container_port(scalar_value(i) or "") for i in ports.value]
        if not all(values) or len(set(values)) != len(values):
            return
        key = next(k for k, v in service.node.value if v is ports)  # type: ignore[union-attr]  # ports is in this mapping
        edits = [Edit(key.start_mark.index, key.end_mark.index, "expose")]
        edits += [_replace(doc, item, value, ports) for item, value in zip(ports.value, values)]  # type: ignore[arg-type]  # all(values) above: no None
        port = _host_port(scalar_value(ports.value[0]) or "") or "PORT"
        yield self.change(edits, (
            f"service {service.name!r} (data) is used only by {', '.join(clients)}: its ports become `expose` "
            f"(stack networks only); to reach it from your machine instead, keep a 127.0.0.1 binding and "
            f"tunnel (ssh -L {port}:127.0.0.1:{port} host)"), service.line, applicability=Applicability.UNSAFE)


def _stack(doc: ComposeDoc, ctx: Context, projects: list[Loaded]) -> tuple[Graph, set[str]]:
    """The graph tiers and links come from, and the services that are the only one publishing
    fixed host ports. In projects (merged with the files that load this one) a service is edge
    when any project makes it so, links are those of every project, and a service is the entry
    point when it is the sole publisher of any project: each a reason to leave ports public."""
    if not projects:
        publishers = [s.name for s in doc.services() if _publishes_fixed_port(s.node)]
        return build_graph(doc, ctx), set(publishers[:1]) if len(publishers) == 1 else set()
    graphs, sole = [], set()
    for loaded in projects:
        merged = merged_doc(loaded)
        graphs.append(build_graph(merged, ctx.for_file(loaded.project.files[0])))
        publishers = [s.name for s in merged.services() if _publishes_fixed_port(s.node)]
        sole |= set(publishers) if len(publishers) == 1 else set()
    graph = Graph(edges=[e for g in graphs for e in g.edges])
    for g in graphs:
        for name, node in g.services.items():
            seen = graph.services.get(name)
            if seen is None or node.tier == "edge":
                graph.services[name] = node
    return graph, sole


def _comment_ports(doc: ComposeDoc) -> dict[str, int]:
    """Port numbers a comment of the file says are meant to be reached from outside
    ("restrict inbound traffic to the web UI (3000) and the object store (9090) only"), with
    the comment's line: the author named the public entry points, so they stay public."""
    found: dict[str, int] = {}
    for comment in doc.comments:
        text = doc.text[comment.start:comment.end]
        if _PUBLIC_WORDS.search(text):
            for number in _PORT_NUMBER.findall(text):
                if 0 < int(number) < 65536:
                    found.setdefault(number, comment.line)
    return found


def _loopback_binding(doc: ComposeDoc) -> str | None:
    """The ports the file binds to a loopback address, when they are most of its published
    ports: an author who bound those and left a few open chose to (None otherwise)."""
    bound: list[str] = []
    open_ = 0
    for service in doc.services():
        ports = mapping_get(service.node, "ports")
        for item in ports.value if isinstance(ports, SequenceNode) else []:
            if _address(item).strip("[]") in ("127.0.0.1", "::1", "localhost"):
                bound.append(f"{service.name}: {scalar_value(item) or _long_text(item)}")
            elif _bindable_item(item):
                open_ += 1
    if not bound or len(bound) < open_:
        return None
    return f"{len(bound)} of its {len(bound) + open_} published ports ({', '.join(bound[:2])}{', …' if len(bound) > 2 else ''})"


def _hint_port(value: str) -> str | None:
    """The host port to show in the ssh hint: a fixed one, or a port variable's default."""
    variable = _VARIABLE.search(value)
    for candidate in (_host_port(value), variable.group(2) if variable else None):
        first = (candidate or "").split("-", 1)[0]  # a range: its first port, which ssh -L accepts
        if first.isdigit() and int(first) > 0:  # 0 asks Docker for any free port: no port to show
            return first
    return None


def _as_written(doc: ComposeDoc, ctx: Context) -> ComposeDoc:
    """The file as its author wrote it (on disk until the run writes it): bindings this
    transform added in an earlier round must not count as the author's choice."""
    if ctx.file is None:
        return doc
    try:
        return ComposeDoc.load(ctx.file.read_bytes(), doc.path)
    except Exception:  # the engine judged the text it has; the disk copy may be anything
        return doc


def _address(item: Node) -> str:
    if isinstance(item, MappingNode):
        return scalar_value(mapping_get(item, "host_ip")) or ""
    text = scalar_value(item) or ""
    return text.rsplit(":", 2)[0] if text.count(":") >= 2 else ""


def _bindable_item(item: Node) -> bool:
    if isinstance(item, MappingNode):
        return mapping_own(item, "host_ip") is None
    return isinstance(item, ScalarNode) and _bindable(str(item.value))


def _publishes_fixed_port(node: Node | None) -> bool:
    """The service publishes at least one port on a host port of its choosing."""
    ports = mapping_get(node, "ports")
    for item in ports.value if isinstance(ports, SequenceNode) else []:
        if isinstance(item, MappingNode) and mapping_get(item, "published") is not None:
            return True
        if isinstance(item, ScalarNode) and _host_port(str(item.value)):
            return True
    return False


def _long_text(item: Node) -> str:
    if not isinstance(item, MappingNode):
        return ""
    return " ".join(str(v.value) for _k, v in item.value if isinstance(v, ScalarNode))


def _masked(value: str) -> str | None:
    """The entry with every ``${NAME_PORT}`` (optionally ``:-<number>``) written as the port 0;
    None when a variable might hold something else, such as an address (``${BIND}:80``)."""
    if "$$" in value:
        return None
    masked = _VARIABLE.sub(lambda m: "0" if _PORT_NAME.search(m.group(1) or m.group(3)) else "?", value)
    return None if "?" in masked or "$" in masked else masked


def _unknown_variable(item: Node) -> bool:
    if isinstance(item, MappingNode):  # host_ip is a key of its own: only it matters
        return "$" in (scalar_value(mapping_get(item, "host_ip")) or "")
    text = scalar_value(item) or ""
    return "$" in text and _masked(text) is None


def _faces_users(value: str, user_ports: frozenset[str]) -> bool:
    """A user-facing host port, or a web server's own port (``5000:80``: the container serves
    HTTP on 80, so people open it in a browser whatever host port it is published on)."""
    masked = _masked(value) or value
    return _host_port(masked) in user_ports or (_container_port(masked) or "").split("/")[0] in user_ports


def _bindable(value: str) -> bool:
    """No bind address yet: ``PORT``, ``HOST:CONTAINER`` (ranges and /proto included)."""
    body = _PROTO.sub("", _masked(value) or value)
    return not body.startswith("[") and body.count(":") <= 1


def _host_port(value: str) -> str | None:
    """The fixed host port of an IP-less ``HOST:CONTAINER`` entry (None when Docker picks one)."""
    parts = _PROTO.sub("", _masked(value) or value).split(":")
    return parts[-2] if len(parts) >= 2 and re.fullmatch(r"\d+(-\d+)?", parts[-2]) else None


def _container_port(value: str) -> str | None:
    proto = _PROTO.search(value)
    port = _PROTO.sub("", value).rsplit(":", 1)[-1]
    return (port + (proto.group(0) if proto else "")) if re.fullmatch(r"\d+(-\d+)?", port) else None


def _bind_scalar(doc: ComposeDoc, ports: SequenceNode, item: ScalarNode, ipv6: bool) -> list[Edit]:
    value = str(item.value)
    sep = ":" if ":" in _PROTO.sub("", _masked(value) or value) else "::"
    edits = [_replace(doc, item, f"127.0.0.1{sep}{value}", ports)]
    if ipv6:
        twin = _render(f"[::1]{sep}{value}", item.style or doc.quote)
        end = item.end_mark.index
        if ports.flow_style:
            edits.append(Edit(end, end, f", {twin}"))
        else:
            line_start = doc.line_starts[doc.line_of(item.start_mark.index) - 1]
            prefix = doc.text[line_start:item.start_mark.index]
            newline = doc.text.find("\n", end)
            if newline == -1:
                edits.append(Edit(len(doc.text), len(doc.text), f"{doc.newline}{prefix}{twin}"))
            else:
                edits.append(Edit(newline + 1, newline + 1, f"{prefix}{twin}{doc.newline}"))
    return edits


def _replace(doc: ComposeDoc, item: ScalarNode, value: str, ports: SequenceNode) -> Edit:
    token = doc.last_token_before(item.end_mark.index)
    assert token is not None
    quote = item.style or (doc.quote if ports.flow_style and ":" in value else None)
    return Edit(token.start, token.end, _render(value, quote) if quote else value)


def _render(value: str, quote: str) -> str:
    return f"{quote}{value}{quote}"


def _uses_ipv6(doc: ComposeDoc) -> bool:
    for service in doc.services():
        ports = mapping_get(service.node, "ports")
        for item in ports.value if isinstance(ports, SequenceNode) else []:
            text = scalar_value(item) or scalar_value(mapping_get(item, "host_ip")) or ""
            if text.startswith("[") or (isinstance(item, MappingNode) and ":" in text):
                return True
    return False
