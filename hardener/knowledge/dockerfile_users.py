"""The users and groups a Dockerfile creates, with their ids where the Dockerfile fixes them.

Read from ``useradd``/``adduser`` (shadow, busybox and Debian spellings), ``groupadd``/
``addgroup``, and passwd/group lines a RUN writes into ``/etc/passwd`` / ``/etc/group``.
An id is only ever taken from what the Dockerfile writes: ``useradd app`` without ``-u``
gets whatever uid is free at build time, so its uid is recorded as unknown.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from hardener.dockerfile.doc import Instruction

_COMMAND = re.compile(r"(?:^|[;&|(]\s*|\bthen\s+|\bdo\s+)((?:useradd|adduser|groupadd|addgroup)\s[^;&|\n]*)")
_PASSWD_LINE = re.compile(r"(?<![\w.-])([a-z_][\w.-]*):[^:\s'\"]*:(\d+):(\d+):")
# Options that take a value, across shadow (useradd/groupadd), busybox and Debian adduser.
_VALUED = frozenset("-u -g -G -d -s -c -k -e -f -K -p -R -b -Z -P -h".split()) | frozenset(
    "--uid --gid --groups --home-dir --home --shell --comment --gecos --skel --expiredate --inactive --key "
    "--password --root --base-dir --selinux-user --ingroup --firstuid --lastuid --conf --prefix".split())


@dataclass(frozen=True)
class CreatedUser:
    name: str
    uid: int | None  # None: created without a fixed uid
    gid: int | None  # the primary group's id when the Dockerfile fixes it
    line: int  # where it is created


def created_users(instructions: Iterable[Instruction]) -> dict[str, CreatedUser]:
    """Name -> the last creation of that user in these instructions (RUNs in order)."""
    groups: dict[str, int] = {}
    users: dict[str, CreatedUser] = {}
    pending: list[tuple[str, int | None, str | None, int]] = []  # name, uid, group (name or id), line
    for inst in instructions:
        if inst.keyword != "RUN":
            continue
        for name, passwd_uid, primary in _passwd_lines(inst.args, "/etc/passwd"):
            pending.append((name, passwd_uid, str(primary), inst.line))
        for name, group_id, _ in _passwd_lines(inst.args, "/etc/group"):
            groups[name] = group_id
        for command in _COMMAND.findall(inst.args):
            _one(command, inst.line, groups, pending)
    for name, uid, group, line in pending:
        gid: int | None = int(group) if group is not None and group.isdigit() else groups.get(group or "")
        if gid is None and group is None:
            gid = groups.get(name)  # a group of the user's own name, created with a fixed gid
        users[name] = CreatedUser(name, uid, gid, line)
    return users


def _one(command: str, line: int, groups: dict[str, int], pending: list[tuple[str, int | None, str | None, int]]
         ) -> None:
    try:
        words = shlex.split(command, comments=False)
    except ValueError:
        return
    options, positional = _parse(words[1:])
    if not positional or "$" in positional[0]:
        return
    name = positional[0]
    if words[0] in ("groupadd", "addgroup"):
        gid = options.get("-g") or options.get("--gid")
        if gid and gid.isdigit() and len(positional) == 1:  # ``addgroup user group`` is a membership
            groups[name] = int(gid)
        return
    uid = options.get("-u") or options.get("--uid")
    if words[0] == "adduser" and "--gid" not in options and "--ingroup" not in options:
        group = options.get("-G")  # busybox adduser: -G is the primary group (-g is the GECOS)
    else:
        group = options.get("-g") or options.get("--gid") or options.get("--ingroup")
    pending.append((name, int(uid) if uid and uid.isdigit() else None, group, line))


def _parse(words: list[str]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--") and "=" in word:
            key, _, value = word.partition("=")
            options[key] = value
        elif word in _VALUED and i + 1 < len(words):
            options[word] = words[i + 1]
            i += 1
        elif re.fullmatch(r"-[ug]\d+", word):  # -u1001
            options[word[:2]] = word[2:]
        elif word.startswith("-"):
            options.setdefault(word, "")
        else:
            positional.append(word)
        i += 1
    return options, positional


def _passwd_lines(text: str, target: str) -> list[tuple[str, int, int]]:
    """``name:x:uid:gid:`` (passwd) or ``name:x:gid:`` (group) lines a RUN appends to ``target``."""
    if target not in text or (">" not in text and "tee" not in text):
        return []
    out = []
    for segment in re.split(r"&&|;|\|\|", text):
        if target not in segment:
            continue
        if target == "/etc/group":
            out += [(m.group(1), int(m.group(2)), 0)
                    for m in re.finditer(r"(?<![\w.-])([a-z_][\w.-]*):[^:\s'\"]*:(\d+):", segment)]
        else:
            out += [(m.group(1), int(m.group(2)), int(m.group(3))) for m in _PASSWD_LINE.finditer(segment)]
    return out
