"""Edits that delete from a Dockerfile: whole instructions, ENV pairs, words and shell commands of a RUN."""
from __future__ import annotations

import re
from dataclasses import dataclass

from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.shell import Command, args_logical_start
from hardener.edits import Edit


@dataclass(frozen=True)
class Pair:
    """One ``NAME=value`` of an ENV or ARG (the legacy ``ENV NAME value`` is one pair)."""

    name: str
    value: str  # quotes removed (best effort)
    has_value: bool
    start: int  # source span of the whole token
    end: int


def delete_instruction(doc: DockerfileDoc, inst: Instruction) -> Edit | None:
    """Delete the instruction's lines with their line break; None when comments sit inside."""
    if inst.comments_inside:
        return None
    return Edit(doc.lines[inst.line - 1].start, doc.lines[inst.end_line - 1].next, "")


def env_pairs(doc: DockerfileDoc, inst: Instruction) -> list[Pair]:
    begin = args_logical_start(inst)
    code = inst.logical[begin : begin + len(inst.args)]
    esc = re.escape(doc.escape)
    token = re.compile(rf"(?:\"(?:[^\"{esc}]|{esc}.)*\"|'[^']*'|{esc}.|[^\s\"'{esc}])+")
    found = list(token.finditer(code))
    if not found:
        return []
    if inst.keyword == "ENV" and "=" not in found[0].group():
        name = found[0].group()
        value = code[found[0].end() :].strip()
        return [Pair(name, _unquote(value), True, inst.args_start, inst.args_end)]
    out = []
    for m in found:
        name, eq, value = m.group().partition("=")
        start = inst.source_offset(begin + m.start())
        end = inst.source_offset(begin + m.end() - 1) + 1
        out.append(Pair(name, _unquote(value), bool(eq), start, end))
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def remove_pairs(doc: DockerfileDoc, inst: Instruction, pairs: list[Pair], bad: list[Pair]
                 ) -> list[Edit] | None:
    if len(bad) == len(pairs):
        edit = delete_instruction(doc, inst)
        return None if edit is None else [edit]
    return remove_spans(doc, inst, [(p.start, p.end) for p in bad])


def remove_spans(doc: DockerfileDoc, inst: Instruction, spans: list[tuple[int, int]]
                 ) -> list[Edit] | None:
    """Delete words (each span on one line) with one adjacent blank; None when unsure."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and doc.text[merged[-1][1] : start].strip(" \t") == "" and \
                "\n" not in doc.text[merged[-1][1] : start]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    edits = [_remove_word(doc, inst, s, e) for s, e in merged]
    return None if any(e is None for e in edits) else [e for e in edits if e is not None]


def _remove_word(doc: DockerfileDoc, inst: Instruction, start: int, end: int) -> Edit | None:
    text, esc = doc.text, doc.escape
    line = next(ln for ln in doc.lines if ln.start <= start <= ln.end)
    if end > line.end:
        return None
    before, after = text[line.start : start], text[end : line.end]
    rest = after.strip(" \t")
    if before.strip(" \t") == "" and rest in ("", esc):
        if rest == esc:
            return Edit(line.start, line.next, "")  # the word had its own continuation line
        return _remove_last_line(doc, inst, line.number, end)
    if after[:1] in (" ", "\t") and rest not in ("", esc):
        return Edit(start, end + 1, "")
    if before[-1:] in (" ", "\t"):
        return Edit(start - 1, end, "")
    return Edit(start, end, "")


def _remove_last_line(doc: DockerfileDoc, inst: Instruction, number: int, end: int) -> Edit | None:
    """The word is alone on the instruction's last line: cut back to the previous content."""
    if number <= inst.line:
        return None
    prev = doc.lines[number - 2]
    content = doc.text[prev.start : prev.end].rstrip(" \t")
    if not content.endswith(doc.escape) or content.lstrip().startswith("#"):
        return None  # a comment or blank line inside the continuation: leave it to a human
    cut = prev.start + len(content[:-1].rstrip(" \t"))
    return Edit(cut, end, "")


def remove_commands(doc: DockerfileDoc, inst: Instruction, cmds: list[Command],
                    dropped: list[int]) -> list[Edit] | None:
    """Delete whole commands of a RUN with one of the operators around them."""
    if len(dropped) == len(cmds):
        edit = delete_instruction(doc, inst)
        return None if edit is None else [edit]
    edits: list[Edit] = []
    for first, last in _runs(sorted(dropped)):
        ops = [cmds[i].op_before for i in range(first, min(last + 2, len(cmds))) if i > 0]
        if any(op not in ("&&", ";") for op in ops):
            return None
        if first == 0 or (cmds[first].op_before == ";" and last + 1 < len(cmds)):
            span = (cmds[first].start, cmds[last + 1].start)
        else:
            span = (cmds[first - 1].end, cmds[last].end)
        if any(span[0] <= c.start < span[1] for c in inst.comments_inside):
            return None
        edits.append(Edit(span[0], span[1], ""))
    return edits


def _runs(indexes: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in indexes:
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def overlapping(edits: list[Edit]) -> bool:
    ordered = sorted(edits)
    return any(a.overlaps(b) for a, b in zip(ordered, ordered[1:]))
