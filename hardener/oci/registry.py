"""A small client for the Registry HTTP API v2 (the OCI distribution spec).

It reads manifests (index, manifest list, single manifests) and tag lists, answering
the Bearer-token challenge that Docker Hub and GHCR send to anonymous clients, and
using credentials from ``~/.docker/config.json`` (``auths``, ``credHelpers``,
``credsStore``). Like Docker, it speaks plain HTTP only to loopback registries and
those configured as insecure. Every request has a timeout; a host that failed once is
not asked again in the same run, so a run without network fails fast instead of
hanging. Credentials never appear in messages. httpx is imported lazily.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hardener.oci.imageconfig import ImageConfig
from hardener.oci.imageref import DOCKER_HUB, is_local_registry

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
# Sending all four matters: an OCI image asked for as Docker v2 only answers 404.
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)
HUB_API = "registry-1.docker.io"
MAX_BODY = 4 * 1024 * 1024
RETRY_AFTER_WAIT = 2.0  # wait at most this long for a 429 before giving up on the host


class RegistryError(Exception):
    """Why a reference could not be resolved; the message is shown to the user."""


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    platforms: tuple[str, ...]  # "os/arch[/variant]"; for an index, its children
    config: ImageConfig | None = None  # a single manifest's config (read anyway, for its platform)
    children: tuple[tuple[str, str], ...] = ()  # an index's (platform, manifest digest)
    config_error: str = ""  # why a single manifest's config could not be read


@dataclass
class Counters:
    """Requests made, by kind; tests and the benchmark read them."""

    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str) -> None:
        with self.lock:
            self.total += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


@dataclass(frozen=True)
class ClientConfig:
    mirrors: Mapping[str, str] = field(default_factory=dict)  # registry -> mirror host
    insecure: tuple[str, ...] = ()
    connect_timeout: float = 3.0
    read_timeout: float = 10.0  # between two reads
    request_deadline: float = 30.0  # a whole request: a server dripping a byte a second must not hold a run
    max_requests_per_image: int = 24


class _TooSlow(Exception):
    """The response did not complete before the request's deadline."""


