"""Which test, doc and dev files of a build context the build that follows a `COPY .` never reads.

For every whole-context `COPY . <dest>` of the Dockerfiles that share a context, the RUN steps
of its stage (and of the stages built on it) and the command its containers run decide:

- ``go build``/``go install``/``go run`` (and ``go mod download``) ignore ``*_test.go`` files and
  ``testdata/`` directories; ``go test``, ``go vet``, ``go generate``, ``go mod tidy``/``vendor``
  read them, so they stay.
- ``pip install .``/``pip wheel .`` reads what the build backend's configuration names
  (pybackend.py); top-level ``tests/``, ``docs/`` and dev-only files outside it stay out of the
  wheel, so the build does not need them. pytest, tox, nox, sphinx or mkdocs in a RUN need them.

A make/just recipe, a script from the context, a command over ``.``/``*`` or a RUN that cannot be
split hides what is read: then the files stay, and ``stays`` says why. A pattern is offered only
when every whole-context COPY of the context allows it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.plans.copy.common import build_commands, foreign_command_problem
from hardener.plans.copy.plan import copies_all, copy_steps
from hardener.plans.copy.pybackend import backend_reads
from hardener.plans.copy.step import Step
from hardener.why import Why

GO = "go build does not read them"
PIP = "pip install . does not package them"
TEST_DIRS = ("tests", "test")
DOC_DIRS = ("docs", "doc")
DEV_FILES = ("requirements-dev.txt", "requirements-test.txt", "requirements_dev.txt", "requirements_test.txt",
             "dev-requirements.txt", "test-requirements.txt", "tox.ini", "noxfile.py", "pytest.ini", "conftest.py",
             ".coveragerc", ".pre-commit-config.yaml", ".flake8", "mypy.ini", "Makefile",
             # CI configuration: no build reads it (and add-ci-security-gate writes .github/)
             ".github", ".gitlab-ci.yml", ".circleci", ".travis.yml")
_GO_READ_ONLY = {("mod", "download"), ("env",), ("version",)}
_GO_COMPILE = ("build", "install", "run")
_NEEDS_TESTS = re.compile(r"^(pytest|py\.test|tox|nox|coverage|unittest|green|ward)$")
_NEEDS_DOCS = re.compile(r"^(sphinx-build|mkdocs|pdoc|pdoc3)$")
_RECIPES = ("make", "gmake", "just", "task", "mage", "invoke")


@dataclass(frozen=True)
class Exclusion:
    """A `.dockerignore` pattern the build provably does not need, and why."""

    pattern: str
    reason: str  # GO or PIP


@dataclass(frozen=True)
class DevPlan:
    exclusions: tuple[Exclusion, ...] = ()
    stays: tuple[tuple[str, str, int], ...] = ()  # ("tests/ stay …: the RUN at line 7 runs pytest", Dockerfile, line)


def candidates(paths: list[str]) -> dict[str, list[str]]:
    """The test/doc/dev entries of the context, by the pattern that would exclude them."""
    found: dict[str, list[str]] = {}
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if name.endswith("_test.go"):
            found.setdefault("**/*_test.go", []).append(path)
        elif name == "testdata":
            found.setdefault("**/testdata", []).append(path)
        elif "/" not in path and (name in TEST_DIRS + DOC_DIRS or name in DEV_FILES):
            found.setdefault(name, []).append(path)
    return found


def dev_plan(docs: Mapping[str, DockerfileDoc], directory: Path, paths: list[str],
             narrowed: Mapping[tuple[str, int], frozenset[str]]) -> DevPlan:
    """What may leave the context ``paths`` (as Docker sends it) for the Dockerfiles ``docs``;
    ``narrowed`` holds, by (Dockerfile, line), what narrow-copy keeps of a `COPY .` it narrows:
    such a COPY that keeps none of the candidates does not take them and constrains nothing."""
    found = candidates(paths)
    if not found:
        return DevPlan()
    allowed: set[str] | None = None
    reasons: dict[str, str] = {}
    stays: list[tuple[str, str, int]] = []
    tops = {p for p in paths if "/" not in p}
    for name, doc in docs.items():
        for inst in doc.instructions:
            if inst.keyword not in ("COPY", "ADD") or not copies_all(inst) or inst.stage < 0:
                continue
            kept = narrowed.get((name, inst.line))
            if kept is not None and not any(p.split("/", 1)[0] in kept for ps in found.values() for p in ps):
                continue
            ok = _one(doc, inst, directory, tops, found)
            if isinstance(ok, Why):
                stays.append((f"{_listed(found)} stay in the image: {ok} ({inst.keyword} . at line {inst.line})",
                              name, inst.line))
                return DevPlan(stays=tuple(stays))
            reasons.update({p: r for p, r in ok.items() if p not in reasons})
            allowed = set(ok) if allowed is None else allowed & set(ok)
    chosen = tuple(Exclusion(p, reasons[p]) for p in found if allowed and p in allowed)
    return DevPlan(chosen, tuple(stays))


def _listed(found: dict[str, list[str]]) -> str:
    shown = [p.removeprefix("**/") + ("/" if p in TEST_DIRS + DOC_DIRS else "") for p in found]
    return ", ".join(shown[:4]) + (", …" if len(shown) > 4 else "")


def _one(doc: DockerfileDoc, inst: Instruction, directory: Path, tops: set[str],
         found: dict[str, list[str]]) -> dict[str, str] | Why:
    """The patterns this `COPY .`'s build does not read (pattern -> reason), or why unknown."""
    steps = copy_steps(doc, inst)
    go, pip = False, False
    for item in build_commands(steps):
        if isinstance(item, Why):
            return item
        step, cwd, argv, _ = item
        if not argv:
            continue
        kind = _kind(argv, step, cwd, tops)
        if isinstance(kind, Why):
            return kind
        go |= kind == "go"
        pip |= kind == "pip"
    result: dict[str, str] = {}
    if go:
        result |= {p: GO for p in found if p in ("**/*_test.go", "**/testdata")}
    if pip:
        reads = backend_reads(directory, tops)
        if isinstance(reads, Why):
            return reads
        result |= {p: PIP for p in found if "/" not in p and p not in reads}
        packaged = [p for p in found if p in reads and p in TEST_DIRS + DOC_DIRS]
        if packaged and not result:
            return Why(f"the build backend's configuration packages {', '.join(p + '/' for p in packaged)}")
    if not result:
        return Why("no `go build` or `pip install .` follows it, so what the build reads is not known")
    return result


