"""The registry client and resolver against a real OCI registry (docker-registry, the CNCF
distribution registry) on 127.0.0.1, seeded with skopeo from OCI layouts built here.

The lab part (``Lab``, ``write_layout``, ``TokenIssuer``) is also used by
benchmarks/pin_images.py. Misbehaving registries (429, malformed answers, a server that
never answers) are small real HTTP servers: no real registry can be made to misbehave.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TOOLS = ("docker-registry", "skopeo", "openssl", "htpasswd")
ROOT = Path(__file__).resolve().parent.parent


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


# -- OCI layouts ---------------------------------------------------------------------
def _blob(layout: Path, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _layer(seed: str) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = seed.encode()
        info = tarfile.TarInfo("seed.txt")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


def write_layout(layout: Path, seed: str, platforms: tuple[str, ...] = ("linux/amd64",),
                 index: bool | None = None, runtime: dict | None = None,
                 per_platform: dict[str, dict] | None = None) -> str:
    """A one-image OCI layout (ref name ``img``); returns the top digest (index or manifest).
    ``runtime`` is the image config's ``config`` object (User, ExposedPorts, …);
    ``per_platform`` replaces it for the platforms it names."""
    (layout / "oci-layout").parent.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    children = []
    for platform in platforms:
        os_, arch, *variant = platform.split("/")
        gz, diff_id = _layer(f"{seed} {platform}")
        plat = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {})}
        config = {**plat, "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": (per_platform or {}).get(platform, runtime or {})}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": _blob(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
                    "layers": [_blob(layout, gz, "application/vnd.oci.image.layer.v1.tar+gzip")]}
        children.append({**_blob(layout, json.dumps(manifest).encode(), OCI_MANIFEST), "platform": plat})
    if index is None:
        index = len(platforms) > 1
    if index:
        top = _blob(layout, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode(),
                    OCI_INDEX)
    else:
        top = {k: v for k, v in children[0].items() if k != "platform"}
    top["annotations"] = {"org.opencontainers.image.ref.name": "img"}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return top["digest"]


# -- token issuer (anonymous Bearer tokens the registry trusts) ----------------------
class TokenIssuer:
    """Issues RS256 JWTs with an ``x5c`` header, as distribution's ``auth.token`` expects."""

    def __init__(self, workdir: Path, service: str = "lab-registry") -> None:
        self.key, self.cert = workdir / "token.key", workdir / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=hardener-lab-token", "-keyout", str(self.key), "-out", str(self.cert)],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.service, self.issuer = service, "hardener-lab"
        self.requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                query = parse_qs(urlparse(self.path).query)
                body = json.dumps({"token": issuer.token(query.get("scope", [])), "expires_in": 600}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in " ".join(scopes).split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "", "aud": self.service, "exp": now + 600, "nbf": now - 60,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing.encode(),
                                   check=True, capture_output=True).stdout
        return f"{signing}.{_b64(signature)}"

    def close(self) -> None:
        self.server.shutdown()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- the registry --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """``docker-registry serve`` on 127.0.0.1:<random>, filesystem storage under ``workdir``."""

    def __init__(self, workdir: Path, auth: str = "none") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.user, self.password = "lab", "s3cret-pass"
        self.issuer: TokenIssuer | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        config = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
                  "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
                  "http": {"addr": self.host, "secret": "lab"}}
        if auth == "htpasswd":
            line = subprocess.run(["htpasswd", "-Bbn", self.user, self.password], check=True,
                                  capture_output=True, text=True).stdout.strip()
            (workdir / "htpasswd").write_text(line + "\n")
            config["auth"] = {"htpasswd": {"realm": "lab", "path": str(workdir / "htpasswd")}}
        elif auth == "token":
            self.issuer = TokenIssuer(workdir)
            config["auth"] = {"token": {"realm": self.issuer.realm, "service": self.issuer.service,
                                        "issuer": self.issuer.issuer, "rootcertbundle": str(self.issuer.cert)}}
        self.auth = auth
        (workdir / "config.yml").write_text(json.dumps(config))  # JSON is YAML
        log = (workdir / "registry.log").open("wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(workdir / "config.yml")],
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self) -> None:
        import urllib.error
        import urllib.request

        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # 401: up, and asking for credentials
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {(self.workdir / 'registry.log').read_text()[-500:]}")

    def push(self, layout: Path, repository: str, *tags: str) -> None:
        """skopeo copy of the layout to the first tag; the other tags point at the same digest."""
        creds = ["--dest-creds", f"{self.user}:{self.password}"] if self.auth == "htpasswd" else []
        base = ["skopeo", "--insecure-policy", "copy", "-q", "--all", "--preserve-digests",
                "--dest-tls-verify=false", *creds]
        subprocess.run([*base, f"oci:{layout}:img", f"docker://{self.host}/{repository}:{tags[0]}"],
                       check=True, capture_output=True, env=_skopeo_env(self.workdir))
        for tag in tags[1:]:
            src_creds = ["--src-creds", f"{self.user}:{self.password}"] if creds else []
            subprocess.run([*base, *src_creds, "--src-tls-verify=false", f"docker://{self.host}/{repository}:{tags[0]}",
                            f"docker://{self.host}/{repository}:{tag}"],
                           check=True, capture_output=True, env=_skopeo_env(self.workdir))

    def seed(self, repository: str, seed: str, *tags: str, platforms: tuple[str, ...] = ("linux/amd64",),
             index: bool | None = None, runtime: dict | None = None,
             per_platform: dict[str, dict] | None = None) -> str:
        layout = self.workdir / "layouts" / f"{repository.replace('/', '_')}-{seed}"
        digest = write_layout(layout, seed, platforms, index, runtime, per_platform)
        self.push(layout, repository, *tags)
        return digest

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.issuer is not None:
            self.issuer.close()


