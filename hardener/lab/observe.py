"""What a running container did, reduced to facts: paths written, ports listened on, uids.

Pure functions over what ``hardener.lab.learn`` reads on the host: two snapshots of the
container's root file system (before and after the run) and the ``/proc`` files of the
container's processes. No engine is needed to test them.

The write facts come from comparing the mounted root file system before and after the run
(a walk of about 10,000 entries takes a fraction of a second), not from the storage
driver's upper layer: the same code works with overlay and vfs storage, and buildah, the
lab's engine, has no ``diff`` command. Scratch and runtime-managed paths are never facts:
``/tmp``, ``/var/tmp``, ``/proc``, ``/sys``, ``/dev``, ``/run``, ``/var/run``, the files the
runtime provides (``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``, ``/etc/mtab``),
and caches (``__pycache__``, ``*.pyc``, ``.cache``, ``.npm``, ``.pytest_cache``, ``/var/cache``).
"""
from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass

Signature = tuple[int, int, int, int, int, int, str]  # type bits, mode, uid, gid, size, mtime_ns, link target
Snapshot = dict[str, Signature]  # "/app/data/x.db" -> signature

IGNORED_TOPS = ("/tmp", "/var/tmp", "/proc", "/sys", "/dev", "/run", "/var/run", "/var/cache")
IGNORED_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/mtab", "/.containerenv"})
IGNORED_PARTS = frozenset({"__pycache__", ".cache", ".npm", ".pytest_cache"})
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp{,6}


@dataclass(frozen=True, order=True)
class PathFact:
    path: str  # absolute
    is_dir: bool


def snapshot(root: str) -> Snapshot:
    """Every path under ``root`` (the container's mounted file system) with its signature."""
    found: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = "/" + os.path.relpath(dirpath, root).removeprefix(".").lstrip("/")
        if rel == "/":
            dirnames[:] = [d for d in dirnames if "/" + d not in ("/proc", "/sys", "/dev")]
        for name in (*dirnames, *filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            kind = stat.S_IFMT(st.st_mode)
            size = 0 if kind == stat.S_IFDIR else st.st_size  # a directory's size says nothing portable
            found[posixpath.join(rel, name)] = (kind, st.st_mode, st.st_uid, st.st_gid, size, st.st_mtime_ns, link)
    return found


def ignored(path: str) -> bool:
    if path in IGNORED_FILES or path.endswith(".pyc"):
        return True
    if any(path == top or path.startswith(top + "/") for top in IGNORED_TOPS):
        return True
    return any(part in IGNORED_PARTS for part in path.split("/"))


def _is_dir(sig: Signature) -> bool:
    return stat.S_ISDIR(sig[0])


def written(before: Snapshot, after: Snapshot) -> list[PathFact]:
    """The paths the run wrote, reduced: a new directory stands for everything below it, a
    deleted entry for its directory, a changed directory only when no child explains it."""
    added = [p for p in after if p not in before]
    removed = [p for p in before if p not in after]
    changed = [p for p in after if p in before and after[p] != before[p]]
    facts: set[PathFact] = set()
    touched_parents = {posixpath.dirname(p) for p in (*added, *removed)}
    for path in added:
        if posixpath.dirname(path) in before:  # below a new directory: that directory is the fact
            facts.add(PathFact(path, _is_dir(after[path])))
    for path in removed:
        parent = posixpath.dirname(path)
        if parent in after and parent in before:
            facts.add(PathFact(parent, True))
    for path in changed:
        if not _is_dir(after[path]):
            facts.add(PathFact(path, False))
        elif path not in touched_parents:
            facts.add(PathFact(path, True))  # written and cleaned up again (a lock or temp file)
    return sorted(f for f in facts if not ignored(f.path))


def listen_ports(tables: dict[str, str], inodes: set[str]) -> list[str]:
    """``["8000/tcp"]``: the LISTEN sockets among ``inodes`` in /proc/PID/net/tcp and tcp6 text."""
    ports: set[int] = set()
    for text in tables.values():
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return [f"{port}/tcp" for port in sorted(ports)]


def socket_inodes(fd_targets: list[str]) -> set[str]:
    """The inode numbers of ``socket:[123]`` links read from /proc/PID/fd."""
    return {t[len("socket:["):-1] for t in fd_targets if t.startswith("socket:[") and t.endswith("]")}


def status_uid(status_text: str) -> int | None:
    """The real uid from /proc/PID/status."""
    for line in status_text.splitlines():
        if line.startswith("Uid:"):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return None


def session_of(stat_text: str) -> int | None:
    """The session id (field 6) from /proc/PID/stat; the command name may hold spaces."""
    tail = stat_text.rsplit(")", 1)[-1].split()
    return int(tail[3]) if len(tail) > 3 and tail[3].lstrip("-").isdigit() else None
