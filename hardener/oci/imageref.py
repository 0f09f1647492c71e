"""Image references, parsed and normalised like docker/distribution's reference grammar.

``python`` → registry ``docker.io``, repository ``library/python``; ``localhost:5000/app:1``
→ registry ``localhost:5000``. The text as the user wrote it is kept, so edits can keep
the user's spelling of registry and name.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True)
class ImageRef:
    written: str  # exactly as in the file
    registry: str  # normalised: docker.io for Docker Hub
    repository: str  # normalised: library/python for official images
    tag: str | None
    digest: str | None
    name_as_written: str  # the part before :tag/@digest, as written

    @property
    def family(self) -> str:
        """The last path component: ``python`` for ``docker.io/library/python``."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    @property
    def is_official(self) -> bool:
        return self.is_docker_hub and self.repository.startswith("library/")

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    def with_tag_and_digest(self, tag: str | None, digest: str | None) -> str:
        """The reference re-written with the user's own spelling of the name."""
        out = self.name_as_written
        if tag:
            out += f":{tag}"
        if digest:
            out += f"@{digest}"
        return out


class BadReference(ValueError):
    pass


@functools.lru_cache(maxsize=4096)  # pure, and asked of the same few references per service, per transform
def parse(text: str) -> ImageRef:
    """Parse ``[registry[:port]/]path[:tag][@digest]``; raises BadReference."""
    if not text or any(c.isspace() for c in text):
        raise BadReference(f"invalid image reference {text!r}")
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise BadReference(f"invalid digest in {text!r}")
    name, tag = _split_tag(rest)
    if tag is not None and not _TAG.match(tag):
        raise BadReference(f"invalid tag in {text!r}")
    registry, path = _split_registry(name)
    if not path or not all(_COMPONENT.match(c) for c in path.split("/")):
        raise BadReference(f"invalid repository name in {text!r}")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(text, registry, path, tag, digest or None, name)


def _split_tag(rest: str) -> tuple[str, str | None]:
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :]
    return rest, None


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry = DOCKER_HUB if first in _HUB_ALIASES else first
        return registry, remainder
    return DOCKER_HUB, name


def is_local_registry(registry: str) -> bool:
    """Registries Docker speaks plain HTTP to: localhost, 127.0.0.0/8, ::1."""
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry[1:].split("]")[0]
    return host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")
