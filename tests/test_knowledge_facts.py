"""The typed image knowledge base: every fact checked at load, every entry with its sources."""
from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from hardener.knowledge import facts
from hardener.knowledge.facts import ImageFacts, KnowledgeError, UserSpec


def raw() -> dict[str, Any]:
    """images.toml as plain TOML, without the loader's checks."""
    text = resources.files("hardener").joinpath("data", "images.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def with_entry(**fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw())
    data["images"].append({"name": "test-image", "sources": ["https://example.org/Dockerfile"], "tier": "app",
                           "repositories": ["test/image"], "distro": "debian", **fields})
    return data


def test_every_entry_names_its_sources():
    """Read from the TOML itself, not through the loader: a fact without a source fails here."""
    for entry in raw()["images"]:
        sources = entry.get("sources")
        assert isinstance(sources, list) and sources, f"{entry['name']}: no sources"
        for source in sources:
            assert source.startswith(("https://", "unverified: ")), f"{entry['name']}: {source!r}"


def test_the_shipped_knowledge_base_loads_into_typed_records():
    kb = facts.load()
    postgres = next(e for e in kb.images if e.name == "postgres")
    assert isinstance(postgres, ImageFacts)
    assert postgres.nonroot_user == UserSpec("postgres", 999, 999)
    assert postgres.nonroot_user_tags == (("(^|-)alpine", UserSpec("postgres", 70, 70)),)
    assert postgres.ports == (5432,) and postgres.families == ("postgres", "postgis")
    assert postgres.volumes == ("/var/lib/postgresql/data",) and "POSTGRES_PASSWORD" in postgres.file_env
    assert kb.distros["alpine"].user_tool == "busybox" and kb.distros["windows"].windows
    assert "cron" in kb.root_runtime and kb.tag_suffixes[0] == ("(^|-)alpine", "alpine")


def test_unknown_is_none_and_known_nothing_is_empty():
    kb = facts.load()
    by_name = {e.name: e for e in kb.images}
    assert by_name["temporal-ui"].writable_paths is None and by_name["hello-world"].writable_paths == ()
    assert by_name["python"].cap_add is None and by_name["memcached"].cap_add == ()


def test_a_family_belongs_to_one_entry():
    kb = facts.load()
    assert kb.by_family["valkey"].name == "redis" and kb.by_family["cassandra"].repositories == ()


def test_a_well_formed_new_entry_loads():
    entry = facts.parse(with_entry(ports=[8080], cap_add=[]), "test").images[-1]
    assert entry.ports == (8080,) and entry.cap_add == () and entry.writable_paths is None


@pytest.mark.parametrize(
    "fields, message",
    [
        pytest.param({"writeable_paths": ["/tmp"]}, "unknown key 'writeable_paths'", id="typo-is-an-error"),
        pytest.param({"ports": "8080"}, "ports: expected a list", id="ports-not-a-list"),
        pytest.param({"ports": ["8080"]}, r"ports\[0\]: expected an integer", id="port-as-string"),
        pytest.param({"flavoured": "yes"}, "expected true or false", id="flag-as-string"),
        pytest.param({"nonroot_user": {"name": "app", "uid": 1}}, "missing key 'gid'", id="user-without-gid"),
        pytest.param({"tag_ports": [["-apache", 80, 1]]}, "expected \\[regex, value\\]", id="bad-tag-pair"),
        pytest.param({"sources": []}, "names its sources", id="no-sources"),
        pytest.param({"sources": ["read it somewhere"]}, "names its sources", id="source-not-url"),
        pytest.param({"tier": "backend"}, "tier 'backend'", id="unknown-tier"),
        pytest.param({"distro": "gentoo"}, "distro 'gentoo'", id="unknown-distro"),
        pytest.param({"families": ["redis"]}, "family 'redis' is already redis's", id="duplicate-family"),
        pytest.param({"tier": "base", "families": ["test-image"]}, "base image", id="base-with-family"),
    ],
)
def test_schema_errors_stop_the_load(fields, message):
    with pytest.raises(KnowledgeError, match=message):
        facts.parse(with_entry(**fields), "images.toml")


def test_an_entry_without_sources_stops_the_load():
    data = with_entry()
    del data["images"][-1]["sources"]
    with pytest.raises(KnowledgeError, match=r"\(test-image\): missing key 'sources'"):
        facts.parse(data, "images.toml")


def test_an_unknown_top_level_table_stops_the_load():
    data = raw() | {"families": {}}
    with pytest.raises(KnowledgeError, match="unknown key 'families'"):
        facts.parse(data, "images.toml")
