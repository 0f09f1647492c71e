"""What narrow-copy keeps of a `COPY . <dest>`: the planner is chosen by the manifests at the
context root and the enabled ecosystems, and fed the instructions that work on the copied tree.

Shared by narrow-copy (which rewrites the COPY) and generate-dockerignore (which must not
exclude what the rewritten COPY would take), so the two agree whichever runs first.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hardener import repo_facts as facts
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.dockerfile.shell import commands as shell_commands
from hardener.dockerfile.workdir import working_dirs
from hardener.knowledge.secret_files import content_of, secret_kind
from hardener.plans.copy.go import GO_MANIFESTS, go_needs
from hardener.plans.copy.java import JAVA_MANIFESTS, is_java_build, java_needs
from hardener.plans.copy.node import NODE_MANIFESTS, keeps_dev_dependencies, node_needs, split_code
from hardener.plans.copy.python import NO_ENTRY, PY_KINDS, mentioned, python_needs, python_probes
from hardener.plans.copy.step import Step
from hardener.why import Why

KNOWN = ("python", "node", "go", "java")
DEFAULT_ECOSYSTEMS = KNOWN
_JAVA_TOPS = ("pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts")


@dataclass(frozen=True)
class Plan:
    """The top-level context entries a `COPY .` is narrowed to, and the ones listed first."""

    needs: frozenset[str]
    first: tuple[str, ...]

    def ordered(self) -> list[str]:
        return [n for n in self.first if n in self.needs] + sorted(n for n in self.needs if n not in self.first)


def plan(doc: DockerfileDoc, inst: Instruction, directory: Path, paths: list[str], enabled: list[str]) -> Plan | Why:
    """What narrow-copy would copy instead of ``inst`` (a `COPY . <dest>`), or why it would not narrow it."""
    later = [i for i in doc.stages[inst.stage].instructions if i.line > inst.line] if inst.stage >= 0 else []
    tops = {p for p in paths if "/" not in p}
    needs, first = _needs(doc, inst, directory, paths, tops, later, enabled)
    if isinstance(needs, Why):
        return needs
    odd = next((n for n in sorted(needs) if re.search(r"[\s$\\\"'*?\[]", n)), None)
    if odd:
        return Why(f"the needed path {odd!r} cannot be written plainly in a COPY")
    secret = next((n for n in sorted(needs) if _secret(directory, n)), None)
    if secret:
        return Why(f"the app needs {secret}, which looks like a secret; mount it at runtime")
    return Plan(frozenset(needs), first)


def enabled_ecosystems(wanted: object) -> list[str]:
    """narrow-copy's `ecosystems` option as a list of known names (empty or invalid: all of them)."""
    return [e for e in KNOWN if isinstance(wanted, (list, tuple)) and e in wanted] or list(DEFAULT_ECOSYSTEMS)


def _secret(directory: Path, name: str) -> bool:
    """A needed file named like a secret is one only when its content says so: a CA bundle or
    a `.env` of public settings is part of the app (generate-dockerignore applies the same rule)."""
    if not secret_kind(directory, name):
        return False
    return (directory / name).is_dir() or content_of(directory / name).secret is not None


def copies_all(inst: Instruction) -> bool:
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
        needs = node_needs(directory, frozenset(paths), steps, dev_installed=_dev_install_before(doc, inst))
        first = NODE_MANIFESTS
    if isinstance(needs, Why):
        return needs, ()
    return needs | mentioned(texts, tops), first


_INSTALL = re.compile(r"\b(npm\s+(ci|install|i)|yarn(\s+install)?|pnpm\s+(install|i))\b(?P<flags>[^;&|]*)")


def _dev_install_before(doc: DockerfileDoc, inst: Instruction) -> bool:
    """Whether a RUN before ``inst`` in its stage (or the stages it is built on) installs the
    Node dependencies with devDependencies (no --omit=dev, --production …)."""
    from hardener.knowledge.images import stage_chain

    chain = {s.index for s in stage_chain(doc, doc.stages[inst.stage])} if inst.stage >= 0 else set()
    for other in doc.walk():
        if other.keyword != "RUN" or other.stage not in chain or other.start >= inst.start:
            continue
        code = other.args if other.json is None else " ".join(other.json)
        if any(keeps_dev_dependencies(m.group("flags")) for m in _INSTALL.finditer(code)):
            return True
    return False


def copy_steps(doc: DockerfileDoc, inst: Instruction) -> list[Step]:
    """The later steps that work on what ``inst`` (a `COPY .`) copied: its stage's RUNs, those of
    the stages built on it, the HEALTHCHECK probes and the commands containers run."""
    later = [i for i in doc.stages[inst.stage].instructions if i.line > inst.line]
    return _steps(doc, inst, later)[0]


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
