"""Services merged into others: one change in the anchored service when every service that
merges it would get the same change, else a refusal that says which one differs."""
from __future__ import annotations

from pathlib import Path

import pytest
from compose_helpers import run_compose

from hardener.transforms.cap_drop import CapDrop
from hardener.transforms.compose_healthcheck import ComposeHealthcheck
from hardener.transforms.read_only_root import ReadOnlyRoot

REDIS_CAPS = "    cap_drop:\n      - ALL\n    cap_add:\n      - SETGID\n      - SETUID\n"


def twice(tmp_path: Path, transform, text: str) -> tuple[str, list[str]]:
    """Run, then run again on the output: the second run must change nothing."""
    out, refusals = run_compose(tmp_path, transform, text)
    again, _ = run_compose(tmp_path, transform, out)
    assert again == out, "not idempotent"
    return out, refusals


def test_same_change_goes_into_the_anchor_once(tmp_path):
    text = ("services:\n  cache: &cache\n    image: redis:7\n  cache-2:\n    <<: *cache\n    command: redis-server --port 6380\n")
    out, refusals = twice(tmp_path, CapDrop(), text)
    assert out == text.replace("    image: redis:7\n", "    image: redis:7\n" + REDIS_CAPS), out
    assert refusals == []


def test_chain_of_merges_and_merge_lists(tmp_path):
    text = ("services:\n  a: &a\n    image: redis:7\n  b: &b\n    <<: *a\n    environment: {X: '1'}\n"
            "  c:\n    <<: [*b]\n    command: redis-server --save ''\n")
    out, refusals = twice(tmp_path, CapDrop(), text)
    assert out.count("cap_drop") == 1 and refusals == [], (out, refusals)


@pytest.mark.parametrize(
    "user, differs",
    [
        pytest.param("    <<: *base\n    image: grafana/grafana:11\n", "web would get a different change", id="other-image"),
        pytest.param("    <<: *base\n    cap_drop: [NET_RAW]\n", "web would get a different change", id="own-cap-drop"),
    ],
)
def test_users_that_differ_keep_the_refusal(tmp_path, user, differs):
    text = "services:\n  base: &base\n    image: redis:7\n  web:\n" + user
    out, refusals = twice(tmp_path, CapDrop(), text)
    assert any("its anchor is merged into web" in r and differs in r for r in refusals), refusals
    assert "  base: &base\n    image: redis:7\n  web:" in out  # the anchored service is left as it was


def test_read_only_and_healthcheck_follow_the_same_rule(tmp_path):
    text = ("services:\n  db: &db\n    image: postgres:16\n    volumes: [pg:/var/lib/postgresql/data]\n"
            "  replica:\n    <<: *db\n    command: postgres -c hot_standby=on\nvolumes:\n  pg:\n")
    out, refusals = twice(tmp_path, ReadOnlyRoot(), text)
    assert out.count("read_only: true") == 1 and refusals == [], (out, refusals)
    out, refusals = twice(tmp_path, ComposeHealthcheck(), text)
    assert out.count("healthcheck:") == 1 and refusals == [], (out, refusals)


def test_user_with_explicit_read_only_false_keeps_the_refusal(tmp_path):
    text = ("services:\n  db: &db\n    image: redis:7\n    volumes: [r:/data]\n"
            "  replica:\n    <<: *db\n    read_only: false\nvolumes:\n  r:\n")
    out, refusals = run_compose(tmp_path, ReadOnlyRoot(), text)
    assert "read_only: true" not in out
    assert any("replica would not get it" in r for r in refusals), refusals


def test_extension_anchors_are_not_services(tmp_path):
    """x- blocks merged into services are edited in each service, as before."""
    text = "x-common: &common\n  restart: always\nservices:\n  a:\n    <<: *common\n    image: redis:7\n"
    out, refusals = twice(tmp_path, CapDrop(), text)
    assert out == text + REDIS_CAPS and refusals == []
