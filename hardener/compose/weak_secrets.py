"""Weak credentials: ``${VAR:-default}`` defaults in a Compose file whose value is a
placeholder, a repeated character, a sequence or too short, and the variables a file
interpolates (used by interpolation-secrets, HD609; env_files.py applies the same rules to
env files).

A finding names the variable and why its value is weak by category ("a placeholder", "one
character repeated"), never the value: reports end up in CI logs and SARIF uploads.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.env_secrets import has_url_password, is_credential_name, is_literal, name_parts

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc

# `$$` first so an escaped `$${X:-d}` is skipped; a default holding `$` or `}` is a nested
# variable, not a literal (the inner `${Y:-d}` is matched on its own)
_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)([^}$]*)\}")
_KEY_NOT = frozenset({"public", "pub", "file", "path", "dir", "id", "name", "prefix", "bucket", "object",
                      "sort", "primary", "partition", "field", "header", "column", "type", "region", "cache",
                      "length", "size", "store", "hash", "map"})
_SHORT = 12  # a password or key under 12 characters falls to an offline guess
# a placeholder: these words anywhere in a credential's value (after dropping punctuation)
_PLACEHOLDER_WORDS = ("changeme", "changethis", "changeit", "change", "replace", "secret", "password",
                      "passw0rd", "passwd", "admin", "example", "test", "default", "dummy", "sample",
                      "placeholder", "insecure", "qwerty", "letmein", "123456", "foobar", "todo", "demo")
# values that are credentials whatever the variable is called
_ALWAYS_PLACEHOLDER = re.compile(r"(changeme|changethis|changeit|mysecret|supersecret|secret|password|"
                                 r"passw0rd|p4ssw0rd|letmein|s3cr3t)[0-9]*")
_SEQUENCES = ("0123456789abcdefghijklmnopqrstuvwxyz", "9876543210", "qwertyuiopasdfghjklzxcvbnm")


class WeakDefault(NamedTuple):
    """``${name:-…}`` whose default looks like a credential; ``why`` never holds the value."""

    name: str
    line: int
    why: str


def is_key_name(name: str) -> bool:
    """ENCRYPTION_KEY, JWT_SIGNING_KEY, APP_KEY_BASE64: a key by name; not PUBLIC_KEY,
    SSH_KEY_PATH or CACHE_KEY_PREFIX."""
    parts = name_parts(name)
    while parts and parts[-1] in ("base", "b64", "base64"):
        parts.pop()
    return len(parts) > 1 and parts[-1] == "key" and not _KEY_NOT & set(parts)


def weakness(value: str) -> str | None:
    """Why a credential's value is weak, by category (never the value), or None."""
    folded = re.sub(r"[^a-z0-9]", "", value.lower())
    if len(set(value)) == 1:
        return "one character repeated"
    if any(word in folded for word in _PLACEHOLDER_WORDS):
        return "a placeholder"
    if len(folded) >= 4 and any(folded in seq for seq in _SEQUENCES):
        return "a counting or keyboard sequence"
    if len(value) < _SHORT:
        return f"shorter than {_SHORT} characters"
    return None


def weak_credential(name: str, value: str | None) -> str | None:
    """Why ``value`` for the variable ``name`` is a weak credential, or None: a credential
    or key name with a weak value, a URL whose password is weak, or a value that is a
    password placeholder whatever the name."""
    if not is_literal(value) or value is None:
        return None
    if is_credential_name(name) or is_key_name(name):
        return weakness(value)
    if has_url_password(value):
        password = urlsplit(value).password or ""
        why = weakness(password) if password and "$" not in password else None
        return f"a URL whose password is {why}" if why else None
    return "a placeholder" if _ALWAYS_PLACEHOLDER.fullmatch(value.strip().lower()) else None


def weak_defaults(doc: ComposeDoc) -> Iterator[WeakDefault]:
    """Each ``${VAR:-default}`` / ``${VAR-default}`` in a value of the file whose default is a
    weak credential, in file order (an anchored node is read once, where it is written)."""
    if "$" not in doc.text:  # every match starts with one: skip the walk of every scalar
        return
    for node in _scalar_values(doc.documents):
        start = node.start_mark.index
        if doc.text.find("$", start, node.end_mark.index) < 0:
            continue
        source = doc.text[start:node.end_mark.index]
        for match in _INTERPOLATION.finditer(source):
            if match.group(1) is None:
                continue
            why = weak_credential(match.group(1), match.group(3))
            if why:
                yield WeakDefault(match.group(1), doc.line_of(start + match.start()), why)


_REFERENCE = re.compile(r"\$\$|\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def references(doc: ComposeDoc) -> dict[str, int]:
    """The variables the file interpolates (``$X``, ``${X…}``), each with its first line."""
    found: dict[str, int] = {}
    if "$" not in doc.text:  # every match starts with one: skip the walk of every scalar
        return found
    for node in _scalar_values(doc.documents):
        start = node.start_mark.index
        if doc.text.find("$", start, node.end_mark.index) < 0:
            continue
        for match in _REFERENCE.finditer(doc.text[start:node.end_mark.index]):
            if match.group(1) is not None:
                found.setdefault(match.group(1), doc.line_of(start + match.start()))
    return found


def _scalar_values(documents: list[Node]) -> list[ScalarNode]:
    found: dict[int, ScalarNode] = {}
    seen: set[int] = set()
    stack = list(documents)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            found[id(node)] = node
        elif isinstance(node, MappingNode):
            stack += [value for _, value in node.value]
        elif isinstance(node, SequenceNode):
            stack += node.value
    return sorted(found.values(), key=lambda n: n.start_mark.index)
