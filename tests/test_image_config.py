"""Image configs read with the digest, against the real local registry (docker-registry, images
copied in with skopeo from OCI layouts written here, as test_registry_client does): every
field parsed, the request count per image, the cache and the lock, offline reproduction,
failures that cost only facts."""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_registry_client import Lab, missing_tools

from hardener.oci.imageconfig import ImageConfig

FULL = {
    "User": "10001:10001", "ExposedPorts": {"8080/tcp": {}, "9090/udp": {}}, "Volumes": {"/data": {}, "/tmp": {}},
    "Entrypoint": ["/app/server"], "Cmd": ["--serve"], "WorkingDir": "/app", "Env": ["PATH=/usr/bin", "MODE=prod"],
    "StopSignal": "SIGQUIT", "Healthcheck": {"Test": ["CMD", "/app/server", "health"], "Interval": 30000000000},
    "Labels": {"org.opencontainers.image.source": "https://example.org/app", "maintainer": "team"},
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())}")
    lab = Lab(tmp_path_factory.mktemp("registry"))
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def seeded(lab: Lab) -> dict[str, str]:
    return {
        "full": lab.seed("team/full", "full1", "1.0", index=False, runtime=FULL),
        "multi": lab.seed("team/multi", "multi1", "2.0", platforms=("linux/amd64", "linux/arm64"),
                          runtime={"User": "nobody", "ExposedPorts": {"80/tcp": {}}}),
        "root": lab.seed("team/root", "root1", "1.0", index=False, runtime={"Cmd": ["sh"]}),
    }


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def _client():
    from hardener.oci.registry import ClientConfig, Credentials, RegistryClient

    return RegistryClient(ClientConfig(), Credentials())


@pytest.mark.registry
def test_every_field_of_a_single_manifest_config(lab: Lab, seeded: dict[str, str]) -> None:
    from hardener.oci.registry import Budget

    client = _client()
    manifest = client.manifest(lab.host, "team/full", "1.0", Budget(24))
    config = client.image_config(lab.host, "team/full", manifest, "linux/amd64", Budget(24))
    assert config == ImageConfig(
        user="10001:10001", exposed_ports=("8080/tcp", "9090/udp"), volumes=("/data", "/tmp"),
        entrypoint=("/app/server",), cmd=("--serve",), working_dir="/app", env=("PATH=/usr/bin", "MODE=prod"),
        stop_signal="SIGQUIT", healthcheck=("CMD", "/app/server", "health"),
        labels=(("maintainer", "team"), ("org.opencontainers.image.source", "https://example.org/app")),
        os="linux", architecture="amd64")
    assert config.tcp_ports == (8080,) and config.has_healthcheck
    # the config came with the manifest: one manifest and one blob, nothing more
    assert client.counters.by_kind == {"ping": 1, "manifest": 1, "blob": 1}
    assert ImageConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


@pytest.mark.registry
def test_index_costs_the_platform_manifest_and_one_blob(lab: Lab, seeded: dict[str, str]) -> None:
    from hardener.oci.registry import Budget

    client = _client()
    manifest = client.manifest(lab.host, "team/multi", "2.0", Budget(24))
    config = client.image_config(lab.host, "team/multi", manifest, "linux/arm64", Budget(24))
    assert (config.user, config.architecture, config.exposed_ports) == ("nobody", "arm64", ("80/tcp",))
    assert client.counters.by_kind == {"ping": 1, "manifest": 2, "blob": 1}


def _repo(tmp_path: Path, compose: str, options: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "compose.yaml").write_text(compose)
    (repo / ".hardener.toml").write_text(f"[pin-base-image]\n{options}")
    return repo


def _run(repo: Path, offline: bool = False, mode: str = "diff", select: tuple[str, ...] = ("HD103", "HD204", "HD603")):
    from hardener.oci.digest_cache import active_resolvers, reset_resolvers
    from hardener.report import Mode
    from hardener.runner import RunRequest, run

    reset_resolvers()
    report = run(RunRequest((repo,), Mode(mode), select=select, offline=offline))
    return report, active_resolvers()


def _reasons(report) -> list[str]:
    return sorted([c.reason for r in report.results for c in r.changes] +
                  [f.reason for r in report.results for f in r.refusals])