def _skopeo_env(workdir: Path) -> dict[str, str]:
    conf = workdir / "registries.conf"
    if not conf.exists():
        conf.write_text('unqualified-search-registries = []\n')
    return {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf), "REGISTRY_AUTH_FILE": str(workdir / "auth.json")}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())} (Debian: docker-registry skopeo apache2-utils openssl)")
    lab = Lab(tmp_path_factory.mktemp("registry"))
    yield lab
    lab.stop()


# -- helpers for the tests -----------------------------------------------------------
def _client(**config: object):
    from hardener.oci.registry import ClientConfig, Credentials, RegistryClient

    creds = config.pop("credentials", None) or Credentials()
    return RegistryClient(ClientConfig(**config), creds)  # type: ignore[arg-type]


def _budget(limit: int = 24):
    from hardener.oci.registry import Budget

    return Budget(limit)


def _repo(tmp_path: Path, files: dict[str, str], options: str = "") -> Path:
    repo = tmp_path / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (repo / ".hardener.toml").write_text(f"[pin-base-image]\n{options}")
    return repo


def _run(repo: Path, mode: str = "apply", offline: bool = False):
    from hardener.oci.digest_cache import active_resolvers, reset_resolvers
    from hardener.report import Mode
    from hardener.runner import RunRequest, run

    reset_resolvers()
    report = run(RunRequest((repo,), Mode(mode), select=("HD101", "HD103"), offline=offline))
    resolvers = active_resolvers()
    return report, resolvers[0] if resolvers else None


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


@pytest.fixture(scope="module")
def seeded(lab: Lab) -> dict[str, str]:
    """Digests by name: a two-platform python index with version aliases, and more."""
    return {
        "python": lab.seed("library/python", "py313", "3.13.1", "3.13", "3", "latest",
                           platforms=("linux/amd64", "linux/arm64/v8")),
        "python-slim": lab.seed("library/python", "py313slim", "3.13.1-slim", "3.13-slim", "slim"),
        "python312": lab.seed("library/python", "py312", "3.12.8", "3.12"),
        "node": lab.seed("library/node", "node22", "22.11.0", "22", "latest", platforms=("linux/amd64", "linux/arm64")),
        "app": lab.seed("team/app", "app1", "1.0", index=False),
    }


# -- against the real registry -------------------------------------------------------
@pytest.mark.registry
def test_index_digest_and_platforms(lab: Lab, seeded: dict[str, str]) -> None:
    manifest = _client().manifest(lab.host, "library/python", "3.13", _budget())
    assert manifest.digest == seeded["python"]
    assert manifest.media_type == OCI_INDEX
    assert manifest.platforms == ("linux/amd64", "linux/arm64/v8")


@pytest.mark.registry
def test_single_manifest_platform_comes_from_its_config(lab: Lab, seeded: dict[str, str]) -> None:
    client = _client()
    manifest = client.manifest(lab.host, "team/app", "1.0", _budget())
    assert (manifest.digest, manifest.platforms) == (seeded["app"], ("linux/amd64",))
    assert client.counters.by_kind == {"ping": 1, "manifest": 1, "blob": 1}


