"""The Go plan of split-build-stage: a static binary from the golang stage into a slim runtime.

The build gets ``CGO_ENABLED=0`` (unless it sets it already), so the binary needs no libc
and the runtime image can be the small image of the same distro family the golang tag names
(hardener/data/build_packages.toml ``[go] runtime``). The runtime also gets the builder's CA
bundle: the golang images ship ca-certificates, the slim images do not, and an HTTPS client
in the binary would fail without it.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
from pathlib import Path

from hardener import repo_facts as facts
from hardener.dockerfile.doc import DockerfileDoc, Stage
from hardener.dockerfile.shell import Command
from hardener.dockerfile.shell_edit import program, subcommand
from hardener.dockerfile.workdir import join_workdir, working_dirs
from hardener.edits import Edit
from hardener.limits import read_bounded, read_text_bounded
from hardener.oci.imageref import ImageRef
from hardener.plans.split.common import Plan, Steps, data, literal_words, write_outside
from hardener.why import Why

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
_GO_SUBS = frozenset({"build", "mod", "get", "vet", "test", "generate", "version", "env", "list", "run"})
_PATH_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin")
_NOT_RUNTIME = re.compile(r"(^|/)(README|LICENSE|NOTICE|CHANGELOG|CONTRIBUTING|AUTHORS)[^/]*$|\.(md|txt|go|mod|sum)$"
                          r"|(^|/)(Dockerfile|Containerfile)[^/]*$|\.Dockerfile$|^go\.work|^Makefile$"
                          r"|^(\.git|\.github|docs|vendor|testdata|hack|scripts)(/|$)|(^|/)testdata(/|$)"
                          r"|^\.dockerignore$|^\.gitignore$|^\.golangci|^(\.hardener|hardener-lab)\.toml$")
_CGO_IMPORT = re.compile(r'^\s*import\s+"C"|^\s*"C"\s*$', re.MULTILINE)
_EMBED = re.compile(r"^//go:embed\s+(.+)$", re.MULTILINE)


def is_build(cmd: Command) -> bool:
    prog = program(cmd, ("go",))
    sub = subcommand(cmd, prog) if prog is not None else None
    return sub is not None and cmd.words[sub].value in _GO_SUBS


def plan(doc: DockerfileDoc, stage: Stage, ref: ImageRef, steps: Steps, context: Path | None) -> Plan | Why:
    runtime = _runtime_image(ref)
    if isinstance(runtime, Why):
        return runtime
    cwd = working_dirs(doc)
    go_run = _start_problem(stage, [], cwd)
    if go_run and "toolchain" in go_run:
        return Why(go_run)
    outputs: list[str] = []
    inline: list[Edit] = []
    cgo_env = _cgo_from_env(stage)
    for inst, cmd in steps.build:
        prog = program(cmd, ("go",))
        sub = subcommand(cmd, prog) if prog is not None else None
        if sub is None or cmd.words[sub].value != "build":
            continue
        out = _output(cmd, sub, cwd.get(inst.start))
        if isinstance(out, Why):
            return Why(f"the go build at line {inst.line} {out}")
        outputs.append(out)
        cgo = next((w.value.split("=", 1)[1] for w in cmd.words[: cmd.program_index()]
                    if w.value.startswith("CGO_ENABLED=")), cgo_env)
        if cgo not in (None, "0"):
            return Why(f"the go build at line {inst.line} sets CGO_ENABLED={cgo}: the binary needs the builder's C libraries")
        if cgo is None:
            inline.append(Edit(cmd.words[0].start, cmd.words[0].start, "CGO_ENABLED=0 "))
    if not outputs:
        return Why("no `go build -o <path>` in the stage: the binary to copy is unknown")
    why = (write_outside(steps, cwd, outputs) or _cgo_code(context) or _assets(context)
           or _start_problem(stage, outputs, cwd))
    if why:
        return Why(why)
    notes = ("built with CGO_ENABLED=0 (static binary)",) if inline else ()
    return Plan("go", runtime, tuple((o, o) for o in dict.fromkeys(outputs)) + ((CA_BUNDLE, CA_BUNDLE),),
                inline=tuple(inline), package_manager="apk" if "alpine" in runtime.rsplit("/", 1)[-1] else "apt",
                notes=notes)


def _runtime_image(ref: ImageRef) -> str | Why:
    if ref.digest:
        return Why("the golang image is pinned by digest; the runtime image's digest is not known offline")
    if not ref.is_official:
        return Why(f"{ref.name_as_written} is not the official golang image")
    tag = ref.tag or "latest"
    for pattern, image in data()["go"]["runtime"]:
        match = re.search(pattern, tag)
        if match:
            prefix = ref.name_as_written[: -len("golang")]
            return prefix + str(image).replace("{1}", match.group(1) if match.groups() else "")
    return Why(f"no runtime image is known for golang:{tag} (hardener/data/build_packages.toml [go] runtime)")


def _cgo_from_env(stage: Stage) -> str | None:
    for inst in stage.instructions:
        if inst.keyword in ("ENV", "ARG"):
            found = re.search(r"\bCGO_ENABLED[= ]\"?(\w+)", inst.args)
            if found:
                return found.group(1)
    return None


def _output(cmd: Command, sub: int, cwd: str | None) -> str | Why:
    words = [w.value for w in cmd.words[sub + 1 :]]
    value = next((w[3:] for w in words if w.startswith("-o=")), None)
    if value is None and "-o" in words and words.index("-o") + 1 < len(words):
        value = words[words.index("-o") + 1]
    if value is None:
        return Why("has no -o: the binary's name depends on the module")
    if value.endswith("/") or "$" in value:
        return Why(f"writes to {value!r}, not one literal file")
    path = join_workdir(cwd, value)
    return path if path else Why(f"writes to {value!r} relative to an unknown directory")


def _cgo_code(context: Path | None) -> str | None:
    if context is None:
        return "the build context is unknown: cannot check the code for cgo"
    try:
        mod = read_text_bounded(context / "go.mod")
    except OSError:
        mod = ""
    hit = next((m for m in data()["go"]["cgo_modules"] if m in mod), None)
    if hit:
        return f"go.mod requires {hit}, which needs cgo; a static (CGO_ENABLED=0) build would break it"
    files = {rel: _read(context / rel) for rel in _go_files(context)[:3000]}
    for rel, text in files.items():
        if _CGO_IMPORT.search(text.split("\nfunc ", 1)[0]):
            return f"{rel} imports \"C\" (cgo); a static (CGO_ENABLED=0) build would break it"
    zones = next((rel for rel, text in files.items() if "LoadLocation(" in text), None)
    if zones and not any('"time/tzdata"' in text for text in files.values()):
        return (f"{zones} loads time zones (time.LoadLocation) from the system; the slim runtime may have no "
                "tzdata: import time/tzdata or install tzdata first")
    return None


def _assets(context: Path | None) -> str | None:
    """Files besides the Go code the binary may open at runtime (templates, config …)."""
    assert context is not None
    paths = facts.included(facts.listing(context).paths, _read_bytes(context / ".dockerignore"))
    embedded = [posixpath.normpath(posixpath.join(posixpath.dirname(rel), pattern))
                for rel in _go_files(context) for line in _EMBED.findall(_read(context / rel)) for pattern in line.split()]
    odd = [p for p in paths if (context / p).is_file() and not _NOT_RUNTIME.search(p)
           and not any(fnmatch.fnmatchcase(p, e) or p.startswith(e.rstrip("/") + "/") for e in embedded)]
    if odd:
        return (f"the context has files the binary may read at runtime ({', '.join(odd[:3])}); the runtime "
                "stage would get only the binary")
    return None


def _start_problem(stage: Stage, outputs: list[str], cwd: dict[int, str | None]) -> str | None:
    """The start command must run the copied binary, not the toolchain or a source file."""
    for keyword in ("ENTRYPOINT", "CMD"):
        inst = next((i for i in reversed(stage.instructions) if i.keyword == keyword), None)
        if inst is None:
            continue
        words = [w for w in literal_words(inst) if w != "exec" and not re.match(r"^\w+=", w)]
        if inst.json is None and re.search(r"[;&|`$()<>]", inst.args):
            return f"the {keyword} at line {inst.line} is shell code; cannot tell what it runs"
        if not words:
            return f"the {keyword} at line {inst.line} is empty"
        name = words[0]
        if name.rsplit("/", 1)[-1] == "go":
            return f"the {keyword} at line {inst.line} runs `go {' '.join(words[1:2])}`: it needs the toolchain at runtime"
        where = join_workdir(cwd.get(inst.start), name) if "/" in name else None
        if where in outputs or any(posixpath.dirname(o) in _PATH_DIRS and o.endswith("/" + name) for o in outputs):
            return None
        return f"the {keyword} at line {inst.line} runs `{name}`, which the runtime stage would not have"
    return "the stage has no CMD or ENTRYPOINT: nothing says the binary is what runs"


def _go_files(context: Path) -> list[str]:
    return [p for p in facts.listing(context).paths if p.endswith(".go") and not p.startswith("vendor/")]


def _read(path: Path) -> str:
    data_ = _read_bytes(path)
    return data_.decode("utf-8", errors="replace") if data_ else ""


def _read_bytes(path: Path) -> bytes | None:
    try:
        return read_bounded(path, 200_000, truncate=True)
    except OSError:
        return None


def wants_split(ref: ImageRef, steps: Steps, stage: Stage) -> bool:
    """A golang image is the toolchain itself: any stage built on it is worth splitting."""
    return True
