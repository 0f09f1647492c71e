"""Service tiers: the tier of a Compose service's image family, and default limits per tier.

The tier comes from the image entry whose ``families`` names the last path component of
the image (``bitnami/redis:7`` -> ``redis``), so the tier of an image family lives in the
same entry as its users, ports and capabilities. The limits are per tier, not per image,
and live in ``hardener/data/tier_limits.toml``.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hardener.knowledge import facts
from hardener.knowledge import records as r

SERVICE_TIERS = ("edge", "app", "data")
DEFAULT_TIER = "app"  # unknown images, `build:` services


def family_tier(family: str | None) -> str:
    """The tier of an image family (``redis``); ``app`` for families the KB does not list."""
    entry = facts.load().by_family.get(family or "")
    return entry.tier if entry is not None else DEFAULT_TIER


def family_ports(family: str | None) -> tuple[int, ...]:
    """The default ports of an image family; empty when the KB does not list it."""
    entry = facts.load().by_family.get(family or "")
    return entry.ports if entry is not None else ()


@dataclass(frozen=True)
class Limits:
    """Default ``deploy.resources.limits`` of one tier, as Compose spells them."""

    memory: str
    cpus: str
    pids: int


@functools.cache
def limits() -> dict[str, Limits]:
    """``[limits]`` of ``tier_limits.toml``: one per service tier, checked at load."""
    text = resources.files("hardener").joinpath("data", "tier_limits.toml").read_text(encoding="utf-8")
    return parse_limits(tomllib.loads(text), "tier_limits.toml")


def parse_limits(data: dict[str, Any], where: str) -> dict[str, Limits]:
    top = r.table(data, where, {"limits": r.tables}, required=("limits",))["limits"]
    readers = {"memory": r.text, "cpus": r.text, "pids": r.number}
    table = r.table(top, f"{where} [limits]", dict.fromkeys(SERVICE_TIERS, r.keep), required=SERVICE_TIERS)
    return {tier: Limits(**r.table(v, f"{where} [limits] {tier}", readers, tuple(readers))) for tier, v in table.items()}
