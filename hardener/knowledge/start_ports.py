"""Ports a container's start command chooses with its own flags.

``gunicorn -b 0.0.0.0:80``, ``uvicorn --port 80``, ``flask run --port=80``, ``python -m
http.server 80``, ``php -S 0.0.0.0:80``: the program binds what its command line says, whatever
the image's defaults are. Only literal words count; a variable (``--port $PORT``) says nothing.
"""
from __future__ import annotations

import re
import shlex

from hardener.dockerfile.doc import Instruction

_ADDRESS_FLAGS = frozenset({"--bind", "-b", "--listen", "--address", "--addr", "--http", "--host-port", "-S"})
_PORT_FLAGS = frozenset({"--port", "--http-port", "--listen-port", "--server.port", "--web-port"})
_PORT_PROGRAMS = ("http.server",)  # `python -m http.server 80`: the port is the next word


def start_words(insts: list[Instruction]) -> list[str]:
    """ENTRYPOINT + CMD words in effect (shell form split like a shell; empty when unreadable)."""
    words: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        inst = next((i for i in reversed(insts) if i.keyword == keyword), None)
        if inst is None:
            continue
        if inst.json is not None:
            words += list(inst.json)
            continue
        try:
            words += shlex.split(inst.args)
        except ValueError:
            return []
    return words


def command_ports(words: list[str]) -> list[tuple[int, str]]:
    """(port, the words that chose it) for each literal port the command binds."""
    found: list[tuple[int, str]] = []
    for i, word in enumerate(words):
        flag, eq, value = word.partition("=")
        if not eq:
            value = words[i + 1] if i + 1 < len(words) else ""
        port = None
        if flag in _ADDRESS_FLAGS:
            match = re.fullmatch(r"(?:[\w.\-\[\]:]*:)?(\d{1,5})", value)
            port = int(match.group(1)) if match and (":" in value or flag in ("--http",)) else None
        elif flag in _PORT_FLAGS and value.isdigit():
            port = int(value)
        elif word in _PORT_PROGRAMS and value.isdigit():
            port = int(value)
        if port is not None and 0 < port < 65536:
            found.append((port, word if eq else f"{word} {value}"))
    return found
