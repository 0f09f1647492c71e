"""What a Compose service runs, when that is a short literal command (read-only-root, cap-drop).

A base image (alpine, busybox, debian …) says nothing about what the container does; its
`command:` does. Idle containers, sidecars and test fixtures often run only programs
that write nothing (`sleep infinity`, `tail -f /dev/null`, `echo`), and some run network
probes that need raw sockets (`ping`). Anything this module cannot read word by word — a
script, a variable, a redirection, a program outside the list — gives None, and callers
refuse as before.
"""
from __future__ import annotations

import shlex

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from hardener.compose.splice import mapping_get
from hardener.plans.copy.node import expand, split_code

# Programs that write no file (stdout/stderr are the container's log, not its filesystem).
# `tail` and `cat` only read; `ip` only with a show/list verb (setting needs NET_ADMIN anyway).
WRITE_FREE = frozenset({"sleep", "echo", "printf", "true", "false", "top", "cat", "tail", "ping", "env",
                        "printenv", "hostname", "id", "whoami", "date", "uname", "ls", "nslookup", "ip"})
# Programs that need no capability at all, even as root: they touch no file of another user
# (`cat`/`tail` of a file might: only `tail -f /dev/null` counts) and open no raw socket.
CAPLESS = frozenset({"sleep", "echo", "printf", "true", "false", "env", "printenv", "hostname", "id", "whoami",
                     "date", "uname"})
RAW_SOCKET = frozenset({"ping", "ping6", "arping", "traceroute", "tcpdump", "mtr", "nmap", "fping"})


def service_commands(node: Node | None) -> list[list[str]] | None:
    """The simple commands the service's own `entrypoint:` + `command:` run (``sh -c`` code
    split into its commands); None when absent, templated or not plain words."""
    argv: list[str] = []
    for key in ("entrypoint", "command"):
        part = _words(mapping_get(node, key))
        if part is None:
            return None
        argv += part
    if not argv:
        return None
    found = list(expand([argv]))
    if any(c is None for c in found):
        return None
    return [c for c in found if c]


def writes_nothing(node: Node | None) -> str | None:
    """The command as written when every program it runs is known to write no file."""
    commands = service_commands(node)
    if not commands:
        return None
    for argv in commands:
        program = argv[0].rsplit("/", 1)[-1]
        if program not in WRITE_FREE or any(w.startswith((">", "<")) or w in (">", ">>", "<", "|") for w in argv):
            return None
        if program == "ip" and not {"show", "list", "ls"} & set(argv):
            return None
    return "; ".join(shlex.join(c) for c in commands)


def needs_no_capabilities(node: Node | None) -> str | None:
    """The command as written when it only runs programs that need no capability (idle
    containers: ``sleep infinity``, ``tail -f /dev/null``)."""
    text = writes_nothing(node)
    commands = service_commands(node) if text else None
    if not commands:
        return None
    for argv in commands:
        program = argv[0].rsplit("/", 1)[-1]
        if program not in CAPLESS and not (program == "tail" and argv[1:] == ["-f", "/dev/null"]):
            return None
    return text


def uses_raw_sockets(node: Node | None) -> str | None:
    """The first program of the service's command or health check that opens raw sockets."""
    texts = [_words(mapping_get(node, k)) or [] for k in ("entrypoint", "command")]
    health = mapping_get(node, "healthcheck")
    texts.append(_words(mapping_get(health, "test")) or [])
    for words in texts:
        for word in (w for text in words for argv in (split_code(text) or [[text]]) for w in argv):
            name = word.rsplit("/", 1)[-1]
            if name in RAW_SOCKET:
                return name
    return None


def _words(node: Node | None) -> list[str] | None:
    """A command as Compose reads it: a string is split like a shell would (no expansion),
    a list is taken word by word; `$` anywhere makes it unknown."""
    if node is None:
        return []
    if isinstance(node, ScalarNode):
        text = str(node.value)
        if "$" in text:
            return None
        try:
            return shlex.split(text)
        except ValueError:
            return None
    if isinstance(node, SequenceNode) and all(isinstance(i, ScalarNode) for i in node.value):
        words = [str(i.value) for i in node.value]
        return None if any("$" in w for w in words) else words
    return None
