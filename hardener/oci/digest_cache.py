"""Digests for image references: lock file, persistent cache, then the registry.

Order of lookup for a reference: the lock file committed to the repo (``hardener.lock``,
reproducible, also used offline), the cache in ``$XDG_CACHE_HOME/hardener`` (within its
TTL; any age when offline), then the registry, once per unique reference per process.
Nothing touches the network until a transform asks for a digest, and ``--offline`` never
does. Floating tags (``latest``, none, ``slim``) are resolved together with the version
tags of the same family that share the digest, so the transform can name a version.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hardener.errors import BadInput
from hardener.model import FileWrite
from hardener.oci.imageconfig import ImageConfig, config_differences
from hardener.oci.imageref import ImageRef
from hardener.options import Option
from hardener.why import Why, WhyKind

LOCK_VERSION = 1
DEFAULT_TTL = 24 * 3600.0
_VERSION_TAG = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-([a-z][\w.-]*))?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_CANDIDATES = 12  # HEAD requests per floating tag, on top of the manifest and tag list


@dataclass(frozen=True)
class Resolution:
    digest: str
    media_type: str
    platforms: tuple[str, ...]
    tags: tuple[str, ...] = ()  # version tags sharing the digest (floating tags only)
    fetched: float = 0.0
    config: ImageConfig | None = None  # the first platform's image config, when read and no other disagrees
    config_error: str = ""  # why it could not
    # False for an entry written before configs were recorded: a cache entry like that is
    # fetched again online; a lock entry like that still pins (its config is just unknown).
    config_checked: bool = True

    def to_json(self, *, with_time: bool) -> dict[str, Any]:
        data = asdict(self)
        data["platforms"], data["tags"] = list(self.platforms), list(self.tags)
        for name in ("config", "config_error", "config_checked"):
            data.pop(name)
        if self.config is not None:
            data["config"] = self.config.to_json()
        elif self.config_error and with_time:  # a lock records facts, not one run's failure
            data["config_error"] = self.config_error
        if not with_time:
            data.pop("fetched")
        return data

    @classmethod
    def from_json(cls, data: Any) -> Resolution | None:
        try:
            return cls(str(data["digest"]), str(data.get("media_type", "")),
                       tuple(map(str, data.get("platforms", ()))), tuple(map(str, data.get("tags", ()))),
                       float(data.get("fetched", 0.0)), ImageConfig.from_json(data.get("config")),
                       str(data.get("config_error", "")), "config" in data or "config_error" in data)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


def key(ref: ImageRef) -> str:
    """``docker.io/library/python:latest``: the spelling-independent cache/lock key."""
    return f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"


def is_floating(tag: str | None) -> bool:
    """``latest``, no tag, or a tag with no version number in it (``slim``, ``alpine``)."""
    return tag is None or tag == "latest" or not any(c.isdigit() for c in tag)


def family_of(tag: str | None) -> str:
    return "" if tag is None or tag == "latest" else tag


def version_tags(tags: Iterable[str], family: str) -> list[tuple[tuple[int, ...], str]]:
    """Tags ``<version>[-family]`` of exactly this family, highest version first."""
    out = []
    for tag in tags:
        match = _VERSION_TAG.match(tag)
        if match and (match.group(2) or "") == family:
            out.append((tuple(int(p) for p in match.group(1).split(".")), tag))
    return sorted(out, reverse=True)


def candidate_order(tags: Iterable[str], family: str) -> list[str]:
    """Likely matches first: the newest version and its shorter aliases (3.13.1, 3.13, 3)."""
    ranked = version_tags(tags, family)
    by_version = dict(ranked)
    order: list[str] = []
    for version, _tag in ranked:
        for cut in range(len(version), 0, -1):
            alias = by_version.get(version[:cut])
            if alias and alias not in order:
                order.append(alias)
    return order


def choose_tag(tags: Iterable[str], most_specific: bool) -> str | None:
    """Default: major.minor (or the closest to it); ``most_specific``: the longest version."""
    versions = [(len(v.split("-")[0].split(".")), t) for t in tags for v in [t.lstrip("v")]]
    if not versions:
        return None
    if most_specific:
        return max(versions)[1]
    at_most_two = [v for v in versions if v[0] <= 2]
    return max(at_most_two)[1] if at_most_two else min(versions)[1]


def parse_duration(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"bad duration {value!r} (e.g. 24h, 30m, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hardener"


class DigestStore:
    """A JSON file of ``key -> Resolution``: the cache (with times) or the lock (without)."""

    def __init__(self, path: Path | None, *, with_time: bool) -> None:
        self.path = path
        self.with_time = with_time
        self.entries: dict[str, Resolution] = {}
        self._new: dict[str, Resolution] = {}
        self._lock = threading.Lock()
        if path is not None:
            self.entries = _read_store(path)

    def get(self, name: str) -> Resolution | None:
        return self.entries.get(name)

    def put(self, name: str, value: Resolution) -> None:
        with self._lock:
            self.entries[name] = value
            self._new[name] = value

    def save(self) -> None:
        """Merge new entries into what is on disk now (another process may have written)."""
        if self.path is None or not self._new:
            return
        with self._lock:
            merged = {**_read_store(self.path), **self._new}
            _atomic_write(self.path, store_bytes(merged, with_time=self.with_time))
            self._new.clear()


def store_bytes(entries: dict[str, Resolution], *, with_time: bool) -> bytes:
    data = {"version": LOCK_VERSION,
            "images": {k: entries[k].to_json(with_time=with_time) for k in sorted(entries)}}
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def _read_store(path: Path) -> dict[str, Resolution]:
    try:
        return _parse_store(path.read_bytes())
    except OSError:
        return {}


def _parse_store(raw: bytes | None) -> dict[str, Resolution]:
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        return {}
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict):
        return {}
    found = {k: Resolution.from_json(v) for k, v in images.items()}
    return {k: v for k, v in found.items() if v is not None}


def _atomic_write(path: Path, content: bytes) -> None:
    """Write the cache through the write gate rooted at its own directory (never out of it)."""
    from hardener.writer import Gate

    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # the user's own cache directory, not a repository's
        Gate.at(path.parent).write(path, content)
    except (OSError, BadInput):
        pass  # a cache that cannot be written only costs time


# [tool.hardener.pin-base-image], declared here because pin-compose-image reads it too.
OPTIONS = (
    Option("mirrors", "table[string]", {}, 'Registry -> host to ask instead, e.g. {"docker.io" = "127.0.0.1:5000"}.'),
    Option("insecure", "list[string]", (), "Registries (host[:port]) reached over plain HTTP."),
    Option("lock", "string|false", "hardener.lock", "The lock file of pinned digests, relative to the repository "
           "root; false: none.", path=True),
    Option("write-lock", "bool", False, "Record the digests a run pins in the lock file (like --lock)."),
    Option("ttl", "number|string", "24h", "How long a cached digest is trusted: seconds, or like 30m, 24h, 7d."),
    Option("most-specific-tag", "bool", False, "Pin to the longest version tag (3.13.1) instead of major.minor."),
    Option("cache", "bool", True, "Keep digests in the user's cache ($XDG_CACHE_HOME/hardener)."),
    Option("platforms", "list[string]", ("linux/amd64",), "Platforms an image must offer when the file names "
           "none (FROM --platform, Compose platform:)."),
    Option("connect-timeout", "number", 3.0, "Seconds to wait for a registry connection."),
    Option("read-timeout", "number", 10.0, "Seconds to wait for a registry answer."),
)
_DEFAULTS = {option.name: option.default for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    """``[tool.hardener.pin-base-image]`` (shared by pin-compose-image): one field per option."""

    mirrors: Mapping[str, str] = field(default_factory=dict)
    insecure: tuple[str, ...] = ()
    lock: str | None = "hardener.lock"
    write_lock: bool = False
    ttl: float = DEFAULT_TTL
    most_specific_tag: bool = False
    cache: bool = True
    platforms: tuple[str, ...] = ("linux/amd64",)
    connect_timeout: float = 3.0
    read_timeout: float = 10.0

    @classmethod
    def from_options(cls, section: Mapping[str, Any]) -> Settings:
        def get(k: str) -> Any:  # a key as written in the TOML, or in snake_case, else its declared default
            return section.get(k, section.get(k.replace("-", "_"), _DEFAULTS[k]))

        mirrors = get("mirrors")
        return cls(
            {str(k): str(v) for k, v in mirrors.items()} if isinstance(mirrors, Mapping) else {},
            tuple(map(str, get("insecure"))),
            get("lock") or None,
            bool(get("write-lock")),
            parse_duration(get("ttl")),
            bool(get("most-specific-tag")),
            bool(get("cache")),
            tuple(map(str, get("platforms"))),
            float(get("connect-timeout")),
            float(get("read-timeout")),
        )


class Resolver:
    """Resolves references for one run (shared by every file and both pin transforms)."""

    def __init__(self, settings: Settings, root: Path, *, offline: bool, client: Any = None) -> None:
        self.settings = settings
        self.offline = offline
        lock_path = (root / settings.lock) if settings.lock else None
        self.lock = DigestStore(lock_path if lock_path and (lock_path.is_file() or settings.write_lock) else None,
                                with_time=False)
        self.cache = DigestStore(cache_dir() / "digests.json" if settings.cache else None, with_time=True)
        self._client = client
        self._memo: dict[str, Resolution | Why] = {}
        self._guard = threading.Lock()

    @property
    def client(self) -> Any:
        """Created on first need only: a run that needs no digest never imports httpx."""
        with self._guard:
            if self._client is None:
                from hardener.oci.registry import ClientConfig, RegistryClient

                config = ClientConfig(self.settings.mirrors, self.settings.insecure,
                                      connect_timeout=self.settings.connect_timeout,
                                      read_timeout=self.settings.read_timeout)
                self._client = RegistryClient(config)
            return self._client

    def resolve_many(self, refs: Iterable[ImageRef]) -> dict[str, Resolution | Why]:
        """Every reference's resolution or failure; unknown ones are fetched concurrently."""
        wanted = {key(r): r for r in refs}
        missing = [r for k, r in wanted.items() if self._known(k) is None]
        if missing:
            from concurrent.futures import ThreadPoolExecutor  # here: offline runs never fetch

            workers = min(8, len(missing))
            with ThreadPoolExecutor(workers) as pool:
                for name, result in zip([key(r) for r in missing], pool.map(self._fetch, missing)):
                    self._remember(name, result)
            self.cache.save()
        return {k: self._known(k) or Why("not resolved") for k in wanted}

    def _known(self, name: str) -> Resolution | Why | None:
        if name in self._memo:
            return self._memo[name]
        found = self.lock.get(name)
        if found is None:
            cached = self.cache.get(name)
            fresh = cached is not None and (self.offline or (time.time() - cached.fetched < self.settings.ttl
                                                             and cached.config_checked))
            found = cached if fresh else None
        if found is None and self.offline:
            lock = self.settings.lock or "the lock file"
            return Why(f"--offline: no digest for {name} in {lock} or the cache")
        if found is not None:
            self._memo[name] = found
        return found

    def _remember(self, name: str, result: Resolution | Why) -> None:
        with self._guard:
            self._memo[name] = result
        if isinstance(result, Resolution):
            self.cache.put(name, result)

    def lock_update(self, view: Any, refs: Iterable[ImageRef]) -> tuple[FileWrite, ...]:
        """``hardener.lock`` with these references added, as a companion file of the change.

        The lock is part of the reviewable result: ``diff`` shows it, only ``apply`` writes
        it, and it is written only when the file that needed the digests is accepted.
        ``view`` is the run's FileView, so entries of earlier files in the run are kept.
        """
        path = self.lock.path if self.settings.write_lock else None
        found = {key(r): self._memo.get(key(r)) for r in refs}
        new = {k: v for k, v in found.items() if isinstance(v, Resolution)}
        if path is None or not new:
            return ()
        before = view.read(path)
        merged = {**_parse_store(before), **new}
        content = store_bytes(merged, with_time=False)
        return () if content == before else (FileWrite(path, content),)

    def _fetch(self, ref: ImageRef) -> Resolution | Why:
        from hardener.oci.registry import Budget, RegistryError

        try:
            client = self.client
            budget = Budget(client.config.max_requests_per_image)
            tag = ref.tag or "latest"
            manifest = client.manifest(ref.registry, ref.repository, tag, budget)
            tags: tuple[str, ...] = ()
            if is_floating(ref.tag):
                tags = self._same_digest_tags(ref, manifest.digest, budget)
        except RegistryError as exc:
            # The registry answered unusably (down, 401/403, 404, 429, bad manifest, timeout): the run
            # is incomplete, unlike an --offline refusal, which is the user's choice.
            return Why(str(exc), WhyKind.INCOMPLETE)
        config, error = self._config(ref, manifest, budget)
        return Resolution(manifest.digest, manifest.media_type, manifest.platforms, tags, time.time(),
                          config, error)

    def _config(self, ref: ImageRef, manifest: Any, budget: Any) -> tuple[ImageConfig | None, str]:
        """The image config of the first configured platform, or why not. A failure here costs
        only facts (transforms fall back to the knowledge base), never the digest.

        With several platforms configured, an index's other platforms are read too (two
        requests each, none by default): when their runtime facts differ, none is picked.
        One that cannot be read leaves the first platform's facts standing."""
        from hardener.oci.registry import RegistryError

        platforms = tuple(dict.fromkeys(self.settings.platforms or ("linux/amd64",)))
        try:
            first = self.client.image_config(ref.registry, ref.repository, manifest, platforms[0], budget)
        except RegistryError as exc:
            return None, str(exc)
        for other in platforms[1:] if manifest.children else ():
            try:
                config = self.client.image_config(ref.registry, ref.repository, manifest, other, budget)
            except RegistryError:
                continue
            if (differ := config_differences(first, config)):
                return None, (f"its platforms disagree ({platforms[0]} and {other} differ in "
                              f"{', '.join(differ)}); none is picked")
        return first, ""

    def known_config(self, ref: ImageRef) -> ImageConfig | Why | None:
        """The image config this run already has for ``ref`` (lock, cache, or a digest resolved
        in this run), without a request: only digest resolution talks to registries. None:
        nothing known (no lock entry, not resolved); a Why: the registry failed."""
        with self._guard:
            found = self._known(key(ref))
        if isinstance(found, Why):
            return found if found.kind is WhyKind.INCOMPLETE else None
        if found is None or (ref.digest and ref.digest != found.digest):
            return None  # a reference pinned to another digest than the tag's: not this image's facts
        if found.config is None and found.config_error:
            return Why(found.config_error, WhyKind.UNKNOWN)
        return found.config

    def _same_digest_tags(self, ref: ImageRef, digest: str, budget: Any) -> tuple[str, ...]:
        """Version tags of the written family that point at the same digest (bounded)."""
        from hardener.oci.registry import RegistryError

        client = self.client
        found: list[str] = []
        try:
            candidates = candidate_order(client.tags(ref.registry, ref.repository, budget), family_of(ref.tag))
            for tag in candidates[:MAX_CANDIDATES]:
                if client.head_digest(ref.registry, ref.repository, tag, budget) == digest:
                    found.append(tag)
                elif found:
                    break  # the aliases of one release are adjacent in candidate order
        except RegistryError:
            if not found:
                raise
        return tuple(found)


