"""Where a Compose service's mounts put writable storage."""
from __future__ import annotations

import re

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.splice import mapping_get, scalar_value

# Paths whose content may vanish on restart: these go on tmpfs. Anything else the image
# writes is data and must already be on a volume.
SCRATCH_PATHS = ("/tmp", "/var/tmp", "/run", "/var/run", "/var/cache")


def path_under(path: str, base: str) -> bool:
    base = base.rstrip("/") or "/"
    return path == base or path.startswith(base + "/") or base == "/"


def mount_targets(node: Node | None) -> list[str]:
    """Container paths already backed by a volume, bind mount or tmpfs."""
    targets: list[str] = []
    for key in ("volumes", "tmpfs"):
        value = mapping_get(node, key)
        items = value.value if isinstance(value, SequenceNode) else [value] if value is not None else []
        for item in items:
            target = _target(item, key)
            if target:
                targets.append(target)
    return targets


def _target(item: Node, key: str) -> str | None:
    if isinstance(item, MappingNode):
        return scalar_value(mapping_get(item, "target"))
    if not isinstance(item, ScalarNode):
        return None
    text = str(item.value).strip()
    if key == "tmpfs":
        return text.split(":", 1)[0]
    parts = volume_parts(text)
    if len(parts) == 1:
        return parts[0]  # an anonymous volume
    return parts[1] if len(parts) > 1 else None


def volume_parts(text: str) -> list[str]:
    """A short-syntax volume split at its colons (``src:target:mode``); a colon inside
    ``${A:-x}`` is part of the variable."""
    masked = re.sub(r"\$\{[^}]*\}", lambda m: "$" * len(m.group()), text)
    return [text[i:j] for i, j in _spans(masked)]


def _spans(masked: str) -> list[tuple[int, int]]:
    cuts = [-1] + [i for i, ch in enumerate(masked) if ch == ":"] + [len(masked)]
    return [(a + 1, b) for a, b in zip(cuts, cuts[1:])]
