"""An app that talks to the container engine's socket (``/var/run/docker.sock``).

The socket is bind-mounted from the host, where it belongs to root and the ``docker`` group
(mode 0660): a process with another uid and no matching group cannot open it. An app that
manages containers (a setup wizard, a CI runner, a reverse proxy reading container labels)
therefore stops working when it is made non-root, whatever the Dockerfile's files allow, so
run-as-non-root refuses it and names the file and line that open the socket.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from hardener.limits import ReadRefused, read_bounded

_SOCKET = re.compile(rb"(?:/var)?/run/(?:docker|podman/podman|containerd/containerd)\.sock\b")
_CODE = (".py", ".rb", ".js", ".mjs", ".cjs", ".ts", ".go", ".sh", ".bash", ".php", ".java", ".kt", ".rs", ".pl",
         ".lua", ".ex", ".exs", ".cs", ".yml", ".yaml", ".toml", ".json", ".conf", ".ini", ".env")
_MAX_FILES = 400
_MAX_BYTES = 256 << 10


def socket_user(context_dir: Path, paths: Iterable[str], place: Callable[[str], str | None] | None,
                dockerfile_text: str = "") -> str | None:
    """``file:line`` of the first reference to an engine socket in what the image holds (the
    files the Dockerfile copies from ``context_dir``) or in the Dockerfile itself, or None."""
    for number, line in enumerate(dockerfile_text.splitlines(), 1):
        if _SOCKET.search(line.encode()) and not line.lstrip().startswith("#"):
            return f"Dockerfile:{number}"
    budget = _MAX_FILES
    for rel in paths:
        if place is None or not rel.endswith(_CODE) or place(rel) is None:
            continue
        budget -= 1
        if budget < 0:
            return None
        try:
            data = read_bounded(context_dir / rel, _MAX_BYTES)
        except (ReadRefused, OSError):
            continue
        match = _SOCKET.search(data)
        if match is not None:
            number = data.count(b"\n", 0, match.start()) + 1
            return f"{rel}:{number}"
    return None
