"""Compose's default file pair: ``compose.yaml`` and ``compose.override.yaml`` side by side.

``docker compose up`` loads both and merges the override into the base (compose-spec
merge.md): scalars (`image`, `user`, `read_only`, `command` …) are replaced, mappings are
merged, and `cap_add`/`cap_drop`/`security_opt` are merged as sets. A per-service transform
therefore must not edit a key in one file that the other file replaces, nor refuse a partial
override service for lacking `image:` when its base supplies it. This module answers, for
the file a transform works on, why a service is better left to the other file.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from ruamel.yaml.nodes import MappingNode, SequenceNode

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.splice import mapping_get, scalar_value
from hardener.context import Context
from hardener.limits import DEFAULT_MAX_FILE_SIZE, read_bounded
from hardener.source import SourceText

# The file names `docker compose` loads without -f, and the override it pairs with each.
BASE_STEMS = ("compose", "docker-compose")
SUFFIXES = (".yaml", ".yml")
# Sequences Compose merges as sets: adding to them in the base is not undone by the override.
SET_MERGED = frozenset({"cap_add", "cap_drop", "security_opt"})

WhyNot = Callable[[Service], "str | None"]


class Completed(str):
    """A reason meaning: the other file of the pair defines this partial service."""


class HardenedThere(Completed):
    """... and the other file gets the change, so there is nothing to say here."""


def pair_of(path: Path) -> tuple[str, Path] | None:
    """(the partner's role "base"|"override", the partner) for a default-named Compose file whose partner
    exists next to it; None for any other file (an ``-f`` file Compose does not pair)."""
    name = path.name
    for stem in BASE_STEMS:
        for suffix in SUFFIXES:
            if name == stem + suffix:
                return _first("override", [path.with_name(f"{stem}.override{s}") for s in SUFFIXES])
            if name == f"{stem}.override{suffix}":
                return _first("base", [path.with_name(stem + s) for s in SUFFIXES])
    return None


def _first(role: str, candidates: list[Path]) -> tuple[str, Path] | None:
    # Compose prefers .yaml over .yml when both exist; so do we.
    for candidate in candidates:
        if candidate.is_file():
            return role, candidate
    return None


@lru_cache(maxsize=64)
def _services(path: Path, mtime: float) -> dict[str, Service] | None:
    """The other file's services by name (cached per path and mtime within the process);
    None when it cannot be parsed (then nothing is known and nothing changes)."""
    try:
        doc = ComposeDoc(SourceText.decode(read_bounded(path, DEFAULT_MAX_FILE_SIZE)), str(path))
        return {s.name: s for s in doc.services() if isinstance(s.node, MappingNode)}
    except Exception:
        return None


def other_services(ctx: Context) -> tuple[str, Path, dict[str, Service]] | None:
    """The partner's role ("base"/"override"), its path and its services, for ``ctx.file``."""
    if ctx.file is None:
        return None
    pair = pair_of(Path(ctx.file))
    if pair is None:
        return None
    role, other = pair
    try:
        services = _services(other.resolve(), other.stat().st_mtime)
    except OSError:
        return None
    return (role, other, services) if services is not None else None


def _contradicts(key: str, service: Service) -> bool:
    """A set-merged key the override sets in a way that undoes the base's hardening."""
    node = mapping_get(service.node, key)
    items = [scalar_value(i) or "" for i in node.value] if isinstance(node, SequenceNode) else []
    if key == "security_opt":
        return any(i.replace("=", ":").replace(" ", "").lower() in ("no-new-privileges:false",) for i in items)
    if key == "cap_add":
        return any(i.upper().removeprefix("CAP_") == "ALL" for i in items)
    return False


def override_conflict(partner: Service, keys: Iterable[str], file_name: str) -> str | None:
    """Why the base file's service should not be edited: the override's service of the same
    name writes a key the transform reads or edits (replaced scalars, merged mappings) or
    contradicts its change in a set-merged sequence."""
    for key in keys:
        if mapping_get(partner.node, key) is None:
            continue
        if key in SET_MERGED and not _contradicts(key, partner):
            continue  # merged as a set: values added in the base survive
        if key in ("image", "build"):
            return f"{file_name} sets `{key}:` for this service; hardened there"
        verb = "sets" if key not in SET_MERGED else "overrides"
        return f"{file_name} {verb} `{key}:` for this service; change it there"
    return None


def completed_by(service: Service, partner: Service | None, keys: Iterable[str], file_name: str) -> str | None:
    """Why an override service without its own image/build is left alone: the base file
    defines it and gets the change. None when it is complete here, or when it sets a key the
    transform depends on (then this file defines the fact; the transform sees it here)."""
    own = any(mapping_get(service.node, k) is not None for k in ("image", "build"))
    if own or partner is None:
        return None
    if not any(mapping_get(partner.node, k) is not None for k in ("image", "build", "extends")):
        return None
    if any(mapping_get(service.node, k) is not None for k in keys if k not in ("image", "build")):
        return Completed(f"completed by {file_name}, which defines its image, while this file sets a key "
                         "the change depends on; set it in one file")
    return HardenedThere(f"completed by {file_name}; hardened there")


def why_not(ctx: Context, keys: Iterable[str], inner: WhyNot | None = None) -> WhyNot | None:
    """A ``why_not`` for ``per_service`` (ServiceTransform.pair_keys are the keys): the pair's verdict
    first, then ``inner``. Returns ``inner`` unchanged when the file has no default partner."""
    found = other_services(ctx)
    if found is None:
        return inner
    role, other, services = found
    keys = tuple(keys)

    def check(service: Service) -> str | None:
        partner = services.get(service.name)
        if role == "override":  # this file is the base
            why = override_conflict(partner, keys, other.name) if partner is not None else None
        else:
            why = completed_by(service, partner, keys, other.name)
        return why or (inner(service) if inner is not None else None)

    return check

