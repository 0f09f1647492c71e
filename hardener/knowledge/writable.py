"""What a non-root user must own for the app to keep working, from ``knowledge.writes``.

The code stays root-owned; only the directories the app writes in (and the files it writes
that the image already holds) are created and handed to the user, non-recursively. When a
write cannot be resolved the app may write anywhere in its tree, so the whole application
directory goes to the user (``COPY --chown``), and the reason says which write forced it —
unless a recorded run (``hardener verify --learn``, source ``observed``) saw where the app
writes: then the observed directories stand for the unresolved write, and the reason says so.
A write straight into a system directory (``/etc``, ``/usr``, ``/var`` …) is refused:
handing that directory to the app user would give it the system; so is an app that opens
the container engine's socket (knowledge/socket_use.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from hardener.knowledge.writes import AppWrites, Unknown
from hardener.why import Why

_SYSTEM = frozenset({"/", "/etc", "/usr", "/usr/local", "/usr/local/bin", "/usr/bin", "/bin", "/sbin", "/lib", "/lib64",
                     "/var", "/var/lib", "/opt", "/home", "/root", "/srv", "/run", "/usr/share", "/usr/lib"})
MAX_CITED = 3


@dataclass(frozen=True)
class Writable:
    dirs: tuple[str, ...]  # to create and chown (non-recursive)
    files: tuple[str, ...]  # files the image holds that the app writes: chowned too
    cited: tuple[str, ...]  # "dir (source: code app/db.py:12)" for the reason
    widen: Unknown | None  # the unresolved write that makes the whole app directory the user's
    app_dir: str | None
    covered: Unknown | None = None  # an unresolved write that a recorded run's observed writes stand for


def plan(facts: AppWrites, volumes: list[str]) -> Writable | Why:
    """The directories to create and chown: volumes first (as declared), then the facts."""
    if facts.socket is not None:
        return Why(f"the app opens the container engine's socket ({facts.socket}), which on the host belongs to "
                   "root and the docker group: a non-root user cannot reach it unless you grant that group yourself")
    dirs = list(volumes)
    cited: list[str] = []
    for directory, write in facts.directories().items():
        if directory == "/root" or directory.startswith("/root/"):
            return Why(f"the app writes {write.path} ({write.cite()}), under root's home /root, which a non-root "
                       "user cannot enter: move it out of /root first")
        if directory in _SYSTEM:
            return Why(f"the app writes {write.path} ({write.cite()}), directly in {directory}; giving "
                       f"{directory} to a non-root user would hand it the system: write elsewhere first")
        if directory not in dirs:
            dirs.append(directory)
        if write.source != "repo" or "VOLUME" not in write.where:
            cited.append(f"{directory} ({write.cite()})")
    files = tuple(w.path for w in facts.writes if not w.is_dir and w.path in facts.existing)
    gap = facts.unknown[0] if facts.unknown else None
    if gap is not None and any(w.source == "observed" for w in facts.writes):
        return Writable(tuple(dirs), files, tuple(cited), None, facts.app_dir, covered=gap)
    return Writable(tuple(dirs), files, tuple(cited), gap, facts.app_dir)


def describe(writable: Writable) -> str:
    """The reason's tail: which paths the user can write and where each fact came from."""
    parts: list[str] = []
    gap = writable.widen
    if gap is not None and writable.app_dir:
        parts.append(f"{writable.app_dir} and what is copied into it are owned by it (COPY --chown) because the app "
                     f"writes a path hardener cannot resolve ({gap.cite()})")
    elif gap is not None:
        parts.append(f"the app writes a path hardener cannot resolve ({gap.cite()}); that write may fail")
    if writable.covered is not None:
        parts.append(f"the app writes a path hardener cannot resolve ({writable.covered.cite()}); a recorded run "
                     "(hardener verify --learn) saw where, so only the observed directories are given to it")
    others = [d for d in writable.dirs if gap is None or d != writable.app_dir]
    # each directory once, with its source where a fact gave it ("/app/logs (source: repo logs/.gitkeep)")
    cites = {c.split(" (", 1)[0]: c for c in writable.cited[:MAX_CITED]}
    shown = [cites.pop(d, d) for d in others]
    more = len(writable.cited) - MAX_CITED
    if shown:
        parts.append(f"{'only ' if gap is None else 'also '}{', '.join(shown)} are writable by it")
    if cites or more > 0:
        parts.append("; ".join(cites.values()) + (f"; and {more} more" if more > 0 else ""))
    return "; ".join(p for p in parts if p)
