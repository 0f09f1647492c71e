"""HD305 narrow-copy."""
from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from hardener import repo_facts as facts
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.dockerfile.shell import commands as shell_commands
from hardener.dockerfile.workdir import working_dirs
from hardener.edits import Edit
from hardener.knowledge.secret_files import secret_kind
from hardener.model import Applicability, Finding, Transform
from hardener.options import Option
from hardener.plans.copy.go import GO_MANIFESTS, go_needs
from hardener.plans.copy.java import JAVA_MANIFESTS, is_java_build, java_needs
from hardener.plans.copy.node import NODE_MANIFESTS, node_needs, split_code
from hardener.plans.copy.python import NO_ENTRY, PY_KINDS, mentioned, python_needs, python_probes
from hardener.plans.copy.step import Step
from hardener.why import Why

# Every ecosystem narrow-copy knows; `[tool.hardener.narrow-copy] ecosystems = [...]` limits them.
DEFAULT_ECOSYSTEMS = ("python", "node", "go", "java")
_KNOWN = ("python", "node", "go", "java")
_JAVA_TOPS = ("pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts")


class NarrowCopy(Transform):
    """Replace `COPY . <dest>` with the files and directories the app really needs.

    ## What it fixes
    `COPY . <dest>` (or `ADD . <dest>`) in a Python, Node, Go or Java (Maven/Gradle)
    project: it becomes one COPY of the manifests, lock files and top-level files the app
    needs, plus one COPY per directory it needs.

    ## Why
    Copying the whole context ships tests, docs, local secrets and junk, and every edit
    to any file busts the layer cache. Naming what the app needs makes the image smaller
    and the review of what enters it possible.

    ## Example
        COPY . /app/     ->  COPY requirements.txt app.py /app/
                             COPY mypkg/ /app/mypkg/

    ## Applicability
    review: the import graph (computed with libcst from the CMD/ENTRYPOINT script or
    module) finds static imports and string literals; a file the app finds another way
    (an environment variable holding a path) would be missed. Node (the `require`/`import`
    graph of the entry, package.json `main`/`files`, the conventional inputs of a known
    build tool) and Go (the packages `go build` compiles, their local imports and
    `//go:embed` files) and Java (Maven/Gradle: the build files, wrapper, `src/`, the
    pom's `<module>`s or the projects settings.gradle includes, `buildSrc/`, and files the
    build files name) work the same way; limit them with `[tool.hardener.narrow-copy]
    ecosystems = ["python"]` (default: all four). Every top-level path a later RUN/CMD
    names is kept.

    ## Refuses when
    The context is not a project of an enabled ecosystem, no entrypoint can be read from
    CMD/ENTRYPOINT, the code imports modules by name (importlib, `__import__`, Django, a
    non-literal `require`/`import()`), a later RUN works on the whole copied tree (`pip
    install .`, `poetry install` without `--no-root`, `.` or `*` arguments, tests, lint,
    `go generate`, `go mod tidy`, make, a script from the context), a Node build runs a
    tool whose inputs are not known, Go uses cgo, a Maven parent pom or module lies outside
    the context, settings.gradle computes its projects, `mvn -f`/`gradle -p` is used, the COPY is in a stage without
    CMD/ENTRYPOINT, a needed file is excluded by .dockerignore or looks like a secret
    (an .npmrc with a token).

    ## References
    Docker docs: best practices (COPY only what is needed, leverage build cache); hadolint DL3045 (context)
    """

    id = "HD305"
    name = "narrow-copy"
    targets = ("dockerfile",)
    references = ("docs.docker.com:build-best-practices",)
    applicability = Applicability.REVIEW
    options = (
        Option("ecosystems", "list[string]", DEFAULT_ECOSYSTEMS, "The ecosystems whose `COPY .` is narrowed "
               "(empty: all).", choices=_KNOWN),
    )

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        if ctx.build_context is None:
            return
        for inst in doc.instructions:
            if inst.keyword in ("COPY", "ADD") and _copies_all(inst):
                yield self._one(doc, inst, ctx.build_context, ctx)

    def _one(self, doc: DockerfileDoc, inst: Instruction, directory: Path, ctx: Context) -> Finding:
        later = [i for i in doc.stages[inst.stage].instructions if i.line > inst.line] if inst.stage >= 0 else []
        listing = facts.listing(directory)
        ignore_name = f"{ctx.file.name}.dockerignore" if ctx.file else ".dockerignore"
        ignore = ctx.files.read(directory / ignore_name) or ctx.files.read(directory / ".dockerignore")
        paths = facts.included(listing.paths, ignore)
        tops = {p for p in paths if "/" not in p}
        wanted = self.option(ctx, "ecosystems")
        enabled = [e for e in _KNOWN if isinstance(wanted, (list, tuple)) and e in wanted] or list(DEFAULT_ECOSYSTEMS)
        needs, first = _needs(doc, inst, directory, paths, tops, later, enabled)
        if isinstance(needs, Why):
            return self.refuse(needs, inst.line)
        odd = next((n for n in sorted(needs) if re.search(r"[\s$\\\"'*?\[]", n)), None)
        if odd:
            return self.refuse(f"the needed path {odd!r} cannot be written plainly in a COPY", inst.line)
        secret = next((n for n in sorted(needs) if secret_kind(directory, n)), None)
        if secret:
            return self.refuse(f"the app needs {secret}, which looks like a secret; mount it at runtime", inst.line)
        ordered = [n for n in first if n in needs] + sorted(n for n in needs if n not in first)
        new = _render(doc, inst, ordered, directory)
        reason = f"copy only what the app needs: {', '.join(sorted(needs))}"
        return self.change([Edit(inst.start, inst.end, new)], reason, inst.line, end_line=inst.end_line)


