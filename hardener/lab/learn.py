"""``hardener verify --learn``: run the original image and record what the app really did.

Per Dockerfile: build the original image with buildah, make a working container and mount
its root file system, start the image's ENTRYPOINT + CMD in it and, while it still runs (a
server), the smoke command (found as ``verify`` finds it) beside it, then stop everything. A
default command that ends by itself is no server: the smoke command then runs alone in a
fresh container, as ``verify`` runs it, and the writes of both runs count. While they run, the host's /proc
tells which processes belong to the container (the sessions we started, chrooted into it),
their uids, and which TCP sockets they listen on. The root file system is walked before and
after (``observe.written``). The facts go into ``hardener.facts.toml`` beside the Dockerfile
(``knowledge.facts_toml``); the Dockerfile itself is never changed.

Only buildah as root is supported: its chroot isolation leaves the container's processes
visible in the host's /proc and its mount is an ordinary directory. A failed smoke command
records nothing: a broken run is no evidence.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hardener.knowledge.facts_toml import Recording, merge
from hardener.knowledge.writes_facts import FACTS_FILE
from hardener.lab import observe
from hardener.lab.buildengine import Buildah, EngineMissing, RunResult
from hardener.lab.verify import Progress, Smoke, VerifyOptions, smoke_for

SETTLE = 5.0  # seconds a server may take to start listening before the smoke command runs
POLL = 0.2


@dataclass(frozen=True)
class Learned:
    path: str  # the Dockerfile, as shown
    facts_file: Path | None = None
    recording: Recording | None = None
    changed: bool = False  # the facts file was written (else it already said the same)
    problem: str | None = None
    smoke_output: str = ""


@dataclass
class _Seen:
    uids: set[int]
    inodes: set[str]
    tables: dict[str, str]


def learn_engine(preferred: str, env: dict[str, str] | None = None) -> Buildah:
    if preferred not in ("auto", "buildah"):
        raise EngineMissing(f"verify --learn runs the image with buildah, not {preferred}")
    if shutil.which("buildah", path=(env or os.environ).get("PATH")) is None:
        raise EngineMissing("verify --learn needs buildah (Debian: apt-get install buildah) and root")
    if os.geteuid() != 0:
        raise EngineMissing("verify --learn needs root: it mounts the container's file system to compare it")
    return Buildah(env)


def dockerfiles(path: Path) -> list[Path]:
    from hardener.discover import discover

    found, _errors = discover([path])
    return [f.path.resolve() for f in found if f.kind == "dockerfile"]


def learn_path(path: Path, options: VerifyOptions, progress: Progress | None = None,
               engine: Buildah | None = None) -> list[Learned]:
    say = progress or (lambda _text: None)
    files = dockerfiles(path)
    if files and engine is None:
        engine = learn_engine(options.engine)
    results = []
    for dockerfile in files:
        assert engine is not None
        try:
            results.append(learn_one(engine, dockerfile, options, say))
        except Exception as exc:  # one broken Dockerfile must not hide the others
            results.append(Learned(_shown(dockerfile), problem=f"{type(exc).__name__}: {exc}"))
    return results


def learn_one(engine: Buildah, dockerfile: Path, options: VerifyOptions, say: Progress) -> Learned:
    from hardener.lab.verify import _slug, default_logs

    shown = _shown(dockerfile)
    logs = options.logs or default_logs()
    slug = _slug(dockerfile.parent.name, Path(dockerfile.name))
    tag = f"localhost/hardener-learn/{slug}:original"
    say(f"{shown}: building the original image")
    build = engine.build(dockerfile, dockerfile.parent, tag, logs / f"{slug}.learn.build.log")
    if not build.ok:
        return Learned(shown, problem=f"the original does not build; see {build.log}")
    config = engine.config(tag)
    smoke = smoke_for(dockerfile, options)
    server = [*(config.entrypoint or ()), *(config.cmd or ())]
    if smoke.argv is None and not server:
        return Learned(shown, problem="no smoke command and no ENTRYPOINT/CMD: nothing to run")
    say(f"{shown}: running the original image ({smoke.shown})")
    seen, written, run = _observe(engine, tag, server, smoke)
    if run.returncode != 0 and not (smoke.argv is None and run.timed_out):
        return Learned(shown, problem=f"the smoke command failed (exit {run.returncode}, timed out: {run.timed_out}); "
                                      "nothing recorded", smoke_output=run.output)
    if smoke.expect is not None and smoke.expect not in run.output:
        return Learned(shown, problem=f"the smoke output lacks the expected {smoke.expect!r}; nothing recorded",
                       smoke_output=run.output)
    recording = Recording(dockerfile.name, hashlib.sha256(dockerfile.read_bytes()).hexdigest(), _image_id(engine, tag),
                          time.strftime("%Y-%m-%d", time.gmtime()), tuple(sorted(seen.uids)),
                          tuple(observe.listen_ports(seen.tables, seen.inodes)),
                          tuple((f.path, f.is_dir) for f in written))
    target = dockerfile.parent / FACTS_FILE
    old = target.read_text() if target.is_file() else None
    text = merge(old, recording)
    if text != old:
        target.write_text(text)
    return Learned(shown, target, recording, text != old, smoke_output=run.output)


def _image_id(engine: Buildah, tag: str) -> str:
    import json

    data = json.loads(engine._cli("inspect", "--type", "image", tag).stdout)
    return "sha256:" + str(data.get("FromImageID", ""))


def _observe(engine: Buildah, tag: str, server: list[str], smoke: Smoke
             ) -> tuple[_Seen, list[observe.PathFact], RunResult]:
    """Run the image; its writes, what its processes were seen doing, and the smoke run."""
    seen = _Seen(set(), set(), {})
    if smoke.argv is None:  # the default command is the run
        with _mounted(engine, tag) as (container, root):
            before = observe.snapshot(root)
            run = _follow(_run(engine, container, server), [], seen, smoke)
            return seen, observe.written(before, observe.snapshot(root)), run
    first: list[observe.PathFact] = []
    if server:
        with _mounted(engine, tag) as (container, root):
            before = observe.snapshot(root)
            started = _run(engine, container, server)
            _settle(started, seen)
            if started.poll() is None:  # a server: the smoke command runs beside it
                run = _follow(_run(engine, container, smoke.argv), [started], seen, smoke)
                _stop(started)
                return seen, observe.written(before, observe.snapshot(root)), run
            first = observe.written(before, observe.snapshot(root))
    # no server (the default command ran and ended): the smoke command runs alone in a
    # fresh container, as verify runs it, and both runs' writes count
    with _mounted(engine, tag) as (container, root):
        before = observe.snapshot(root)
        run = _follow(_run(engine, container, smoke.argv), [], seen, smoke)
        return seen, sorted(set(first) | set(observe.written(before, observe.snapshot(root)))), run


@contextmanager
def _mounted(engine: Buildah, tag: str) -> Iterator[tuple[str, str]]:
    """A working container of ``tag`` and the host path of its root file system."""
    container = f"hardener-learn-{uuid.uuid4().hex[:12]}"
    engine._cli("from", "--pull=never", "--name", container, tag)
    try:
        root = engine._cli("mount", container).stdout.strip()
        # the runtime creates its mount points (/etc/hosts, /run/.containerenv …) on the first run
        _run(engine, container, ["true"]).wait()
        yield container, root
    finally:
        engine._cli("umount", container, check=False)
        engine._cli("rm", container, check=False)


def _run(engine: Buildah, container: str, argv: list[str]) -> subprocess.Popen[bytes]:
    import tempfile

    out = tempfile.TemporaryFile()
    cmd = ["buildah", "run", *engine._isolation(), container, "--", *argv]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=engine.env, start_new_session=True)
    proc.output_file = out  # type: ignore[attr-defined]  # read back when it ends
    return proc


def _settle(server: subprocess.Popen[bytes], seen: _Seen) -> None:
    """Wait until the server listens (or ends, or SETTLE passes)."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline and server.poll() is None:
        _sample([server], seen)
        if seen.inodes and observe.listen_ports(seen.tables, seen.inodes):
            return
        time.sleep(POLL)


