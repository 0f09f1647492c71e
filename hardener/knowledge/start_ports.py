"""Ports a container's start command chooses with its own flags.

``gunicorn -b 0.0.0.0:80``, ``uvicorn --port 80``, ``flask run --port=80``, ``python -m
http.server 80``, ``php -S 0.0.0.0:80``: the program binds what its command line says, whatever
the image's defaults are. Only literal words count; a variable (``--port $PORT``) says nothing.
"""
from __future__ import annotations

import re
import shlex

from hardener.dockerfile.doc import Instruction

# Flags that name the port a server listens on: `--port 80`, `--port=80`, `--bind 0.0.0.0:80`,
# `-b :80` (gunicorn), `--listen :443`, `--web.listen-address=:80`, `-S 0.0.0.0:80` (php). `-p`
# only with a bare number (elsewhere it means a path or a profile).
_PORT_FLAG = re.compile(
    r"^(?:--(?:http-|https-)?port|--(?:web\.)?listen(?:-address|-addr)?|--bind|--addr(?:ess)?|-b|-p|-S)"
    r"(?:=(?P<joined>.+))?$")
_ADDR_PORT = re.compile(r"^(?:[\w.-]*|\[[0-9a-fA-F:]*\]):(\d{1,5})$")
_HOST_FLAGS = ("-b", "-S", "--bind", "--listen", "--web.listen", "--listen-address", "--web.listen-address",
               "--listen-addr", "--web.listen-addr", "--addr", "--address")
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


def command_ports(words: list[str] | tuple[str, ...]) -> list[tuple[int, str]]:
    """(port, the words that chose it) for each literal port the command binds, in order."""
    found: list[tuple[int, str]] = []
    for i, word in enumerate(words):
        match = _PORT_FLAG.match(word)
        following = words[i + 1] if i + 1 < len(words) else ""
        if match is not None:
            joined = match.group("joined")
            port = _port(word.split("=", 1)[0], joined if joined is not None else following)
            shown = word if joined is not None else f"{word} {following}"
        elif word in _PORT_PROGRAMS and following.isdigit():
            port, shown = int(following), f"{word} {following}"
        else:
            continue
        if port is not None and port not in [p for p, _ in found]:
            found.append((port, shown))
    return found


def _port(flag: str, value: str) -> int | None:
    if flag in _HOST_FLAGS:
        match = _ADDR_PORT.match(value)
        number = match.group(1) if match else None
    else:
        number = value if value.isdigit() else None
    return int(number) if number and 0 < int(number) < 65536 else None