@pytest.mark.registry
def test_tags_follow_link_pagination(lab: Lab, seeded: dict[str, str]) -> None:
    client = _client()
    tags = client.tags(lab.host, "library/python", _budget(), page_size=2)
    assert sorted(tags) == sorted(["3.13.1", "3.13", "3", "latest", "3.13.1-slim", "3.13-slim", "slim",
                                   "3.12.8", "3.12"])
    # distribution 2.8 answers tags/list in one page whatever ``n`` says; pagination is
    # covered by test_tags_pagination_link below


@pytest.mark.parametrize("repository, tag, message", [
    pytest.param("library/python", "9.9", "tag or digest not found (404 MANIFEST_UNKNOWN)", id="unknown-tag"),
    pytest.param("library/nothing", "1", "not found (404", id="unknown-repository"),
])
@pytest.mark.registry
def test_not_found_is_an_error_with_the_reason(lab: Lab, seeded: dict[str, str], repository: str, tag: str,
                                              message: str) -> None:
    from hardener.oci.registry import RegistryError

    with pytest.raises(RegistryError, match=re.escape(message)):
        _client().manifest(lab.host, repository, tag, _budget())


@pytest.mark.registry
def test_one_manifest_request_per_unique_reference_and_none_when_cached(
        lab: Lab, seeded: dict[str, str], tmp_path: Path) -> None:
    files = {f"svc{i}/Dockerfile": "FROM python:3.13\nRUN true\n" for i in range(4)}
    files.update({f"web{i}/Dockerfile": "FROM node:22 AS deps\nFROM python:3.13-slim\nCOPY --from=deps /a /a\n"
                  for i in range(3)})
    files["compose.yaml"] = (f"services:\n  a:\n    image: node:22\n  b:\n    image: {lab.host}/team/app:1.0\n"
                             "  c:\n    image: python:3.13\n")
    repo = _repo(tmp_path, files, f'mirrors = {{"docker.io" = "{lab.host}"}}\n')
    report, resolver = _run(repo)
    assert sum(r.changed for r in report.results) == 8
    counts = resolver.client.counters.by_kind
    # python:3.13, python:3.13-slim, node:22, <lab>/team/app:1.0, and the linux/amd64 manifest of
    # the two indexes (python:3.13, node:22), whose config blob is read for the image's facts
    assert counts["manifest"] == 6
    assert counts["blob"] == 4  # one image config per unique reference
    assert counts["ping"] == 1  # one host: the mirror is the lab itself
    assert (repo / "svc0/Dockerfile").read_text() == f"FROM python:3.13@{seeded['python']}\nRUN true\n"
    assert f"image: {lab.host}/team/app:1.0@{seeded['app']}" in (repo / "compose.yaml").read_text()
    for name, text in files.items():  # back to the originals: a second run must use the cache only
        (repo / name).write_text(text)
    again, resolver = _run(repo)
    assert sum(r.changed for r in again.results) == 8
    assert resolver._client is None, "a warm cache makes no requests (and creates no client)"


@pytest.mark.parametrize("written, options, expected, level", [
    pytest.param("python", "", "python:3.13@{python}", "review", id="untagged-to-major-minor"),
    pytest.param("python:latest", "", "python:3.13@{python}", "review", id="latest-to-major-minor"),
    pytest.param("python", "most-specific-tag = true\n", "python:3.13.1@{python}", "review", id="most-specific"),
    pytest.param("python:slim", "", "python:3.13-slim@{python-slim}", "review", id="family-slim"),
    pytest.param("python:3.12", "", "python:3.12@{python312}", "safe", id="explicit-tag"),
    pytest.param("docker.io/library/python:3.12", "", "docker.io/library/python:3.12@{python312}", "safe",
                 id="spelling-kept"),
    pytest.param("node", "", "node:22@{node}", "review", id="node-major-only"),
])
@pytest.mark.registry
def test_pinned_reference(lab: Lab, seeded: dict[str, str], tmp_path: Path, written: str, options: str,
                          expected: str, level: str) -> None:
    repo = _repo(tmp_path, {"Dockerfile": f"FROM {written}\n"},
                 f'mirrors = {{"docker.io" = "{lab.host}"}}\n{options}')
    report, _ = _run(repo)
    assert (repo / "Dockerfile").read_text() == f"FROM {expected.format(**seeded)}\n"
    assert [c.applicability.label for r in report.results for c in r.changes] == [level]


