"""The Compose service graph, segment-networks (HD701) and bind-ports-localhost (HD702).

The reachability proof runs on the OUTPUT of HD701 for every fixture and every changed
corpus file: the output is re-loaded with ComposeDoc and the networks of each service
are computed from it (no `networks:` and no `network_mode` = the `default` network).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, corpus_cases

from hardener import judges
from hardener.compose.doc import ComposeDoc
from hardener.compose.graph import Graph, build_graph, env_hosts
from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Applicability
from hardener.output.graph_render import render_ascii, render_mermaid
from hardener.transforms.bind_ports_localhost import BindPortsLocalhost
from hardener.transforms.segment_networks import SegmentNetworks

FIXTURE_INPUTS = sorted(
    p for p in (ROOT / "fixtures").glob("HD70[12]-*/*/input/*") if p.suffix in (".yml", ".yaml")
)


def _graph(text: str, tmp_path: Path, files: dict[str, str] | None = None) -> Graph:
    for name, body in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    (tmp_path / "compose.yaml").write_text(text)
    ctx = Context(tmp_path).for_file(tmp_path / "compose.yaml")
    return build_graph(ComposeDoc.load(text.encode()), ctx)


def _edges(graph: Graph) -> set[tuple[str, str, str]]:
    return {(e.client, e.server, e.source) for e in graph.edges}


def _run(transform: object, text: str, tmp_path: Path, unsafe: bool = False,
         options: dict | None = None) -> tuple[str, list[str]]:
    (tmp_path / "compose.yaml").write_text(text)
    ctx = Context(tmp_path, options or {}).for_file(tmp_path / "compose.yaml")
    level = Applicability.UNSAFE if unsafe else Applicability.REVIEW
    result = process("compose.yaml", "compose", text.encode(), [transform], ctx, Options(level))  # type: ignore[list-item]
    assert result.failure is None and result.error is None, result.failure or result.error
    output = (result.output or text.encode()).decode()
    return output, [r.reason for r in result.refusals]


# edges ---------------------------------------------------------------------------

SVC = "services:\n  a:\n    image: x\n{a}\n  db:\n    image: postgres\n  cache:\n    image: redis\n"


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param("    depends_on: [db]", {("a", "db", "depends_on")}, id="depends_on-list"),
    pytest.param("    depends_on:\n      db:\n        condition: service_healthy", {("a", "db", "depends_on")}, id="depends_on-mapping"),
    pytest.param("    links: [db]", {("a", "db", "links")}, id="links"),
    pytest.param("    links: ['db:database']", {("a", "db", "links")}, id="links-alias"),
    pytest.param("    environment:\n      DATABASE_URL: postgres://u:p@db:5432/x", {("a", "db", "env")}, id="env-url-userinfo"),
    pytest.param("    environment:\n      - DB_HOST=db", {("a", "db", "env")}, id="env-list-host"),
    pytest.param("    environment:\n      REDIS: cache:6379", {("a", "cache", "env")}, id="env-host-port"),
    pytest.param("    environment:\n      URL: ${X:-http://cache:11211}", {("a", "cache", "env")}, id="env-interpolation-default"),
    pytest.param("    environment:\n      NODES: db:5432,cache:6379", {("a", "db", "env"), ("a", "cache", "env")}, id="env-list-of-hosts"),
    pytest.param("    environment:\n      MODE: db", set(), id="env-not-a-host-key"),
    pytest.param("    environment:\n      POSTGRES_DB: db", set(), id="env-name-not-host"),
    pytest.param("    environment:\n      NOTE: see localhost:8080", set(), id="env-unknown-host"),
    pytest.param("    environment:\n      RUNNER_IMAGE: cache:7", set(), id="env-image-reference"),
    pytest.param("    network_mode: service:db", {("a", "db", "network_mode")}, id="network-mode-service"),
    pytest.param("    image: y", set(), id="no-edges"),
])
def test_edges(body: str, expected: set, tmp_path: Path) -> None:
    assert _edges(_graph(SVC.format(a=body), tmp_path)) == expected


def test_edges_env_file_and_container_name(tmp_path: Path) -> None:
    text = SVC.format(a="    env_file: [app.env]").replace("image: redis", "image: redis\n    container_name: my-redis")
    graph = _graph(text, tmp_path, {"app.env": "# x\nexport REDIS_HOST=my-redis\nDB='postgres://db/x'\n"})
    assert _edges(graph) == {("a", "cache", "env"), ("a", "db", "env")}


def test_edges_missing_env_file_is_no_edge(tmp_path: Path) -> None:
    assert _edges(_graph(SVC.format(a="    env_file: .env"), tmp_path)) == set()


@pytest.mark.parametrize(("labels", "expected"), [
    pytest.param("    labels:\n      - traefik.enable=true", {("proxy", "a", "proxy")}, id="traefik-list"),
    pytest.param("    labels:\n      traefik.http.routers.a.rule: Host(`a`)", {("proxy", "a", "proxy")}, id="traefik-mapping"),
    pytest.param("    labels:\n      - traefik.enable=false", set(), id="traefik-disabled"),
    pytest.param("    labels: [com.example=1]", set(), id="other-labels"),
])
def test_traefik_labels(labels: str, expected: set, tmp_path: Path) -> None:
    text = SVC.format(a=labels) + "  proxy:\n    image: traefik:v3\n"
    assert _edges(_graph(text, tmp_path)) == expected


def test_caddy_labels(tmp_path: Path) -> None:
    text = SVC.format(a="    labels:\n      caddy: a.example.com") + "  caddy:\n    image: lucaslorentz/caddy-docker-proxy\n"
    assert _edges(_graph(text, tmp_path)) == {("caddy", "a", "proxy")}
    assert _edges(_graph(text.replace("lucaslorentz/caddy-docker-proxy", "caddy:2"), tmp_path)) == {("caddy", "a", "proxy")}


@pytest.mark.parametrize(("conf", "expected"), [
    pytest.param("location / { proxy_pass http://a:8000; }", {("web", "a", "proxy")}, id="proxy-pass"),
    pytest.param("upstream up { server a:80; server cache:1; }\nserver { location / { proxy_pass http://up; } }",
                 {("web", "a", "proxy"), ("web", "cache", "proxy")}, id="upstream"),
    pytest.param("location ~ \\.php$ { fastcgi_pass a:9000; }", {("web", "a", "proxy")}, id="fastcgi"),
    pytest.param("# proxy_pass http://a:8000;", set(), id="commented-out"),
])
def test_nginx_config(conf: str, expected: set, tmp_path: Path) -> None:
    text = SVC.format(a="    image: php") + "  web:\n    image: nginx\n    volumes: [./conf/site.conf:/etc/nginx/conf.d/site.conf]\n"
    graph = _graph(text, tmp_path, {"conf/site.conf": conf})
    assert _edges(graph) == expected
    assert graph.tier("web") == "edge"


@pytest.mark.parametrize(("image", "tier"), [
    ("postgres:16", "data"), ("docker.io/bitnami/redis:7", "data"), ("mariadb", "data"),
    ("confluentinc/cp-kafka:7", "data"), ("nginx:1.27", "edge"), ("traefik:v3", "edge"),
    ("ghcr.io/acme/api:1", "app"), ("${IMAGE}", "app"),
])
def test_tiers(image: str, tier: str, tmp_path: Path) -> None:
    assert _graph(f"services:\n  s:\n    image: {image}\n", tmp_path).tier("s") == tier


def test_env_hosts_lowercases_and_strips_interpolation() -> None:
    assert env_hosts("DB_HOST", "${DB:-Postgres}") == {"postgres"}
    assert env_hosts("X", "$$HOME") == set()


def test_render_ascii_and_mermaid(tmp_path: Path) -> None:
    before = _graph("services:\n  p:\n    image: nginx\n    depends_on: [a]\n  a:\n    image: x\n"
                    "    environment: [DB_HOST=db]\n  db:\n    image: postgres\n", tmp_path)
    output, _ = _run(SegmentNetworks(), (tmp_path / "compose.yaml").read_text(), tmp_path)
    after = build_graph(ComposeDoc.load(output.encode()))
    picture = render_ascii(before, after)
    assert "  db  data  default => backend" in picture
    assert "before p-db, after none" in picture
    assert picture.isascii()
    assert render_mermaid(after).startswith("flowchart LR")


# reachability proof ----------------------------------------------------------------


def assert_segmentation_keeps_edges(before: Graph, after: Graph) -> None:
    """Every connection that worked still shares a network; edge and data are apart."""
    moved = {n for n, s in before.services.items() if s.declared is None and s.network_mode is None}
    for _pair, edges in before.pairs().items():
        a, b = edges[0].client, edges[0].server
        if not before.networks(a) & before.networks(b):
            continue  # not a working connection today
        tiers = {before.tier(a), before.tier(b)}
        if tiers == {"edge", "data"} and all(e.source == "depends_on" for e in edges):
            continue  # start-up order only, documented
        assert after.networks(a) & after.networks(b), f"{a}->{b} lost its network"
    kept = set(before.pairs())
    for e in after.services:
        for d in after.services:
            if after.tier(e) != "edge" or after.tier(d) != "data" or not {e, d} & moved:
                continue
            if frozenset((e, d)) not in kept:
                assert not after.networks(e) & after.networks(d), f"edge {e} reaches data {d}"


def _prove(path: Path, root: Path) -> bool:
    raw = path.read_bytes()
    ctx = Context(root).for_file(path)
    from hardener.compose.project_view import projects_of

    if projects_of(ctx):
        return False  # one file of a multi-file project: only the merged project can be judged
    result = process(str(path), "compose", raw, [SegmentNetworks()], ctx, Options())
    if result.error is not None or not result.changed:
        return False
    assert result.failure is None, result.failure
    before = build_graph(ComposeDoc.load(raw), ctx)
    after_doc = ComposeDoc.load(result.output or b"")
    assert_segmentation_keeps_edges(before, build_graph(after_doc, ctx))
    assert judges.compose_problems((result.output or b"").decode("utf-8-sig")) == [] or judges.compose_problems(raw.decode("utf-8-sig"))
    return True


@pytest.mark.parametrize("path", FIXTURE_INPUTS, ids=lambda p: f"{p.parents[2].name}/{p.parents[1].name}")
def test_reachability_proof_fixtures(path: Path) -> None:
    _prove(path, path.parent)


@pytest.mark.corpus
def test_reachability_proof_corpus(corpus_dir: Path) -> None:
    changed = sum(_prove(path, path.parent) for _case, path in corpus_cases("compose"))
    assert changed > 20


# HD701 ------------------------------------------------------------------------------

BASE = "services:\n  app:\n    image: x\n    environment:\n      DB_HOST: db\n  db:\n    image: postgres:16\n"


@pytest.mark.parametrize(("text", "refusal"), [
    pytest.param("version: '2'\nweb:\n  image: x\n  links: [db]\ndb:\n  image: postgres\n", "legacy v1", id="legacy-v1"),
    pytest.param(BASE + "  w:\n    extends: app\n", "extends", id="extends"),
    pytest.param("include: [other.yaml]\n" + BASE, "include", id="include"),
    pytest.param(BASE + "  c: *x\n".replace("*x", "{image: y, external_links: [z]}"), "external_links", id="external-links"),
    pytest.param(BASE + "networks:\n  default:\n    external: true\n    name: proxy\n", "customised", id="default-customised"),
    pytest.param(BASE + "  lone:\n    image: mysql\n", "no inferred connection", id="isolated-data"),
    pytest.param(BASE + "  w:\n    image: x\n    env_file: [missing.env]\n", "env_file", id="env-file-not-here"),
    pytest.param(BASE + "  p:\n    image: nginx\n    environment: [DB_HOST=db]\n", "talk directly", id="edge-to-data"),
    pytest.param("x-a: &a\n  image: x\n  environment: {DB_HOST: db}\nservices:\n  app: &app\n    <<: *a\n  db:\n    image: postgres\n"
                 "  side:\n    <<: *app\n    network_mode: host\n", "merged into", id="anchor-shared"),
    pytest.param("services:\n  app: &a\n    image: x\n    depends_on: [db]\n  db:\n    image: redis\n  copy: *a\n", "alias", id="alias"),
])
def test_segment_refuses(text: str, refusal: str, tmp_path: Path) -> None:
    output, refusals = _run(SegmentNetworks(), text, tmp_path)
    assert output == text
    assert any(refusal in r for r in refusals), refusals


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(BASE, "    networks:\n      - backend\nnetworks:\n  frontend: {}\n  backend:\n    internal: true\n", id="segments"),
    pytest.param(BASE.replace("image: postgres:16", "image: postgres:16\n    ports: ['5432:5432']"),
                 "      - egress\n", id="published-data-gets-egress"),
    pytest.param(BASE + "networks:\n  backend: {}\n", "  backend-net:\n    internal: true\n", id="fresh-names"),
    pytest.param(BASE.replace("services:\n", "services:\n  tools:\n    image: busybox\n"),
                 "  tools:\n    image: busybox\n  app:", id="isolated-app-stays"),
])
def test_segment_changes(text: str, expected: str, tmp_path: Path) -> None:
    output, _ = _run(SegmentNetworks(), text, tmp_path)
    assert output != text and expected in output
    assert judges.compose_problems(output) == []
    again, _ = _run(SegmentNetworks(), output, tmp_path)
    assert again == output


@pytest.mark.parametrize("text", [
    pytest.param("services:\n  app:\n    image: x\n", id="single-service"),
    pytest.param(BASE.replace("DB_HOST: db", "X: y"), id="no-edges"),
    pytest.param(BASE.replace("      DB_HOST: db\n", "      DB_HOST: db\n    networks: [a]\n")
                 .replace("postgres:16\n", "postgres:16\n    networks: [a]\n"), id="already-declared"),
])
def test_segment_leaves_alone(text: str, tmp_path: Path) -> None:
    assert _run(SegmentNetworks(), text, tmp_path) == (text, [])


def test_segment_egress_option(tmp_path: Path) -> None:
    output, _ = _run(SegmentNetworks(), BASE, tmp_path, options={"segment-networks": {"egress": ["db"]}})
    assert "      - backend\n      - egress\n" in output


# HD702 ------------------------------------------------------------------------------

PORTS = "services:\n  db:\n    image: postgres:16\n    ports:\n{ports}\n"


@pytest.mark.parametrize(("ports", "expected"), [
    pytest.param('      - "5432:5432"', '      - "127.0.0.1:5432:5432"', id="double-quoted"),
    pytest.param("      - '5432:5432'", "      - '127.0.0.1:5432:5432'", id="single-quoted"),
    pytest.param("      - 5432:5432", "      - 127.0.0.1:5432:5432", id="plain"),
    pytest.param('      - "5432"', '      - "127.0.0.1::5432"', id="bare-container-port"),
    pytest.param("      - 5432", "      - 127.0.0.1::5432", id="bare-int"),
    pytest.param('      - "5000-5005:5000-5005"', '      - "127.0.0.1:5000-5005:5000-5005"', id="range"),
    pytest.param('      - "53:53/udp"', '      - "127.0.0.1:53:53/udp"', id="udp"),
    pytest.param("      - target: 5432\n        published: 5432", "        published: 5432\n        host_ip: 127.0.0.1", id="long-syntax"),
    pytest.param('      - "${PG_PORT}:5432"', '      - "127.0.0.1:${PG_PORT}:5432"', id="port-variable"),
    pytest.param('      - "${PG_PORT:-5432}:5432"', '      - "127.0.0.1:${PG_PORT:-5432}:5432"', id="port-variable-default"),
    pytest.param("      - $REDIS_PORTS:6379", "      - 127.0.0.1:$REDIS_PORTS:6379", id="bare-variable"),
    pytest.param('      - "${RANGE_PORT_RANGE}:7000-7005"', '      - "127.0.0.1:${RANGE_PORT_RANGE}:7000-7005"', id="range-variable"),
    pytest.param("      - target: 5432\n        published: ${PG_PORT}", "        published: ${PG_PORT}\n        host_ip: 127.0.0.1",
                 id="long-published-variable"),
    pytest.param('      - "[::]:5433:5433"\n      - "5432:5432"', '      - "127.0.0.1:5432:5432"\n      - "[::1]:5432:5432"', id="ipv6-twin"),
])
def test_bind_changes(ports: str, expected: str, tmp_path: Path) -> None:
    text = PORTS.format(ports=ports)
    output, _ = _run(BindPortsLocalhost(), text, tmp_path)
    assert expected in output, output
    assert judges.compose_problems(output) == []
    assert _run(BindPortsLocalhost(), output, tmp_path)[0] == output


def test_bind_flow_sequence_quotes_when_needed(tmp_path: Path) -> None:
    output, _ = _run(BindPortsLocalhost(), "services:\n  db:\n    image: redis\n    ports: [6379]\n", tmp_path)
    assert 'ports: ["127.0.0.1::6379"]' in output


@pytest.mark.parametrize(("text", "refusal"), [
    pytest.param(PORTS.format(ports='      - "127.0.0.1:5432:5432"'), None, id="already-bound"),
    pytest.param(PORTS.format(ports='      - "0.0.0.0:5432:5432"'), None, id="explicit-all-interfaces"),
    pytest.param(PORTS.format(ports="      - target: 1\n        host_ip: 10.0.0.1"), None, id="long-with-host-ip"),
    pytest.param(PORTS.format(ports='      - "${BIND}:5432"'), "may hold an address", id="interpolation-address"),
    pytest.param(PORTS.format(ports='      - "${PG_PORT:?set it}:5432"'), "may hold an address", id="interpolation-error-form"),
    pytest.param(PORTS.format(ports='      - "$${PG_PORT}:5432"'), "may hold an address", id="escaped-dollar"),
    pytest.param(PORTS.format(ports="      - target: 5432\n        host_ip: ${IP}"), "may hold an address",
                 id="long-host-ip-variable"),
    pytest.param(PORTS.format(ports='      - "80:80"').replace("postgres:16", "nginx:1.27"), None, id="edge-service"),
    pytest.param(PORTS.format(ports='      - "80:80"').replace("ports:", "network_mode: host\n    ports:"), None, id="host-mode"),
    pytest.param("x-p: &p\n  - '1:1'\n" + PORTS.format(ports="      - '5432:5432'").replace("ports:\n      - '5432:5432'", "ports: *p"),
                 "shared anchor", id="anchored-ports"),
])
def test_bind_leaves_alone(text: str, refusal: str | None, tmp_path: Path) -> None:
    output, refusals = _run(BindPortsLocalhost(), text, tmp_path)
    assert output == text
    assert (refusal is None and not refusals) or any(refusal in r for r in refusals)


def test_bind_public_option(tmp_path: Path) -> None:
    text = PORTS.format(ports='      - "5432:5432"')
    options = {"bind-ports-localhost": {"public": ["db"]}}
    assert _run(BindPortsLocalhost(), text, tmp_path, options=options)[0] == text


# A second service that publishes a port (explicitly on every interface, which is left
# alone): with only one publisher, that service is the stack's entry point and keeps its ports.
APP = "services:\n  web:\n    build: .\n    ports:\n{ports}\n  other:\n    build: ./other\n    ports: ['0.0.0.0:9000:9000']\n"


@pytest.mark.parametrize(("ports", "options", "expected"), [
    pytest.param('      - "8000:8000"', {}, '      - "127.0.0.1:8000:8000"', id="dev-port-bound"),
    pytest.param('      - "80:80"', {}, '      - "80:80"', id="user-port-80-kept"),
    pytest.param("      - target: 443\n        published: 443", {}, "        published: 443\n", id="long-443-kept"),
    pytest.param('      - "80:8080"\n      - "9229:9229"', {}, '      - "80:8080"\n      - "127.0.0.1:9229:9229"',
                 id="web-kept-debugger-bound"),
    pytest.param('      - "80:80"', {"user-ports": []}, '      - "127.0.0.1:80:80"', id="user-ports-empty"),
    pytest.param('      - "3000:3000"', {"user-ports": [3000]}, '      - "3000:3000"', id="user-ports-configured"),
    pytest.param('      - "${WEB_PORT}:80"', {}, '      - "${WEB_PORT}:80"', id="variable-host-port-to-80-kept"),
    pytest.param('      - "${API_PORT}:8000"', {}, '      - "127.0.0.1:${API_PORT}:8000"', id="variable-host-port-bound"),
])
def test_bind_app_service(ports: str, options: dict, expected: str, tmp_path: Path) -> None:
    """App services: review by default (no --unsafe); only host ports that face users stay public."""
    text = APP.format(ports=ports)
    output, _ = _run(BindPortsLocalhost(), text, tmp_path, options={"bind-ports-localhost": options})
    assert expected in output, output
    assert _run(BindPortsLocalhost(), output, tmp_path, options={"bind-ports-localhost": options})[0] == output


def test_the_only_publisher_is_the_entry_point(tmp_path: Path) -> None:
    text = "services:\n  web:\n    build: .\n    ports:\n      - '8000:8000'\n  db:\n    image: postgres:16\n"
    output, refusals = _run(BindPortsLocalhost(), text, tmp_path)
    assert output == text and any("entry point" in r for r in refusals)


def test_bind_app_reason_names_kept_ports(tmp_path: Path) -> None:
    text = APP.format(ports='      - "80:8080"\n      - "9229:9229"')
    (tmp_path / "compose.yaml").write_text(text)
    ctx = Context(tmp_path, {}).for_file(tmp_path / "compose.yaml")
    result = process("compose.yaml", "compose", text.encode(), [BindPortsLocalhost()], ctx, Options(Applicability.REVIEW))
    (change,) = result.changes
    assert change.applicability is Applicability.REVIEW
    assert "kept public: 80:8080 (user-facing port)" in change.reason


@pytest.mark.parametrize(("extra", "exposed"), [
    pytest.param("  app:\n    image: x\n    depends_on: [db]\n", True, id="used-by-app"),
    pytest.param("", False, id="unused-keeps-binding"),
    pytest.param("  app:\n    image: x\n    network_mode: host\n    depends_on: [db]\n", False, id="host-mode-client"),
])
def test_unsafe_expose(extra: str, exposed: bool, tmp_path: Path) -> None:
    text = PORTS.format(ports='      - "5432:5432"') + extra
    output, _ = _run(BindPortsLocalhost(), text, tmp_path, unsafe=True)
    assert ('    expose:\n      - "5432"\n' in output) is exposed
    assert ("127.0.0.1:5432:5432" in output) is not exposed


def test_bind_variable_reason_names_the_assumption(tmp_path: Path) -> None:
    text = PORTS.format(ports='      - "${PG_PORT}:5432"')
    (tmp_path / "compose.yaml").write_text(text)
    ctx = Context(tmp_path, {}).for_file(tmp_path / "compose.yaml")
    result = process("compose.yaml", "compose", text.encode(), [BindPortsLocalhost()], ctx, Options(Applicability.REVIEW))
    (change,) = result.changes
    assert "PG_PORT taken to hold a port number (by the name)" in change.reason
