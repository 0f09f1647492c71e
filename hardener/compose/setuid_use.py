"""Does a Compose service rely on gaining privileges through setuid binaries (`sudo`, `su`)?

`no-new-privileges` makes the kernel ignore setuid bits, so `sudo` fails with "The 'no new
privileges' flag is set". That breaks a service whose own command runs sudo or su, an image
built to hand its user sudo (paperless-ngx's dev container: `paperless ALL=(ALL) NOPASSWD:ALL`),
and a dev container that an editor attaches to (`devcontainer.json` `service:`), whose
images ship sudo for the developer.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.compose.command import service_words
from hardener.limits import read_text_bounded

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

    from hardener.ci.images import ComposeBuild
    from hardener.context import Context

_GRANTS_SUDO = re.compile(r"/etc/sudoers|\b(apt-get|apt|apk|yum|dnf|microdnf|zypper)\b[^\n]*\b(install|add)\b[^\n]*\bsudo\b")
_SETUID_PROGRAMS = frozenset({"sudo", "su", "doas"})
_DEVCONTAINER_FILES = (".devcontainer/devcontainer.json", ".devcontainer.json")


def setuid_use(name: str, node: Node | None, compose: Path, ctx: Context) -> str | None:
    """Why the service needs setuid privilege gains, or None."""
    used = next((w for w in service_words(node) if w.rsplit("/", 1)[-1] in _SETUID_PROGRAMS), None)
    if used:
        return f"its command runs {used}, which no-new-privileges stops"
    devcontainer = _devcontainer_of(name, compose, ctx)
    if devcontainer:
        return f"it is the dev container of {devcontainer}, where the developer's tools expect sudo to work"
    return _image_grants_sudo(name, compose, ctx)


def _image_grants_sudo(name: str, compose: Path, ctx: Context) -> str | None:
    for build in _builds(compose, ctx):
        if build.service != name or build.dockerfile is None:
            continue
        raw = ctx.files.read(build.dockerfile)
        text = (raw or b"")[: 1 << 20].decode("utf-8", "replace")
        match = _GRANTS_SUDO.search(text)
        if match:
            line = text.count("\n", 0, match.start()) + 1
            return (f"the image it builds grants sudo ({build.dockerfile.name} line {line}); with "
                    "no-new-privileges sudo fails")
    return None


_BUILDS: dict[str, tuple[bytes | None, bytes | None, list[ComposeBuild]]] = {}  # oldest first
_BUILDS_KEPT = 4


def _builds(compose: Path, ctx: Context) -> list[ComposeBuild]:
    """``compose_builds`` of the file, shared by its services: asked once per service it
    re-read the file and walked every service, quadratic in the number of services. It is
    kept with what it read (the file and the ``.env`` beside it) and used again only while
    both still hold the same bytes (compared, not hashed: a hash of a big file per service
    cost more than the walk it saves). While one file is processed both are read once, not
    once per service (compose/doc_memo.py): they change only by a write the engine stages
    in the file's view between rounds, which the key holds."""
    from hardener.compose.doc_memo import per_view

    return per_view(ctx.files, "setuid-builds", (compose, ctx.files.state()), lambda: _read_builds(compose, ctx))


def _read_builds(compose: Path, ctx: Context) -> list[ComposeBuild]:
    from hardener.ci.images import compose_builds

    raw, env = ctx.files.read(compose), ctx.files.read(compose.parent / ".env")
    kept = _BUILDS.pop(str(compose), None)
    if kept is None or kept[0] != raw or kept[1] != env:
        kept = (raw, env, compose_builds(compose, ctx))
    _BUILDS[str(compose)] = kept
    while len(_BUILDS) > _BUILDS_KEPT:
        del _BUILDS[next(iter(_BUILDS))]
    return kept[2]


def _devcontainer_of(name: str, compose: Path, ctx: Context) -> str | None:
    """The devcontainer.json (beside the Compose file or one level up) that attaches to
    ``name`` in this Compose file."""
    from hardener.compose.doc_memo import per_view

    # read from the disk once per file processed, not once per service
    for path, text in per_view(ctx.files, "devcontainers", compose, lambda: _devcontainer_files(compose)):
        service = re.search(r'"service"\s*:\s*"([^"]+)"', text)
        files = re.search(r'"dockerComposeFile"\s*:\s*(\[[^\]]*\]|"[^"]*")', text)
        if service is None or files is None or service.group(1) != name:
            continue
        try:
            named = json.loads(files.group(1))
        except ValueError:
            continue
        names = [named] if isinstance(named, str) else [n for n in named if isinstance(n, str)]
        if any((path.parent / n).resolve() == compose.resolve() for n in names):
            return os.path.relpath(path, compose.parent)
    return None


def _devcontainer_files(compose: Path) -> list[tuple[Path, str]]:
    """The devcontainer.json files that may attach to a service of ``compose``, with their text."""
    found = []
    for folder in (compose.parent, compose.parent.parent):
        for rel in _DEVCONTAINER_FILES:
            path = folder / rel
            try:
                found.append((path, read_text_bounded(path, 256 * 1024, truncate=True)))
            except OSError:
                continue
    return found