@pytest.mark.parametrize("dockerfile, refusal", [
    pytest.param("FROM --platform=linux/s390x python:3.13\n", "has no linux/s390x variant", id="platform-missing"),
    pytest.param("FROM --platform=linux/arm64 team/app:1.0\n", "has no linux/arm64 variant", id="single-arch"),
    pytest.param("FROM python:9.9\n", "tag or digest not found", id="unknown-tag"),
])
@pytest.mark.registry
def test_refused_and_left_untouched(lab: Lab, seeded: dict[str, str], tmp_path: Path, dockerfile: str,
                                    refusal: str) -> None:
    dockerfile = dockerfile.replace("team/app", f"{lab.host}/team/app")
    repo = _repo(tmp_path, {"Dockerfile": dockerfile}, f'mirrors = {{"docker.io" = "{lab.host}"}}\n')
    report, _ = _run(repo)
    assert (repo / "Dockerfile").read_text() == dockerfile
    assert refusal in report.results[0].refusals[0].reason


@pytest.mark.parametrize("dockerfile", [
    pytest.param("FROM --platform=linux/arm64 python:3.13\n", id="arm64-in-index"),
    pytest.param("FROM --platform=$BUILDPLATFORM python:3.13\n", id="variable-platform-uses-default"),
])
@pytest.mark.registry
def test_platform_present(lab: Lab, seeded: dict[str, str], tmp_path: Path, dockerfile: str) -> None:
    repo = _repo(tmp_path, {"Dockerfile": dockerfile}, f'mirrors = {{"docker.io" = "{lab.host}"}}\n')
    _run(repo)
    assert (repo / "Dockerfile").read_text() == dockerfile.replace("3.13", f"3.13@{seeded['python']}")


