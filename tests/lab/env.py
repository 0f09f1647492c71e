"""Where the lab lives and the container-tool configuration pointing at it.

buildah/podman/skopeo read our own storage.conf, registries.conf and containers.conf
through environment variables, so nothing under /etc changes.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOOLS = ("buildah", "mmdebstrap", "docker-registry", "npm")


def lab_dir() -> Path:
    base = os.environ.get("HARDENER_LAB_DIR") or Path.home() / ".cache" / "hardener-lab"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def missing_prerequisite() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the build lab needs root (buildah chroot isolation, mmdebstrap --mode=root)"
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        return f"the build lab needs {', '.join(absent)} (.ci/run installs them with apt-get)"
    return unreachable()


# The app builds install from these inside RUN (and mmdebstrap/npm pack on a cold cache).
PACKAGE_HOSTS = (("deb.debian.org", 80), ("pypi.org", 443), ("files.pythonhosted.org", 443),
                 ("registry.npmjs.org", 443))


def unreachable() -> str | None:
    import socket

    for host, port in PACKAGE_HOSTS:
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as exc:
            return f"no package registry reachable for the lab builds: {host}:{port}: {exc}"
    return None


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Several test runs share the cache: one of them builds, the others wait."""
    with open(lab_dir() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def storage_driver(lab: Path) -> str:
    """overlay when a real overlay mount works here (3-20x faster than vfs), else vfs.

    ``STORAGE_DRIVER`` = overlay/vfs forces one; the probe's answer is remembered
    because containers-storage refuses a graph root made by another driver.
    """
    forced = os.environ.get("STORAGE_DRIVER", "auto")
    if forced in ("overlay", "vfs"):
        return forced
    memo = lab / "conf" / "driver"
    if memo.is_file():
        return memo.read_text().strip()
    probe = lab / "probe"
    shutil.rmtree(probe, ignore_errors=True)
    dirs = {d: probe / d for d in ("lower", "upper", "work", "merged")}
    for d in dirs.values():
        d.mkdir(parents=True)
    opts = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}"
    ok = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(dirs["merged"])],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(dirs["merged"])], capture_output=True)
    shutil.rmtree(probe, ignore_errors=True)
    driver = "overlay" if ok else "vfs"
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(driver + "\n")
    return driver


def write_configs(lab: Path, registry_port: int | None) -> dict[str, str]:
    """The environment variables that point buildah/podman/skopeo at the lab."""
    conf = lab / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    driver = storage_driver(lab)
    storage = conf / "storage.conf"
    storage.write_text(
        "[storage]\n"
        f'driver = "{driver}"\n'
        f'graphroot = "{lab / ("storage-" + driver)}"\n'
        f'runroot = "{lab / ("run-" + driver)}"\n'
    )
    registries = conf / "registries.conf"
    text = 'unqualified-search-registries = ["docker.io"]\n'
    if registry_port is not None:
        where = f"127.0.0.1:{registry_port}"
        text += (
            '\n[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n'
            f'\n[[registry.mirror]]\nlocation = "{where}"\ninsecure = true\n'
            f'\n[[registry]]\nlocation = "{where}"\ninsecure = true\n'
        )
    registries.write_text(text)
    containers = conf / "containers.conf"
    # podman here: crun cannot do hybrid cgroups, root lacks CAP_SYS_RESOURCE for the
    # default rlimits, and the default bridge network rewrites iptables (NOTES.md 6.4).
    import resource

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    limits = [f'"nofile={nofile}:{nofile}"']
    # buildah and podman lower NPROC to 32768 themselves; asking for more than that fails.
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    limits.append(f'"nproc={nproc}:{nproc}"')
    containers.write_text(
        f'[containers]\nnetns = "none"\ndefault_ulimits = [{", ".join(limits)}]\n'
        '\n[engine]\nruntime = "runc"\n'
    )
    return {
        "CONTAINERS_STORAGE_CONF": str(storage),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "CONTAINERS_CONF": str(conf / "containers.conf"),
        "BUILDAH_ISOLATION": "chroot",
    }