@pytest.mark.registry
def test_requests_per_image_then_warm_cache_then_offline_lock(lab: Lab, seeded: dict[str, str],
                                                               tmp_path: Path) -> None:
    compose = (f"services:\n  full:\n    image: {lab.host}/team/full:1.0\n"
               f"  multi:\n    image: {lab.host}/team/multi:2.0\n  again:\n    image: {lab.host}/team/full:1.0\n")
    repo = _repo(tmp_path, compose, "write-lock = true\n")
    report, resolvers = _run(repo, mode="apply")
    counts = resolvers[0].client.counters.by_kind
    # full: manifest + blob; multi: index + amd64 manifest + blob; one ping for the host
    assert counts == {"ping": 1, "manifest": 3, "blob": 2}
    online = _reasons(report)
    assert any("image config" in r and "'full'" in r for r in online), online
    lock = json.loads((repo / "hardener.lock").read_text())
    assert lock["images"][f"{lab.host}/team/full:1.0"]["config"]["user"] == "10001:10001"
    (repo / "compose.yaml").write_text(compose)  # unpinned again: the warm cache answers
    warm, resolvers = _run(repo)
    assert resolvers[0]._client is None, "a warm cache makes no request"
    assert _reasons(warm) == online
    shutil.rmtree(tmp_path / "xdg")  # no cache: --offline has only the lock
    offline, _ = _run(repo, offline=True)
    assert _reasons(offline) == online


@pytest.mark.registry
def test_old_cache_entry_without_config_is_fetched_again_and_old_lock_still_pins(
        lab: Lab, seeded: dict[str, str], tmp_path: Path) -> None:
    from hardener.oci.digest_cache import DigestStore, Resolution, cache_dir

    name = f"{lab.host}/team/root:1.0"
    old = {"version": 1, "images": {name: {"digest": seeded["root"], "media_type": "x", "platforms": ["linux/amd64"],
                                           "tags": [], "fetched": 9e12}}}
    cache = cache_dir() / "digests.json"
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps(old))
    repo = _repo(tmp_path, f"services:\n  root:\n    image: {lab.host}/team/root:1.0\n", "")
    _, resolvers = _run(repo)
    assert resolvers[0].client.counters.by_kind.get("blob") == 1
    assert DigestStore(cache, with_time=True).get(name).config == ImageConfig(cmd=("sh",), os="linux",
                                                                               architecture="amd64")
    # a lock of the old format still loads and pins, its config unknown
    lock = {"version": 1, "images": {name: {k: v for k, v in old["images"][name].items() if k != "fetched"}}}
    (repo / "hardener.lock").write_text(json.dumps(lock))
    offline, _ = _run(repo, offline=True, select=("HD103",))
    pinned = [c.reason for r in offline.results for c in r.changes]
    assert len(pinned) == 1 and f"pinned to the digest it resolves to now ({seeded['root'][:19]}" in pinned[0]
    assert Resolution.from_json(lock["images"][name]).config is None


@pytest.mark.registry
def test_missing_config_blob_costs_the_facts_not_the_digest(lab: Lab, seeded: dict[str, str],
                                                             tmp_path: Path) -> None:
    """The registry serves the manifest but the blob is gone (deleted from storage)."""
    layout = lab.workdir / "layouts" / "team_gone-gone1"
    lab.seed("team/gone", "gone1", "1.0", index=False, runtime={"User": "1000"})
    config_digest = json.loads((layout / "blobs/sha256" / _manifest_digest(layout)).read_text())["config"]["digest"]
    blob = lab.workdir / "data/docker/registry/v2/blobs/sha256" / config_digest[7:9] / config_digest[7:]
    shutil.rmtree(blob)
    repo = _repo(tmp_path, f"services:\n  gone:\n    image: {lab.host}/team/gone:1.0\n", "")
    report, _ = _run(repo)
    reasons = _reasons(report)
    assert any("pinned to" in r for r in reasons), reasons  # the digest still pins
    assert not any(getattr(f, "incomplete", False) for r in report.results for f in r.refusals)
    assert any("image config not read" in r and "'gone'" in r for r in reasons), reasons