@pytest.mark.registry
def test_write_lock_then_offline_uses_only_the_lock(lab: Lab, seeded: dict[str, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    dockerfile = "FROM python\nFROM node:22\n"
    repo = _repo(tmp_path, {"Dockerfile": dockerfile},
                 f'mirrors = {{"docker.io" = "{lab.host}"}}\nwrite-lock = true\n')
    report, _ = _run(repo, "diff")
    assert not (repo / "hardener.lock").exists()  # diff shows the lock, only apply writes it
    assert [c.path.rsplit("/", 1)[-1] for c in report.companions] == ["hardener.lock"]
    _run(repo, "apply")
    lock = json.loads((repo / "hardener.lock").read_text())
    assert sorted(lock["images"]) == ["docker.io/library/node:22", "docker.io/library/python:latest"]
    assert "fetched" not in lock["images"]["docker.io/library/node:22"]
    assert report.companions[0].content == (repo / "hardener.lock").read_bytes()
    (repo / "Dockerfile").write_text(dockerfile)  # another checkout, not yet pinned
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    (repo / ".hardener.toml").write_text('[pin-base-image]\nmirrors = {"docker.io" = "127.0.0.1:9"}\n')
    report, resolver = _run(repo, offline=True)
    assert (repo / "Dockerfile").read_text() == f"FROM python:3.13@{seeded['python']}\nFROM node:22@{seeded['node']}\n"
    assert resolver._client is None


@pytest.mark.registry
def test_lock_flag_writes_the_lock(lab: Lab, seeded: dict[str, str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`hardener apply --lock` records digests like `write-lock = true` in the config."""
    from click.testing import CliRunner

    from hardener.cli import main
    from hardener.oci.digest_cache import reset_resolvers

    repo = _repo(tmp_path, {"Dockerfile": "FROM node:22\n"}, f'mirrors = {{"docker.io" = "{lab.host}"}}\n')
    reset_resolvers()
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["apply", "--select", "HD101", "--lock", "."])
    assert result.exit_code == 0, result.stderr
    lock = json.loads((repo / "hardener.lock").read_text())
    assert list(lock["images"]) == ["docker.io/library/node:22"]
    assert (repo / "Dockerfile").read_text() == f"FROM node:22@{seeded['node']}\n"


# -- authentication ------------------------------------------------------------------
@pytest.fixture(scope="module")
def basic_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())}")
    lab = Lab(tmp_path_factory.mktemp("basic"), auth="htpasswd")
    lab.seed("team/private", "priv", "2.0")
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def token_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())}")
    lab = Lab(tmp_path_factory.mktemp("token"), auth="token")
    lab.seed("library/alpine", "alp", "3.20", platforms=("linux/amd64", "linux/arm64"))
    yield lab
    lab.stop()


def _docker_config(tmp_path: Path, data: dict) -> None:
    folder = tmp_path / "docker-config"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(data))


@pytest.mark.registry
def test_anonymous_bearer_token(token_lab: Lab) -> None:
    client = _client()
    before = token_lab.issuer.requests
    manifest = client.manifest(token_lab.host, "library/alpine", "3.20", _budget())
    assert manifest.platforms == ("linux/amd64", "linux/arm64")
    assert client.head_digest(token_lab.host, "library/alpine", "3.20", _budget()) == manifest.digest
    assert token_lab.issuer.requests - before == 1  # the token is reused for the same scope
    assert client.counters.by_kind == {"ping": 1, "token": 1, "manifest": 1, "head": 1}


@pytest.mark.registry
def test_basic_auth_from_docker_config_auths(basic_lab: Lab, tmp_path: Path) -> None:
    from hardener.oci.registry import Credentials

    auth = base64.b64encode(f"{basic_lab.user}:{basic_lab.password}".encode()).decode()
    _docker_config(tmp_path, {"auths": {basic_lab.host: {"auth": auth}}})
    creds = Credentials.from_docker_config()
    assert auth not in repr(creds.lookup(basic_lab.host)), "secrets never reach a repr or a log"
    manifest = _client(credentials=creds).manifest(basic_lab.host, "team/private", "2.0", _budget())
    assert manifest.digest.startswith("sha256:")


@pytest.mark.registry
def test_basic_auth_from_a_credential_helper(basic_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hardener.oci.registry import Credentials

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-lab"
    answer = json.dumps({"ServerURL": basic_lab.host, "Username": basic_lab.user, "Secret": basic_lab.password})
    helper.write_text(f"#!/bin/sh\nread server\n[ \"$server\" = \"{basic_lab.host}\" ] && echo '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _docker_config(tmp_path, {"credHelpers": {basic_lab.host: "lab"}})
    manifest = _client(credentials=Credentials.from_docker_config()).manifest(
        basic_lab.host, "team/private", "2.0", _budget())
    assert manifest.digest.startswith("sha256:")


@pytest.mark.registry
def test_basic_auth_without_credentials_is_refused(basic_lab: Lab, tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"Dockerfile": f"FROM {basic_lab.host}/team/private:2.0\n"})
    report, _ = _run(repo)
    assert "requires a login (401)" in report.results[0].refusals[0].reason
    assert (repo / "Dockerfile").read_text() == f"FROM {basic_lab.host}/team/private:2.0\n"


# -- misbehaving registries (small real HTTP servers) and registries that are not there --
class _Misbehaving:
    """``/v2/`` answers 200; manifests get ``status`` / ``headers`` / ``body``, or no answer."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None, body: bytes = b"",
                 hang: float = 0.0, routes: dict | None = None) -> None:
        spec = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/v2/":
                    self._answer(200, {}, b"{}")
                    return
                if routes and self.path in routes:
                    self._answer(200, *routes[self.path])
                    return
                if spec.hang:
                    time.sleep(spec.hang)
                self._answer(status, headers or {}, body)

            def _answer(self, code: int, extra: dict[str, str], data: bytes) -> None:
                try:
                    self.send_response(code)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.hang = hang
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("server, message", [
    pytest.param({"status": 429, "headers": {"Retry-After": "120"}}, "rate limited the requests (429, retry after 120 s)",
                 id="rate-limited"),
    pytest.param({"status": 401, "headers": {"WWW-Authenticate": 'Basic realm="x"'}}, "requires a login (401)",
                 id="401"),
    pytest.param({"status": 403, "body": b'{"errors":[{"code":"DENIED"}]}'}, "denied access (403 DENIED)", id="403"),
    pytest.param({"body": b"<html>not json"}, "malformed manifest: not JSON", id="malformed"),
    pytest.param({"body": b'{"schemaVersion":1,"fsLayers":[]}'}, "unsupported manifest type", id="schema1"),
    pytest.param({"headers": {"Docker-Content-Digest": "sha256:" + "0" * 64}, "body": b'{"manifests":[]}'},
                 "body does not match Docker-Content-Digest", id="digest-mismatch"),
    pytest.param({"hang": 3.0}, "timed out", id="timeout"),
    pytest.param({"status": 500}, "answered 500", id="server-error"),
])
def test_registry_errors_become_reasons(server: dict, message: str) -> None:
    from hardener.oci.registry import RegistryError

    fake = _Misbehaving(**server)
    try:
        started = time.monotonic()
        with pytest.raises(RegistryError) as caught:
            _client(read_timeout=0.5).manifest(fake.host, "library/x", "1", _budget())
        assert message in str(caught.value)
        assert time.monotonic() - started < 2.5
    finally:
        fake.close()


def test_short_retry_after_is_waited_for_once() -> None:
    from hardener.oci.registry import RegistryError

    fake = _Misbehaving(status=429, headers={"Retry-After": "0"})
    client = _client()
    try:
        with pytest.raises(RegistryError, match="rate limited"):
            client.manifest(fake.host, "library/x", "1", _budget())
        assert client.counters.by_kind["manifest"] == 2
    finally:
        fake.close()


def test_tags_pagination_link() -> None:
    pages = {
        "/v2/library/x/tags/list?n=1000": ({"Link": '</v2/library/x/tags/list?last=b&n=1000>; rel="next"'},
                                           b'{"tags":["a","b"]}'),
        "/v2/library/x/tags/list?last=b&n=1000": ({}, b'{"tags":["c"]}'),
    }
    fake = _Misbehaving(routes=pages)
    client = _client()
    try:
        assert client.tags(fake.host, "library/x", _budget()) == ["a", "b", "c"]
        assert client.counters.by_kind["tags"] == 2
    finally:
        fake.close()


def test_registry_down_is_asked_once_and_refused_fast(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    files = {f"s{i}/Dockerfile": f"FROM python:3.{i}\n" for i in range(6)}
    files["compose.yaml"] = "services:\n  db:\n    image: postgres:16\n"
    repo = _repo(tmp_path, files, f'mirrors = {{"docker.io" = "{dead}"}}\n')
    started = time.monotonic()
    report, resolver = _run(repo)
    assert time.monotonic() - started < 3
    assert resolver.client.counters.total == 1
    reasons = [f.reason for r in report.results for f in r.refusals]
    assert len(reasons) == 7 and all(f"registry {dead} unreachable" in r for r in reasons)
    assert not any(r.changed for r in report.results)
    assert len(report.incomplete) == 7 and report.exit_code() == 4  # a partial run says so
    assert "7 left as they were because a registry failed (exit 4)" in report.summary()


@pytest.mark.registry
def test_lock_collects_every_file_of_the_run(lab: Lab, seeded: dict[str, str], tmp_path: Path) -> None:
    """Each file's lock entries are staged on top of the earlier files' (the run's file view)."""
    files = {"a/Dockerfile": "FROM python:3.13\n", "b/Dockerfile": "FROM node:22\n",
             "compose.yaml": "services:\n  web:\n    image: python:3.13\n  api:\n    image: node:22\n"}
    repo = _repo(tmp_path, files, f'mirrors = {{"docker.io" = "{lab.host}"}}\nwrite-lock = true\n')
    report, _ = _run(repo, "apply")
    assert report.exit_code() == 0 and len(report.companions) == 1
    lock = json.loads((repo / "hardener.lock").read_text())
    assert sorted(lock["images"]) == ["docker.io/library/node:22", "docker.io/library/python:3.13"]
    again, _ = _run(repo, "apply")
    assert not again.changed and not again.companions  # converged: nothing more to lock


def test_cli_exit_code_4_when_the_registry_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from hardener.cli import main
    from hardener.oci.digest_cache import reset_resolvers

    dead = f"127.0.0.1:{free_port()}"
    repo = _repo(tmp_path, {"Dockerfile": "FROM python:3.12\nUSER 1000\n"}, f'mirrors = {{"docker.io" = "{dead}"}}\n')
    reset_resolvers()
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["diff", "--select", "HD101", "--format", "json", "."])
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data["exit_code"] == 4 and data["files"][0]["refusals"][0]["incomplete"] is True
    import jsonschema

    jsonschema.Draft202012Validator(json.loads((ROOT / "hardener/data/report.schema.json").read_text())).validate(data)
    sarif = json.loads(CliRunner().invoke(main, ["diff", "--select", "HD101", "--format", "sarif", "."]).stdout)
    result = sarif["runs"][0]["results"][0]
    assert (result["kind"], result["level"], result["properties"]["incomplete"]) == ("fail", "warning", True)
    text = CliRunner().invoke(main, ["check", "--select", "HD101", "--no-color", "."])
    assert text.exit_code == 4 and "HD101 pin-base-image could not finish: python:3.12" in text.stderr


def test_no_network_when_nothing_needs_a_digest(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"Dockerfile": "FROM scratch\nFROM python:3.12@sha256:" + "a" * 64 + "\n"})
    _, resolver = _run(repo)
    assert resolver is None  # not even a resolver, let alone a client


def test_offline_refuses_what_the_lock_does_not_know(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"Dockerfile": "FROM python:3.12\n"})
    report, resolver = _run(repo, offline=True)
    assert report.results[0].refusals[0].reason == (
        "python:3.12: --offline: no digest for docker.io/library/python:3.12 in hardener.lock or the cache")
    assert resolver._client is None
    assert not report.incomplete and report.exit_code() == 0  # --offline is a choice, not a failure


# -- pieces --------------------------------------------------------------------------
@pytest.mark.parametrize("header, expected", [
    pytest.param('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
                 ("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"}), id="hub"),
    pytest.param('Basic realm="Registry Realm"', ("basic", {"realm": "Registry Realm"}), id="basic"),
    pytest.param("", ("", {}), id="none"),
])
def test_parse_challenge(header: str, expected: tuple) -> None:
    from hardener.oci.registry import parse_challenge

    assert parse_challenge(header) == expected


