"""Configuration: ``[tool.hardener]`` in pyproject.toml or a whole ``.hardener.toml``.

Keys are kebab-case like ruff's (snake_case accepted). Every sub-table that is not a
known key is a transform's options (``[tool.hardener.run-as-non-root] uid = 10001``), or
those of ``hardener pr``/``verify``, checked against their declarations (config_check).
A mistake in the file is bad input with the file and, where we can find it, the line:
a config silently half-applied would harden differently from what the user wrote.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardener import config_check
from hardener.config_check import Where, line_of
from hardener.errors import BadInput
from hardener.limits import DEFAULT_MAX_FILE_SIZE, HARD_MAX_FILE_SIZE, read_bounded
from hardener.model import Applicability
from hardener.options import did_you_mean

DEDICATED = ".hardener.toml"
PYPROJECT = "pyproject.toml"
_LISTS = ("select", "ignore", "exclude", "include")
_FLAGS = ("unsafe", "safe-only")
KNOWN_KEYS = frozenset((*_LISTS, *_FLAGS, "applicability", "max-file-size", "compose-projects"))


@dataclass(frozen=True)
class Config:
    """The settled configuration; CLI flags are folded in with ``merged``."""

    select: tuple[str, ...] = ()  # empty: every transform
    ignore: tuple[str, ...] = ()
    unsafe: bool = False
    safe_only: bool = False
    applicability: Mapping[str, Applicability] = field(default_factory=dict)  # id or name
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()  # brings back what discovery skips by default (vendor/, ...)
    options: Mapping[str, Any] = field(default_factory=dict)  # transform name -> sub-table
    source: Path | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # bytes; larger Dockerfiles and Compose files are bad input
    # Compose -f sets the repository's commands do not show (paths from the repository root)
    compose_projects: tuple[tuple[str, ...], ...] = ()

    def merged(self, **overrides: Any) -> Config:
        """CLI flags win over the file; ``None`` means "not given on the command line".

        Select/ignore lists replace the file's. ``--unsafe`` and ``--safe-only`` each
        switch the other off, so a flag is never overruled by the file's opposite setting.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in _LISTS:
            if key in given:
                given[key] = tuple(given[key])
        if given.get("unsafe"):
            given.setdefault("safe_only", False)
        if given.get("safe_only"):
            given.setdefault("unsafe", False)
        return dataclasses.replace(self, **given)


def selected(config: Config, transform_id: str, name: str) -> bool:
    """Ruff's rule: exact id, id prefix (``HD3``), name, or ``ALL``; ignore beats select."""
    if _matches(config.ignore, transform_id, name):
        return False
    return not config.select or _matches(config.select, transform_id, name)


def _matches(codes: tuple[str, ...], transform_id: str, name: str) -> bool:
    upper_id = transform_id.upper()
    for code in codes:
        code = code.strip()
        if code and (code.upper() == "ALL" or upper_id.startswith(code.upper()) or code == name):
            return True
    return False


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """The explicit file, else the nearest config at or above ``start`` (defaults if none).

    The search stops at the repository root (a directory holding ``.git``) so a config
    outside the repository never leaks in.
    """
    if explicit is not None:
        return _load_file(explicit, required=True) or Config(source=explicit)
    directory = Path(os.path.abspath(start))
    if not directory.is_dir():
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        config = _load_dir(candidate)
        if config is not None:
            return config
        if os.path.lexists(candidate / ".git"):
            break
    return Config()


def _load_dir(directory: Path) -> Config | None:
    dedicated = directory / DEDICATED
    if dedicated.is_file():
        return _load_file(dedicated, required=True)
    pyproject = directory / PYPROJECT
    if pyproject.is_file():
        return _load_file(pyproject, required=False)
    return None


