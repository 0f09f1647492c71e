"""The container engine on this machine: build, run with a timeout, inspect, list files.

docker (with a reachable daemon; BuildKit is its default builder), else podman, else
buildah. Every call is a subprocess of the engine's own CLI, so hardener needs no
client library, and the environment (CONTAINERS_* for buildah/podman) is passed through.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# Pseudo file systems and scratch space: never part of what "the image holds".
SKIP_TOP = frozenset({"proc", "sys", "dev", "run", "tmp"})


class EngineMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    log: Path
    seconds: float
    returncode: int


@dataclass(frozen=True)
class RunResult:
    returncode: int | None  # None: still running when the timeout struck
    output: str
    timed_out: bool = False


@dataclass(frozen=True)
class ImageConfig:
    user: str = ""
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    ports: tuple[str, ...] = ()
    workdir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    size: int | None = None

    @classmethod
    def from_config(cls, cfg: dict[str, Any], size: int | None) -> ImageConfig:
        def seq(value: Any) -> tuple[str, ...] | None:
            return tuple(value) if value else None

        return cls(
            user=cfg.get("User") or "",
            entrypoint=seq(cfg.get("Entrypoint")),
            cmd=seq(cfg.get("Cmd")),
            ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
            workdir=cfg.get("WorkingDir") or "",
            labels=dict(cfg.get("Labels") or {}),
            size=size,
        )


@dataclass(frozen=True)
class ImageFiles:
    paths: frozenset[str]  # "usr/bin/python3", no leading slash
    passwd: str = ""
    group: str = ""
    size: int = 0  # bytes of regular files (hard links once): the unpacked image


class Engine:
    name = "engine"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)

    # -- subprocess helpers ---------------------------------------------------
    def _cli(self, *args: str, check: bool = True, timeout: float | None = 300) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.name, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{self.name} {args[0]} failed: {proc.stderr.strip()[-800:]}")
        return proc

    def _stream(self, cmd: list[str], log: IO[str], timeout: float | None) -> tuple[int | None, bool]:
        """Run with output to ``log``; kill the whole process group on timeout."""
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=self.env, start_new_session=True)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, True

    # -- the interface ----------------------------------------------------------
    def build_cmd(self, dockerfile: Path, context: Path, tag: str) -> list[str]:
        raise NotImplementedError

    def build(self, dockerfile: Path, context: Path, tag: str, log_path: Path,
              timeout: float | None = 1800) -> BuildResult:
        import time

        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            log.write("$ " + " ".join(self.build_cmd(dockerfile, context, tag)) + "\n")
            log.flush()
            code, timed_out = self._stream(self.build_cmd(dockerfile, context, tag), log, timeout)
            if timed_out:
                log.write(f"\nhardener: build stopped after {timeout:.0f}s\n")
        return BuildResult(code == 0, log_path, time.monotonic() - started, -1 if code is None else code)

    def run(self, image: str, argv: list[str], timeout: float) -> RunResult:
        raise NotImplementedError

    def config(self, image: str) -> ImageConfig:
        raise NotImplementedError

    def files(self, image: str) -> ImageFiles:
        raise NotImplementedError

    def layers(self, image: str) -> list[frozenset[str]]:
        """The paths each layer of ``image`` adds or changes, in order (from a docker-archive)."""
        with tempfile.TemporaryDirectory(prefix="hardener-layers-") as tmp:
            archive = Path(tmp) / "image.tar"
            self._cli(*self._save_args(image, archive)[1:])
            return layers_of_archive(archive)

    def _save_args(self, image: str, archive: Path) -> list[str]:
        return [self.name, "save", "-o", str(archive), image]

    def remove(self, image: str) -> None:
        self._cli("rmi", image, check=False)

    def _run_to_file(self, cmd: list[str], timeout: float) -> RunResult:
        import tempfile

        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
            code, timed_out = self._stream(cmd, out, timeout)
            out.seek(0)
            return RunResult(code, out.read(), timed_out)


class Buildah(Engine):
    name = "buildah"

    def _isolation(self) -> list[str]:
        # chroot works as root without runc/crun and user namespaces (NOTES.md 6.3).
        if self.env.get("BUILDAH_ISOLATION") or os.geteuid() != 0:
            return []
        return ["--isolation", "chroot"]

    def _save_args(self, image: str, archive: Path) -> list[str]:
        # uncompressed: the layer tars are read as they are
        return ["buildah", "push", "--disable-compression", image, f"docker-archive:{archive}"]

    def build_cmd(self, dockerfile: Path, context: Path, tag: str) -> list[str]:
        return ["buildah", "bud", *self._isolation(), "--layers", "--force-rm", "-f", str(dockerfile), "-t", tag, str(context)]

    def _container(self, image: str) -> str:
        name = f"hardener-verify-{uuid.uuid4().hex[:12]}"
        self._cli("from", "--pull=never", "--name", name, image)
        return name

    def run(self, image: str, argv: list[str], timeout: float) -> RunResult:
        container = self._container(image)
        try:
            return self._run_to_file(["buildah", "run", *self._isolation(), container, "--", *argv], timeout)
        finally:
            self._cli("rm", container, check=False)

    def config(self, image: str) -> ImageConfig:
        # buildah 1.28 prints sizes only rounded ("298 MB"); verify takes the exact
        # unpacked size from the file walk instead (ImageFiles.size).
        data = json.loads(self._cli("inspect", "--type", "image", image).stdout)
        return ImageConfig.from_config(data.get("OCIv1", {}).get("config", {}) or {}, None)

    def files(self, image: str) -> ImageFiles:
        container = self._container(image)
        try:
            if os.geteuid() == 0:
                root = Path(self._cli("mount", container).stdout.strip())
                try:
                    return walk_tree(root)
                finally:
                    self._cli("umount", container, check=False)
            return self._files_unshared(container)
        finally:
            self._cli("rm", container, check=False)

    def _files_unshared(self, container: str) -> ImageFiles:
        """Rootless: the mount only exists inside ``buildah unshare``; stream a tar out of it."""
        script = 'cd "$(buildah mount "$1")" && tar -cf - --no-recursion -T <(find . -xdev) 2>/dev/null'
        proc = subprocess.Popen(["buildah", "unshare", "bash", "-c", script, "bash", container],
                                stdout=subprocess.PIPE, env=self.env)
        assert proc.stdout is not None
        result = list_tar(proc.stdout)
        proc.wait()
        return result


class _DockerLike(Engine):
    """docker and podman share the CLI shape for everything verify needs."""

    def build_cmd(self, dockerfile: Path, context: Path, tag: str) -> list[str]:
        return [self.name, "build", "-f", str(dockerfile), "-t", tag, str(context)]

    def run(self, image: str, argv: list[str], timeout: float) -> RunResult:
        name = f"hardener-verify-{uuid.uuid4().hex[:12]}"
        cmd = [self.name, "run", "--name", name, "--network=none", "--entrypoint", argv[0], image, *argv[1:]]
        try:
            return self._run_to_file(cmd, timeout)
        finally:
            self._cli("rm", "-f", name, check=False)

    def config(self, image: str) -> ImageConfig:
        data = json.loads(self._cli("image", "inspect", image).stdout)[0]
        return ImageConfig.from_config(data.get("Config") or {}, data.get("Size"))

    def files(self, image: str) -> ImageFiles:
        container = self._cli("create", image).stdout.strip().splitlines()[-1]
        try:
            proc = subprocess.Popen([self.name, "export", container], stdout=subprocess.PIPE, env=self.env)
            assert proc.stdout is not None
            result = list_tar(proc.stdout)
            proc.wait()
            return result
        finally:
            self._cli("rm", "-f", container, check=False)


class Docker(_DockerLike):
    name = "docker"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.env.setdefault("DOCKER_BUILDKIT", "1")


class Podman(_DockerLike):
    name = "podman"


ENGINES: dict[str, type[Engine]] = {"docker": Docker, "podman": Podman, "buildah": Buildah}


def find_engine(preferred: str = "auto", env: dict[str, str] | None = None) -> Engine:
    """docker with a daemon that answers, else podman, else buildah (or the one asked for)."""
    search = (env if env is not None else os.environ).get("PATH")
    if preferred != "auto":
        if shutil.which(preferred, path=search) is None:
            raise EngineMissing(f"{preferred} is not installed")
        return ENGINES[preferred](env)
    if shutil.which("docker", path=search) and _docker_answers(env):
        return Docker(env)
    for name in ("podman", "buildah"):
        if shutil.which(name, path=search):
            return ENGINES[name](env)
    raise EngineMissing("no container engine found: install docker (with BuildKit), podman or buildah")


def _docker_answers(env: dict[str, str] | None) -> bool:
    try:
        proc = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                              text=True, timeout=10, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def walk_tree(root: Path) -> ImageFiles:
    paths: set[str] = set()
    seen: set[tuple[int, int]] = set()
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in SKIP_TOP]
            prefix = ""
        else:
            prefix = rel + "/"
        for name in (*dirnames, *filenames):
            paths.add(prefix + name)
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen and not os.path.islink(os.path.join(dirpath, name)):
                seen.add((st.st_dev, st.st_ino))
                size += st.st_size
    return ImageFiles(frozenset(paths), _read(root / "etc/passwd"), _read(root / "etc/group"), size)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace") if path.is_file() and not path.is_symlink() else ""
    except OSError:
        return ""


def list_tar(stream: IO[bytes]) -> ImageFiles:
    paths: set[str] = set()
    extra: dict[str, str] = {}
    size = 0
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            name = member.name.removeprefix("./").strip("/")
            if name in ("", ".") or name.split("/", 1)[0] in SKIP_TOP:
                continue
            paths.add(name)
            size += member.size if member.isfile() else 0
            if name in ("etc/passwd", "etc/group") and member.isfile():
                handle = tar.extractfile(member)
                extra[name] = handle.read().decode(errors="replace") if handle else ""
    return ImageFiles(frozenset(paths), extra.get("etc/passwd", ""), extra.get("etc/group", ""), size)


def layers_of_archive(archive: Path) -> list[frozenset[str]]:
    """The paths of each layer of a docker-archive (`docker save`), in the manifest's order;
    a compressed layer is read as well (tarfile detects it)."""
    found: list[frozenset[str]] = []
    with tarfile.open(archive) as outer:
        handle = outer.extractfile("manifest.json")
        manifest = json.loads(handle.read()) if handle else []
        for name in manifest[0].get("Layers", []) if manifest else []:
            member = outer.extractfile(name)
            if member is None:
                continue
            with tarfile.open(fileobj=member, mode="r|*") as layer:
                found.append(frozenset(m.name.removeprefix("./").strip("/") for m in layer if m.name not in ("", ".", "./")))
    return found
