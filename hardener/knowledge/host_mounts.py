"""Host directories a Compose service or a ``docker run`` line of the repository bind-mounts
onto paths its app writes (``unsafe``).

A container made non-root writes a bind-mounted host directory as its new uid, and the
host directory keeps its host owner: the app fails at its first write. Docker copies the
image's ownership into a fresh named volume, so a named volume needs nothing; a bind mount
does, and only the host's owner can give it. The Compose↔Dockerfile link is the one
``ci.images`` records for every ``build:`` of the repository (with the service's mounts);
the ``docker run`` link is the image name a ``docker build -t`` of the same repository gives
the Dockerfile (knowledge/docker_runs.py).
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hardener.compose.listen import BindMount
    from hardener.context import Context
    from hardener.dockerfile.doc import DockerfileDoc


@dataclass(frozen=True)
class HostWrite:
    who: str  # "the Compose service web (compose.yaml)", "`docker run` in tls/run-tls.sh:9"
    near: str  # where the chown runs: "next to compose.yaml", "where tls/run-tls.sh:9 runs"
    source: str  # the bind mount's host path, as written
    target: str
    written: str  # the directory the app writes that the mount covers
    host_path: str  # the host directory that must become writable (relative to where the mount is read)

    def command(self, numeric: str) -> str:
        return f"chown -R {numeric} {self.host_path}"


def host_writes(doc: DockerfileDoc, ctx: Context, dirs: list[str]) -> list[HostWrite]:
    """The bind mounts of the services that build ``doc``'s final stage and cover one of
    ``dirs`` (a written directory under the mount, or the mount inside a written directory)."""
    from hardener.ci.images import builds_of

    if ctx.file is None or not dirs:
        return []
    final = doc.final_stage()
    name = final.name if final is not None else None
    from hardener.knowledge.docker_runs import runs_of

    found: list[HostWrite] = []
    for build in builds_of(ctx, ctx.file):
        if build.target is not None and build.target.lower() != name:
            continue  # another stage runs there: run-as-non-root changes only the last one
        compose = _relative(build.compose, ctx.root)
        found += _covered(build.binds, dirs, f"the Compose service {build.service} ({compose})", f"next to {compose}")
    seen = {(w.source, w.target) for w in found}
    for run in runs_of(ctx.root, ctx.file):
        more = [w for w in _covered(run.binds, dirs, f"`docker run` of {run.image} in {run.where}",
                                    f"where {run.where} runs") if (w.source, w.target) not in seen]
        seen |= {(w.source, w.target) for w in more}
        found += more
    return found


def _covered(binds: Sequence[BindMount], dirs: list[str], who: str, near: str) -> list[HostWrite]:
    """The writable bind mounts among ``binds`` that cover a written directory."""
    found = []
    for mount in binds:
        if mount.read_only:
            continue  # the app cannot write it, as root or not
        target = posixpath.normpath(mount.target) if mount.target.startswith("/") else None
        written = next((d for d in dirs if target and (_under(d, target) or _under(target, d))), None)
        if target is None or written is None:
            continue
        inside = posixpath.relpath(written, target) if _under(written, target) else "."
        host = mount.source if inside == "." else posixpath.join(mount.source.rstrip("/"), inside)
        found.append(HostWrite(who, near, mount.source, target, written, host))
    return found


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.name