def _copies_all(inst: Instruction) -> bool:
    words = list(inst.json) if inst.json is not None else inst.args.split()
    return (len(words) == 2 and words[0] in (".", "./") and inst.flag("from") is None and not inst.heredocs
            and not inst.comments_inside)


def _needs(doc: DockerfileDoc, inst: Instruction, directory: Path, paths: list[str], tops: set[str],
           later: list[Instruction], enabled: list[str]) -> tuple[set[str] | Why, tuple[str, ...]]:
    """The top-level entries to copy (or why they cannot be known) and the ones to list first."""
    others: list[str] = [e for e in ("node", "go") if e in enabled and {"node": "package.json", "go": "go.mod"}[e] in tops]
    others += ["java"] if "java" in enabled and tops & set(_JAVA_TOPS) else []
    if any(e.name in PY_KINDS for e in facts.ecosystems(tops)) and "python" in enabled:
        needs = python_needs(directory, tops, later)
        if needs != NO_ENTRY or not others:
            if isinstance(needs, set):  # what the health probe and the stages built on this one name
                needs = needs | mentioned(_steps(doc, inst, later)[1], tops)
                probes = python_probes(directory, tops, _family_checks(doc, inst))
                needs = needs | probes if isinstance(probes, set) else probes
            return needs, ()
    if others and inst.stage < 0:
        return Why("the COPY stands before any FROM"), ()
    if not others:
        if enabled == ["python"]:
            return Why("not a Python project (narrow-copy knows Python's import graph only)"), ()
        titles = [{"python": "Python", "node": "Node", "go": "Go", "java": "Java"}[e] for e in enabled]
        names = ", ".join(titles[:-1]) + " or " + titles[-1]
        return Why(f"not a {names} project (no manifest of theirs at the context root)"), ()
    steps, texts = _steps(doc, inst, later)
    if "java" in others and len(others) > 1:  # a Maven/Gradle build wins when a RUN/CMD runs it
        java = any(is_java_build(a) for s in steps for a in s.argvs or [])
        others = ["java"] if java else [e for e in others if e != "java"]
    if len(others) == 2 and not any(a[:1] == ["go"] for s in steps for a in s.argvs or []):
        others = ["node"]
    first: tuple[str, ...]
    if others[0] == "java":
        needs = java_needs(directory, frozenset(paths), steps)
        first = JAVA_MANIFESTS
    elif others[0] == "go":
        needs = go_needs(directory, frozenset(paths), steps)
        first = GO_MANIFESTS
    else:
        needs = node_needs(directory, frozenset(paths), steps)
        first = NODE_MANIFESTS
    if isinstance(needs, Why):
        return needs, ()
    return needs | mentioned(texts, tops), first