def _kind(argv: list[str], step: Step, cwd: str | None, tops: set[str]) -> str | Why | None:
    """What one simple command means for the test/doc files: "go", "pip", None (nothing) or why they stay."""
    name = argv[0].rsplit("/", 1)[-1]
    where = "the command" if step.keyword == "CMD" else f"the RUN at line {step.line}"
    if name == "go":
        words = [a for a in argv[1:] if not a.startswith("-")]
        if words[:1] and words[0] in _GO_COMPILE:
            return "go"
        if tuple(words[:2]) in _GO_READ_ONLY or tuple(words[:1]) in _GO_READ_ONLY:
            return None
        return Why(f"{where} runs go {' '.join(words[:2])}, which reads test files")
    if _NEEDS_TESTS.match(name) or (name.startswith("python") and "-m" in argv and _test_module(argv)):
        return Why(f"{where} runs {name if _NEEDS_TESTS.match(name) else 'the tests'}, which reads them")
    if _NEEDS_DOCS.match(name):
        return Why(f"{where} builds the docs")
    if _pip_self(argv, step, cwd):
        return "pip"
    problem = foreign_command_problem(argv, step, cwd, tops, where, _RECIPES)
    return Why(problem) if problem and step.keyword == "RUN" else None


def _test_module(argv: list[str]) -> bool:
    after = argv[argv.index("-m") + 1 :]
    return bool(after) and after[0] in ("pytest", "unittest", "tox", "nox", "coverage", "sphinx", "mkdocs")


def _pip_self(argv: list[str], step: Step, cwd: str | None) -> bool:
    """`pip install .`, `pip wheel .`, `python -m pip install /app` (the copied root) and the like."""
    words = argv[1:]
    if argv[0].rsplit("/", 1)[-1].startswith("python") and words[:2] == ["-m", "pip"]:
        words = words[2:]
    elif not re.fullmatch(r"pip[\d.]*", argv[0].rsplit("/", 1)[-1]):
        return False
    if words[:1] not in (["install"], ["wheel"]):
        return False
    targets = [w for w in words[1:] if not w.startswith("-")]
    return any(step.locate(t.split("[", 1)[0], cwd) == "" for t in targets if not re.match(r"^[A-Za-z]", t))
