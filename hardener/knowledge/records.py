"""Typed readers for knowledge-base tables: each value checked once, at load time.

A knowledge-base file is data other people edit. A misspelt key (``writeable_paths``) or a
wrong type (``ports = "80"``) read with ``.get`` would silently mean "not known" and change
what the transforms do; here it stops the load with the entry and key that are wrong.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Reader = Callable[[Any, str], Any]


class KnowledgeError(ValueError):
    """A knowledge-base file that does not follow its schema."""


@dataclass(frozen=True)
class UserSpec:
    name: str
    uid: int
    gid: int | None  # None: the user's primary group from /etc/passwd

    @property
    def numeric(self) -> str:
        return str(self.uid) if self.gid is None else f"{self.uid}:{self.gid}"


def fail(where: str, what: str) -> KnowledgeError:
    return KnowledgeError(f"{where}: {what}")


def text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise fail(where, f"expected a string, got {value!r}")
    return value


def flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise fail(where, f"expected true or false, got {value!r}")
    return value


def number(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise fail(where, f"expected an integer, got {value!r}")
    return value


def texts(value: Any, where: str) -> tuple[str, ...]:
    return tuple(text(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def numbers(value: Any, where: str) -> tuple[int, ...]:
    return tuple(number(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def user(value: Any, where: str) -> UserSpec:
    fields = table(value, where, {"name": text, "uid": number, "gid": number}, required=("name", "uid", "gid"))
    return UserSpec(**fields)


def tagged(read: Callable[[Any, str], T]) -> Callable[[Any, str], tuple[tuple[str, T], ...]]:
    """A reader for ``[["tag regex", value], …]``: per-tag overrides of one fact."""
    def pairs(value: Any, where: str) -> tuple[tuple[str, T], ...]:
        out = []
        for i, pair in enumerate(_list(value, where)):
            if not isinstance(pair, list) or len(pair) != 2:
                raise fail(f"{where}[{i}]", f"expected [regex, value], got {pair!r}")
            out.append((text(pair[0], f"{where}[{i}][0]"), read(pair[1], f"{where}[{i}][1]")))
        return tuple(out)
    return pairs


def table(value: Any, where: str, readers: Mapping[str, Reader], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``value`` read key by key; an unknown or missing key is an error, not a default."""
    if not isinstance(value, dict):
        raise fail(where, f"expected a table, got {value!r}")
    unknown = sorted(set(value) - set(readers))
    if unknown:
        raise fail(where, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(readers))})")
    missing = [k for k in required if k not in value]
    if missing:
        raise fail(where, f"missing key {missing[0]!r}")
    return {key: readers[key](v, f"{where}.{key}") for key, v in value.items()}


def tables(value: Any, where: str) -> dict[str, Any]:
    """``[kind.<name>]`` tables: any names, each read later by its own schema."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise fail(where, f"expected tables, got {value!r}")
    return value


def keep(value: Any, where: str) -> Any:
    """A table read later by its own schema (``table`` checks it is one)."""
    return value


def rows(value: Any, where: str) -> list[Any]:
    """``[[kind]]`` entries, each read later by its own schema."""
    return _list(value, where)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(where, f"expected a list, got {value!r}")
    return value
