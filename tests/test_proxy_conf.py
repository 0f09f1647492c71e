"""Links from mounted proxy configuration: nginx, Caddyfile, Traefik file provider, envoy, HAProxy."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose.doc import ComposeDoc
from hardener.compose.graph import Graph, build_graph
from hardener.compose.network_plan import Plan, plan_segments
from hardener.compose.proxy_conf import parse, proxy_configs
from hardener.context import Context


@pytest.mark.parametrize(("name", "text", "hosts", "unknown"), [
    pytest.param("site.conf", "upstream up { server a:80; server b:81; }\nlocation / { proxy_pass http://up; }",
                 {"a", "b"}, (), id="nginx-upstream"),
    pytest.param("site.conf", "location / { proxy_pass http://a:8000/; }", {"a"}, (), id="nginx-proxy-pass"),
    pytest.param("site.conf", "location ~ \\.php$ { fastcgi_pass a:9000; }", {"a"}, (), id="nginx-fastcgi"),
    pytest.param("site.conf", "location / { uwsgi_pass a:3031; }", {"a"}, (), id="nginx-uwsgi"),
    pytest.param("site.conf", "location / { grpc_pass grpc://a:50051; }", {"a"}, (), id="nginx-grpc"),
    pytest.param("site.conf", "set $up http://a:8000;\nlocation / { proxy_pass $up; }", {"a"}, (), id="nginx-set"),
    pytest.param("site.conf", "location / { proxy_pass http://a$request_uri; }", {"a"}, (), id="nginx-path-variable"),
    pytest.param("site.conf", "location / { proxy_pass $scheme://a:80; }", {"a"}, (), id="nginx-scheme-variable"),
    pytest.param("site.conf", "location / { proxy_pass http://$backend:80; }", set(), ("http://$backend:80",),
                 id="nginx-unknown-variable"),
    pytest.param("site.conf", "# proxy_pass http://a:8000;", None, None, id="nginx-commented-out"),
    pytest.param("Caddyfile", "example.com {\n  reverse_proxy /api/* a:8000 b:8000\n  php_fastcgi c:9000\n}\n",
                 {"a", "b", "c"}, (), id="caddy-inline"),
    pytest.param("Caddyfile", ":80 {\n  reverse_proxy @api {\n    to http://a:8000\n    lb_policy first\n  }\n"
                 "  # reverse_proxy z:1\n}\n", {"a"}, (), id="caddy-block-to"),
    pytest.param("Caddyfile", ":80 {\n  reverse_proxy {$UPSTREAM:a:8000}\n  reverse_proxy {$OTHER}\n}\n", {"a"},
                 ("{$OTHER}",), id="caddy-placeholders"),
    pytest.param("dynamic.yml", "http:\n  services:\n    app:\n      loadBalancer:\n        servers:\n"
                 "          - url: \"http://a:8080\"\n", {"a"}, (), id="traefik-yaml"),
    pytest.param("dynamic.toml", "[http.services.app.loadBalancer]\n  [[http.services.app.loadBalancer.servers]]\n"
                 "    url = \"http://a:8080/\"\n[tcp.services.db.loadBalancer]\n"
                 "  [[tcp.services.db.loadBalancer.servers]]\n    address = \"b:5432\"\n", {"a", "b"}, (),
                 id="traefik-toml"),
    pytest.param("compose.yaml", "services:\n  x:\n    labels: [traefik.http.services.x.loadbalancer.server.port=80]\n"
                 "    environment: {URL: 'http://a:1', servers: 2}\n", None, None, id="traefik-labels-are-not-files"),
    pytest.param("envoy.yaml", "static_resources:\n  clusters:\n  - name: svc\n    load_assignment:\n      endpoints:\n"
                 "      - lb_endpoints:\n        - endpoint:\n            address:\n              socket_address:\n"
                 "                address: a\n                port_value: 80\n", {"a"}, (), id="envoy-yaml"),
    pytest.param("envoy.json", '{"clusters": [{"address": {"socket_address": {"address": "a", "port_value": 80}}}]}',
                 {"a"}, (), id="envoy-json"),
    pytest.param("haproxy.cfg", "backend web\n  server w1 a:8000 check\n  server w2 ${B_HOST}:8000\n"
                 "  # server w3 z:1\n", {"a"}, ("${B_HOST}:8000",), id="haproxy"),
])
def test_parse(name: str, text: str, hosts: set[str] | None, unknown: tuple[str, ...] | None,
               tmp_path: Path) -> None:
    (tmp_path / name).write_text(text)
    found = {c.path.name: c for c in proxy_configs(tmp_path)}
    if hosts is None:
        assert name not in found
        return
    assert found[name].hosts == hosts
    assert found[name].unknown == unknown


def test_parse_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "big.conf").write_text("proxy_pass http://a;\n" + "#" * 300_000)
    assert proxy_configs(tmp_path) == ()
    assert parse(tmp_path / "x.yml", "yaml", "just: yaml\n") is None


STACK = """services:
  proxy:
    image: {image}
{mount}  web:
    build: ./web
    environment: [DATABASE_URL=postgres://db/app]
  db:
    image: postgres:16
"""


def _graph(tmp_path: Path, image: str, mount: str, files: dict[str, str]) -> Graph:
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    text = STACK.format(image=image, mount=mount)
    (tmp_path / "compose.yaml").write_text(text)
    return build_graph(ComposeDoc.load(text.encode()), Context(tmp_path).for_file(tmp_path / "compose.yaml"))


CADDY = {"caddy/Caddyfile": ":80 {\n  reverse_proxy web:8000\n}\n", "web/app.py": ""}


@pytest.mark.parametrize(("mount", "linked"), [
    pytest.param("    volumes: [./caddy/Caddyfile:/etc/caddy/Caddyfile:ro]\n", True, id="file-mount"),
    pytest.param("    volumes:\n      - type: bind\n        source: ./caddy\n        target: /etc/caddy\n", True,
                 id="directory-long-syntax"),
    pytest.param("    build: ./caddy\n", True, id="build-context"),
    pytest.param("", False, id="not-mounted"),
    pytest.param("    volumes: [.:/srv]\n", False, id="whole-project-is-not-config"),
])
def test_owner_links(mount: str, linked: bool, tmp_path: Path) -> None:
    graph = _graph(tmp_path, "caddy:2", mount, CADDY)
    proxy_edges = {(e.client, e.server) for e in graph.edges if e.source == "proxy"}
    assert proxy_edges == ({("proxy", "web")} if linked else set())


def test_proxy_of_any_family_becomes_edge(tmp_path: Path) -> None:
    mount = "    volumes: [./lb/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg]\n"
    graph = _graph(tmp_path, "ghcr.io/acme/lb:1", mount, {"lb/haproxy.cfg": "backend b\n  server s web:8000\n"})
    assert graph.tier("proxy") == "edge"


def test_unknown_target_is_said(tmp_path: Path) -> None:
    files = {"nginx/site.conf": "location / { proxy_pass http://web:8000; }\nlocation /x { proxy_pass $dyn; }\n"}
    graph = _graph(tmp_path, "nginx:1.27", "    volumes: [./nginx:/etc/nginx/conf.d]\n", files)
    plan = plan_segments(graph, [], set())
    assert isinstance(plan, Plan)
    assert any("$dyn" in n and "cannot resolve" in n for n in plan.notes)


@pytest.mark.parametrize(("target", "env", "linked", "note"), [
    pytest.param("http://$UPSTREAM", "    environment: [UPSTREAM=web:8000]\n", True, False, id="envsubst-filled"),
    pytest.param("http://${UPSTREAM}", "    environment:\n      UPSTREAM: web:8000\n", True, False, id="braces-filled"),
    pytest.param("http://$UPSTREAM", "", False, True, id="not-in-environment"),
    pytest.param("http://$host", "    environment: [UPSTREAM=web:8000]\n", False, True, id="nginx-variable"),
])
def test_template_target_from_owner_environment(target: str, env: str, linked: bool, note: bool,
                                                tmp_path: Path) -> None:
    files = {"nginx/default.conf.template": f"location / {{ proxy_pass {target}; }}\n"}
    mount = "    volumes: [./nginx:/etc/nginx/templates]\n" + env
    graph = _graph(tmp_path, "nginx:1.27", mount, files)
    assert (("proxy", "web", "proxy") in {(e.client, e.server, e.source) for e in graph.edges}) == linked
    assert bool(graph.notes) == note
