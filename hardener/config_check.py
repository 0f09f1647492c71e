"""Checks a parsed configuration against what exists, pointing at the line that is wrong.

Sections must name a transform (or ``pr``/``verify``), option keys must be declared by
that section, values must have the declared type, and ``select``/``ignore``/
``applicability`` must name transforms. Each mistake is bad input with the closest valid
name: a misspelt option silently ignored would harden differently from what the user
wrote. The registry is looked up only when a check needs it (``hardener --version``
never loads it).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardener.errors import BadInput
from hardener.options import ENGINE_SECTIONS, Option, closest, did_you_mean, problem

_HEADER = re.compile(r"\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?")  # [t] and [[t]]
_KEY_PART = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
_ASSIGNMENT = re.compile(rf"\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([^.\s\"']+)")


def line_of(text: str, path: tuple[str, ...]) -> int | None:
    """Best effort: the first line defining ``path`` (tomllib gives no positions).

    That is a ``[header]`` at or below it, or a (dotted) ``key =`` that reaches it.
    """
    current: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.fullmatch(line)
        if header:
            current = _parts(header.group(1))
            if current[: len(path)] == path:
                return number
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment and (current + _parts(assignment.group(1)))[: len(path)] == path:
            return number
    return None


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g is not None) for m in _PART.finditer(dotted))


@dataclass(frozen=True)
class Where:
    """The file being checked, so an error can name the line of a key path under ``prefix``."""

    text: str
    path: Path
    prefix: tuple[str, ...]

    def line(self, *keys: str) -> int | None:
        """The key's line, else its nearest enclosing table's (an inline table has no own line)."""
        for end in range(len(keys), 0, -1):
            found = line_of(self.text, (*self.prefix, *keys[:end]))
            if found is not None:
                return found
        return None

    def error(self, message: str, *keys: str) -> BadInput:
        return BadInput(message, self.line(*keys), str(self.path))

    def header(self, *keys: str) -> str:
        return "[" + ".".join((*self.prefix, *keys)) + "]"


def known_sections() -> dict[str, tuple[Option, ...]]:
    """Section name -> its declared options: every transform, then ``pr`` and ``verify``."""
    from hardener.transforms import REGISTRY

    return {**{cls.name: cls.options for cls in REGISTRY}, **ENGINE_SECTIONS}


def transform_ids() -> dict[str, str]:
    """Transform id -> name, in execution order (from the manifest: no transform is imported)."""
    from hardener.transforms import MANIFEST

    return {entry.id: entry.name for entry in MANIFEST}


def _section_options(key: str) -> tuple[Option, ...] | None:
    """The options a section declares, None for an unknown section; a transform's section
    imports that transform alone."""
    from hardener.transforms import load

    if key in ENGINE_SECTIONS:
        return ENGINE_SECTIONS[key]
    found = load(wanted=lambda _id, name: name == key)
    return found[0].options if found else None


def check_section(where: Where, raw_key: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """A transform's (or pr/verify's) table, its keys in kebab-case."""
    key = raw_key.replace("_", "-")
    declared = _section_options(key)
    if declared is None:
        raise where.error(f"unknown section {where.header(raw_key)}{_section_hint(raw_key)}", raw_key)
    checked = check_options(where, (raw_key,), declared, table)
    for group, spec in (checked.get("groups") or {}).items() if key == "pr" else ():
        found = code_problem(spec.get("transforms", ()))  # a typo must not silently empty a PR group
        if found is not None:
            raise where.error(f"pr.groups.{group}.transforms: {found}", raw_key, "groups", group, "transforms")
    return checked


def _section_hint(raw_key: str) -> str:
    ids = transform_ids()
    sections = [*ids.values(), *ENGINE_SECTIONS]
    if raw_key.upper() in ids:
        return f": options go under the transform's name; did you mean {ids[raw_key.upper()]}?"
    close = closest(raw_key.replace("_", "-"), [*sections, *ids])
    return f"; did you mean {ids.get(close, close)}?" if close else "; see `hardener list`"


def check_options(where: Where, keys: tuple[str, ...], declared: tuple[Option, ...],
                  table: Mapping[str, Any]) -> dict[str, Any]:
    """Every key declared, given once, with a value of its type; the keys in kebab-case."""
    out: dict[str, Any] = {}
    label = ".".join(keys)
    for raw, value in table.items():
        name = raw.replace("_", "-")
        option = next((o for o in declared if o.name == name), None)
        if option is None:
            raise where.error(f"unknown option {raw!r} in {where.header(*keys)}{_option_hint(raw, declared)}", *keys, raw)
        if name in out:
            raise where.error(f"{label}.{raw}: given twice (as {name!r} too)", *keys, raw)
        why = problem(option, value)
        if why is not None:
            raise where.error(f"{label}.{raw}: {why}", *keys, raw)
        _check_nested(where, (*keys, raw), option, value)
        out[name] = value
    return out


def _option_hint(raw: str, declared: tuple[Option, ...]) -> str:
    names = [o.name for o in declared]
    if not names:
        return "; it has no options"
    return did_you_mean(raw.replace("_", "-"), names) or f"; its options: {', '.join(names)}"


def _check_nested(where: Where, keys: tuple[str, ...], option: Option, value: Any) -> None:
    """A table's keys (``option.keys``) and each sub-table's fields (``option.fields``)."""
    if not isinstance(value, dict):
        return
    for sub_key, sub_value in value.items():
        if option.keys is not None and sub_key not in option.keys:
            hint = did_you_mean(sub_key, option.keys) or f"; expected one of {', '.join(option.keys)}"
            raise where.error(f"{'.'.join(keys)}: unknown key {sub_key!r}{hint}", *keys, sub_key)
        if option.fields and isinstance(sub_value, dict):
            check_options(where, (*keys, sub_key), option.fields, sub_value)


def code_problem(codes: Iterable[str]) -> str | None:
    """Why a ``select``/``ignore`` code matches no transform (ruff's rule: id, id prefix,
    name or ``ALL``), with the closest valid one; ``None`` when every code matches."""
    ids = transform_ids()
    for code in codes:
        word = code.strip()
        upper = word.upper()
        if word and (upper == "ALL" or word in ids.values() or any(i.startswith(upper) for i in ids)):
            continue
        return f"unknown transform {code!r}{did_you_mean(word, [*ids.values(), *ids]) or '; see `hardener list`'}"
    return None


def check_codes(where: Where, key: str, codes: tuple[str, ...]) -> None:
    """``select``/``ignore`` of the file: an unknown code is an error at its own line."""
    for code in codes:
        found = code_problem((code,))
        if found is not None:
            raise BadInput(f"{key}: {found}", _element_line(where, key, code), str(where.path))


def _element_line(where: Where, key: str, element: str) -> int | None:
    """The line of ``element`` in a (possibly multi-line) list, else the key's line."""
    start = where.line(key)
    if start is None:
        return None
    quoted = re.compile(rf"[\"']{re.escape(element)}[\"']")
    lines = where.text.splitlines()[start - 1:]
    return next((start + i for i, line in enumerate(lines) if quoted.search(line)), start)


def check_applicability_keys(where: Where, key: str, levels: Iterable[str]) -> None:
    """Applicability overrides match a transform's exact id or name (as the engine does)."""
    ids = transform_ids()
    for raw in levels:
        name = raw.replace("_", "-")
        if name not in ids and name not in ids.values():
            hint = did_you_mean(name, [*ids.values(), *ids]) or "; see `hardener list`"
            raise where.error(f"{key}.{raw}: unknown transform{hint}", key, raw)


def compose_projects(where: Where, key: str, value: Any) -> tuple[tuple[str, ...], ...]:
    """``compose-projects = [["compose.yaml", "compose.full.yaml"], …]``: each a non-empty list
    of relative paths (the ``-f`` files in order), so a typo is an error, not a project ignored."""
    if not isinstance(value, list) or not all(isinstance(p, list) and p for p in value):
        raise where.error(f"{key!r} must be a list of non-empty lists of file paths", key)
    for project in value:
        for name in project:
            if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
                raise where.error(f"{key}: {name!r} must be a path inside the repository", key)
    return tuple(tuple(p) for p in value)
