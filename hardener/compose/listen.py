"""Where a Compose service's server really listens: the configuration the service mounts.

The knowledge base knows the port an image listens on by default (nginx: 80). A service
that bind-mounts its own server configuration decides that itself, and a health check that
probes the default port then fails forever. This module reads the mounted files (nginx
``listen`` directives) and says which ports they open and where that was read, or why the
mounted configuration cannot be read, so a caller refuses instead of guessing.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.mounts import volume_parts
from hardener.compose.splice import mapping_get, mapping_own, scalar_value
from hardener.limits import read_bounded

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc

MAX_CONFIG_BYTES = 256 * 1024  # a server configuration is small; more is not one
NGINX_CONFIG = "/etc/nginx"
_NGINX_DEFAULT_SITE = "/etc/nginx/conf.d/default.conf"  # the image's own server block: port 80
_NGINX_TEMPLATES = "/etc/nginx/templates"
_NGINX_MAIN = "/etc/nginx/nginx.conf"
IMAGE_DEFAULT_SITE = "the image's default site"
_LISTEN = re.compile(r"(?:^|[;{}\s])listen\s+([^;]+);")
_COMMENT = re.compile(r"#[^\n]*")


@dataclass(frozen=True)
class Listening:
    """Ports a mounted configuration opens for plain HTTP, and where they were read.

    ``unknown`` is set when a configuration is mounted but cannot be read or understood:
    the ports are then not known at all (the image default no longer holds either).
    """

    ports: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()  # per port: the file that opens it
    unknown: str | None = None

    def source(self, port: int) -> str:
        return self.sources[self.ports.index(port)]

    @property
    def files(self) -> str:
        return ", ".join(dict.fromkeys(s for s in self.sources if s != IMAGE_DEFAULT_SITE))


@dataclass(frozen=True)
class BindMount:
    source: str  # as written (relative to the Compose file's directory unless absolute)
    target: str
    read_only: bool = False  # ``:ro`` / ``read_only: true``


def bind_mounts(node: Node | None) -> list[BindMount]:
    """Host paths mounted into the service, short (``./a:/b:ro``) and long syntax."""
    value = mapping_get(node, "volumes")
    items = value.value if isinstance(value, SequenceNode) else []
    found = []
    for item in items:
        mount = _long(item) if isinstance(item, MappingNode) else _short(item)
        if mount is not None:
            found.append(mount)
    return found


def top_configs(doc: ComposeDoc) -> dict[str, str | None]:
    """Top-level ``configs:``: name -> its ``file:`` as written (relative to the Compose
    file's folder), None for a config that is not a file of the repository (``content:``,
    ``environment:``, ``external:``)."""
    top = mapping_own(doc.documents[0], "configs") if doc.documents else None
    if not isinstance(top, MappingNode):
        return {}
    return {str(k.value): scalar_value(mapping_get(v, "file")) for k, v in top.value if isinstance(k, ScalarNode)}


def config_mounts(node: Node | None, configs: dict[str, str | None]) -> list[BindMount]:
    """The service's ``configs:`` as the read-only files they mount (short syntax mounts
    ``/<name>``); a config that is not a file has the source ``config:<name>``."""
    value = mapping_get(node, "configs")
    found = []
    for item in value.value if isinstance(value, SequenceNode) else []:
        name = scalar_value(item) if isinstance(item, ScalarNode) else scalar_value(mapping_get(item, "source"))
        if not name or name not in configs:
            continue
        target = scalar_value(mapping_get(item, "target")) if isinstance(item, MappingNode) else None
        found.append(BindMount(configs[name] or f"config:{name}", target or f"/{name}", True))
    return found


def _long(item: MappingNode) -> BindMount | None:
    if scalar_value(mapping_get(item, "type")) != "bind":
        return None
    source, target = scalar_value(mapping_get(item, "source")), scalar_value(mapping_get(item, "target"))
    read_only = scalar_value(mapping_get(item, "read_only")) in ("true", "True", "yes")
    return BindMount(source, target, read_only) if source and target else None


def _short(item: Node) -> BindMount | None:
    if not isinstance(item, ScalarNode):
        return None
    parts = volume_parts(str(item.value).strip())
    if len(parts) < 2 or not parts[0].startswith((".", "/", "~", "$")):
        return None  # a named volume, or an anonymous one
    return BindMount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(","))


def nginx_listening(service_node: Node | None, compose_dir: Path, environment: dict[str, str],
                    configs: dict[str, str | None] | None = None) -> Listening | None:
    """What the nginx configuration a service mounts (bind mounts, and ``configs:`` defined
    in the file's top-level ``configs``) listens on; None when it mounts none."""
    mounted = [*bind_mounts(service_node), *config_mounts(service_node, configs or {})]
    mounts = [m for m in mounted if _under(m.target, NGINX_CONFIG)]
    if not mounts:
        return None
    found_ports: dict[int, str] = {}
    default_replaced = any(_under(_NGINX_DEFAULT_SITE, m.target.rstrip("/")) for m in mounts)
    for mount in mounts:
        texts = _read_mount(mount, compose_dir)
        if isinstance(texts, Listening):
            return texts
        for name, text in texts:
            found = _listen_ports(text, environment)
            if found is None:
                return Listening(unknown=f"{name} has a listen directive hardener cannot read")
            for port in found:
                found_ports.setdefault(port, name)
            # the entrypoint renders templates/default.conf.template over conf.d/default.conf
            default_replaced |= _under(mount.target, _NGINX_TEMPLATES) and name.endswith("default.conf.template")
            # a main nginx.conf of its own that never includes conf.d/ leaves default.conf unused
            default_replaced |= name.endswith("nginx.conf") and _under(_NGINX_MAIN, mount.target) \
                and "conf.d/" not in _COMMENT.sub("", text)
    if not default_replaced:
        found_ports.setdefault(80, IMAGE_DEFAULT_SITE)
    return Listening(tuple(found_ports), tuple(found_ports.values()))


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _read_mount(mount: BindMount, compose_dir: Path) -> list[tuple[str, str]] | Listening:
    if mount.source.startswith("config:"):
        return Listening(unknown=f"the configuration mounted at {mount.target} is config "
                                 f"{mount.source[len('config:'):]!r}, which is not a file of the repository")
    if "$" in mount.source or mount.source.startswith("~"):
        return Listening(unknown=f"the configuration mounted at {mount.target} comes from {mount.source!r}")
    host = (compose_dir / mount.source).resolve() if not os.path.isabs(mount.source) else Path(mount.source)
    if host.is_dir():
        # the entrypoint renders only *.template files of the templates directory
        wanted = (".template",) if _under(mount.target, _NGINX_TEMPLATES) else (".conf",)
        files = sorted(p for p in host.rglob("*") if p.is_file() and p.suffix in wanted)
    elif host.is_file():
        files = [host]
    else:
        return Listening(unknown=f"the configuration mounted at {mount.target} ({mount.source}) is not in the repository")
    texts = []
    for path in files:
        text = _read(path)
        if text is None:
            return Listening(unknown=f"{path.name} (mounted at {mount.target}) cannot be read")
        texts.append((_shown(path, compose_dir), text))
    return texts


def _read(path: Path) -> str | None:
    try:
        return read_bounded(path, MAX_CONFIG_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def _shown(path: Path, compose_dir: Path) -> str:
    try:
        return path.relative_to(compose_dir.resolve()).as_posix()
    except ValueError:
        return path.name


def _listen_ports(text: str, environment: dict[str, str]) -> list[int] | None:
    """Plain-HTTP ports of every ``listen`` directive; None when one cannot be read."""
    ports = []
    for match in _LISTEN.finditer(_COMMENT.sub("", text)):
        words = match.group(1).split()
        address = _substitute(words[0], environment)
        if address is None:
            return None
        if address.startswith("unix:") or "ssl" in words[1:] or "quic" in words[1:] or "http2" in words[1:]:
            continue  # a probe with plain http cannot use these
        port = address.rsplit(":", 1)[-1] if not address.isdigit() else address
        if not port.isdigit():
            port = "80"  # `listen 127.0.0.1;` or `listen localhost;` serves on 80
        ports.append(int(port))
    return ports


def _substitute(word: str, environment: dict[str, str]) -> str | None:
    """``${NGINX_PORT}`` in a template, from the service's environment; None when unknown."""
    missing = False

    def one(m: re.Match[str]) -> str:
        nonlocal missing
        value = environment.get(m.group(1) or m.group(2))
        if value is None or "$" in value:
            missing = True
            return ""
        return value

    result = re.sub(r"\$\{(\w+)\}|\$(\w+)", one, word)
    return None if missing else result
