"""Helpers for transforms that edit inside a RUN: find a package-manager call, test
its flags, insert a flag after a word or append a command to the RUN in its own style.

Every edit is a small insertion at a source offset found by ``hardener.dockerfile.shell``: the
RUN is never re-rendered, so continuations, indentation and comments survive.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.shell import Command, Word, commands
from hardener.edits import Edit

_MOUNT_TARGET = re.compile(r"(?:^|,)(?:target|dst|destination)=([^,]+)")


def shell_runs(doc: DockerfileDoc, *, loose: bool = False
               ) -> Iterator[tuple[Instruction, list[Command], bool]]:
    """Every shell-form RUN (ONBUILD triggers included) that splits into simple commands,
    with whether its structure is known: split exactly and not an ONBUILD trigger (which
    runs in another build). With ``loose``, a RUN that only splits loosely (if/for
    bodies, subshells) is yielded too. When the flag is False, edit inside commands
    only: never append to the RUN or reason about the RUNs around it."""
    top_level = {id(i) for i in doc.instructions}
    for inst in doc.walk():
        if inst.keyword != "RUN":
            continue
        cmds = commands(inst, doc.escape)
        exact = cmds is not None and id(inst) in top_level
        if cmds is None and loose:
            cmds = commands(inst, doc.escape, loose=True)
        if cmds:
            yield inst, cmds, exact


def cache_targets(inst: Instruction) -> list[str]:
    """Targets of the RUN's ``--mount=type=cache`` flags."""
    out: list[str] = []
    for flag in inst.flags:
        value = (flag.value or "").strip("'\"")
        if flag.name.lower() == "mount" and "type=cache" in value:
            out.extend(m.group(1) for m in _MOUNT_TARGET.finditer(value))
    return out


def has_cache_under(inst: Instruction, prefixes: Iterable[str]) -> bool:
    return any(t.rstrip("/").startswith(p) or p.startswith(t.rstrip("/") + "/")
               for t in cache_targets(inst) for p in prefixes)


def program(cmd: Command, names: Iterable[str]) -> int | None:
    """Index of the program word when it is one of ``names`` (after ``VAR=x`` and ``sudo``)."""
    i = cmd.program_index()
    words = cmd.words
    if i < len(words) and words[i].value == "sudo":
        i += 1
        if i < len(words) and words[i].value.startswith("-"):
            return None  # sudo options: do not guess which word is the program
    if i < len(words) and words[i].value.rsplit("/", 1)[-1] in set(names):
        return i
    return None


def subcommand(cmd: Command, prog: int, takes_value: Iterable[str] = ()) -> int | None:
    """Index of the first non-option word after the program (options with a value skipped)."""
    needs = set(takes_value)
    i = prog + 1
    while i < len(cmd.words):
        value = cmd.words[i].value
        if value == "--":
            return i + 1 if i + 1 < len(cmd.words) else None
        if not value.startswith("-"):
            return i
        i += 2 if value in needs else 1
    return None


def has_option(words: Iterable[Word], long: Iterable[str] = (), short: str = "") -> bool:
    """Whether a ``--long`` (or ``--long=x``) option or a short letter in a cluster is present."""
    longs = set(long)
    for word in words:
        v = word.value
        if v.startswith("--"):
            if v.split("=", 1)[0] in longs:
                return True
        elif v.startswith("-") and len(v) > 1 and any(c in v[1:] for c in short):
            return True
    return False


def ends_with_exit(cmds: list[Command]) -> bool:
    """Whether the RUN's last command is ``exit``: anything appended after it never runs."""
    return program(cmds[-1], ("exit",)) is not None


def insert_after(word: Word, text: str) -> Edit:
    return Edit(word.end, word.end, f" {text}")


def append_command(doc: DockerfileDoc, inst: Instruction, cmds: list[Command], text: str) -> Edit:
    """``&& text`` after the last command, on a new continuation line when the RUN is
    written one command per line (leading ``&&`` or trailing ``&& \\`` style kept).

    Always ``&&``, also in ``;`` lists: the RUN must keep failing when the command before
    it fails, which ``; text`` would hide."""
    last = cmds[-1]
    style = _line_style(doc, cmds)
    if style is None:
        return Edit(last.end, last.end, f" && {text}")
    kind, indent = style
    nl, esc = doc.newline, doc.escape
    if kind == "leading":
        return Edit(last.end, last.end, f" {esc}{nl}{indent}&& {text}")
    return Edit(last.end, last.end, f" && {esc}{nl}{indent}{text}")


def _line_style(doc: DockerfileDoc, cmds: list[Command]) -> tuple[str, str] | None:
    """("leading"|"trailing", indent) when the last two commands sit on different lines."""
    if len(cmds) < 2:
        return None
    prev, last = cmds[-2], cmds[-1]
    between = doc.text[prev.end : last.start]
    if "\n" not in between or last.op_before not in ("&&", ";"):
        return None
    op_at = prev.end + between.find(last.op_before)
    line_start = doc.text.rfind("\n", 0, op_at) + 1
    lead = doc.text[line_start:op_at]
    if lead.strip() == "":
        return "leading", lead
    line_start = doc.text.rfind("\n", 0, last.start) + 1
    lead = doc.text[line_start : last.start]
    return ("trailing", lead) if lead.strip() == "" else None