class _BlobGate:
    """A proxy in front of the lab registry that serves manifests but answers every blob with
    ``status`` (401 with a Basic challenge: a registry whose blob storage wants another login)."""

    def __init__(self, upstream: str, status: int = 401) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.blobs = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward("GET")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def _forward(self, method: str) -> None:
                if "/blobs/" in self.path:
                    gate.blobs += 1
                    self._answer(status, {"WWW-Authenticate": 'Basic realm="blobs"'}, b"{}", method)
                    return
                conn = http.client.HTTPConnection(upstream, timeout=10)
                conn.request(method, self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
                response = conn.getresponse()
                body = response.read()
                keep = ("content-type", "docker-content-digest", "www-authenticate", "link")
                self._answer(response.status, {k: v for k, v in response.getheaders() if k.lower() in keep},
                             body, method)
                conn.close()

            def _answer(self, code: int, extra: dict[str, str], data: bytes, method: str) -> None:
                self.send_response(code)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if method == "GET":
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.registry
@pytest.mark.parametrize("status", [401, 500])
def test_refused_blob_costs_the_facts_not_the_digest_nor_the_exit_code(lab: Lab, seeded: dict[str, str],
                                                                       tmp_path: Path, status: int) -> None:
    """Manifests readable, every config blob refused (401) or failing (500): both images, the
    single manifest and the index, are still pinned; the facts are missing with the reason;
    the run is not incomplete (exit 4 is for a digest that could not be had)."""
    gate = _BlobGate(lab.host, status)
    try:
        compose = (f"services:\n  full:\n    image: {gate.host}/team/full:1.0\n"
                   f"  multi:\n    image: {gate.host}/team/multi:2.0\n")
        repo = _repo(tmp_path, compose, "write-lock = true\n")
        report, resolvers = _run(repo, mode="apply")
    finally:
        gate.close()
    reasons = _reasons(report)
    pinned = [r for r in reasons if "pinned to" in r]
    assert len(pinned) == 2, reasons
    assert gate.blobs == 2  # one try per image: a refused blob does not poison the host
    assert report.exit_code() == 0 and not report.incomplete
    why = "requires a login (401)" if status == 401 else "500"
    for name in ("full", "multi"):
        assert any(f"'{name}'" in r and "image config not read" in r and why in r for r in reasons), reasons
    lock = json.loads((repo / "hardener.lock").read_text())
    assert all("config" not in entry for entry in lock["images"].values())  # a lock records facts, not a failure
    assert all(entry["digest"].startswith("sha256:") for entry in lock["images"].values())


@pytest.mark.registry
def test_each_configured_platform_is_read_and_a_disagreement_picks_none(lab: Lab, seeded: dict[str, str],
                                                                        tmp_path: Path) -> None:
    lab.seed("team/split", "split1", "1.0", platforms=("linux/amd64", "linux/arm64"),
             per_platform={"linux/amd64": {"User": "1000"}, "linux/arm64": {"User": "0"}})
    compose = (f"services:\n  split:\n    image: {lab.host}/team/split:1.0\n"
               f"  multi:\n    image: {lab.host}/team/multi:2.0\n")
    repo = _repo(tmp_path, compose, 'platforms = ["linux/amd64", "linux/arm64"]\n')
    report, resolvers = _run(repo)
    # per image: the index, then a manifest and a config blob for each of the two platforms
    assert resolvers[0].client.counters.by_kind == {"ping": 1, "manifest": 6, "blob": 4}
    reasons = _reasons(report)
    assert any("'split'" in r and "its platforms disagree (linux/amd64 and linux/arm64 differ in User); "
               "none is picked" in r for r in reasons), reasons
    assert not any("'multi'" in r and "disagree" in r for r in reasons), reasons


@pytest.mark.registry
@pytest.mark.parametrize("runtime, dockerfile_cmd, expected", [
    pytest.param({"Entrypoint": ["/init"]}, 'CMD ["/app/run"]',
                 "the ENTRYPOINT in its image config is s6-overlay's /init", id="s6-init-kept-by-a-cmd"),
    pytest.param({"ExposedPorts": {"80/tcp": {}}, "Cmd": ["/usr/sbin/webd"]}, 'CMD ["/usr/sbin/webd", "-q"]',
                 "binds privileged port 80 (its image config exposes 80/tcp): a non-root user can bind it under "
                 "Docker/Compose only because Docker Engine >= 20.10", id="exposed-80"),
    pytest.param({"Entrypoint": ["gunicorn", "-b", "0.0.0.0:443"]}, 'CMD ["app:wsgi"]',
                 "binds privileged port 443 (its image config's start command 'gunicorn -b 0.0.0.0:443')",
                 id="entrypoint-flag"),
    pytest.param({"Entrypoint": ["/init"]}, 'ENTRYPOINT ["/app/run"]', None, id="own-entrypoint-replaces-it"),
])
def test_run_as_non_root_reads_the_base_config_online_then_from_the_lock(
        lab: Lab, seeded: dict[str, str], tmp_path: Path, runtime: dict, dockerfile_cmd: str,
        expected: str | None, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.id
    lab.seed(f"team/{name}", name, "1.0", index=False, runtime=runtime)
    repo = tmp_path / "repo"
    repo.mkdir()
    dockerfile = f"FROM {lab.host}/team/{name}:1.0\nRUN apt-get update\nCOPY app /app\n{dockerfile_cmd}\n"
    (repo / "Dockerfile").write_text(dockerfile)
    (repo / ".hardener.toml").write_text("[pin-base-image]\nwrite-lock = true\n")
    report, _ = _run(repo, mode="apply", select=("HD101", "HD201"))
    online = [f.reason for r in report.results for f in r.refusals]
    if expected is None:
        assert online == [] and "USER 10001:10001" in (repo / "Dockerfile").read_text()
        return
    assert len(online) == 1 and expected in online[0], online
    assert "config" in json.loads((repo / "hardener.lock").read_text())["images"][f"{lab.host}/team/{name}:1.0"]
    (repo / "Dockerfile").write_text(dockerfile)
    shutil.rmtree(tmp_path / "xdg")  # --offline with only the lock gives the same refusal
    offline, _ = _run(repo, offline=True, select=("HD101", "HD201"))
    assert [f.reason for r in offline.results for f in r.refusals] == online


def _manifest_digest(layout: Path) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"][7:]


# -- without a registry: parsing, the lock format, the merge with the knowledge base --------
def test_blob_without_runtime_part_and_shell_form_strings() -> None:
    assert ImageConfig.from_blob({"os": "linux", "architecture": "arm64"}) == ImageConfig(os="linux",
                                                                                        architecture="arm64")
    config = ImageConfig.from_blob({"config": {"Cmd": "nginx -g 'daemon off;'", "Healthcheck": {"Test": ["NONE"]}}})
    assert config.cmd == ("nginx -g 'daemon off;'",) and not config.has_healthcheck
    assert ImageConfig.from_json({"volumes": "/data"}) is None  # malformed: not a list
    assert ImageConfig.from_json("x") is None


def test_lock_entries_old_and_new() -> None:
    from hardener.oci.digest_cache import Resolution

    old = Resolution.from_json({"digest": "sha256:1", "platforms": ["linux/amd64"]})
    assert old is not None and old.config is None and not old.config_checked
    new = Resolution("sha256:1", "m", ("linux/amd64",), config=ImageConfig(user="1000"), fetched=5.0)
    assert new.to_json(with_time=False) == {"digest": "sha256:1", "media_type": "m", "platforms": ["linux/amd64"],
                                            "tags": [], "config": {"user": "1000"}}
    assert Resolution.from_json(new.to_json(with_time=True)) == new
    failed = Resolution("sha256:1", "m", (), config_error="blob not found", fetched=5.0)
    assert "config_error" not in failed.to_json(with_time=False)  # a lock records facts, not a failure
    assert Resolution.from_json(failed.to_json(with_time=True)) == failed


@pytest.mark.parametrize("image, user, uid, non_root, conflict", [
    pytest.param("ghcr.io/acme/a:1", "1000", "1000", "1000", False, id="numeric"),
    pytest.param("ghcr.io/acme/a:1", "1000:50", "1000:50", "1000:50", False, id="numeric-with-group"),
    pytest.param("ghcr.io/acme/a:1", "appuser", None, None, False, id="unknown-name-no-guess"),
    pytest.param("ghcr.io/acme/a:1", "", None, None, False, id="root-by-default"),
    pytest.param("ghcr.io/acme/a:1", "0:0", "0:0", None, False, id="numeric-root"),
    pytest.param("node:22", "node", "1000:1000", None, True, id="kb-knows-the-name-but-says-root"),
    pytest.param("memcached:1.6", "", None, None, True, id="kb-non-root-config-root"),
])
def test_facts_merge_kb_wins_and_conflicts_are_named(image: str, user: str, uid: str | None,
                                                     non_root: str | None, conflict: bool) -> None:
    from hardener.knowledge.image_facts import ImageFacts
    from hardener.knowledge.images import lookup

    facts = ImageFacts(image, lookup(image), ImageConfig(user=user))
    assert (facts.config_uid, facts.non_root_uid, bool(facts.conflicts)) == (uid, non_root, conflict)
    if conflict:
        assert "the knowledge base is used" in facts.note()


def test_asking_for_facts_makes_no_request(tmp_path: Path) -> None:
    """Online, nothing in the lock or cache: the answer is "unknown", and no client is made."""
    from hardener.context import Context
    from hardener.knowledge.image_facts import image_facts
    from hardener.oci.digest_cache import active_resolvers, reset_resolvers

    reset_resolvers()
    facts = image_facts(Context(tmp_path, offline=False), "ghcr.io/acme/a:1")
    assert facts is not None and facts.config is None and facts.config_why == ""
    assert all(r._client is None for r in active_resolvers())


def test_config_differences_compare_runtime_facts_only() -> None:
    from hardener.oci.imageconfig import config_differences

    amd = ImageConfig(user="1000", exposed_ports=("80/tcp",), os="linux", architecture="amd64",
                      labels=(("a", "1"),))
    assert config_differences(amd, ImageConfig(user="1000", exposed_ports=("80/tcp",), architecture="arm64")) == ()
    assert config_differences(amd, ImageConfig(user="0", cmd=("sh",))) == ("User", "ExposedPorts", "Cmd")
