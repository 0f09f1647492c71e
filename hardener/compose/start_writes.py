"""What a Compose service's own start command writes before the server starts.

The knowledge base knows where an image's default start writes (nginx: its cache and pid
file). A service that overrides ``entrypoint:`` or runs a shell ``command:`` often renders
its configuration first (``envsubst < tpl > /etc/nginx/nginx.conf && exec nginx``); under
``read_only: true`` that write fails and the container exits at start. This module lists
the paths such a command writes, or says why it cannot know them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from hardener.compose.command import service_commands
from hardener.compose.splice import mapping_get
from hardener.knowledge.writes_scan import SHELLS, unwrapped, written


@dataclass(frozen=True)
class StartWrites:
    """Paths the service's start command writes; ``unknown`` says why they cannot be listed."""

    paths: tuple[str, ...] = ()
    unknown: str | None = None
    command: str = ""  # the key that holds the command: entrypoint or command


def start_writes(node: Node | None, image_entrypoint: str | None = None) -> StartWrites | None:
    """None when the service keeps the image's own start (nothing overridden worth reading)."""
    entrypoint = mapping_get(node, "entrypoint") is not None
    command = mapping_get(node, "command")
    if not entrypoint and command is None:
        return None
    key = "entrypoint" if entrypoint else "command"
    commands = service_commands(node)
    if commands is None:
        if entrypoint or _is_shell_script(command):
            return StartWrites(unknown=f"its `{key}:` cannot be read word by word", command=key)
        return None  # arguments with variables for the image's own entrypoint
    paths: list[str] = []
    for argv in commands:
        argv = unwrapped(argv)
        if not argv:
            continue
        program = argv[0]
        if "/" in program or program.endswith(".sh"):
            if image_entrypoint and program.rsplit("/", 1)[-1] == image_entrypoint.rsplit("/", 1)[-1]:
                continue  # the image's own entrypoint: the knowledge base covers it
            return StartWrites(unknown=f"its `{key}:` runs the script {program}, whose writes are not known",
                               command=key)
        paths += written(argv)
    relative = next((p for p in paths if not p.startswith("/")), None)
    if relative is not None:
        return StartWrites(unknown=f"its `{key}:` writes {relative}, relative to a working directory "
                                   "hardener does not know", command=key)
    return StartWrites(tuple(dict.fromkeys(paths)), command=key)


def _is_shell_script(node: Node | None) -> bool:
    """``sh -c '…'`` (string or list form): code that may write anywhere."""
    if isinstance(node, ScalarNode):
        words = str(node.value).split()
    elif isinstance(node, SequenceNode):
        words = [str(getattr(item, "value", "")) for item in node.value]
    else:
        return False
    return bool(words) and words[0].rsplit("/", 1)[-1] in SHELLS