@pytest.mark.parametrize("link, expected", [
    pytest.param('</v2/x/tags/list?last=b&n=2>; rel="next"', "/v2/x/tags/list?last=b&n=2", id="relative"),
    pytest.param('<https://r.io/v2/x/tags/list?last=b>; rel="next"', "/v2/x/tags/list?last=b", id="absolute"),
    pytest.param("", None, id="last-page"),
])
def test_next_link(link: str, expected: str | None) -> None:
    from hardener.oci.registry import _next_link

    assert _next_link(link) == expected


@pytest.mark.parametrize("tags, family, expected", [
    pytest.param(["latest", "3.13.1", "3.13", "3", "3.12.8", "3.12", "3.14.0a1"], "",
                 ["3.13.1", "3.13", "3", "3.12.8", "3.12"], id="newest-chain-first"),
    pytest.param(["3.13-slim", "3.13", "3.13-slim-bookworm", "slim"], "slim", ["3.13-slim"], id="family-exact"),
    pytest.param(["v1.2.3", "v1.2", "edge"], "", ["v1.2.3", "v1.2"], id="v-prefix"),
])
def test_candidate_order(tags: list[str], family: str, expected: list[str]) -> None:
    from hardener.oci.digest_cache import candidate_order

    assert candidate_order(tags, family) == expected


