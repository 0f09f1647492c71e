"""Service tiers by image family: the same answers the old service_tiers.toml gave.

Until the families were folded into hardener/data/images.toml, a second file
(service_tiers.toml, ``[families]``) gave segment-networks, bind-ports-localhost and
resource-limits the tier of an image family. OLD_FAMILIES is that table, generated from
``git show a5c756e:hardener/data/service_tiers.toml``; every family must keep its tier.
"""
from __future__ import annotations

import pytest

from hardener.compose.graph import image_family
from hardener.knowledge import images, tiers
from hardener.knowledge.records import KnowledgeError

OLD_FAMILIES = {
    "postgres": ("data", (5432,)),
    "postgresql": ("data", (5432,)),
    "postgis": ("data", (5432,)),
    "timescaledb": ("data", (5432,)),
    "mysql": ("data", (3306,)),
    "mariadb": ("data", (3306,)),
    "percona": ("data", (3306,)),
    "percona-server": ("data", (3306,)),
    "mongo": ("data", (27017,)),
    "mongodb": ("data", (27017,)),
    "mssql-server": ("data", (1433,)),
    "cassandra": ("data", (9042,)),
    "couchdb": ("data", (5984,)),
    "influxdb": ("data", (8086,)),
    "clickhouse-server": ("data", (8123, 9000)),
    "neo4j": ("data", (7474, 7687)),
    "redis": ("data", (6379,)),
    "redis-stack-server": ("data", (6379,)),
    "valkey": ("data", (6379,)),
    "keydb": ("data", (6379,)),
    "memcached": ("data", (11211,)),
    "rabbitmq": ("data", (5672,)),
    "kafka": ("data", (9092,)),
    "cp-kafka": ("data", (9092,)),
    "zookeeper": ("data", (2181,)),
    "cp-zookeeper": ("data", (2181,)),
    "nats": ("data", (4222,)),
    "etcd": ("data", (2379,)),
    "elasticsearch": ("data", (9200, 9300)),
    "opensearch": ("data", (9200,)),
    "meilisearch": ("data", (7700,)),
    "nginx": ("edge", (80, 443)),
    "nginx-unprivileged": ("edge", (8080,)),
    "openresty": ("edge", (80,)),
    "nginx-proxy": ("edge", (80, 443)),
    "nginx-proxy-manager": ("edge", (80, 81, 443)),
    "swag": ("edge", (80, 443)),
    "traefik": ("edge", (80, 443)),
    "caddy": ("edge", (80, 443)),
    "caddy-docker-proxy": ("edge", (80, 443)),
    "haproxy": ("edge", (80,)),
    "envoy": ("edge", (10000,)),
}

# Where the two files disagreed on ports, the images' Dockerfiles decided (see the entries'
# sources): nginx and traefik EXPOSE only 80 (443 and traefik's 8080 dashboard listen only
# when configured). rabbitmq kept 5672; images.toml's 15672 is the -management tags' UI.
RESOLVED_PORTS = {"nginx": (80,), "traefik": (80,)}


@pytest.mark.parametrize("family, tier", [pytest.param(f, t, id=f) for f, (t, _p) in OLD_FAMILIES.items()])
def test_every_old_family_keeps_its_tier(family, tier):
    assert tiers.family_tier(family) == tier
    assert tiers.family_tier(image_family(f"registry.example/someone/{family}:1.2")) == tier


@pytest.mark.parametrize("family, ports", [pytest.param(f, p, id=f) for f, (_t, p) in OLD_FAMILIES.items()])
def test_every_old_family_keeps_its_ports(family, ports):
    assert tiers.family_ports(family) == RESOLVED_PORTS.get(family, ports)


def test_families_the_old_table_did_not_list_are_app():
    """httpd and pgvector have entries (edge, data) the old table never gave their family:
    Compose tiers stay as they were until someone lists those families."""
    assert [tiers.family_tier(f) for f in ("httpd", "pgvector", "python", "acme-api", None)] == ["app"] * 5
    assert tiers.family_ports("acme-api") == ()


@pytest.mark.parametrize("image", ["cassandra:4", "bitnami/postgresql:16", "envoyproxy/envoy:v1.31"])
def test_entries_known_only_by_family_are_not_found_by_repository(image):
    """They carry a tier and ports only: cap-drop, read-only-root … must not take them for
    a known image."""
    assert images.lookup(image) is None


def test_limits_are_typed_per_tier():
    limits = tiers.limits()
    assert set(limits) == set(tiers.SERVICE_TIERS)
    assert limits["data"] == tiers.Limits(memory="1G", cpus="1.0", pids=512)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param({"limits": {"edge": {"memory": "1G", "cpus": "1", "pids": 1}}}, "missing key 'app'", id="missing-tier"),
        pytest.param({"limits": {t: {"memory": "1G", "cpus": "1", "pid": 1} for t in tiers.SERVICE_TIERS}},
                     "unknown key 'pid'", id="typo"),
        pytest.param({"limits": {t: {"memory": "1G", "cpus": 1, "pids": 1} for t in tiers.SERVICE_TIERS}},
                     "expected a string", id="cpus-number"),
        pytest.param({"families": {}, "limits": {}}, "unknown key 'families'", id="old-families-table"),
    ],
)
def test_limits_schema_errors(data, message):
    with pytest.raises(KnowledgeError, match=message):
        tiers.parse_limits(data, "tier_limits.toml")
