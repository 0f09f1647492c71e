"""``hardener verify``: build the original and the hardened Dockerfile, run both, compare.

The hardened files come from the engine in apply mode on a temporary copy of the
tree, so the user's files are never touched. Per Dockerfile the verdict says: both
built?, same smoke exit status and output?, hardened uid != 0?, image size before ->
after, files present before but missing after, exposed ports and entrypoint/cmd
unchanged? Any regression makes the run exit 1; a file that cannot be verified
(the original does not build, the hardener failed) exits 2.
"""
from __future__ import annotations

import re
import shlex
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardener.lab.buildengine import BuildResult, Engine, ImageConfig, ImageFiles, RunResult
from hardener.lab.leftovers import Leftover, scan, summary

SMOKE_FILE = "hardener-lab.toml"  # per-app smoke command beside the Dockerfile
DEFAULT_TIMEOUT = 30.0
OK, REGRESSION, INFO, UNVERIFIED = "ok", "regression", "info", "unverified"
EXIT_OK, EXIT_REGRESSION, EXIT_UNVERIFIED = 0, 1, 2


@dataclass(frozen=True)
class Smoke:
    argv: list[str] | None  # None: each image's own ENTRYPOINT + CMD
    shown: str
    expect: str | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class Side:
    """One image: the original or the hardened one."""

    build: BuildResult | None = None
    failing_step: str | None = None
    log_tail: str = ""
    config: ImageConfig | None = None
    run: RunResult | None = None
    uid: int | None = None
    files: ImageFiles | None = None
    leftovers: list[Leftover] | None = None  # test/doc/VCS/secret/dev paths in any layer


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok / regression / info / unverified
    detail: str


@dataclass
class Verdict:
    path: str
    transforms: tuple[str, ...]
    smoke: Smoke
    original: Side = field(default_factory=Side)
    hardened: Side = field(default_factory=Side)
    sets_non_root_user: bool = False
    problem: str | None = None  # could not verify at all
    checks: list[Check] = field(default_factory=list)

    @property
    def regression(self) -> bool:
        return any(c.status == REGRESSION for c in self.checks)

    @property
    def unverified(self) -> bool:
        return self.problem is not None or any(c.status == UNVERIFIED for c in self.checks)


# -- failing build step ---------------------------------------------------------------
_BUILDAH_STEP = re.compile(r'building at STEP "(?P<step>.+?)": (?P<why>.*)')
_BUILDKIT_STEP = re.compile(r"^\s*>\s*\[[^\]]*\]\s*(?P<step>.+?):\s*$", re.MULTILINE)
_BUILDKIT_WHY = re.compile(r"ERROR: (?:failed to solve: )?(?P<why>.+)")
_PLAIN_STEP = re.compile(r"^STEP \d+(?:/\d+)?: (?P<step>.+)$", re.MULTILINE)


def failing_step(log: str) -> tuple[str, str] | None:
    """(step, why) of the build step that failed, from buildah's, podman's or BuildKit's log."""
    match = None
    for match in _BUILDAH_STEP.finditer(log):  # noqa: B007 - the last match is the failing step
        pass
    if match is not None:
        return match["step"], match["why"].strip()
    steps = _BUILDKIT_STEP.findall(log)
    if steps:
        why = _BUILDKIT_WHY.search(log)
        return steps[-1], why["why"].strip() if why else ""
    plain = _PLAIN_STEP.findall(log)
    return (plain[-1], "") if plain else None


def step_line(dockerfile_text: str, step: str) -> int | None:
    """The line of the Dockerfile where the quoted step starts (first match)."""
    words = step.split()[:4]
    for number, line in enumerate(dockerfile_text.splitlines(), 1):
        if words and line.split()[: len(words)] == words:
            return number
    return None


# -- comparisons ----------------------------------------------------------------------
_SHELL_META = re.compile(r"[|&;<>()$`\\\"'*?\[\]#~=%{}\n]")


