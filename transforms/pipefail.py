"""HD407 pipefail."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import Comment, DockerfileDoc, Instruction, Stage
from hardener.dockerfile.shell import Command, commands
from hardener.dockerfile.shell_edit import has_option, program
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform

_BASH = '["/bin/bash", "-o", "pipefail", "-c"]'
_ASH = '["/bin/ash", "-o", "pipefail", "-c"]'
# Official and common images whose non-alpine variants ship bash (Debian, Ubuntu, RHEL family).
_BASH_FAMILIES = frozenset("""
debian ubuntu python node golang ruby php openjdk eclipse-temurin amazoncorretto maven gradle
centos fedora rockylinux almalinux amazonlinux oraclelinux buildpack-deps rust perl r-base gcc
nginx httpd postgres mysql mariadb redis mongo elixir erlang haskell swift julia clojure jenkins
kalilinux archlinux ubi8 ubi9 ubi ubi8-minimal ubi9-minimal cuda pytorch tensorflow
base-notebook minimal-notebook scipy-notebook sdk aspnet runtime tomcat ibmjava sapmachine
wordpress drupal composer pypy rocker-versioned2 r-ver tidyverse
""".split())
_NO_PIPEFAIL = ("busybox", "distroless", "scratch", "cgr.dev", "chainguard", "wolfi", "windows",
                "servercore", "nanoserver")
_SHELLS = ("sh", "bash", "ash", "dash", "zsh", "ksh", "python", "python3", "perl", "ruby", "node")
# Debian/Ubuntu release names in a tag, and repositories known to be Debian/Ubuntu based.
_DEBIAN_TAG = re.compile(r"(bookworm|bullseye|buster|stretch|jessie|trixie|noble|jammy|focal|"
                         r"bionic|xenial|trusty|ubuntu|debian)")
_BASH_REPO = re.compile(r"^(adoptopenjdk|phusion/baseimage|continuumio/|"
                        r"mcr\.microsoft\.com/(devcontainers|vscode/devcontainers|playwright|oryx|dotnet)/)")
_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"")
_LONE_PIPE = re.compile(r"(?<!\|)\|(?![|&])")
# The `|` between a case clause's patterns (`in dev|beta|fix*)`, `;; a|b)`) is not a pipe.
_CASE_PATTERNS = re.compile(r"(?:\bin\b|;;)\s*\(?\s*[^\s()|;&]+(?:\s*\|\s*[^\s()|;&]+)*\s*\)")


class Pipefail(Transform):
    """Set `SHELL` with `-o pipefail` before the first RUN of a stage that uses a pipe.

    ## What it fixes
    A stage whose RUN pipes commands (`curl … | tar x`) under the default `/bin/sh -c`.

    ## Why
    A pipeline's status is that of its last command: when `curl` fails, `tar` still
    exits 0 and the build goes on with a missing file. With `pipefail` the build stops.

    ## Example
        RUN curl -fsSL $URL | tar xz
    becomes
        SHELL ["/bin/bash", "-o", "pipefail", "-c"]
        RUN curl -fsSL $URL | tar xz

    ## Applicability
    review: every later RUN of the stage (and shell-form CMD/ENTRYPOINT) now runs in bash,
    not `/bin/sh` (dash on Debian), and fails when any command of a pipeline fails. On
    Alpine the shell is `/bin/ash` with the same option.

    ## Refuses when
    The base image is not known to have bash or ash (an unresolved `${ARG}`, busybox,
    distroless, scratch, Windows, an unknown image), a SHELL instruction already chose
    another shell, or a pipeline of the stage relies on its writer being killed
    (`yes | …`, `… | head`, `… | grep -q`). A RUN that pipes a downloaded script into a
    shell (`curl … | sh`) is reported: download it, check its checksum, then run it.

    ## References
    hadolint DL4006
    """

    id = "HD407"
    name = "pipefail"
    targets = ("dockerfile",)
    references = ("hadolint:DL4006",)
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for stage in doc.stages:
            piped = [i for i in stage.instructions if i.keyword == "RUN" and _has_pipe(doc, i)]
            for inst in piped:
                if _pipes_download_to_shell(doc, inst):
                    yield self.refuse("pipes a downloaded script into a shell; download it to a "
                                      "file, verify its checksum, then run it", inst.line)
            if piped:
                yield from self._stage(doc, stage, piped[0])

    def _stage(self, doc: DockerfileDoc, stage: Stage, first: Instruction) -> Iterator[Finding]:
        shells = [i for i in stage.instructions if i.keyword == "SHELL" and i.start < first.start]
        if shells:
            if "pipefail" not in shells[-1].args and not _non_posix(shells[-1]):
                yield self.refuse("a SHELL instruction of this stage chose its own shell", first.line)
            return
        shell, why_not = _shell_for(doc, stage)
        if shell is None:
            yield self.refuse(f"no SHELL with pipefail: {why_not}", first.line)
            return
        risky = _risky_pipe(doc, stage, first)
        if risky is None and shell == _BASH:
            risky = _dash_echo(doc, stage, first)
        if risky is not None:
            yield self.refuse(risky, first.line)
            return
        line_start = doc.text.rfind("\n", 0, first.keyword_start) + 1
        indent = doc.text[line_start : first.keyword_start]
        keyword = "shell" if doc.text[first.keyword_start : first.keyword_end].islower() else "SHELL"
        above = _comment_above(doc, first.line)
        if above is not None:  # the comment lines right above describe the RUN: SHELL goes above them
            lead = doc.text[doc.text.rfind("\n", 0, above.start) + 1 : above.start]
            edit = Edit(above.start, above.start, f"{keyword} {shell}{doc.newline}{lead}")
        else:
            edit = Edit(first.keyword_start, first.keyword_start, f"{keyword} {shell}{doc.newline}{indent}")
        yield self.change([edit],
                          "a failing command on the left of a pipe now fails the build; later "
                          f"RUNs of the stage run in {shell.split(chr(34))[1]}",
                          first.line, end_line=first.end_line)


def _comment_above(doc: DockerfileDoc, line: int) -> Comment | None:
    """The first of the comment lines directly above ``line`` (the parser's comments), or None."""
    by_line = doc.comment_lines()
    first = None
    while line - 1 in by_line:
        line -= 1
        first = by_line[line]
    return first


def _non_posix(shell: Instruction) -> bool:
    """PowerShell or cmd: hadolint does not ask them for pipefail, and they have none."""
    program = (shell.json or ("",))[0].lower().rsplit("\\", 1)[-1].rsplit("/", 1)[-1]
    return program.startswith(("powershell", "pwsh", "cmd"))


def _has_pipe(doc: DockerfileDoc, inst: Instruction) -> bool:
    if inst.json is not None or inst.heredocs:
        return False
    cmds = commands(inst, doc.escape)
    if cmds is not None:
        return any(c.op_before == "|" for c in cmds)
    return bool(_LONE_PIPE.search(_CASE_PATTERNS.sub("", _QUOTED.sub("", inst.args))))


def _pipelines(cmds: list[Command]) -> Iterator[tuple[Command, Command]]:
    for writer, reader in zip(cmds, cmds[1:]):
        if reader.op_before == "|":
            yield writer, reader


def _pipes_download_to_shell(doc: DockerfileDoc, inst: Instruction) -> bool:
    cmds = commands(inst, doc.escape) or []
    return any(_name(w) in ("curl", "wget") and _name(r) in _SHELLS for w, r in _pipelines(cmds))


def _name(cmd: Command) -> str:
    """The program's base name, looking through ``sudo [-E] [-u user]``."""
    words = [w.value for w in cmd.words[cmd.program_index() :]]
    if words and words[0] == "sudo":
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[2:] if words[0] in ("-u", "-g", "-C", "-h", "-p") else words[1:]
    return words[0].rsplit("/", 1)[-1] if words else ""


def _risky_pipe(doc: DockerfileDoc, stage: Stage, first: Instruction) -> str | None:
    """Why pipefail would break a RUN of the stage from ``first`` on, or None."""
    for inst in stage.instructions:
        if inst.keyword != "RUN" or inst.start < first.start or not _has_pipe(doc, inst):
            continue
        cmds = commands(inst, doc.escape)
        if cmds is None:
            text = _QUOTED.sub("", inst.args)
            if re.search(r"\byes\s*\||\|\s*(head|grep\s+-\w*[qml])\b", text):
                return (f"the RUN at line {inst.line} has a pipe whose writer is meant to be cut off "
                        "(yes | …, … | head, … | grep -q); under pipefail its SIGPIPE fails the build")
            continue
        for writer, reader in _pipelines(cmds):
            if program(writer, ("yes",)) is not None or program(reader, ("head",)) is not None or (
                    program(reader, ("grep",)) is not None
                    and has_option(reader.words, ("--quiet", "--silent", "--max-count",
                                                  "--files-with-matches"), "qml")):
                return (f"the RUN at line {inst.line} has a pipe whose writer is meant to be cut off "
                        "(yes | …, … | head, … | grep -q); under pipefail its SIGPIPE fails the build")
    return None


def _dash_echo(doc: DockerfileDoc, stage: Stage, first: Instruction) -> str | None:
    """A later RUN whose ``echo`` output has backslashes: dash's echo interprets them, bash's not."""
    for inst in stage.instructions:
        if inst.keyword != "RUN" or inst.start < first.start or inst.json is not None:
            continue
        for cmd in commands(inst, doc.escape, loose=True) or []:
            words = cmd.words[cmd.program_index() :]
            if words and words[0].value == "echo" and any("\\" in w.value for w in words[1:]) \
                    and not any(w.value in ("-e", "-E") for w in words[1:]):
                return (f"the RUN at line {inst.line} echoes backslashes, which /bin/sh (dash) "
                        "interprets and bash does not")
    return None


def _shell_for(doc: DockerfileDoc, stage: Stage) -> tuple[str | None, str]:
    """The SHELL array for the stage's base image, or None and why."""
    if doc.escape == "`":
        return None, "the file uses the backtick escape of Windows images"
    base, seen = stage, set()
    while True:
        parent = doc.stage_named(base.base, before=base.index)
        if parent is None or parent.index in seen:
            break
        if any(i.keyword == "SHELL" and "pipefail" not in i.args for i in parent.instructions):
            return None, f"the stage builds on {parent.name!r}, which sets its own SHELL"
        seen.add(parent.index)
        base = parent
    ref = _resolve_args(doc, base.base)
    if "$" in ref:
        return None, f"the base image {base.base!r} depends on a build argument"
    path = ref.split("@")[0]
    last = path.rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    lowered = ref.lower()
    if any(marker in lowered for marker in _NO_PIPEFAIL):
        return None, f"{ref!r} has no shell with pipefail"
    family = name.lower()
    if "alpine" in family or "alpine" in tag.lower():
        return _ASH, ""
    if family in _BASH_FAMILIES or _DEBIAN_TAG.search(tag.lower()) or _BASH_REPO.search(path.lower()):
        return _BASH, ""
    return None, f"the base image {ref!r} is not known to ship bash"


def _resolve_args(doc: DockerfileDoc, ref: str) -> str:
    """Substitute global ARG defaults (ARGs before the first FROM) into an image reference."""
    defaults: dict[str, str] = {}
    for inst in doc.instructions:
        if inst.stage >= 0:
            break
        if inst.keyword == "ARG":
            name, eq, value = inst.args.partition("=")
            if eq:
                defaults[name.strip()] = value.strip().strip("\"'")

    def sub(match: re.Match[str]) -> str:
        return defaults.get(match.group(1) or match.group(2), match.group(0))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, ref)
