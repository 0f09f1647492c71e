"""What the fake forges (fake_github, fake_gitlab) share: a threaded HTTP server on 127.0.0.1
that hands each request to a handler bound to the fake, the record of write calls, and
branches read from the real bare repository the tests push to."""
from __future__ import annotations

import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class ServedFake:
    """Mixin for a dataclass with ``server`` and ``calls`` fields."""

    server: ThreadingHTTPServer | None
    calls: list[tuple[str, str]]

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]

    def serve(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        """Start serving; the handler reaches this fake as ``self.<name>``."""
        bound = type("Handler", (handler,), {name: self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def branch_sha(bare: Path, branch: str) -> str | None:
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                          cwd=bare, capture_output=True, text=True)
    return proc.stdout.strip() or None
