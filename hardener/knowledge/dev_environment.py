"""A Dockerfile whose image is a development environment, not an app.

Docker Dev Environments build a ``dev-envs`` stage, dev containers a ``devcontainer`` one, and
such images create the IDE's own user (``vscode``, ``codespace``, ``gitpod``). Who works in them
is decided by the environment's settings (``remoteUser``, the IDE), and they carry tools that
expect the developer's rights (git over a mounted workspace, the Docker CLI on the host's
socket): a USER written into the Dockerfile would take those away.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.dockerfile.doc import DockerfileDoc
    from hardener.knowledge.images import Base

_DEV_STAGES = frozenset({"dev-envs", "dev-env", "devenv", "devenvs", "devcontainer", "dev-container"})
_IDE_USER = re.compile(r"\b(useradd|adduser)\b[^;&|\n]*\s(vscode|codespace|gitpod)(\s|$)")


def dev_environment(doc: DockerfileDoc, base: Base) -> str | None:
    """Why the final stage is a development environment (Docker Dev Environments' ``dev-envs``
    stage, a stage that creates the IDE's own user), or None."""
    stage = base.chain[-1]
    if stage.name in _DEV_STAGES:
        return f"its stage is named {stage.name}"
    for inst in (i for s in base.chain for i in s.instructions if i.keyword == "RUN"):
        text = inst.args + "".join(h.body(doc.text) for h in inst.heredocs)
        match = _IDE_USER.search(text)
        if match:
            return f"line {inst.line} creates the IDE user {match.group(2)}"
    return None
