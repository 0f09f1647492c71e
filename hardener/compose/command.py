"""What a Compose service runs, when that is a short literal command (read-only-root, cap-drop).

A base image (alpine, busybox, debian …) says nothing about what the container does; its
`command:` does. Idle containers, sidecars and test fixtures often run only programs
that write nothing (`sleep infinity`, `tail -f /dev/null`, `echo`), and some run network
probes that need raw sockets (`ping`). Anything this module cannot read word by word — a
script, a variable, a redirection, a program outside the list — gives None, and callers
refuse as before.
"""
from __future__ import annotations

import re
import shlex

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from hardener.compose.splice import mapping_get
from hardener.knowledge.capabilities import RAW_SOCKET_TOOLS
from hardener.plans.copy.node import expand, split_code

# Programs that write no file (stdout/stderr are the container's log, not its filesystem).
# `tail` and `cat` only read; `ip` only with a show/list verb (setting needs NET_ADMIN anyway).
WRITE_FREE = frozenset({"sleep", "echo", "printf", "true", "false", "top", "cat", "tail", "ping", "env",
                        "printenv", "hostname", "id", "whoami", "date", "uname", "ls", "nslookup", "ip"})
# Programs that need no capability at all, even as root: they touch no file of another user
# (`cat`/`tail` of a file might: only `tail -f /dev/null` counts) and open no raw socket.
CAPLESS = frozenset({"sleep", "echo", "printf", "true", "false", "env", "printenv", "hostname", "id", "whoami",
                     "date", "uname"})
# Commands that run the rest of their words as a command: (options that take a value, operands
# before the command). `timeout 5 ping db` runs ping; `busybox ping` runs busybox's ping applet.
_PREFIXES: dict[str, tuple[frozenset[str], int]] = {
    "sudo": (frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group"}), 0),
    "doas": (frozenset({"-u", "-C"}), 0),
    "exec": (frozenset({"-a"}), 0),
    "env": (frozenset({"-u", "-C", "--unset", "--chdir"}), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "nohup": (frozenset(), 0),
    "command": (frozenset(), 0),
    "timeout": (frozenset({"-s", "-k", "--signal", "--kill-after"}), 1),
    "busybox": (frozenset(), 0),
}


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
        program = _runs(argv)
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
        program = _runs(argv)
        if program not in CAPLESS and not (program == "tail" and argv[1:] == ["-f", "/dev/null"]):
            return None
    return text


def uses_raw_sockets(node: Node | None) -> str | None:
    """The first raw-socket tool (ping, tcpdump …) the service runs as a program: the program of
    its `entrypoint:` + `command:` or of a simple command in their ``sh -c`` code, or of its
    health check (exec or shell form). An argument is not a program: `redis-cli ping`,
    `wget http://db/ping` and `echo ping` keep no NET_RAW."""
    for argv in _service_argvs(node) + _health_argvs(mapping_get(node, "healthcheck")):
        name = program(argv)
        if name in RAW_SOCKET_TOOLS:
            return name
    return None


def program(argv: list[str]) -> str | None:
    """The base name of the program a simple command runs, past ``NAME=value`` assignments and
    prefixes that run the rest (``sudo -u x``, ``exec``, ``env``, ``timeout 5``, a path)."""
    words = list(argv)
    while words:
        name = words[0].rsplit("/", 1)[-1]
        if re.fullmatch(r"[A-Za-z_]\w*=.*", words[0], re.DOTALL):
            del words[0]
            continue
        if name not in _PREFIXES:
            return name or None
        takes_value, operands = _PREFIXES[name]
        del words[0]
        while words and words[0].startswith("-") and words[0] != "-":
            option = words.pop(0)
            if option == "--":
                break
            if option in takes_value and words:
                del words[0]
        del words[:operands]
    return None


def _runs(argv: list[str]) -> str:
    """The program a command really runs: `env A=1 mtr` runs mtr; a bare `env` runs env."""
    return program(argv) or argv[0].rsplit("/", 1)[-1]


def service_words(node: Node | None) -> list[str]:
    """The service's `entrypoint:` + `command:` words as written (variables kept, not expanded);
    empty when neither is set or cannot be read word by word."""
    return [w for key in ("entrypoint", "command") for w in (_words(mapping_get(node, key), templated=True) or [])]


def _service_argvs(node: Node | None) -> list[list[str]]:
    argv = [w for key in ("entrypoint", "command") for w in (_words(mapping_get(node, key), templated=True) or [])]
    return [c for c in expand([argv]) if c] if argv else []


def _health_argvs(health: Node | None) -> list[list[str]]:
    """The simple commands of a health check: ``[CMD, prog, …]`` runs prog, ``[CMD-SHELL, code]``
    and the string form run code in a shell, ``[NONE]`` runs nothing."""
    test = mapping_get(health, "test")
    if isinstance(test, ScalarNode):
        return split_code(str(test.value)) or []
    words = _words(test, templated=True) or []
    if words[:1] == ["CMD"]:
        return [c for c in expand([words[1:]]) if c]
    if words[:1] == ["CMD-SHELL"]:
        return split_code(" ".join(words[1:])) or []
    return []


def _words(node: Node | None, templated: bool = False) -> list[str] | None:
    """A command as Compose reads it: a string is split like a shell would (no expansion),
    a list is taken word by word; `$` anywhere makes it unknown (unless ``templated``: a
    caller that only looks for a literal program name may read the words around a variable)."""
    if node is None:
        return []
    if isinstance(node, ScalarNode):
        text = str(node.value)
        if "$" in text and not templated:
            return None
        try:
            return shlex.split(text)
        except ValueError:
            return None
    if isinstance(node, SequenceNode) and all(isinstance(i, ScalarNode) for i in node.value):
        words = [str(i.value) for i in node.value]
        return None if any("$" in w for w in words) and not templated else words
    return None