def _steps(doc: DockerfileDoc, inst: Instruction, later: list[Instruction]) -> tuple[list[Step], list[str]]:
    """This stage's later RUNs, the command its containers run, and those of the stages that
    build FROM it or COPY --from it; plus every later text that may name a copied path."""
    dirs = working_dirs(doc)
    words = list(inst.json) if inst.json is not None else inst.args.split()
    at_copy = dirs.get(inst.start)
    dest = words[-1]
    app_dir = posixpath.normpath(dest) if dest.startswith("/") else (
        posixpath.normpath(posixpath.join(at_copy, dest)) if at_copy else None)
    env = _env(doc)

    def base(i: Instruction) -> str | None:
        here = dirs.get(i.start)
        if app_dir is None:
            return "" if here == at_copy else None
        if here is None:
            return None
        rel = posixpath.relpath(here, app_dir)
        return None if rel.startswith("..") else ("" if rel == "." else rel)

    steps = [Step(i.line, "RUN", _run_argvs(doc, i), base(i), app_dir, env=env) for i in later if i.keyword == "RUN"]
    texts = [i.args for i in later]
    own = doc.stages[inst.stage]
    family = _family(doc, inst)
    names = {n for s in family for n in (s.name, str(s.index)) if n is not None}
    consumers = [s for s in doc.stages[own.index + 1 :] if s not in family and any(
        (f := i.flag("from")) is not None and (f.value or "").lower() in names for i in s.instructions)]
    for stage in family[1:]:  # a stage built FROM this one works on the copied tree too
        steps += [Step(i.line, "RUN", _run_argvs(doc, i), base(i), app_dir, env=env)
                  for i in stage.instructions if i.keyword == "RUN"]
    for stage in family[1:] + consumers:
        texts += [i.args for i in stage.instructions]
    for check in _family_checks(doc, inst):
        texts.append(check.args)  # runs in the container, wherever it stands in the stage
        probe = re.search(r"(?:^|\s)CMD\s+(.*)", check.args, re.I | re.S)
        shell = probe.group(1).strip() if probe else ""
        if shell:
            argv = list(check.json) if check.json is not None else ["/bin/sh", "-c", shell]
            steps.append(Step(check.line, "CMD", [argv], base(check), app_dir, optional=True, env=env))
    runner = next((c for s in family if (c := _command(s.instructions)) is not None), None)
    for stage, command in [(own, runner)] + [(s, _command(s.instructions)) for s in consumers]:
        if command is not None:
            steps.append(Step(command[0].line, "CMD", [command[1]], base(command[0]), app_dir,
                              optional=stage is not own, env=env))
    return steps, texts


def _family(doc: DockerfileDoc, inst: Instruction) -> list[Stage]:
    """The COPY's stage and the stages built FROM it, FROM those, …: all work on the copied tree."""
    own = doc.stages[inst.stage]
    family, bases = [own], {own.name} - {None}
    for stage in doc.stages[own.index + 1 :]:
        if stage.base.lower() in bases:
            family.append(stage)
            bases |= {stage.name} - {None}
    return family


def _family_checks(doc: DockerfileDoc, inst: Instruction) -> list[Instruction]:
    """The HEALTHCHECKs of the family: a probe runs in the container, wherever it stands in
    the stage (even before the COPY)."""
    return [i for s in _family(doc, inst) for i in s.instructions if i.keyword == "HEALTHCHECK"]


def _command(instructions: Sequence[Instruction]) -> tuple[Instruction, list[str]] | None:
    """The argv a container runs: the last ENTRYPOINT plus the last CMD (shell form via sh -c)."""
    def argv(i: Instruction) -> list[str]:
        return list(i.json) if i.json is not None else ["/bin/sh", "-c", i.args]

    entry = next((i for i in reversed(instructions) if i.keyword == "ENTRYPOINT"), None)
    cmd = next((i for i in reversed(instructions) if i.keyword == "CMD"), None)
    if entry is None:
        return (cmd, argv(cmd)) if cmd is not None else None
    tail = argv(cmd) if cmd is not None and entry.json is not None else []
    return entry, argv(entry) + tail


def _run_argvs(doc: DockerfileDoc, inst: Instruction) -> list[list[str]] | None:
    if inst.json is not None:
        return [list(inst.json)]
    if inst.heredocs:  # RUN <<EOF: the body is the script, read line by line
        if len(inst.heredocs) != 1 or not re.fullmatch(r"<<-?(['\"]?)\w+\1", inst.args.strip()):
            return None
        body = re.sub(r"\\\r?\n", " ", doc.text[inst.heredocs[0].body_start : inst.heredocs[0].body_end])
        lines = [split_code(line) for line in body.splitlines()]
        return None if any(x is None for x in lines) else [argv for x in lines for argv in x or []]
    found = shell_commands(inst, doc.escape, loose=True)
    return None if found is None else [c.argv for c in found if c.argv]


def _env(doc: DockerfileDoc) -> dict[str, str]:
    values: dict[str, str] = {}
    for inst in doc.instructions:
        if inst.keyword in ("ARG", "ENV"):
            for name, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)', inst.args):
                values[name] = value.strip('"')
            if inst.keyword == "ENV" and inst.args.strip() and "=" not in inst.args.split(maxsplit=1)[0]:
                name, _, value = inst.args.partition(" ")
                values[name] = value.strip().strip('"')
    return values


def _render(doc: DockerfileDoc, inst: Instruction, needs: list[str], directory: Path) -> str:
    keyword = doc.text[inst.keyword_start : inst.keyword_end]
    keyword = "copy" if keyword.islower() else "COPY"
    flags = "".join(doc.text[f.start : f.end] + " " for f in inst.flags)
    words = list(inst.json) if inst.json is not None else inst.args.split()
    dest = words[-1].rstrip("/")  # "" for the root
    files = [n for n in needs if not (directory / n).is_dir()]
    dirs = [n for n in needs if (directory / n).is_dir()]
    lines = [f"{keyword} {flags}{' '.join(files)} {dest}/"] if files else []
    lines += [f"{keyword} {flags}{d}/ {dest}/{d}/" for d in dirs]
    return doc.newline.join(lines)
