"""The image knowledge base (``hardener/data/images.toml``) as typed records.

One entry per image family holds everything hardener knows about it: how Dockerfile
lookups find it (``repositories``), how Compose tiers find it (``families``), its users,
ports, tier, writable paths, capabilities and health command, and the ``sources`` the
facts were read from. ``load()`` checks every key and type, so a typo fails loudly.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hardener.knowledge import records as r
from hardener.knowledge.records import KnowledgeError, UserSpec

TIERS = ("edge", "app", "data", "base")  # base: a base image, not a service by itself
SOURCE_PREFIXES = ("https://", "unverified: ")


@dataclass(frozen=True)
class ImageFacts:
    """One ``[[images]]`` entry. ``None`` means "not known", an empty tuple "known: none"."""

    name: str
    sources: tuple[str, ...]
    tier: str
    repositories: tuple[str, ...] = ()  # normalised repositories, fnmatch patterns
    families: tuple[str, ...] = ()  # last path components the Compose tier table matches
    distro: str | None = None
    flavoured: bool = False
    runs_as: str = "0"
    nonroot_user: UserSpec | None = None
    nonroot_user_tags: tuple[tuple[str, UserSpec], ...] = ()
    nonroot_tags: tuple[str, ...] = ()
    drops_privileges: str | None = None
    entrypoint: str | None = None
    privileged_ports: tuple[int, ...] = ()
    tag_ports: tuple[tuple[str, int], ...] = ()
    port_env: tuple[str, ...] = ()  # ENV names that choose the listening ports instead (ASPNETCORE_URLS)
    unprivileged_variant: str | None = None
    runtime_variant: str | None = None
    ports: tuple[int, ...] = ()
    writable_paths: tuple[str, ...] | None = None
    read_only_blocker: str | None = None
    volumes: tuple[str, ...] = ()
    cap_add: tuple[str, ...] | None = None
    healthcheck: tuple[str, ...] | None = None
    compose_user: str | None = None
    compose_user_tags: tuple[tuple[str, str], ...] = ()
    file_env: tuple[str, ...] = ()


_IMAGE_READERS: dict[str, r.Reader] = {
    "name": r.text, "sources": r.texts, "tier": r.text, "repositories": r.texts, "families": r.texts,
    "distro": r.text, "flavoured": r.flag, "runs_as": r.text, "nonroot_user": r.user,
    "nonroot_user_tags": r.tagged(r.user), "nonroot_tags": r.texts, "drops_privileges": r.text,
    "entrypoint": r.text, "privileged_ports": r.numbers, "tag_ports": r.tagged(r.number),
    "port_env": r.texts,
    "unprivileged_variant": r.text, "runtime_variant": r.text, "ports": r.numbers,
    "writable_paths": r.texts, "read_only_blocker": r.text, "volumes": r.texts, "cap_add": r.texts,
    "healthcheck": r.texts, "compose_user": r.text, "compose_user_tags": r.tagged(r.text), "file_env": r.texts,
}


@dataclass(frozen=True)
class Distro:
    """One ``[distros.<name>]`` table: what a RUN can use on that distribution."""

    package_manager: str
    shell: bool
    user_tool: str  # a [user_tools] key, or "none"
    windows: bool = False


_DISTRO_READERS: dict[str, r.Reader] = {
    "package_manager": r.text, "shell": r.flag, "user_tool": r.text, "windows": r.flag,
}


@dataclass(frozen=True)
class KnowledgeBase:
    images: tuple[ImageFacts, ...]
    distros: dict[str, Distro]
    user_tools: dict[str, str]  # tool -> create command with {uid} {gid} {name}
    tag_suffixes: tuple[tuple[str, str], ...]  # (tag regex, distro), first match wins
    root_runtime: frozenset[str]

    @functools.cached_property
    def by_family(self) -> dict[str, ImageFacts]:
        return {family: entry for entry in self.images for family in entry.families}


@functools.cache
def load() -> KnowledgeBase:
    """``images.toml``, parsed and checked once."""
    text = resources.files("hardener").joinpath("data", "images.toml").read_text(encoding="utf-8")
    return parse(tomllib.loads(text), "images.toml")


def parse(data: dict[str, Any], where: str) -> KnowledgeBase:
    top = r.table(data, where, _TOP, required=tuple(_TOP))
    tools = {k: r.table(v, f"{where} [user_tools.{k}]", {"create": r.text}, ("create",))["create"]
             for k, v in top["user_tools"].items()}
    distros = {k: Distro(**r.table(v, f"{where} [distros.{k}]", _DISTRO_READERS, ("package_manager", "shell", "user_tool")))
               for k, v in top["distros"].items()}
    suffixes = r.table(top["tag_suffixes"], f"{where} [tag_suffixes]", {"order": r.tagged(r.text)}, ("order",))
    runtime = r.table(top["root_runtime"], f"{where} [root_runtime]", {"commands": r.texts}, ("commands",))
    entries = tuple(_image(e, f"{where} [[images]] #{i + 1}") for i, e in enumerate(top["images"]))
    kb = KnowledgeBase(entries, distros, tools, suffixes["order"], frozenset(runtime["commands"]))
    _check(kb, where)
    return kb


_TOP: dict[str, r.Reader] = {
    "user_tools": r.tables, "distros": r.tables, "tag_suffixes": r.keep, "root_runtime": r.keep,
    "images": r.rows,
}


def _image(value: Any, where: str) -> ImageFacts:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        where = f"{where} ({value['name']})"
    return ImageFacts(**r.table(value, where, _IMAGE_READERS, required=("name", "sources", "tier")))


def _check(kb: KnowledgeBase, where: str) -> None:
    """Facts that only make sense together: every check names the entry at fault."""
    seen: dict[str, str] = {}
    for entry in kb.images:
        at = f"{where} [[images]] {entry.name}"
        if entry.tier not in TIERS:
            raise r.fail(at, f"tier {entry.tier!r} is not one of {', '.join(TIERS)}")
        if not entry.sources or not all(s.startswith(SOURCE_PREFIXES) for s in entry.sources):
            raise r.fail(at, "every entry names its sources: URLs, or 'unverified: why'")
        if entry.repositories and entry.distro not in kb.distros:
            raise r.fail(at, f"distro {entry.distro!r} is not a [distros] table")
        if entry.families and entry.tier == "base":
            raise r.fail(at, "a base image has no service tier for `families` to give")
        for family in entry.families:
            if family in seen:
                raise r.fail(at, f"family {family!r} is already {seen[family]}'s")
            seen[family] = entry.name
    for name, distro in kb.distros.items():
        if distro.user_tool not in (*kb.user_tools, "none"):
            raise r.fail(f"{where} [distros.{name}]", f"user_tool {distro.user_tool!r} is not a [user_tools] table")


__all__ = ["Distro", "ImageFacts", "KnowledgeBase", "KnowledgeError", "UserSpec", "load", "parse"]
