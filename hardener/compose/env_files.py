"""Env files as Compose reads them (``env_file:``, ``.env``): ``NAME=value`` lines by
Compose's dotenv rules, the literal credentials among them, and which of a service's env files
git tracks (used by compose-secrets, HD607, and interpolation-secrets, HD609). Values are read,
never printed: findings carry the file, line and variable.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from hardener.compose.env_secrets import has_url_password, is_credential_name, is_literal
from hardener.compose.splice import mapping_get, scalar_value
from hardener.compose.weak_secrets import is_key_name, weakness

if TYPE_CHECKING:
    from hardener.context import Context


class EnvLine(NamedTuple):
    """One ``NAME=value`` line of an env file; value None: not a literal (interpolated, multi-line)."""

    name: str
    value: str | None
    line: int


_ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*")


def env_lines(text: str) -> Iterator[EnvLine]:
    """``NAME=value`` lines as Compose's dotenv reader takes them: ``#`` comments, ``export``,
    single quotes literal, double quotes and bare values interpolated (``$`` in them: not a
    literal), `` #`` starting an inline comment after a bare value."""
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):  # as bytes.splitlines counts lines
        match = _ENV_LINE.fullmatch(line)
        if match is None:
            continue
        yield EnvLine(match.group(1), _env_value(match.group(2)), number)


def _env_value(raw: str) -> str | None:
    if raw[:1] == "'":
        return raw[1:-1] if len(raw) > 1 and raw.endswith("'") else None  # multi-line: unknown
    if raw[:1] == '"':
        if len(raw) < 2 or not raw.endswith('"'):
            return None
        inner = raw[1:-1]
        return None if "$" in inner or "\\" in inner else inner
    value = re.split(r"\s#", raw, maxsplit=1)[0].rstrip()
    return None if "$" in value else value


def env_credentials(text: str) -> Iterator[EnvLine]:
    """The literal credentials of an env file: by name (as in ``environment:``), a URL with a
    password, or a key by name whose value is weak."""
    for entry in env_lines(text):
        value = entry.value
        if not is_literal(value) or value is None:
            continue
        if is_credential_name(entry.name) or has_url_password(value) or (is_key_name(entry.name) and weakness(value)):
            yield entry


class EnvFileCredential(NamedTuple):
    """A literal credential in an ``env_file:`` that git tracks."""

    path: Path  # the env file
    shown: str  # its path as the Compose file writes it
    entry: EnvLine
    line: int  # the Compose file's line naming the env file


def env_file_credentials(service: Node | None, directory: Path, ctx: Context) -> Iterator[EnvFileCredential]:
    """The credentials of the service's ``env_file:`` files that git tracks (a path with a
    variable, an unreadable or untracked file: nothing to report)."""
    from hardener.compose.git_index import tracked

    for path_node, shown in _items(service):
        path = directory / shown
        data = ctx.files.read(path)
        if data is None or tracked(ctx.root, path) is not True:
            continue
        for entry in env_credentials(data.decode("utf-8", "replace")):
            yield EnvFileCredential(path, shown, entry, path_node.start_mark.line + 1)


def without_lines(data: bytes, numbers: set[int]) -> bytes:
    """``data`` without the given 1-based lines (each with its line ending)."""
    return b"".join(line for n, line in enumerate(data.splitlines(keepends=True), 1) if n not in numbers)


def env_paths(service: Node | None, directory: Path) -> set[Path]:
    """The plain paths of the service's ``env_file:`` entries (short or long syntax)."""
    return {directory / shown for _, shown in _items(service)}


def _items(service: Node | None) -> Iterator[tuple[Node, str]]:
    node = mapping_get(service, "env_file")
    for item in node.value if isinstance(node, SequenceNode) else [node] if node is not None else []:
        path_node = mapping_get(item, "path") if isinstance(item, MappingNode) else item
        shown = scalar_value(path_node)
        if path_node is not None and shown and "$" not in shown:
            yield path_node, shown
