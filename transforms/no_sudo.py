"""HD202 no-sudo."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.lex import GO_SPACE
from hardener.edits import Edit
from hardener.knowledge import images
from hardener.model import Applicability, Finding, Transform

# `sudo` as a command: at the start, or after a control operator / keyword; then options.
_SUDO = re.compile(
    r"(?:^|(?<=[;&|(!{])|(?<=\bthen)|(?<=\bdo)|(?<=\belse))([ \t]*)(sudo)"
    r"((?:[ \t]+(?:-[A-Za-z]+|--[a-z-]+(?:=\S+)?)(?:[ \t]+(?:root|0)(?=[ \t]))?)*)[ \t]+(?=\S)"
)
_HARMLESS = re.compile(r"^-[EHnSkPA]+$|^--(preserve-env(=\S+)?|non-interactive|set-home|stdin|reset-timestamp)$|^--$")
_AS_ROOT = re.compile(r"^(-u|--user)$|^--user=(root|0)$")


class NoSudo(Transform):
    """Remove `sudo` from RUN commands that already run as root.

    ## What it fixes
    `RUN sudo apt-get install …` in a stage whose build user is root.

    ## Why
    The build already runs as root, so `sudo` adds nothing but a setuid binary that must
    be installed, an unpredictable environment (sudo resets it) and a TTY/password
    prompt that can hang the build. Its presence also hints at a privilege-escalation
    path left in the image.

    ## Example
        RUN sudo apt-get update && sudo apt-get install -y curl
        ->
        RUN apt-get update && apt-get install -y curl

    ## Applicability
    review: without sudo the command sees the stage's full environment (`ENV`, `PATH`),
    which sudo would have reset.

    ## Refuses when
    The RUN runs as a non-root user (there sudo is what gives root: switch to
    `USER root` for that step instead), the build user is unknown (an unknown base image
    may run as a non-root user), sudo switches to another user (`-u`) or starts a login
    shell (`-i`, `-s`), or sudo sits in a heredoc or exec-form RUN.

    ## References
    hadolint DL3004, checkov CKV2_DOCKER_1
    """

    id = "HD202"
    name = "no-sudo"
    targets = ("dockerfile",)
    references = ("hadolint:DL3004", "checkov:CKV2_DOCKER_1")
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for stage in doc.stages:
            base = None
            for inst in stage.instructions:
                if inst.keyword != "RUN" or not re.search(r"\bsudo\b", inst.args):
                    continue
                base = base or images.resolve_stage(doc, stage)
                yield from self._one(doc, inst, images.effective_user(base, before_line=inst.line)[0],
                                     base.unknown)

    def _one(self, doc: DockerfileDoc, inst: Instruction, user: str, unknown: str | None) -> Iterator[Finding]:
        if inst.json is not None or inst.heredocs:
            yield self.refuse("sudo in an exec-form or heredoc RUN is left for a human", inst.line)
            return
        if user == "?":
            yield self.refuse(f"cannot tell the build user: {unknown}", inst.line)
            return
        if not images.is_root_user(user):
            yield self.refuse(f"this RUN runs as {user}; sudo is what gives it root (use `USER root` "
                              "for this step and switch back after it)", inst.line)
            return
        edits, problem = _edits(doc, inst)
        if problem:
            yield self.refuse(problem, inst.line)
        elif edits:
            yield self.change(edits, "the build user is already root; sudo only resets the environment",
                              inst.line, end_line=inst.end_line)


def _edits(doc: DockerfileDoc, inst: Instruction) -> tuple[list[Edit], str | None]:
    logical = inst.logical
    args_at = len(logical.rstrip(GO_SPACE)) - len(inst.args)
    edits: list[Edit] = []
    args = logical[args_at:]
    for match in _SUDO.finditer(args):
        if _quoted(args, match.start(2)):
            continue
        options = match.group(3).split()
        bad = _bad_option(options)
        if bad:
            return [], f"sudo {bad} does not simply run the command as root"
        start, end = args_at + match.start(2), args_at + match.end(3)
        src_start, src_end = inst.source_offset(start), inst.source_offset(end)
        if src_end - src_start != end - start:
            return [], "sudo and its options are split across continuation lines"
        while src_end < len(doc.text) and doc.text[src_end] in " \t":
            src_end += 1  # the blanks up to the command or to a line continuation
        edits.append(Edit(src_start, src_end, ""))
    return edits, None


def _bad_option(options: list[str]) -> str | None:
    skip = False
    for i, word in enumerate(options):
        if skip:
            skip = False
            continue
        if _AS_ROOT.match(word):
            skip = word in ("-u", "--user")
            if skip and (i + 1 >= len(options) or options[i + 1] not in ("root", "0")):
                return f"{word} {options[i + 1] if i + 1 < len(options) else ''}".strip()
            continue
        if not _HARMLESS.match(word):
            return word
    return None


def _quoted(text: str, pos: int) -> bool:
    """Whether ``pos`` lies inside single or double quotes (``sh -c "sudo …"``)."""
    quote = ""
    i = 0
    while i < pos:
        ch = text[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
        i += 1
    return bool(quote)
