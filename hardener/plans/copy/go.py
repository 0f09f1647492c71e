"""What a Go build needs from its build context (narrow-copy, HD305).

Rules (each is tested in tests/test_narrow_copy.py):

- Always: ``go.mod``, ``go.sum`` and ``vendor/`` when present, and the directories of local
  ``replace … => ./dir`` modules.
- The packages a later ``go build``/``go install``/``go run``/``go vet`` compiles (in a RUN,
  or in the command a container runs): no target means ``.``; ``./cmd/app`` and
  ``<module>/cmd/app`` name one directory; ``./...`` means every directory below that holds
  non-test ``.go`` files, skipping what the go tool skips (``testdata``, ``vendor``, names
  starting with ``.`` or ``_``, nested modules). A top-level ``testdata/`` is therefore not
  copied: only ``go test`` reads it, and a RUN of ``go test`` is refused.
- Every local package those packages import (``import`` blocks; local = under the module
  path of go.mod), transitively, and the files their ``//go:embed`` patterns match.
- A package in a sub-directory brings its whole top-level directory; the root package
  brings its own non-test ``.go``, ``.s`` and ``.syso`` files (not the whole root).
- Refused: ``go generate`` (generators read and write files by their own rules), ``go test``,
  ``go mod tidy``/``vendor`` (read every package of the module), cgo (``CGO_ENABLED=1`` or
  ``import "C"`` without ``CGO_ENABLED=0``: C flags reach files by path), ``go -C``,
  ``go.work``, make and scripts from the context, ``.``/``*`` arguments of other programs,
  a RUN that cannot be split into commands, and no ``go build`` at all.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.plans.copy.common import build_commands, foreign_command_problem
from hardener.repo_facts import read_text
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.plans.copy.step import Step

GO_MANIFESTS = ("go.mod", "go.sum")
_COMPILE = ("build", "install", "run", "vet")
_VALUE_FLAGS = frozenset({"-o", "-ldflags", "-gcflags", "-asmflags", "-tags", "-mod", "-p", "-pkgdir", "-buildmode",
                          "-compiler", "-installsuffix", "-modfile", "-overlay", "-pgo", "-toolexec", "-gccgoflags",
                          "-exec", "-covermode", "-coverpkg"})
_SKIP_DIR = re.compile(r"(^|/)(testdata|[._][^/]*)(/|$)")


def go_needs(directory: Path, paths: frozenset[str], steps: list[Step]) -> set[str] | Why:
    """Top-level entries a Go build needs, or why they cannot be known."""
    tops = {p for p in paths if "/" not in p}
    if "go.work" in tops:
        return Why("a go.work workspace: the modules it uses are not followed")
    text = read_text(directory / "go.mod")
    module = re.search(r"(?m)^\s*module\s+\"?([^\s\"]+)", text)
    if module is None:
        return Why("go.mod names no module")
    need = {m for m in (*GO_MANIFESTS, "vendor") if m in tops}
    need |= {m.split("/")[0] for m in re.findall(r"=>\s*\./([^\s)]+)", text) if m.split("/")[0] in tops}
    cgo = next((v for s in steps for k, v in s.env.items() if k == "CGO_ENABLED"), None)
    targets: list[str] = []
    for found in build_commands(steps):
        if isinstance(found, Why):
            return found
        step, cwd, argv, assigned = found
        cgo = assigned.get("CGO_ENABLED", cgo)
        why = _command(argv, step, cwd, targets, tops) if argv else None
        if why:
            return Why(why)
    if cgo == "1":
        return Why("cgo is enabled (CGO_ENABLED=1): its C flags and includes reach files by path")
    if not targets:
        return Why("no `go build`/`go install` in this stage: what it compiles is unknown")
    packages = _packages(directory, paths, module.group(1), targets, cgo == "0")
    return packages if isinstance(packages, Why) else need | packages


def _command(argv: list[str], step: Step, cwd: str | None, targets: list[str], tops: set[str]) -> str | None:
    where = "the command" if step.keyword == "CMD" else f"the RUN at line {step.line}"
    name = argv[0].rsplit("/", 1)[-1]
    if name != "go":
        if step.keyword == "CMD":
            return None  # the built binary, a shell, …: they do not compile anything
        return foreign_command_problem(argv, step, cwd, tops, where, ("make", "gmake", "just", "task", "mage"))
    sub = argv[1] if len(argv) > 1 else ""
    if sub == "-C" or sub.startswith("-C="):
        return f"{where} runs go -C: the directory switch is not followed"
    if sub == "generate":
        return f"{where} runs go generate: the generators read and write files by their own rules"
    if sub == "test":
        return f"{where} runs the tests (go test reads test files and testdata)"
    if sub == "mod" and len(argv) > 2 and argv[2] in ("tidy", "vendor"):
        return f"{where} runs go mod {argv[2]}, which reads every package of the module"
    if sub in _COMPILE or sub == "get":
        args = _positional(argv[2:], first_only=sub == "run")
        if sub == "get" and not any(a.startswith(".") for a in args):
            return None
        for arg in args or ["."]:
            if arg.startswith(".") or arg.endswith(".go"):
                rel = step.locate(arg.removesuffix("/...").removesuffix("..."), cwd)
                if rel is None:
                    if step.optional:
                        continue
                    return f"{where} builds {arg}, which is outside the copied tree"
                targets.append(rel + ("/..." if arg.endswith("...") else ""))
            else:
                targets.append("@" + arg)  # an import path: local when under the module path
    return None


def _positional(words: list[str], first_only: bool) -> list[str]:
    found: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = "=" not in word and word.lstrip("-").split("=")[0] in {f.lstrip("-") for f in _VALUE_FLAGS}
        else:
            found.append(word)
            if first_only and not word.endswith(".go"):
                break
    return found


def _packages(directory: Path, paths: frozenset[str], module: str, targets: list[str],
              no_cgo: bool) -> set[str] | Why:
    files: dict[str, list[str]] = {}
    for p in sorted(paths):
        if p.endswith(".go") and not p.endswith("_test.go"):
            files.setdefault(p.rpartition("/")[0], []).append(p)
    nested = {p.rpartition("/")[0] for p in paths if p.endswith("/go.mod")}
    todo: list[str] = []
    picked: set[str] = set()  # root files named on the command line (go build main.go)
    for target in targets:
        if target.startswith("@"):
            path = target[1:].removesuffix("/...")
            if path == module or path.startswith(module + "/"):
                target = path[len(module) + 1 :] + ("/..." if target.endswith("/...") else "")
            else:
                continue  # a dependency or a tool, not in this tree
        if target.endswith("/...") or target == "...":
            root = target.removesuffix("...").rstrip("/")
            todo += [d for d in files if (not root or d == root or d.startswith(root + "/"))
                     and not _SKIP_DIR.search(d[len(root):]) and not d.startswith("vendor")
                     and not any(d == n or d.startswith(n + "/") for n in nested)]
        elif target.endswith(".go"):
            picked.add(target)
            todo.append(target.rpartition("/")[0])
        else:
            todo.append(target)
    need: set[str] = set()
    seen: set[str] = set()
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        chosen = [f for f in files.get(pkg, []) if not picked or pkg != "" or f in picked]
        if pkg:
            need.add(pkg.split("/")[0])
        else:
            need |= set(chosen) | {p for p in paths if "/" not in p and p.endswith((".s", ".syso"))}
        for rel in chosen:
            source = read_text(directory / rel)
            head = re.split(r"(?m)^(func|type|var|const)\b", _strip_comments(source), maxsplit=1)[0]
            imports = re.findall(r'"([^"\n]+)"', " ".join(re.findall(r"(?ms)^import\s*(\(.*?\)|[^\n]*)", head)))
            if "C" in imports and not no_cgo:
                return Why(f"{rel} uses cgo (import \"C\"): its C flags and includes reach files by path")
            todo += [i[len(module) + 1 :] if i != module else "" for i in imports
                     if i == module or i.startswith(module + "/")]
            for pattern in re.findall(r"(?m)^//go:embed\s+(.+)$", source):
                need |= _embedded(paths, pkg, pattern)
    return need


def _embedded(paths: frozenset[str], pkg: str, patterns: str) -> set[str]:
    found: set[str] = set()
    for pattern in re.findall(r'"([^"]+)"|`([^`]+)`|(\S+)', patterns):
        pattern = next(p for p in pattern if p).removeprefix("all:")
        full = f"{pkg}/{pattern}" if pkg else pattern
        found |= {p.split("/")[0] for p in paths if fnmatch.fnmatchcase(p, full) or p == full}
    return found


def _strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"(?s)/\*.*?\*/", "", source))