_RESOLVERS: dict[tuple[Any, ...], Resolver] = {}
_FACTORY_LOCK = threading.Lock()


_DEFAULT_SETTINGS: list[tuple[Settings, str]] = []


def _settings(options: Mapping[str, Any]) -> tuple[Settings, str]:
    """The settings of a section and their repr; those of an empty section (the usual case)
    are made once, as resolver_for is asked per image of every service of every round."""
    if options:
        settings = Settings.from_options(options)
        return settings, repr(settings)
    if not _DEFAULT_SETTINGS:
        settings = Settings.from_options({})
        _DEFAULT_SETTINGS.append((settings, repr(settings)))
    return _DEFAULT_SETTINGS[0]


def resolver_for(ctx: Any, section: str = "pin-base-image") -> Resolver:
    """The context's resolver, else one per (root, settings, offline) in this process."""
    if getattr(ctx, "resolver", None) is not None:
        resolver: Resolver = ctx.resolver
        return resolver
    options = ctx.options.get(section) if isinstance(ctx.options.get(section), Mapping) else {}
    settings, shown = _settings(options)
    ident = (str(ctx.root), shown, bool(ctx.offline))
    with _FACTORY_LOCK:
        if ident not in _RESOLVERS:
            _RESOLVERS[ident] = Resolver(settings, Path(ctx.root), offline=bool(ctx.offline))
        return _RESOLVERS[ident]


def active_resolvers() -> list[Resolver]:
    """The resolvers made in this process (tests and the benchmark read their counters)."""
    with _FACTORY_LOCK:
        return list(_RESOLVERS.values())


def reset_resolvers() -> None:
    """Forget every per-process resolver (tests; a long-lived process starting a new run)."""
    with _FACTORY_LOCK:
        for resolver in _RESOLVERS.values():
            if resolver._client is not None:
                resolver._client.close()
        _RESOLVERS.clear()


def lock_path(ctx: Any, section: str = "pin-base-image") -> Path | None:
    """Where the run's lock file lives (``[tool.hardener.pin-base-image] lock``), or None."""
    options = ctx.options.get(section) if isinstance(ctx.options.get(section), Mapping) else {}
    lock = options.get("lock", _DEFAULTS["lock"])
    return Path(ctx.root) / lock if isinstance(lock, str) and lock else None


def is_lock(raw: bytes | None) -> bool:
    """Whether ``raw`` may be replaced by a lock: absent, empty, or a lock hardener wrote."""
    if raw is None or not raw.strip():
        return True
    try:
        data = json.loads(raw)
    except ValueError:
        return False
    return isinstance(data, dict) and set(data) == {"version", "images"} and isinstance(data["images"], dict)
