"""Issue 22, case 11: a hostile registry can neither fill memory nor hold a run.

A real HTTP server on 127.0.0.1 answers the manifest request with an endless body, a body
announced larger than the cap, or one byte per second; the client must give up with a
RegistryError within its per-request deadline, having held at most the cap in memory.
"""
from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hardener.oci.registry import MAX_BODY, Budget, ClientConfig, Credentials, RegistryClient, RegistryError


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/v2/":
            self._reply(200, b"{}")
            return
        mode = self.path.split("/")[2]  # /v2/<mode>/manifests/latest
        try:
            if mode == "endless":  # no Content-Length, chunks until the client hangs up
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"x" * 65536
                for _ in range(10_000):  # 640 MB at most, should the client not stop
                    self.wfile.write(chunk)
            elif mode == "announced":
                self.send_response(200)
                self.send_header("Content-Length", str(10 * MAX_BODY))
                self.end_headers()
                self.wfile.write(b"{")
            elif mode == "drip":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _reply(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(("mode", "message"), [
    pytest.param("endless", "response larger than", id="unbounded-body"),
    pytest.param("announced", "response larger than", id="content-length-over-cap"),
    pytest.param("drip", "timed out (no complete response in 2 s)", id="drip-one-byte-at-a-time"),
])
def test_hostile_response_is_bounded(server: str, mode: str, message: str) -> None:
    client = RegistryClient(ClientConfig(insecure=(server,), read_timeout=5, request_deadline=2), Credentials())
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
            client.manifest(server, mode, "latest", Budget(24))
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        client.close()
    assert elapsed < 2 + 5  # the deadline, plus at most one read timeout for the chunk in flight
    assert peak < 3 * MAX_BODY