def _follow(main: subprocess.Popen[bytes], others: list[subprocess.Popen[bytes]], seen: _Seen,
            smoke: Smoke) -> RunResult:
    """Wait for ``main`` (sampling it and ``others``) until it ends or times out; it is stopped then."""
    procs = [main, *others]
    deadline = time.monotonic() + (smoke.timeout if smoke.argv is not None else min(SETTLE, smoke.timeout))
    timed_out = False
    while main.poll() is None:
        _sample(procs, seen)
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(POLL)
    _sample(procs, seen)
    _stop(main)
    out = main.output_file  # type: ignore[attr-defined]
    out.seek(0)
    return RunResult(None if timed_out else main.returncode, out.read().decode(errors="replace"), timed_out)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue


def _sample(procs: list[subprocess.Popen[bytes]], seen: _Seen) -> None:
    """uids, socket inodes and TCP tables of the container's processes right now."""
    sessions = {p.pid for p in procs}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        base = f"/proc/{entry.name}"
        try:
            if observe.session_of(Path(base, "stat").read_text()) not in sessions or os.readlink(base + "/root") == "/":
                continue  # the engine's own process, not the app's
            uid = observe.status_uid(Path(base, "status").read_text())
            links = [os.readlink(f"{base}/fd/{fd}") for fd in os.listdir(base + "/fd")]
            for table in ("tcp", "tcp6"):
                seen.tables[f"{entry.name}/{table}"] = Path(base, "net", table).read_text()
        except OSError:
            continue  # it ended meanwhile
        if uid is not None:
            seen.uids.add(uid)
        seen.inodes |= observe.socket_inodes(links)


def _shown(path: Path) -> str:
    from hardener.runner import display_path

    return display_path(path)