def effective(argv: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Shell form ``/bin/sh -c "a b"`` equals exec form ``a b`` when no shell syntax is used."""
    if argv and len(argv) == 3 and argv[0] in ("/bin/sh", "sh") and argv[1] == "-c":
        if not _SHELL_META.search(argv[2]):
            return tuple(shlex.split(argv[2]))
    return argv


def resolve_uid(user: str, files: ImageFiles | None) -> int | None:
    """The uid a container of the image starts with (None: the name is not in /etc/passwd)."""
    name = user.split(":", 1)[0].strip()
    if not name:
        return 0
    if name.isdigit():
        return int(name)
    for line in (files.passwd if files else "").splitlines():
        parts = line.split(":")
        if len(parts) > 2 and parts[0] == name and parts[2].isdigit():
            return int(parts[2])
    return None


def final_user(dockerfile_text: str) -> str | None:
    """The last USER of the final stage (None: the image runs as its base's user)."""
    from hardener.dockerfile.doc import DockerfileDoc

    doc = DockerfileDoc.load(dockerfile_text.encode(), "Dockerfile")
    stage = doc.final_stage()
    users = [i for i in (stage.instructions if stage else []) if i.keyword == "USER"]
    return users[-1].args.strip() if users else None


def is_non_root(user: str | None) -> bool:
    if not user:
        return False
    name = user.split(":", 1)[0].strip()
    return name not in ("root", "0") and not name.startswith("$")


def human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def judge(v: Verdict) -> list[Check]:
    """Every check of one Dockerfile, from what was built and run."""
    o, h = v.original, v.hardened
    if v.problem:
        return [Check("verify", UNVERIFIED, v.problem)]
    if not (o.build and o.build.ok):
        return [Check("build", UNVERIFIED, f"the original does not build ({_step(o)}); nothing to compare")]
    if not (h.build and h.build.ok):
        return [Check("build", REGRESSION, f"the hardened Dockerfile does not build: {_step(h)}")]
    checks = [Check("build", OK, f"both built (original {o.build.seconds:.1f}s, hardened {h.build.seconds:.1f}s)")]
    checks.append(_smoke_check(v))
    checks.append(_user_check(v))
    oc, hc = o.config or ImageConfig(), h.config or ImageConfig()
    before, after = image_size(o), image_size(h)
    delta = (after or 0) - (before or 0)
    checks.append(Check("size", INFO, f"{human(before)} -> {human(after)} ({'+' if delta >= 0 else '-'}{human(abs(delta))})"))
    checks.append(_files_check(o.files, h.files))
    checks.append(_leftovers_check(o.leftovers, h.leftovers))
    if oc.ports == hc.ports:
        checks.append(Check("ports", OK, f"unchanged: {', '.join(oc.ports) or 'none exposed'}"))
    else:
        checks.append(Check("ports", REGRESSION, f"{list(oc.ports)} -> {list(hc.ports)}"))
    checks.append(_command_check("entrypoint", oc.entrypoint, hc.entrypoint))
    checks.append(_command_check("cmd", oc.cmd, hc.cmd))
    return checks


def image_size(side: Side) -> int | None:
    """The engine's size when it reports one, else the unpacked size from the file walk."""
    if side.config is not None and side.config.size:
        return side.config.size
    return side.files.size if side.files is not None else None


def _step(side: Side) -> str:
    return side.failing_step or "no step quoted; see the log"


def _smoke_check(v: Verdict) -> Check:
    o, h = v.original.run, v.hardened.run
    if o is None or h is None:
        return Check("smoke", INFO, "no command to run (no ENTRYPOINT/CMD and no smoke command)")
    what = f"`{v.smoke.shown}`"
    if o.timed_out and h.timed_out:
        return Check("smoke", OK, f"{what}: both still running after {v.smoke.timeout:.0f}s")
    if v.smoke.expect is not None and v.smoke.expect not in o.output:
        return Check("smoke", UNVERIFIED, f"{what}: the original's output lacks the expected {v.smoke.expect!r}")
    if (o.returncode, o.timed_out) != (h.returncode, h.timed_out):
        return Check("smoke", REGRESSION, f"{what}: exit {_status(o)} before, {_status(h)} after; "
                                          f"hardened output: {_tail(h.output)}")
    if o.output != h.output:
        return Check("smoke", REGRESSION, f"{what}: exit {_status(o)} both, but the output differs:\n"
                                          f"{_first_difference(o.output, h.output)}")
    return Check("smoke", OK, f"{what}: exit {_status(o)} both, same output ({len(o.output.splitlines())} lines)")


def _status(run: RunResult) -> str:
    return "timeout" if run.timed_out else str(run.returncode)


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(none)"


def _first_difference(a: str, b: str) -> str:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return f"line {number}: before {x!r}, after {y!r}"
    return f"before {len(a.splitlines())} lines, after {len(b.splitlines())} lines"


def _user_check(v: Verdict) -> Check:
    before, after = v.original.uid, v.hardened.uid
    user = (v.hardened.config.user if v.hardened.config else "") or "(none)"
    if after is None:
        return Check("user", REGRESSION, f"USER {user} is not in the hardened image's /etc/passwd")
    if after != 0:
        return Check("user", OK, f"uid {after} (USER {user}); before: uid {before}")
    if v.sets_non_root_user:
        return Check("user", REGRESSION, f"the hardened Dockerfile sets USER {user} but the image runs as uid 0")
    if before not in (0, None):
        return Check("user", REGRESSION, f"uid {before} before, root after")
    return Check("user", INFO, "uid 0 (root) before and after: no transform set a non-root USER")


# Caches and logs whose file names carry timestamps or hashes: they differ between any two
# builds, so their absence says nothing about the hardening.
_VOLATILE = re.compile(r"(^|/)(\.npm/_logs|\.npm/_cacache|\.cache|__pycache__)(/|$)|^var/(cache|log)/")


def _files_check(before: ImageFiles | None, after: ImageFiles | None, shown: int = 15) -> Check:
    if before is None or after is None:
        return Check("files", INFO, "file lists not available")
    missing = sorted(p for p in before.paths - after.paths if not _VOLATILE.search(p))
    # A missing directory explains everything below it: list only the topmost paths.
    top = [p for p in missing if not any(p.startswith(q + "/") for q in missing if q != p)]
    if not missing:
        return Check("files", OK, f"nothing present before is missing after ({len(after.paths)} paths)")
    listed = ", ".join("/" + p for p in top[:shown]) + (" …" if len(top) > shown else "")
    return Check("files", INFO, f"{len(missing)} paths present before are missing after: {listed}")


def _leftovers_check(before: list[Leftover] | None, after: list[Leftover] | None) -> Check:
    """Informational: what hardening could not keep out of the image is for a human to read."""
    if after is None:
        return Check("leftovers", INFO, "the layers could not be read")
    was = f" (before: {len(before)})" if before is not None else ""
    return Check("leftovers", OK if not after else INFO, summary(after) + was)


def _command_check(name: str, before: tuple[str, ...] | None, after: tuple[str, ...] | None) -> Check:
    if before == after:
        return Check(name, OK, f"unchanged: {list(before) if before else 'none'}")
    if effective(before) == effective(after):
        return Check(name, OK, f"same command, form changed: {list(before or [])} -> {list(after or [])}")
    return Check(name, REGRESSION, f"{list(before or [])} -> {list(after or [])}")


# -- orchestration --------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyOptions:
    engine: str = "auto"
    smoke: str | None = None  # shell command; overrides config and hardener-lab.toml
    timeout: float | None = None
    logs: Path | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unsafe: bool = False
    config_path: Path | None = None
    remove_images: bool = False  # kept by default: the next run reuses their layer cache
    offline: bool = False


Progress = Callable[[str], None]


def default_logs() -> Path:
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hardener" / "verify"
    return base / time.strftime("%Y%m%d-%H%M%S")


def verify_path(path: Path, options: VerifyOptions, progress: Progress | None = None,
                engine: Engine | None = None) -> tuple[list[Verdict], Path]:
    """Verify every Dockerfile under ``path`` that hardening changes; returns verdicts and the log folder."""
    from hardener.lab.buildengine import find_engine

    say = progress or (lambda _text: None)
    logs = options.logs or default_logs()
    logs.mkdir(parents=True, exist_ok=True)
    source = path.resolve()
    tree = source if source.is_dir() else source.parent
    with tempfile.TemporaryDirectory(prefix="hardener-verify-") as tmp:
        say(f"hardening a copy of {tree}")
        copy = Path(tmp) / tree.name
        shutil.copytree(tree, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        target = copy if source.is_dir() else copy / source.name
        pairs, verdicts = _harden_copy(tree, copy, target, options)
        if pairs and engine is None:  # no engine needed when nothing changes
            engine = find_engine(options.engine)
        for original, hardened, transforms in pairs:
            rel = original.relative_to(tree)
            smoke = smoke_for(original, options)
            verdict = Verdict(_shown(original), transforms, smoke)
            try:
                verdict.sets_non_root_user = is_non_root(final_user(hardened.read_text()))
                assert engine is not None
                _verify_one(engine, verdict, original, hardened, _slug(tree.name, rel), logs, say, options)
            except Exception as exc:  # an engine error on one file must not hide the others
                verdict.problem = f"{type(exc).__name__}: {exc}"
            verdict.checks = judge(verdict)
            verdicts.append(verdict)
    _write_json(verdicts, logs / "report.json")
    return verdicts, logs


def _harden_copy(tree: Path, copy: Path, target: Path, options: VerifyOptions
                 ) -> tuple[list[tuple[Path, Path, tuple[str, ...]]], list[Verdict]]:
    """Apply mode on the copy; (original, hardened, transform ids) per changed Dockerfile."""
    from hardener import runner
    from hardener.config import load_config
    from hardener.report import Mode

    config_path = options.config_path or load_config(tree).source
    request = runner.RunRequest((target,), Mode.APPLY, options.select, options.ignore, options.unsafe,
                                config_path=config_path, offline=options.offline)
    report = runner.run(request)
    pairs: list[tuple[Path, Path, tuple[str, ...]]] = []
    problems: list[Verdict] = []
    for result in report.results:
        if result.kind != "dockerfile":
            continue
        hardened = Path(result.path).resolve()
        original = tree / hardened.relative_to(copy)
        if result.failure or result.error:
            verdict = Verdict(_shown(original), (), Smoke(None, ""), problem=str(result.failure or result.error))
            verdict.checks = judge(verdict)
            problems.append(verdict)
        elif result.changed:
            pairs.append((original, hardened, tuple(sorted({c.transform_id for c in result.changes}))))
    return pairs, problems


def smoke_for(dockerfile: Path, options: VerifyOptions) -> Smoke:
    """--smoke, else hardener-lab.toml beside the Dockerfile, else [tool.hardener.verify], else CMD."""
    from hardener.config import load_config

    local: dict[str, Any] = {}
    beside = dockerfile.parent / SMOKE_FILE
    if beside.is_file():
        local = tomllib.loads(beside.read_text())
    if not local:
        section = load_config(dockerfile.parent, options.config_path).options.get("verify")
        local = dict(section) if isinstance(section, dict) else {}
    timeout = options.timeout or float(local.get("timeout", DEFAULT_TIMEOUT))
    command = options.smoke or local.get("smoke")
    expect = None if options.smoke else local.get("expect")
    if command:
        return Smoke(["/bin/sh", "-c", command], command, expect, timeout)
    return Smoke(None, "the image's ENTRYPOINT + CMD", None, timeout)


def _verify_one(engine: Engine, v: Verdict, original: Path, hardened: Path, slug: str, logs: Path,
                say: Progress, options: VerifyOptions) -> None:
    for label, dockerfile, side in (("original", original, v.original), ("hardened", hardened, v.hardened)):
        # A stable tag: the next run replaces it, and its layers stay as the build cache
        # (removing the image would prune the cached steps below it, too).
        tag = f"localhost/hardener-verify/{slug}:{label}"
        say(f"{v.path}: building the {label} image")
        side.build = engine.build(dockerfile, dockerfile.parent, tag, logs / f"{slug}.{label}.build.log")
        if not side.build.ok:
            _explain_failure(side, dockerfile)
            continue
        try:
            say(f"{v.path}: inspecting the {label} image")
            side.config = engine.config(tag)
            side.files = engine.files(tag)
            side.leftovers = _layers_scan(engine, tag)
            side.uid = resolve_uid(side.config.user, side.files)
            argv = v.smoke.argv or [*(side.config.entrypoint or ()), *(side.config.cmd or ())]
            if argv:
                say(f"{v.path}: running the {label} image ({v.smoke.shown})")
                side.run = engine.run(tag, argv, v.smoke.timeout)
                (logs / f"{slug}.{label}.smoke.log").write_text(side.run.output)
        finally:
            if options.remove_images:
                engine.remove(tag)
    if not options.remove_images:
        _rerun_if_different(engine, v, slug, logs, say)


def _layers_scan(engine: Engine, tag: str) -> list[Leftover] | None:
    try:
        return scan(engine.layers(tag))
    except (OSError, RuntimeError, ValueError, KeyError):  # an engine without save/push: said in the check
        return None


def _rerun_if_different(engine: Engine, v: Verdict, slug: str, logs: Path, say: Progress) -> None:
    """Run both images once more when their smoke runs differ, so a flaky command (load,
    timing) is not reported as a regression; the second pair of runs is the one judged."""
    o, h = v.original.run, v.hardened.run
    if o is None or h is None or (o.returncode, o.timed_out, o.output) == (h.returncode, h.timed_out, h.output):
        return
    for label, side in (("original", v.original), ("hardened", v.hardened)):
        argv = v.smoke.argv or [*(side.config.entrypoint or ()), *(side.config.cmd or ())] if side.config else None
        if not argv:
            return
        say(f"{v.path}: the smoke runs differ; running the {label} image again")
        side.run = engine.run(f"localhost/hardener-verify/{slug}:{label}", argv, v.smoke.timeout)
        (logs / f"{slug}.{label}.smoke.rerun.log").write_text(side.run.output)


def _explain_failure(side: Side, dockerfile: Path) -> None:
    assert side.build is not None
    text = side.build.log.read_text(errors="replace")
    side.log_tail = "\n".join(text.rstrip().splitlines()[-12:])
    found = failing_step(text)
    if found is None:
        side.failing_step = f"see {side.build.log}"
        return
    step, why = found
    line = step_line(dockerfile.read_text(errors="replace"), step)
    where = f" (line {line})" if line else ""
    side.failing_step = f"`{step}`{where}" + (f": {why}" if why else "")


def _slug(tree_name: str, rel: Path) -> str:
    raw = f"{tree_name}-{rel.as_posix()}".lower()
    return re.sub(r"[^a-z0-9_.-]+", "-", raw).strip("-.")[:100] or "dockerfile"


def _shown(path: Path) -> str:
    from hardener.runner import display_path

    return display_path(path)


def exit_code(verdicts: list[Verdict]) -> int:
    if any(v.regression for v in verdicts):
        return EXIT_REGRESSION
    if any(v.unverified for v in verdicts):
        return EXIT_UNVERIFIED
    return EXIT_OK


def to_dict(v: Verdict) -> dict[str, Any]:
    def side(s: Side) -> dict[str, Any]:
        c = s.config
        return {
            "built": bool(s.build and s.build.ok), "build_log": str(s.build.log) if s.build else None,
            "failing_step": s.failing_step, "uid": s.uid, "size": image_size(s),
            "user": c.user if c else None, "entrypoint": list(c.entrypoint or []) if c else None,
            "cmd": list(c.cmd or []) if c else None, "ports": list(c.ports) if c else None,
            "smoke_exit": s.run.returncode if s.run else None,
            "smoke_timed_out": s.run.timed_out if s.run else None,
            "leftovers": [{"layer": f.layer + 1, "path": "/" + f.path, "kind": f.kind} for f in s.leftovers]
            if s.leftovers is not None else None,
        }

    return {
        "path": v.path, "transforms": list(v.transforms), "smoke": v.smoke.shown,
        "regression": v.regression, "unverified": v.unverified, "problem": v.problem,
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in v.checks],
        "original": side(v.original), "hardened": side(v.hardened),
    }


def _write_json(verdicts: list[Verdict], target: Path) -> None:
    import json

    target.write_text(json.dumps([to_dict(v) for v in verdicts], indent=2) + "\n")
