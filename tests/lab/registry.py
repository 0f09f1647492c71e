"""A docker-registry on 127.0.0.1 holding the stand-in bases, mirroring docker.io.

Pinned references (``python:3.11-slim@sha256:…``) resolve through the mirror entry of
the lab's registries.conf. The digest to pin is the registry's, never the local one
(NOTES.md 6.5): pushing compresses the layers and so changes the manifest.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def free_port() -> int:
    # Not a fixed 5000: other people's tests on this machine may run a registry too.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    def __init__(self, lab: Path) -> None:
        self.root = lab / "registry"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / f"config-{os.getpid()}.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            f"http:\n  addr: {self.address}\n"
        )
        log = open(self.root / "registry.log", "ab")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {self.process.returncode}; see {self.root}/registry.log")
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1).close()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("docker-registry did not answer on " + self.address)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def push(self, image: str, env: dict[str, str]) -> str:
        """Push a local image under its docker.io path; returns the registry's digest.

        The registry's data outlives the session; a push it already holds is skipped
        (buildah would re-compress every layer to find out, ~1 min for the Go base).
        """
        import json

        path = image.split("/", 1)[1] if image.startswith("docker.io/") else image
        memo = self.root / "pushed.json"
        pushed = json.loads(memo.read_text()) if memo.is_file() else {}
        image_id = _image_id(image, env)
        known = pushed.get(path)
        if known and known[0] == image_id:
            try:
                if self.digest(path) == known[1]:
                    return str(known[1])
            except (urllib.error.URLError, OSError):
                pass
        proc = subprocess.run(["buildah", "push", "--quiet", "--tls-verify=false", image,
                               f"docker://{self.address}/{path}"], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"push {image} failed: {proc.stderr.strip()[-500:]}")
        digest = self.digest(path)
        pushed[path] = [image_id, digest]
        memo.write_text(json.dumps(pushed, indent=1) + "\n")
        return digest

    def digest(self, path: str) -> str:
        repo, tag = path.rsplit(":", 1)
        req = urllib.request.Request(f"http://{self.address}/v2/{repo}/manifests/{tag}",
                                     method="HEAD", headers={"Accept": ACCEPT})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return str(resp.headers["Docker-Content-Digest"])


def _image_id(image: str, env: dict[str, str]) -> str:
    proc = subprocess.run(["buildah", "images", "--quiet", "--no-trunc", image], capture_output=True, text=True, env=env)
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else ""
