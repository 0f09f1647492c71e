"""HD606 resource-limits: through the real engine, with --unsafe (the defaults are unsafe)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hardener import judges
from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Applicability
from hardener.transforms.resource_limits import ResourceLimits, tier_limits

NAME = "resource-limits"


def run(tmp_path: Path, text: str, config: dict[str, Any] | None = None,
        name: str = "compose.yaml") -> tuple[str, list[str], list[str]]:
    """(output, applicability of each change, refusal reasons); output passes the compose-spec schema."""
    path = tmp_path / name
    path.write_text(text)
    ctx = Context(tmp_path, options={NAME: config} if config is not None else {}).for_file(path)
    result = process(str(path), "compose", text.encode(), [ResourceLimits()], ctx,
                     Options(threshold=Applicability.UNSAFE))
    assert result.failure is None and result.error is None
    out = result.output.decode() if result.output is not None else text
    if out != text:
        assert judges.compose_problems(out) == []
        again = process(str(path), "compose", out.encode(), [ResourceLimits()], ctx,
                        Options(threshold=Applicability.UNSAFE))
        assert again.changes == (), "second run is not a no-op"
    return out, [c.applicability.label for c in result.changes], [r.reason for r in result.refusals]


LIMITS = "    deploy:\n      resources:\n        limits:\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            "services:\n  db:\n    image: postgres:16\n",
            "services:\n  db:\n    image: postgres:16\n" + LIMITS
            + '          memory: 1G\n          cpus: "1.0"\n    pids_limit: 512\n',
            id="spec-file-data-tier",
        ),
        pytest.param(
            "services:\n  web:\n    image: nginx:1.27\n",
            "services:\n  web:\n    image: nginx:1.27\n" + LIMITS
            + '          memory: 256M\n          cpus: "0.5"\n    pids_limit: 200\n',
            id="spec-file-edge-tier",
        ),
        pytest.param(
            "services:\n  app:\n    build: .\n",
            "services:\n  app:\n    build: .\n" + LIMITS
            + '          memory: 512M\n          cpus: "1.0"\n    pids_limit: 256\n',
            id="spec-file-built-service-is-app-tier",
        ),
        pytest.param(
            'version: "2.4"\nservices:\n  db:\n    image: redis:7\n',
            'version: "2.4"\nservices:\n  db:\n    image: redis:7\n    mem_limit: 1G\n    cpus: 1.0\n    pids_limit: 512\n',
            id="v2.4-mem_limit-numeric-cpus",
        ),
        pytest.param(
            "version: '3.8'\nservices:\n  db:\n    image: redis:7\n",
            "version: '3.8'\nservices:\n  db:\n    image: redis:7\n    deploy:\n      resources:\n        limits:\n"
            "          memory: 1G\n          cpus: '1.0'\n",
            id="v3.8-deploy-only-file-quote-style",
        ),
        pytest.param(
            "services:\n  app:\n    image: myapp\n    deploy:\n      replicas: 2\n",
            "services:\n  app:\n    image: myapp\n    deploy:\n      replicas: 2\n      resources:\n        limits:\n"
            '          memory: 512M\n          cpus: "1.0"\n    pids_limit: 256\n',
            id="merges-into-existing-deploy",
        ),
        pytest.param(
            "services:\n  app:\n    image: myapp\n" + LIMITS + "          memory: 2G\n    ports:\n      - 80:80\n",
            "services:\n  app:\n    image: myapp\n" + LIMITS + '          memory: 2G\n          cpus: "1.0"\n'
            "    ports:\n      - 80:80\n    pids_limit: 256\n",
            id="partial-limits-merged-no-duplicate-memory",
        ),
        pytest.param(
            "services:\n  app: {image: myapp}\n",
            'services:\n  app: {image: myapp, deploy: {resources: {limits: {memory: 512M, cpus: "1.0"}}}, pids_limit: 256}\n',
            id="flow-style-service",
        ),
        pytest.param(
            "services:\n  app: {image: myapp, deploy: {resources: {limits: {cpus: '2'}}}}\n",
            "services:\n  app: {image: myapp, deploy: {resources: {limits: {cpus: '2', memory: 512M}}}, pids_limit: 256}\n",
            id="flow-style-partial-limits",
        ),
        pytest.param(
            "services:\r\n  db:\r\n    image: postgres:16",
            "services:\r\n  db:\r\n    image: postgres:16\r\n    deploy:\r\n      resources:\r\n        limits:\r\n"
            '          memory: 1G\r\n          cpus: "1.0"\r\n    pids_limit: 512',
            id="crlf-no-final-newline",
        ),
        pytest.param(
            "x-base: &base\n  restart: always\nservices:\n  app:\n    <<: *base\n    image: myapp\n",
            "x-base: &base\n  restart: always\nservices:\n  app:\n    <<: *base\n    image: myapp\n" + LIMITS
            + '          memory: 512M\n          cpus: "1.0"\n    pids_limit: 256\n',
            id="merge-key-service-gets-its-own-limits",
        ),
        pytest.param(
            "services:\n  app:\n    image: myapp\n    mem_limit: 1g\n",
            'services:\n  app:\n    image: myapp\n    mem_limit: 1g\n' + LIMITS
            + '          cpus: "1.0"\n    pids_limit: 256\n',
            id="mem_limit-counts-as-memory-limit",
        ),
        pytest.param(
            "services:\n  db:\n    image: mcr.microsoft.com/windows/servercore:ltsc2022\n",
            "services:\n  db:\n    image: mcr.microsoft.com/windows/servercore:ltsc2022\n" + LIMITS
            + '          memory: 512M\n          cpus: "1.0"\n',
            id="windows-container-gets-no-pids-limit",
        ),
    ],
)
def test_adds_limits(tmp_path, text, expected):
    out, levels, refusals = run(tmp_path, text)
    assert out == expected
    assert set(levels) == {"unsafe"}
    assert [r for r in refusals if "version" not in r] == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("services:\n  db:\n    image: postgres:16\n" + LIMITS
                     + "          memory: 1G\n          cpus: '1'\n    pids_limit: 100\n", id="already-limited-spec"),
        pytest.param("services:\n  db:\n    image: postgres:16\n" + LIMITS
                     + "          memory: 1G\n          cpus: '1'\n          pids: 100\n", id="pids-in-deploy-counts"),
        pytest.param("version: '2.4'\nservices:\n  db:\n    image: redis:7\n    mem_limit: 1g\n    cpus: 0.5\n"
                     "    pids_limit: 50\n", id="already-limited-v2"),
        pytest.param("services:\n  db:\n    image: redis:7\n    mem_limit: ${MEM}\n    cpu_quota: 50000\n"
                     "    pids_limit: ${PIDS:-100}\n", id="variables-and-cpu-quota-count-as-set"),
        pytest.param("x-l: &l\n  mem_limit: 1g\n  cpus: 1\n  pids_limit: 9\nservices:\n  db:\n    <<: *l\n    image: redis:7\n",
                     id="limits-via-merge-key"),
        pytest.param("version: '3.8'\nservices:\n  db:\n    image: redis:7\n    deploy:\n      resources:\n        limits:\n"
                     "          memory: 1G\n          cpus: '1'\n", id="v3-limited-except-pids"),
    ],
)
def test_leaves_alone(tmp_path, text):
    out, levels, _refusals = run(tmp_path, text)
    assert (out, levels) == (text, [])


def test_v3_file_reports_missing_pids_once(tmp_path):
    text = "version: '3.8'\nservices:\n  a:\n    image: redis:7\n  b:\n    image: redis:7\n"
    _out, levels, refusals = run(tmp_path, text)
    assert levels == ["unsafe", "unsafe"]
    assert len(refusals) == 1 and "version 3.8" in refusals[0] and "pids" in refusals[0]


def test_v2_0_file_gets_only_mem_limit(tmp_path):
    out, _levels, refusals = run(tmp_path, "version: '2'\nservices:\n  a:\n    image: redis:7\n")
    assert out == "version: '2'\nservices:\n  a:\n    image: redis:7\n    mem_limit: 1G\n"
    assert sorted(r.split("`")[1] for r in refusals) == ["cpus", "pids_limit"]


@pytest.mark.parametrize(
    "config, expected, level",
    [
        pytest.param({"memory": "2G", "cpus": "2.0", "pids": 300}, ("2G", '"2.0"', "300"), "review", id="global-config"),
        pytest.param({"tiers": {"data": {"memory": "4G", "cpus": 4, "pids": 1000}}}, ("4G", '"4"', "1000"), "review",
                     id="tier-config"),
        pytest.param({"memory": "2G", "cpus": 2, "pids": 1, "services": {"db": {"memory": "3G"}}},
                     ("3G", '"2"', "1"), "review", id="service-config-wins"),
        pytest.param({"memory": "2G"}, ("2G", '"1.0"', "512"), "unsafe", id="partly-configured-is-unsafe"),
    ],
)
def test_configured_values(tmp_path, config, expected, level):
    out, levels, refusals = run(tmp_path, "services:\n  db:\n    image: postgres:16\n", config)
    memory, cpus, pids = expected
    assert out == ("services:\n  db:\n    image: postgres:16\n" + LIMITS
                   + f"          memory: {memory}\n          cpus: {cpus}\n    pids_limit: {pids}\n")
    assert (levels, refusals) == ([level], [])


def test_false_leaves_a_limit_out(tmp_path):
    out, levels, _ = run(tmp_path, "services:\n  db:\n    image: postgres:16\n",
                         {"pids": False, "memory": "1G", "cpus": "1"})
    assert out == "services:\n  db:\n    image: postgres:16\n" + LIMITS + '          memory: 1G\n          cpus: "1"\n'
    assert levels == ["review"]


def test_reason_names_the_source(tmp_path):
    process_reason = _reasons(tmp_path, "services:\n  db:\n    image: postgres:16\n", None)
    assert "data-tier defaults from the knowledge base" in process_reason[0]
    assert "[tool.hardener.resource-limits]" in process_reason[0]
    configured = _reasons(tmp_path, "services:\n  db:\n    image: postgres:16\n", {"memory": "1G", "cpus": 1, "pids": 9})
    assert "from [tool.hardener.resource-limits]" in configured[0] and "to choose" not in configured[0]


def _reasons(tmp_path: Path, text: str, config: dict[str, Any] | None) -> list[str]:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    ctx = Context(tmp_path, options={NAME: config} if config else {}).for_file(path)
    result = process(str(path), "compose", text.encode(), [ResourceLimits()], ctx, Options(threshold=Applicability.UNSAFE))
    return [c.reason for c in result.changes]


@pytest.mark.parametrize(
    "text, config, fragment",
    [
        pytest.param("db:\n  image: postgres\n", None, "legacy v1", id="legacy-v1"),
        pytest.param("version: '4'\nservices:\n  db:\n    image: postgres\n", None, "unknown Compose file version",
                     id="unknown-version"),
        pytest.param("x-d: &d\n  replicas: 2\nservices:\n  a:\n    image: redis:7\n    deploy: *d\n", None,
                     "alias of a shared anchor", id="deploy-is-an-alias"),
        pytest.param("x-d: &d\n  deploy:\n    replicas: 2\nservices:\n  a:\n    <<: *d\n    image: redis:7\n", None,
                     "comes from a merge key", id="deploy-from-merge-key"),
        pytest.param("services:\n  a:\n    image: redis:7\n    deploy:\n", None, "not a mapping", id="deploy-null"),
        pytest.param("services:\n  a:\n", None, "not a mapping", id="service-not-a-mapping"),
        pytest.param("services:\n  a:\n    extends: base\n", None, "extends", id="extends"),
        pytest.param("services:\n  a:\n    environment:\n      A: b\n", None, "neither", id="fragment-without-image"),
        pytest.param("services:\n  a:\n    image: redis:7\n    mem_reservation: 2g\n", None, "mem_reservation 2g",
                     id="reservation-above-limit"),
        pytest.param("services:\n  a:\n    image: redis:7\n    memswap_limit: 100m\n", None, "memswap_limit",
                     id="memswap-below-limit"),
        pytest.param("services:\n  a:\n    image: redis:7\n    deploy:\n      resources:\n        reservations:\n"
                     "          cpus: '4'\n", None, "CPU reservation 4", id="cpu-reservation-above-limit"),
        pytest.param("services:\n  a:\n    image: redis:7\n", {"memory": "lots"}, "is not a size", id="bad-config"),
        pytest.param("services:\n  a:\n    image: redis:7\n", {"services": {"a": {"cpus": -1}}}, "positive number",
                     id="bad-service-config"),
    ],
)
def test_refuses(tmp_path, text, config, fragment):
    out, levels, refusals = run(tmp_path, text, config)
    assert out == text and levels == []
    assert any(fragment in r for r in refusals), refusals


@pytest.mark.parametrize(
    "text, changed, fragment",
    [
        # `b: *a` is a itself: limits written in a are b's too (same image, same values)
        pytest.param("services:\n  a: &a\n    image: redis:7\n  b: *a\n", "a", "'b': the service is an alias",
                     id="alias-service-refused-anchor-owner-changed"),
        pytest.param("services:\n  a: &a\n    image: redis:7\n  b:\n    <<: *a\n    image: myapp\n", "b",
                     "'a': its anchor is merged into b", id="anchor-shared-by-two-services"),
    ],
)
def test_shared_anchors(tmp_path, text, changed, fragment):
    out, levels, refusals = run(tmp_path, text)
    assert levels == ["unsafe"] and any(fragment in r for r in refusals), refusals
    assert out.count("pids_limit") == 1 and out.startswith(text.split(f"  {changed}:")[0])


def test_override_file_refused(tmp_path):
    text = "services:\n  a:\n    image: redis:7\n"
    out, _levels, refusals = run(tmp_path, text, name="docker-compose.override.yml")
    assert out == text and "override file" in refusals[0]


def test_anchor_used_once_is_fine(tmp_path):
    text = "services:\n  a: &a\n    image: redis:7\n"
    out, levels, _ = run(tmp_path, text)
    assert out.startswith(text) and levels == ["unsafe"]


def test_not_applied_without_unsafe(tmp_path):
    path = tmp_path / "compose.yaml"
    text = "services:\n  db:\n    image: postgres:16\n"
    path.write_text(text)
    result = process(str(path), "compose", text.encode(), [ResourceLimits()], Context(tmp_path).for_file(path), Options())
    assert result.changes == () and len(result.skipped) == 1


def test_knowledge_base_has_every_tier():
    limits = tier_limits()
    assert set(limits) == {"edge", "app", "data"}
    assert all(set(v) == {"memory", "cpus", "pids"} for v in limits.values())


def test_a_service_others_merge_gets_its_limits_once_when_they_agree(tmp_path):
    """Same tier and no per-service values: the limits go into the anchored service, which
    the merging one inherits; a per-service value for the merging one makes them differ."""
    text = ("services:\n  api: &api\n    image: acme/api:1\n  api-2:\n    <<: *api\n    command: serve --port 8081\n")
    out, _kinds, refusals = run(tmp_path, text)
    assert out.count("limits:") == 1 and "  api: &api\n    image: acme/api:1\n    deploy:" in out, out
    assert not any("merged into" in r for r in refusals), refusals
    out, _kinds, refusals = run(tmp_path, text, {"services": {"api-2": {"memory": "1G"}}})
    assert any("its anchor is merged into api-2" in r and "api-2 would get a different change" in r
               for r in refusals), refusals
