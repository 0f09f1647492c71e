"""compose-healthcheck fits the image's known health command to the service's own settings
(hardener/compose/health_fit.py): a moved port, a path prefix, ping flags are carried into the
command; authentication, TLS, config files and endpoints that are not enabled refuse."""
from __future__ import annotations

from pathlib import Path

import pytest
from compose_helpers import run_compose
from ruamel.yaml import YAML

from hardener.transforms.compose_healthcheck import ComposeHealthcheck


def check(tmp_path: Path, service: str) -> tuple[list[str] | None, list[str]]:
    """(the health command added, refusal reasons) for one service ``s`` written as YAML flow."""
    out, reasons = run_compose(tmp_path, ComposeHealthcheck(), f"services:\n  s: {service}\n")
    body = YAML(typ="safe").load(out)["services"]["s"]
    return (body["healthcheck"]["test"] if "healthcheck" in body else None), reasons


@pytest.mark.parametrize(("service", "test"), [
    ('{image: "traefik:v3.1", command: ["--providers.docker", "--ping=true"]}',
     ["CMD", "traefik", "healthcheck", "--ping=true"]),
    ('{image: "traefik:v3.1", command: ["--ping", "--ping.entrypoint=web", "--entrypoints.web.address=:8082"]}',
     ["CMD", "traefik", "healthcheck", "--ping", "--ping.entrypoint=web", "--entrypoints.web.address=:8082"]),
    ('{image: "traefik:v3.1", environment: {TRAEFIK_PING: "true"}}', ["CMD", "traefik", "healthcheck"]),
    ('{image: "redis:7", command: redis-server --port 6380}', ["CMD", "redis-cli", "-p", "6380", "ping"]),
    ('{image: "postgres:16", command: postgres -c port=5433}',
     ["CMD-SHELL", 'pg_isready -U "$${POSTGRES_USER:-postgres}" -p 5433']),
    ('{image: "prom/prometheus:v2.53.0", command: ["--web.listen-address=:9091", "--web.external-url=http://x.example/prom/"]}',
     ["CMD", "wget", "-qO-", "http://localhost:9091/prom/-/healthy"]),
    ('{image: "prom/prometheus:v2.53.0", command: ["--web.external-url=http://127.0.0.1:9090"]}',
     ["CMD", "wget", "-qO-", "http://localhost:9090/-/healthy"]),
    ('{image: "grafana/grafana:11.1.0", environment: [GF_SERVER_HTTP_PORT=3001]}',
     ["CMD-SHELL", "wget -qO- http://localhost:3001/api/health || exit 1"]),
    ('{image: "elasticsearch:8.14.1", environment: [discovery.type=single-node, xpack.security.enabled=false]}',
     ["CMD-SHELL", "curl -fsS http://localhost:9200/_cluster/health || exit 1"]),
    ('{image: "elasticsearch:7.17.22"}', ["CMD-SHELL", "curl -fsS http://localhost:9200/_cluster/health || exit 1"]),
    ('{image: "mongo:7.0", command: mongod --port 27018}',
     ["CMD", "mongosh", "--port", "27018", "--quiet", "--eval", "db.adminCommand('ping')"]),
    # healthcheck.sh came with the June 2023 builds: an older pinned MariaDB is pinged instead
    ('{image: "mariadb:10.6.4-focal"}', ["CMD", "mysqladmin", "ping", "-h", "localhost"]),
    ('{image: "mariadb:10.3"}', ["CMD", "mysqladmin", "ping", "-h", "localhost"]),
    ('{image: "mariadb:10.6.14"}', ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]),
    ('{image: "mariadb:10-focal"}', ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]),
    ('{image: "mariadb:11.4"}', ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]),
])
def test_the_command_follows_the_service(tmp_path, service, test):
    assert check(tmp_path, service) == (test, [])


@pytest.mark.parametrize(("service", "why"), [
    ('{image: "traefik:v3.1", command: ["--providers.docker", "--api.insecure=true"]}', "does not enable"),
    ('{image: "traefik:v3.1", volumes: ["./traefik.yml:/etc/traefik/traefik.yml:ro"]}', "read from a file"),
    ('{image: "traefik:v3.1", command: ["--ping=${PING}"]}', "variables"),
    ('{image: "redis:7", command: redis-server --requirepass hunter2}', "NOAUTH"),
    ('{image: "redis:7", command: redis-server /usr/local/etc/redis/redis.conf}', "redis.conf"),
    ('{image: "redis:7", command: redis-server --port 0 --tls-port 6379}', "TLS only"),
    ('{image: "elasticsearch:8.14.1"}', "HTTPS with a password"),
    ('{image: "grafana/grafana:11.1.0", environment: [GF_SERVER_PROTOCOL=https]}', "not plain HTTP"),
    ('{image: "grafana/grafana:11.1.0", volumes: ["./grafana.ini:/etc/grafana/grafana.ini"]}', "own Grafana configuration"),
    ('{image: "prom/prometheus:v2.53.0", command: ["--web.config.file=/etc/prometheus/web.yml"]}', "basic auth"),
    ('{image: "mongo:4.4"}', "legacy `mongo` shell"),
    ('{image: "mariadb:11.0.1"}', "predates the image's healthcheck.sh"),
    ('{image: "axllent/mailpit:v1.20", command: ["--listen", "0.0.0.0:8026"]}', "MP_*"),
    ('{image: "nginx:1.27", command: "/bin/sh -c \\"envsubst < /tmp/t > /etc/nginx/conf.d/default.conf && nginx -g \'daemon off;\'\\""}',
     "writes the nginx configuration"),
])
def test_settings_it_cannot_follow_refuse(tmp_path, service, why):
    test, reasons = check(tmp_path, service)
    assert test is None
    assert len(reasons) == 1 and why in reasons[0], reasons