@pytest.mark.parametrize("tags, most_specific, expected", [
    pytest.param(["3.13.1", "3.13", "3"], False, "3.13", id="major-minor"),
    pytest.param(["3.13.1", "3.13", "3"], True, "3.13.1", id="most-specific"),
    pytest.param(["22.11.0", "22"], False, "22", id="major-only"),
    pytest.param(["1.2.3.4"], False, "1.2.3.4", id="only-long"),
    pytest.param([], False, None, id="none"),
])
def test_choose_tag(tags: list[str], most_specific: bool, expected: str | None) -> None:
    from hardener.oci.digest_cache import choose_tag

    assert choose_tag(tags, most_specific) == expected


@pytest.mark.parametrize("value, seconds", [
    pytest.param("24h", 86400, id="hours"), pytest.param("30m", 1800, id="minutes"),
    pytest.param(60, 60, id="number"), pytest.param("7d", 604800, id="days"),
])
def test_parse_duration(value: object, seconds: float) -> None:
    from hardener.oci.digest_cache import parse_duration

    assert parse_duration(value) == seconds


def test_plain_http_only_for_loopback_and_insecure() -> None:
    client = _client(insecure=("registry.lan:5000",))
    assert [client.scheme_for(h) for h in ("localhost:5000", "127.0.0.2:80", "[::1]:5000", "registry.lan:5000",
                                           "ghcr.io", "10.0.0.1:5000")] == [
        "http", "http", "http", "http", "https", "https"]
    assert client.host_for("docker.io") == "registry-1.docker.io"
    assert _client(mirrors={"docker.io": "127.0.0.1:5000"}).host_for("docker.io") == "127.0.0.1:5000"