def _read_capped(response: Any, host: str, deadline: float) -> bytes:
    """The body, read in chunks: over MAX_BODY stops at once (before it is all in memory) and
    so does the deadline (read timeouts alone restart with every byte that arrives)."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise RegistryError(f"{host}: response larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > MAX_BODY:
            raise RegistryError(f"{host}: response larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise _TooSlow
    return b"".join(chunks)


class RegistryClient:
    """Thread-safe: resolve many references concurrently from one client."""

    def __init__(self, config: ClientConfig | None = None, credentials: Credentials | None = None) -> None:
        import httpx

        self.config = config or ClientConfig()
        self.credentials = credentials or Credentials.from_docker_config()
        self.counters = Counters()
        timeout = httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)
        self._http = httpx.Client(timeout=timeout, follow_redirects=True, verify=_ssl_context(),
                                  limits=httpx.Limits(max_connections=16))
        self._tokens: dict[tuple[str, str], str] = {}
        self._dead: dict[str, str] = {}  # host -> why it failed; never asked again this run
        self._gates: dict[str, threading.Lock] = {}
        self._challenges: dict[str, tuple[str, dict[str, str]] | None] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # -- public API ---------------------------------------------------------------
    def manifest(self, registry: str, repository: str, reference: str, budget: Budget) -> Manifest:
        """GET a manifest by tag or digest; for a single manifest, read its config's platform."""
        host = self.host_for(registry)
        response = self._request("GET", host, f"/v2/{repository}/manifests/{reference}", repository,
                                 budget, "manifest", accept=ACCEPT)
        body = response.content
        digest = _checked_digest(response.headers.get("docker-content-digest"), body)
        document = _json(body, "manifest")
        media_type = (response.headers.get("content-type", "").split(";")[0].strip()
                      or document.get("mediaType", ""))
        media_type = document.get("mediaType") or media_type
        if media_type in INDEX_TYPES or "manifests" in document:
            return Manifest(digest, media_type or INDEX_TYPES[0], _index_platforms(document),
                            children=_index_children(document))
        if media_type in MANIFEST_TYPES or "config" in document:
            try:
                config, platform = self._config(host, repository, document, budget)
            except RegistryError as exc:  # the digest stands without it; only the facts are lost
                return Manifest(digest, media_type, (), config_error=str(exc))
            return Manifest(digest, media_type, (platform,) if platform else (), config)
        raise RegistryError(f"unsupported manifest type {media_type or 'unknown'!r} (schema 1?)")

    def image_config(self, registry: str, repository: str, manifest: Manifest, platform: str,
                     budget: Budget) -> ImageConfig:
        """The config of ``platform``'s image: no request for a single manifest (its config was
        read with it), two for an index (the platform's manifest, then its config blob)."""
        if manifest.config is not None:
            return manifest.config
        if manifest.config_error:
            raise RegistryError(manifest.config_error)
        child = next((d for p, d in manifest.children if _same_platform(p, platform)), None)
        if child is None:
            raise RegistryError(f"no {platform} manifest in the index")
        host = self.host_for(registry)
        response = self._request("GET", host, f"/v2/{repository}/manifests/{child}", repository,
                                 budget, "manifest", accept=", ".join(MANIFEST_TYPES))
        if _checked_digest(None, response.content) != child:
            raise RegistryError("malformed manifest: body does not match its digest in the index")
        return self._config(host, repository, _json(response.content, "manifest"), budget)[0]

    def head_digest(self, registry: str, repository: str, tag: str, budget: Budget) -> str | None:
        """The digest a tag points at (HEAD: Docker Hub does not count it against rate limits)."""
        host = self.host_for(registry)
        response = self._request("HEAD", host, f"/v2/{repository}/manifests/{tag}", repository,
                                 budget, "head", accept=ACCEPT, allow_404=True)
        if response.status_code == 404:
            return None
        digest: str | None = response.headers.get("docker-content-digest")
        return digest

    def tags(self, registry: str, repository: str, budget: Budget, max_pages: int = 5, page_size: int = 1000
             ) -> list[str]:
        """All tags, following the ``Link: <…>; rel="next"`` pagination (bounded)."""
        host = self.host_for(registry)
        path: str | None = f"/v2/{repository}/tags/list?n={page_size}"
        out: list[str] = []
        for _ in range(max_pages):
            if path is None:
                break
            response = self._request("GET", host, path, repository, budget, "tags")
            data = _json(response.content, "tag list")
            out.extend(t for t in data.get("tags") or [] if isinstance(t, str))
            path = _next_link(response.headers.get("link", ""))
        return out

    def host_for(self, registry: str) -> str:
        mirror = self.config.mirrors.get(registry)
        if mirror:
            return mirror
        return HUB_API if registry == DOCKER_HUB else registry

    def scheme_for(self, host: str) -> str:
        return "http" if is_local_registry(host) or host in self.config.insecure else "https"

    # -- transport ----------------------------------------------------------------
    def _request(self, method: str, host: str, path: str, repository: str, budget: Budget, kind: str,
                 *, accept: str | None = None, allow_404: bool = False) -> Any:
        url = f"{self.scheme_for(host)}://{host}{path}"
        headers = {"Accept": accept} if accept else {}
        scope = f"repository:{repository}:pull"
        challenge = self._ping(host, budget)
        if challenge is not None:
            headers["Authorization"] = self._authorization(host, challenge, scope, budget)
        response = self._send(method, url, host, headers, budget, kind)
        if response.status_code == 401:  # token expired or too narrow: one fresh try
            with self._lock:
                self._tokens.pop((host, scope), None)
            fresh = parse_challenge(response.headers.get("www-authenticate", ""))
            headers["Authorization"] = self._authorization(host, fresh, scope, budget)
            response = self._send(method, url, host, headers, budget, kind)
        if response.status_code == 429:
            response = self._after_rate_limit(method, url, host, headers, budget, kind, response)
        return _checked_status(response, host, path, allow_404)

    def _ping(self, host: str, budget: Budget) -> tuple[str, dict[str, str]] | None:
        """``GET /v2/`` once per host, as Docker does: learns the auth challenge up front, so
        each manifest is asked for once. Only one thread talks to a new host at a time, so a
        host that is down costs one attempt, not one per reference."""
        with self._lock:
            gate = self._gates.setdefault(host, threading.Lock())
        with gate:
            if host not in self._challenges:
                response = self._send("GET", f"{self.scheme_for(host)}://{host}/v2/", host, {}, budget, "ping")
                if response.status_code == 429:
                    raise self._kill(host, f"rate limited the requests (429, retry after "
                                           f"{response.headers.get('retry-after', '?')} s)")
                header = response.headers.get("www-authenticate", "")
                self._challenges[host] = parse_challenge(header) if response.status_code == 401 else None
            return self._challenges[host]

    def _send(self, method: str, url: str, host: str, headers: dict[str, str], budget: Budget, kind: str,
              **extra: Any) -> Any:
        import httpx

        dead = self._dead.get(host)
        if dead:
            raise RegistryError(f"registry {host} {dead}; not asked again in this run")
        budget.spend(host)
        self.counters.add(kind)
        deadline = time.monotonic() + self.config.request_deadline
        try:
            with self._http.stream(method, url, headers=headers, **extra) as streamed:
                body = _read_capped(streamed, host, deadline)
        except httpx.TimeoutException:
            raise self._kill(host, "timed out") from None
        except httpx.TransportError as exc:
            raise self._kill(host, f"unreachable ({_short(exc)})") from None
        except _TooSlow:
            raise self._kill(host, f"timed out (no complete response in {self.config.request_deadline:g} s)") from None
        return httpx.Response(streamed.status_code, headers=streamed.headers, content=body, request=streamed.request)

    def _kill(self, host: str, why: str) -> RegistryError:
        with self._lock:
            self._dead.setdefault(host, why)
        return RegistryError(f"registry {host} {why}")

    def _after_rate_limit(self, method: str, url: str, host: str, headers: dict[str, str], budget: Budget,
                          kind: str, response: Any) -> Any:
        wait = _retry_after(response.headers.get("retry-after"))
        if wait is not None and wait <= RETRY_AFTER_WAIT:
            time.sleep(wait)
            response = self._send(method, url, host, headers, budget, kind)
            if response.status_code != 429:
                return response
        shown = f"retry after {response.headers.get('retry-after')} s" if wait is not None else "no Retry-After"
        raise self._kill(host, f"rate limited the requests (429, {shown})")

    def _authorization(self, host: str, challenge: tuple[str, dict[str, str]], scope: str, budget: Budget) -> str:
        scheme, params = challenge
        creds = self.credentials.lookup(host)
        if scheme == "basic":
            if creds is None or creds.basic is None:
                raise RegistryError(f"{host} requires a login (401); no credentials for it in the docker config")
            return creds.basic
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"{host}: unsupported authentication challenge {scheme or 'none'!r} (401)")
        token = self._tokens.get((host, scope))
        if token is None:
            token = self._token(host, params, scope, creds, budget)
            with self._lock:
                self._tokens[(host, scope)] = token
        return f"Bearer {token}"

    def _token(self, host: str, params: dict[str, str], scope: str, creds: Secret | None, budget: Budget) -> str:
        realm = params["realm"]
        query = {k: v for k, v in (("service", params.get("service")), ("scope", scope)) if v}
        realm_host = realm.split("://", 1)[-1].split("/", 1)[0]
        headers: dict[str, str] = {}
        if creds is not None and creds.registry_token:
            return creds.registry_token
        if creds is not None and not (realm.startswith("https://") or is_local_registry(realm_host)):
            creds = None  # never send a secret in clear text to a remote token service
        if creds is not None and creds.identity_token:
            form = {**query, "grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "client_id": "hardener"}
            response = self._send("POST", realm, realm_host, headers, budget, "token", data=form)
        else:
            if creds is not None and creds.basic:
                headers["Authorization"] = creds.basic
            response = self._send("GET", f"{realm}?{urlencode(query)}", realm_host, headers, budget, "token")
        if response.status_code in (401, 403):
            raise RegistryError(f"token service of {host} refused the credentials ({response.status_code})")
        _checked_status(response, realm_host, "/token", False)
        data = _json(response.content, "token response")
        token = data.get("token") or data.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token service of {host} sent no token")
        return token

    def _config(self, host: str, repository: str, document: dict[str, Any], budget: Budget
                ) -> tuple[ImageConfig, str | None]:
        config = document.get("config")
        digest = config.get("digest") if isinstance(config, dict) else None
        if not isinstance(digest, str):
            raise RegistryError("malformed manifest: no config digest")
        response = self._request("GET", host, f"/v2/{repository}/blobs/{digest}", repository, budget, "blob")
        if _checked_digest(None, response.content) != digest:
            raise RegistryError("malformed image config: body does not match its digest")
        data = _json(response.content, "image config")
        try:
            return ImageConfig.from_blob(data), _platform(data)
        except ValueError:
            raise RegistryError("malformed image config: a field has the wrong type") from None


@dataclass
class Budget:
    """Requests allowed for one image, so a pathological registry cannot run forever."""

    limit: int
    used: int = 0

    def spend(self, host: str) -> None:
        if self.used >= self.limit:
            raise RegistryError(f"{host}: more than {self.limit} requests for one image; gave up")
        self.used += 1


def _checked_status(response: Any, host: str, path: str, allow_404: bool) -> Any:
    code = response.status_code
    if code < 300 or (code == 404 and allow_404):
        return response
    what = _error_code(response)
    if code in (401, 403):
        raise RegistryError(f"{host} denied access ({code}{what}); log in with docker login or check the name")
    if code == 404:
        noun = "tag or digest" if "/manifests/" in path else "repository"
        raise RegistryError(f"{host}: {noun} not found (404{what})")
    raise RegistryError(f"{host} answered {code}{what}")


def _error_code(response: Any) -> str:
    try:
        errors = json.loads(response.content or b"{}").get("errors") or []
        return f" {errors[0]['code']}" if errors and isinstance(errors[0], dict) and "code" in errors[0] else ""
    except (ValueError, AttributeError, TypeError):
        return ""


def _checked_digest(header: str | None, body: bytes) -> str:
    computed = "sha256:" + hashlib.sha256(body).hexdigest()
    if header and header.startswith("sha256:") and header != computed:
        raise RegistryError("malformed manifest: body does not match Docker-Content-Digest")
    return header or computed


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise RegistryError(f"malformed {what}: not JSON") from None
    if not isinstance(data, dict):
        raise RegistryError(f"malformed {what}: not a JSON object")
    return data


def _index_platforms(document: dict[str, Any]) -> tuple[str, ...]:
    children = document.get("manifests")
    if not isinstance(children, list):
        raise RegistryError("malformed index: no manifests list")
    found = [_platform(c.get("platform")) for c in children if isinstance(c, dict)]
    return tuple(sorted({p for p in found if p and not p.startswith("unknown/")}))


def _index_children(document: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for child in document.get("manifests") or ():
        platform = _platform(child.get("platform")) if isinstance(child, dict) else None
        if platform and isinstance(child.get("digest"), str):
            out.append((platform, str(child["digest"])))
    return tuple(out)


def _same_platform(have: str, want: str) -> bool:
    """os/arch must match; a variant only when both name one (linux/arm64 is linux/arm64/v8)."""
    a, b = have.split("/"), want.split("/")
    return a[:2] == b[:2] and (len(a) < 3 or len(b) < 3 or a[2] == b[2])


def _platform(data: Any) -> str | None:
    if not isinstance(data, dict) or not data.get("os") or not data.get("architecture"):
        return None
    parts = [str(data["os"]), str(data["architecture"])]
    if data.get("variant"):
        parts.append(str(data["variant"]))
    return "/".join(parts)


def _next_link(link: str) -> str | None:
    for part in link.split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            target = part[part.index("<") + 1 : part.index(">")]
            if "://" in target:
                target = "/" + target.split("://", 1)[1].split("/", 1)[-1]
            return target
    return None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]


def _ssl_context() -> Any:
    """The system trust store (and SSL_CERT_FILE), like docker and skopeo use."""
    import ssl

    return ssl.create_default_context()


# -- credentials (~/.docker/config.json) ---------------------------------------------
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Secret:
    """One registry's credentials. ``repr`` hides them so they never reach a log."""

    basic: str | None = field(default=None, repr=False)  # "Basic base64(user:pass)"
    identity_token: str | None = field(default=None, repr=False)  # OAuth refresh token
    registry_token: str | None = field(default=None, repr=False)  # a bearer token as is


@dataclass(frozen=True)
class Credentials:
    auths: Mapping[str, Any] = field(default_factory=dict, repr=False)
    helpers: Mapping[str, str] = field(default_factory=dict)
    store: str | None = None
    _cache: dict[str, Secret | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_docker_config(cls, path: str | None = None) -> Credentials:
        import os

        if path is None:
            folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
            path = os.path.join(folder, "config.json")
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        auths, helpers, store = data.get("auths"), data.get("credHelpers"), data.get("credsStore")
        return cls(auths if isinstance(auths, dict) else {}, helpers if isinstance(helpers, dict) else {},
                   store if isinstance(store, str) and store else None)

    def lookup(self, host: str) -> Secret | None:
        if host not in self._cache:
            self._cache[host] = self._find(host)
        return self._cache[host]

    def _find(self, host: str) -> Secret | None:
        keys = _HUB_KEYS if host in _HUB_KEYS else (host, f"https://{host}", f"http://{host}")
        helper = next((self.helpers[k] for k in keys if k in self.helpers), None) or self.store
        if helper:
            found = _from_helper(helper, keys[0])
            if found is not None:
                return found
        entry = next((self.auths[k] for k in keys if isinstance(self.auths.get(k), dict)), None)
        return _from_entry(entry) if entry else None


def _from_entry(entry: Mapping[str, Any]) -> Secret | None:
    import base64

    if entry.get("identitytoken"):
        return Secret(identity_token=str(entry["identitytoken"]))
    if entry.get("registrytoken"):
        return Secret(registry_token=str(entry["registrytoken"]))
    auth = entry.get("auth")
    if not auth and entry.get("username") and entry.get("password"):
        auth = base64.b64encode(f"{entry['username']}:{entry['password']}".encode()).decode()
    return Secret(basic=f"Basic {auth}") if auth else None


def _from_helper(helper: str, server: str) -> Secret | None:
    """``docker-credential-<helper> get`` with the server URL on stdin (the helper protocol)."""
    import base64
    import subprocess

    try:
        done = subprocess.run([f"docker-credential-{helper}", "get"], input=server.encode(),
                              capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        data = json.loads(done.stdout)
        user, secret = str(data["Username"]), str(data["Secret"])
    except (ValueError, KeyError, TypeError):
        return None
    if user == "<token>":
        return Secret(identity_token=secret)
    return Secret(basic="Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode())


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…",scope="…"`` → ("bearer", {...})."""
    import re

    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in re.finditer(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]*))', rest)}
    return scheme.lower(), params