def _load_file(path: Path, *, required: bool) -> Config | None:
    """Parse one file; ``None`` when it is a pyproject.toml without ``[tool.hardener]``."""
    text = _read(path)
    is_pyproject = path.name == PYPROJECT
    if is_pyproject and not required and "hardener" not in text:
        return None  # not ours: do not fail on (or spend time parsing) a foreign pyproject
    data = _parse(text, path)
    tool = data.get("tool")
    table: Any = (tool.get("hardener") if isinstance(tool, dict) else None) if is_pyproject else data
    if table is None:
        return None
    prefix = ("tool", "hardener") if is_pyproject else ()
    if not isinstance(table, dict):
        raise BadInput("[tool.hardener] must be a table", line_of(text, ("tool", "hardener")), str(path))
    return _ConfigReader(Where(text, path, prefix)).read(table)


def _read(path: Path) -> str:
    try:
        return read_bounded(path).decode("utf-8-sig")
    except FileNotFoundError:
        raise BadInput("no such file or directory", None, str(path)) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", None, str(path)) from None
    except UnicodeDecodeError:
        raise BadInput("not UTF-8 text", None, str(path)) from None


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
        if where is None:
            raise BadInput(f"invalid TOML: {message}", None, str(path)) from None
        detail = message[: where.start()]
        raise BadInput(f"invalid TOML: {detail} (column {where.group(2)})", int(where.group(1)), str(path)) from None


@dataclass(frozen=True)
class _ConfigReader:
    """Validates one table, keeping the text so errors can point at a line."""

    where: Where

    def read(self, table: dict[str, Any]) -> Config:
        values: dict[str, Any] = {"source": self.where.path, "options": {}}
        for raw_key, value in table.items():
            key = raw_key.replace("_", "-")
            if key in _LISTS:
                values[key] = self._strings(raw_key, value)
            elif key in _FLAGS:
                values[key.replace("-", "_")] = self._flag(raw_key, value)
            elif key == "applicability":
                values[key] = self._applicability(raw_key, value)
            elif key == "max-file-size":
                values["max_file_size"] = self._size(raw_key, value)
            elif key == "compose-projects":
                values["compose_projects"] = config_check.compose_projects(self.where, raw_key, value)
            elif isinstance(value, dict):
                values["options"][key] = self._section(raw_key, key, value, values["options"])
            else:
                raise self._error(f"unknown key {raw_key!r}{did_you_mean(key, KNOWN_KEYS)}", raw_key)
        if values.get("unsafe") and values.get("safe_only"):
            raise self._error("'unsafe' and 'safe-only' exclude each other", "safe-only")
        for key in ("select", "ignore"):
            config_check.check_codes(self.where, key, values.get(key, ()))
        return Config(**values)

    def _section(self, raw_key: str, key: str, value: dict[str, Any], seen: Mapping[str, Any]) -> dict[str, Any]:
        if key in seen:
            raise self._error(f"{self.where.header(raw_key)}: given twice (as {key!r} too)", raw_key)
        return config_check.check_section(self.where, raw_key, value)

    def _strings(self, key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._error(f"{key!r} must be a list of strings", key)
        return tuple(value)

    def _flag(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._error(f"{key!r} must be true or false", key)
        return value

    def _size(self, key: str, value: Any) -> int:
        # capped: the repository being hardened writes this file and must not lift the bound
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= HARD_MAX_FILE_SIZE:
            raise self._error(f"{key!r} must be a number of bytes from 1 to {HARD_MAX_FILE_SIZE}", key)
        return value

    def _applicability(self, key: str, value: Any) -> dict[str, Applicability]:
        if not isinstance(value, dict):
            raise self._error(f"{key!r} must be a table of transform = level", key)
        out: dict[str, Applicability] = {}
        for transform, level in value.items():
            try:
                out[transform.replace("_", "-")] = Applicability.parse(level if isinstance(level, str) else "")
            except ValueError:
                message = f"{key}.{transform}: level must be safe, review or unsafe, not {level!r}"
                raise self.where.error(message, key, transform) from None
        config_check.check_applicability_keys(self.where, key, value)
        return out

    def _error(self, message: str, key: str) -> BadInput:
        return self.where.error(message, key)
