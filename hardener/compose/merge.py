"""Compose's merge rules (compose-spec merge.md), on plain values that remember their origin.

A Compose file is read into plain Python values (``plain``: merge keys ``<<`` resolved the way
a YAML loader does, ``!reset``/``!override`` kept as markers); ``merge_service`` folds a later
file's service into an earlier one: mappings merge key by key, sequences append, ``command``,
``entrypoint`` and ``healthcheck.test`` are replaced, ``ports``/``volumes``/``secrets``/
``configs`` are unique by their key (a later entry replaces an equal one), the short forms of
``environment``, ``labels``, ``depends_on``, ``networks`` … are read as the mappings they mean.
For each service key the merged value keeps the files and lines that wrote it (``Origin``),
last writer last: an edit to that key belongs in that file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.splice import is_merge_key, merge_sources

RESET = "!reset"
OVERRIDE = "!override"
REPLACED = frozenset({"command", "entrypoint", "image", "user", "network_mode", "container_name"})
_AS_MAPPING = frozenset({"environment", "labels", "annotations", "sysctls", "extra_hosts", "build_args"})
_NAMES_AS_MAPPING = frozenset({"depends_on", "networks"})  # [a, b] means {a: {}, b: {}}
_UNIQUE = {"volumes": ("target",), "secrets": ("target", "source"), "configs": ("target", "source"),
           "ports": ("host_ip", "target", "published", "protocol")}


@dataclass(frozen=True)
class Tagged:
    """A value tagged ``!reset`` or ``!override`` in a later file."""

    tag: str
    value: Any


@dataclass(frozen=True)
class Origin:
    """Where a service key is written: the file and its 1-based line."""

    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}"


@dataclass
class Merged:
    """One service of a project: its merged value and, per key, who wrote it (last one last)."""

    name: str
    value: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, list[Origin]] = field(default_factory=dict)
    first: dict[str, Origin] = field(default_factory=dict)  # the first file to write each key

    def defined_in(self, key: str) -> Path | None:
        """The file whose value of ``key`` wins (the last that writes it)."""
        found = self.origins.get(key)
        return found[-1].file if found else None

    def base(self) -> Path | None:
        """The first file that gives the service an image, a build or extends (the base an
        overlay changes), else the first to name it: where a new key of the service goes."""
        # ``first`` is in merge order: the earliest of the three keys is the earliest file
        found = next((o for k, o in self.first.items() if k in ("build", "image", "extends")), None)
        return found.file if found is not None else self.owner()

    def owner(self) -> Path | None:
        """The file that gives the service its image or build (else the first to name it)."""
        for key in ("build", "image", "extends"):
            if key in self.origins:
                return self.origins[key][-1].file
        firsts = [o[0] for o in self.origins.values() if o]
        return min(firsts, key=lambda o: o.line).file if firsts else None


def plain(node: Node | None, *, tagged: bool = True) -> Any:
    """The value a YAML loader gives (merge keys resolved), with Compose's tags kept."""
    if node is None:
        return None
    tag = str(node.tag or "")
    if tagged and tag in (RESET, OVERRIDE):
        return Tagged(tag, None if tag == RESET else plain(node, tagged=False))
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for source in reversed(merge_sources(node)):
            out.update(plain(source))
        for key, value in node.value:
            if not is_merge_key(key) and isinstance(key, ScalarNode):
                out[str(key.value)] = plain(value)
        return out
    if isinstance(node, SequenceNode):
        return [plain(i) for i in node.value]
    return None if tag.endswith(":null") else str(node.value)


def normalise(key: str, value: Any) -> Any:
    """The long form of a service key's value (what the merge rules are written for)."""
    if isinstance(value, Tagged):
        return Tagged(value.tag, normalise(key, value.value))
    if key in _AS_MAPPING and isinstance(value, list):
        return dict(_split(str(i), "=" if key != "extra_hosts" else ":") for i in value if i is not None)
    if key in _NAMES_AS_MAPPING and isinstance(value, list):
        return {str(i): {} for i in value}
    if key in ("env_file", "dns", "dns_search", "tmpfs") and isinstance(value, str):
        return [value]
    if key == "build" and isinstance(value, str):
        return {"context": value}
    return value


def _split(item: str, sep: str) -> tuple[str, Any]:
    name, found, rest = item.partition(sep)
    return name, rest if found else None


def merge_value(key: str, old: Any, new: Any) -> Any:
    """``old`` (earlier file) merged with ``new`` (later file) under the rules for ``key``."""
    if isinstance(new, Tagged):
        return None if new.tag == RESET else new.value
    if old is None or key in REPLACED or type(old) is not type(new):
        return new
    if isinstance(old, dict):
        return {**old, **{k: merge_value(_inner(key, k), old.get(k), v) for k, v in new.items()}}
    if isinstance(old, list):
        if key in _UNIQUE:
            return _unique(key, old, new)
        return old + [i for i in new if key not in ("cap_add", "cap_drop", "security_opt") or i not in old]
    return new


def _inner(key: str, child: str) -> str:
    # healthcheck's test is replaced, not appended, like command
    return "command" if key == "healthcheck" and child == "test" else child


def _unique(key: str, old: list[Any], new: list[Any]) -> list[Any]:
    out = {_unique_key(key, i): i for i in old}
    for item in new:
        out[_unique_key(key, item)] = item
    return list(out.values())


def _unique_key(key: str, item: Any) -> Any:
    if isinstance(item, dict):
        return tuple(str(item.get(k)) for k in _UNIQUE[key])
    text = str(item)
    if key == "volumes":
        parts = text.split(":")
        return (parts[1] if len(parts) > 1 else parts[0],)
    return (text,)


def merge_service(into: Merged, value: dict[str, Any], lines: dict[str, int], file: Path) -> None:
    """Fold one file's definition of the service into ``into``, recording the origins."""
    for key, raw in value.items():
        new = normalise(key, raw)
        merged = merge_value(key, into.value.get(key), new)
        if merged is None and isinstance(new, Tagged):
            into.value.pop(key, None)
            into.origins.pop(key, None)
            continue
        into.value[key] = merged
        origins = [] if key in REPLACED or isinstance(new, Tagged) or not isinstance(merged, (dict, list)) \
            else into.origins.get(key, [])
        into.origins[key] = [*origins, Origin(file, lines.get(key, 1))]
        into.first.setdefault(key, Origin(file, lines.get(key, 1)))
