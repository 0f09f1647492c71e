"""Upstream hosts named by reverse-proxy configuration files below a Compose file.

A proxy reaches its backends by the names written in its own configuration, not in the
Compose file: nginx (``proxy_pass``/``fastcgi_pass``/``uwsgi_pass``/``grpc_pass``,
``upstream { server … }``, ``set $var`` targets), Caddyfiles (``reverse_proxy``, ``to``,
``php_fastcgi``), Traefik file-provider dynamic configuration (``loadBalancer.servers``
``url``/``address``), envoy (``socket_address.address``) and HAProxy (``server name host:port``).
A target held in something hardener cannot resolve (an nginx variable never ``set``, an
environment placeholder without a default, a template) is kept as *unknown*: it gives no
link, and the graph says so. Reads are bounded (limits.py): depth, entries and bytes.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from hardener.limits import read_text_bounded, walk_bounded

_CONF_LIMITS = (4, 400, 256_000)  # walk depth, directory entries read, bytes per file
_SKIP_DIRS = {"node_modules", "vendor", "venv", ".venv", "__pycache__"}
_HOST = re.compile(r"[A-Za-z0-9_.-]+")
_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*|\$\w+)://")
_NGINX_PASS = re.compile(r"\b(?:proxy|fastcgi|uwsgi|grpc|scgi)_pass\s+([^;\s]+)")
_NGINX_UPSTREAM = re.compile(r"\bupstream\s+([A-Za-z0-9_.-]+)\s*\{([^}]*)\}")
_NGINX_SERVER = re.compile(r"\bserver\s+([A-Za-z0-9_.-]+)")
_NGINX_SET = re.compile(r"\bset\s+\$(\w+)\s+[\"']?([^;\"'\s]+)")
_NGINX_VAR = re.compile(r"\$\{?(\w+)\}?")
_CADDY_DEFAULT = re.compile(r"\{\$\w+:([^}]*)\}")  # {$UPSTREAM:app:8000}: the default is the value
_CADDY_DIRECTIVES = {"reverse_proxy", "php_fastcgi"}
_TRAEFIK_URL = re.compile(r"\burl[\"']?\s*[:=]\s*[\"']?([A-Za-z][A-Za-z0-9+.-]*://[^\"'\s,}]+)", re.I)
_TRAEFIK_ADDRESS = re.compile(r"\baddress[\"']?\s*[:=]\s*[\"']?([^\"'\s,}]+:\d+)", re.I)
_ENVOY_ADDRESS = re.compile(r"socket_address[\"']?\s*:\s*\{?[^}]{0,120}?\baddress[\"']?\s*:\s*[\"']?([^\"'\s,}]+)",
                            re.S)
_HAPROXY_SERVER = re.compile(r"^\s*server\s+\S+\s+([^\s]+)", re.M)


@dataclass(frozen=True)
class ProxyConf:
    """One configuration file: its kind, the hosts it sends traffic to (lower-case) and the
    targets it names through something hardener cannot resolve."""

    path: Path
    kind: str  # nginx | caddy | traefik | envoy | haproxy
    hosts: frozenset[str]
    unknown: tuple[str, ...] = ()


@functools.lru_cache(maxsize=64)
def proxy_configs(here: Path) -> tuple[ProxyConf, ...]:
    """Every proxy configuration below ``here`` (bounded walk) that names a target."""
    depth, budget, size = _CONF_LIMITS
    found = []
    for entry in walk_bounded(here.resolve(), depth, budget,
                              lambda d: not d.name.startswith(".") and d.name not in _SKIP_DIRS):
        kind = _kind(entry.name)
        if kind is None or entry.stat().st_size >= size:
            continue
        conf = parse(entry, kind, read_text_bounded(entry))
        if conf is not None:
            found.append(conf)
    return tuple(found)


def _kind(name: str) -> str | None:
    lower = name.lower()
    if lower.startswith("caddyfile") or lower.endswith((".caddyfile", ".caddy")):
        return "caddy"
    if "haproxy" in lower or lower.endswith(".cfg"):
        return "haproxy"
    if ".conf" in lower:
        return "nginx"
    if lower.endswith((".yml", ".yaml", ".toml", ".json")):
        return "yaml"  # Traefik or envoy: told apart by their keys
    return None


def parse(path: Path, kind: str, text: str) -> ProxyConf | None:
    """The ProxyConf of ``text`` read as ``kind`` (``yaml`` = Traefik or envoy), or None."""
    if kind == "yaml":
        lower = text.lower()
        if "servers" in lower and (re.search(r"loadbalancer[\"']?\s*[:=]", lower) or "loadbalancer.servers" in lower):
            kind = "traefik"
        elif "socket_address" in lower and "clusters" in lower:
            kind = "envoy"
        else:
            return None
    hosts, unknown = {"nginx": nginx_targets, "caddy": caddy_targets, "traefik": traefik_targets,
                      "envoy": envoy_targets, "haproxy": haproxy_targets}[kind](text)
    if not hosts and not unknown:
        return None
    return ProxyConf(path, kind, frozenset(h.lower() for h in hosts), tuple(dict.fromkeys(unknown)))


def target_host(target: str, unknown: list[str]) -> set[str]:
    """The host of ``scheme://host:port/path`` or ``host:port``; a target whose host part
    starts with a placeholder (``$backend``, ``{$UPSTREAM}``, ``${HOST}``) is unknown."""
    head = _SCHEME.sub("", target.strip()).split("@", 1)[-1].split("/", 1)[0]
    if head.startswith(("$", "{")):
        unknown.append(target)
        return set()
    match = _HOST.match(head)  # `app$request_uri`: the variable is the path, the host is app
    return {match.group(0)} if match else set()


def nginx_targets(text: str) -> tuple[set[str], list[str]]:
    text = re.sub(r"#[^\n]*", "", text)
    upstreams = {m.group(1): {s.group(1) for s in _NGINX_SERVER.finditer(m.group(2))}
                 for m in _NGINX_UPSTREAM.finditer(text)}
    variables = {m.group(1): m.group(2) for m in _NGINX_SET.finditer(text)}
    hosts: set[str] = set()
    unknown: list[str] = []
    for match in _NGINX_PASS.finditer(text):
        target = _NGINX_VAR.sub(lambda v: variables.get(v.group(1), v.group(0)), match.group(1))
        for host in target_host(target, unknown):
            hosts |= upstreams.get(host, {host})
    return hosts, unknown


def caddy_targets(text: str) -> tuple[set[str], list[str]]:
    hosts: set[str] = set()
    unknown: list[str] = []
    block = 0  # depth inside a reverse_proxy { … } block, where `to` lists upstreams
    for raw in text.splitlines():
        words = re.sub(r"(^|\s)#.*", "", _CADDY_DEFAULT.sub(r"\1", raw)).split()
        if not words:
            continue
        if words[0] in _CADDY_DIRECTIVES or (block and words[0] == "to"):
            for word in words[1:]:
                if word == "{":
                    break
                if not word.startswith(("@", "/", "*")):
                    hosts |= target_host(word, unknown)
            if words[0] in _CADDY_DIRECTIVES and words[-1] == "{":
                block = 1
                continue
        if block:
            block += raw.count("{") - raw.count("}")
            block = max(block, 0)
    return hosts, unknown


def traefik_targets(text: str) -> tuple[set[str], list[str]]:
    hosts: set[str] = set()
    unknown = re.findall(r"\{\{[^}]*\}\}", text)  # a Go template: the servers it writes are unknown
    for match in [*_TRAEFIK_URL.finditer(text), *_TRAEFIK_ADDRESS.finditer(text)]:
        hosts |= target_host(match.group(1), unknown)
    return hosts, unknown


def envoy_targets(text: str) -> tuple[set[str], list[str]]:
    hosts: set[str] = set()
    unknown: list[str] = []
    for match in _ENVOY_ADDRESS.finditer(text):
        hosts |= target_host(match.group(1), unknown)
    return hosts, unknown


def haproxy_targets(text: str) -> tuple[set[str], list[str]]:
    text = re.sub(r"(^|\s)#[^\n]*", "", text)
    hosts: set[str] = set()
    unknown: list[str] = []
    for match in _HAPROXY_SERVER.finditer(text):
        hosts |= target_host(match.group(1), unknown)
    return hosts, unknown
