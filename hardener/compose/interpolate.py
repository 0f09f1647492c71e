"""Compose's variable interpolation and the ``.env`` file it reads.

``docker compose`` substitutes ``$VAR`` and ``${VAR}`` in every value of every file it loads,
from the shell and from ``.env`` beside the first file (or ``--env-file``). hardener cannot
see the operator's shell, so it interpolates from the repository's ``.env`` only and keeps
a variable nobody sets as it is written (``Interpolated.unset`` names it), so a reader that
needs the value can tell "empty" from "unknown". The rules are compose-spec's
(interpolation.md): ``${X:-d}`` default when unset or empty, ``${X-d}`` when unset,
``${X:?e}``/``${X?e}`` an error, ``${X:+r}``/``${X+r}`` a replacement, ``$$`` a literal ``$``;
defaults may nest (``${A:-${B:-x}}``).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)")


@dataclass(frozen=True)
class Interpolated:
    """A value with its variables substituted; ``unset`` names those nobody sets (kept as
    written), ``errors`` the ``${X:?message}`` that would stop ``docker compose``."""

    text: str
    unset: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def interpolate(text: str, env: Mapping[str, str]) -> Interpolated:
    """``text`` as Compose would see it with ``env`` (see the module docstring)."""
    if "$" not in text:
        return Interpolated(text)
    out: list[str] = []
    unset: list[str] = []
    errors: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar == -1:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        i = _one(text, dollar, env, out, unset, errors)
    return Interpolated("".join(out), tuple(dict.fromkeys(unset)), tuple(errors))


def _one(text: str, at: int, env: Mapping[str, str], out: list[str], unset: list[str], errors: list[str]) -> int:
    """Substitutes the reference at ``text[at] == "$"``; returns where reading goes on."""
    nxt = text[at + 1:at + 2]
    if nxt == "$":
        out.append("$")
        return at + 2
    if nxt == "{":
        end = _closing(text, at + 2)
        if end == -1:
            out.append(text[at:])
            return len(text)
        out.append(_braced(text[at + 2:end], text[at:end + 1], env, unset, errors))
        return end + 1
    name = _NAME.match(text, at + 1)
    if name is None:
        out.append("$")
        return at + 1
    out.append(_lookup(name.group(0), text[at:name.end()], env, unset))
    return name.end()


def _closing(text: str, start: int) -> int:
    """The ``}`` that closes a ``${`` whose body starts at ``start`` (nested ``${}`` allowed)."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(body: str, written: str, env: Mapping[str, str], unset: list[str], errors: list[str]) -> str:
    name = _NAME.match(body)
    if name is None:
        return written
    rest = body[name.end():]
    key = name.group(0)
    if not rest:
        return _lookup(key, written, env, unset)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        return written
    arg = interpolate(rest[len(op):], env)
    unset.extend(arg.unset)
    value = env.get(key)
    empty = value is None or (op.startswith(":") and value == "")
    if op.endswith("-"):
        return arg.text if empty else str(value)
    if op.endswith("?"):
        if empty:
            errors.append(f"{key}: {arg.text or 'required'}")
        return "" if value is None else value
    return "" if empty else arg.text  # ``+``: the replacement when set


def _lookup(key: str, written: str, env: Mapping[str, str], unset: list[str]) -> str:
    if key in env:
        return env[key]
    unset.append(key)
    return written


def read_dotenv(text: str, outer: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of a ``.env`` file (``KEY=VALUE``, ``export``, quotes, ``#`` comments).
    Unquoted and double-quoted values interpolate the ones defined above them, as Compose does."""
    env: dict[str, str] = dict(outer or {})
    for line in text.splitlines():
        match = _DOTENV_LINE.fullmatch(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        env[match.group(1)] = _dotenv_value(match.group(2), env)
    return env


def _dotenv_value(raw: str, env: Mapping[str, str]) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"') and raw.find(raw[0], 1) != -1:
        inner = raw[1:raw.find(raw[0], 1)]
        return inner if raw[0] == "'" else interpolate(inner, env).text
    value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    return interpolate(value, env).text
