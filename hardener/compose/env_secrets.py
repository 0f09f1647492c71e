"""Literal credentials in a Compose service's ``environment:`` and the ignore files that keep
their new secrets files out of git and out of build contexts (used by compose-secrets, HD607).

Detection is by name (password, token, secret, api key … as whole name parts) and by value
(a URL with ``user:password@``). A value is a literal only when Compose would pass exactly
the text written: ``${VAR}`` interpolation, an empty value, ``KEY`` without ``=`` (taken from
the shell) and yes/no style flags are not credentials in the file. Placeholders such as
``changeme`` are credentials: a default password in VCS is the most common real one.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from hardener.compose.splice import is_merge_key, mapping_get, scalar_value
from hardener.dockerfile.dockerignore import append_block
from hardener.model import FileWrite

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc
    from hardener.context import Context

_WORDS = frozenset({"password", "passwd", "pass", "passphrase", "secret", "token", "apikey"})
_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})
_TAIL = frozenset({"key", "base", "b64", "base64"})  # SECRET_KEY, SECRET_KEY_BASE: still the secret
# parts that make a "password" name a switch or a setting, not a credential
_NOT_CREDENTIAL = frozenset({"allow", "empty", "random", "generate", "skip", "onetime", "require", "required"})
_FLAGS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "0", "1", "none", "null", "~"})
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:[^/?#@\s]+@")
_PATH = re.compile(r"(/|\./|\.\./|~/)\S*")
_DECIMAL = re.compile(r"-?[1-9][0-9]*|0")
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
_STR = "tag:yaml.org,2002:str"


class EnvEntry(NamedTuple):
    """One ``environment:`` entry as written in the file."""

    name: str
    value: str | None  # what the container gets; None: not in the file (shell, ${VAR})
    key: ScalarNode | None  # mapping form: the key; list form: None (``node`` holds KEY=value)
    node: ScalarNode
    problem: str | None = None  # why the value's exact text cannot be known


def name_parts(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [p for p in re.split(r"[^a-z0-9]+", spaced.lower()) if p]


def is_credential_name(name: str) -> bool:
    """DB_PASSWORD, GITHUB_TOKEN, SECRET_KEY_BASE, STRIPE_API_KEY; not PASSWORD_MIN_LENGTH,
    MYSQL_ALLOW_EMPTY_PASSWORD or POSTGRES_PASSWORD_FILE (a path, already external)."""
    parts = name_parts(name)
    if _NOT_CREDENTIAL & set(parts):
        return False
    for i, part in enumerate(parts):
        end = i + 2 if tuple(parts[i:i + 2]) in _PAIRS else i + 1 if part in _WORDS else 0
        if end and all(p in _TAIL for p in parts[end:]):
            return True
    return False


def has_url_password(value: str) -> bool:
    return _URL_PASSWORD.match(value) is not None


def is_literal(value: str | None) -> bool:
    """A value (``EnvEntry.value``) that is a credential in the file: not empty, no flag, no path."""
    if value is None or not value.strip():
        return False
    return value.strip().lower() not in _FLAGS and _PATH.fullmatch(value) is None


def entries(env: Node | None) -> Iterator[EnvEntry]:
    """Entries of a mapping or ``KEY=value`` list ``environment:`` (merge keys skipped)."""
    if isinstance(env, MappingNode):
        for key, value in env.value:
            if isinstance(key, ScalarNode) and not is_merge_key(key) and isinstance(value, ScalarNode):
                text, problem = _mapping_value(value)
                yield EnvEntry(str(key.value), text, key, value, problem)
    elif isinstance(env, SequenceNode):
        for item in env.value:
            if isinstance(item, ScalarNode) and str(item.value).strip():
                name, eq, text = str(item.value).partition("=")
                problem = None
                if eq and len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
                    problem = "it is quoted inside the list item, and whether Compose strips the quotes is unclear"
                yield EnvEntry(name.strip(), _unescape(text) if eq else None, None, item, problem)


def _mapping_value(node: ScalarNode) -> tuple[str | None, str | None]:
    text = str(node.value)
    if node.style is not None:
        return _unescape(text), None if node.style in ("'", '"') else "it is a block scalar"
    tags = {str(r.resolve(ScalarNode, text, (True, False))) for r in _RESOLVERS}
    if tags == {_STR} or _DECIMAL.fullmatch(text):
        return _unescape(text), None
    if text.strip().lower() in _FLAGS or text in ("", "~"):
        return None, None
    return text, "YAML does not read it as a plain string; quote it first"


def _unescape(text: str) -> str | None:
    """What Compose passes: ``$$`` is a literal ``$``; a single ``$`` is interpolation (None:
    the value comes from outside the file)."""
    if "$" in text.replace("$$", ""):
        return None
    return text.replace("$$", "$")


# ignore files --------------------------------------------------------------------

GITIGNORE_HEADER = "# added by hardener (compose-secrets): Compose secrets files hold credentials"
DOCKERIGNORE_HEADER = "# added by hardener (compose-secrets): keep Compose secrets files out of the image"


def _git_ignored(root: Path, directory: Path, rel: str, read: Callable[[Path], bytes | None]) -> bool:
    """Whether git ignores ``directory/rel``: the deepest .gitignore (root → directory) with a
    matching pattern decides, as in git. ``read`` is ``FileView.read``."""
    target = (directory / rel).relative_to(root) if directory.is_relative_to(root) else Path(rel)
    bases = [root / Path(*target.parts[:i]) for i in range(len(target.parts))]
    for base in reversed(bases if directory.is_relative_to(root) else [directory]):
        data = read(base / ".gitignore")
        if not data:
            continue
        lines = data.decode("utf-8", "replace").splitlines()
        from pathspec import GitIgnoreSpec  # here: most runs read no .gitignore (an import)

        try:
            spec = GitIgnoreSpec.from_lines(lines)
        except ValueError:
            continue
        sub = (directory / rel).relative_to(base).as_posix()
        verdict = spec.check_file(sub).include
        if verdict is not None:
            return bool(verdict)
    return False


def ignore_writes(doc: ComposeDoc, ctx: Context, directory: Path, secret: str) -> list[FileWrite]:
    """``/secrets/`` in .gitignore and ``secrets/`` in the .dockerignore files of the directory,
    unless they already leave it out; a .dockerignore is created only for a build context."""
    from hardener import repo_facts

    writes = []
    if not _git_ignored(ctx.root, directory, f"secrets/{secret}", ctx.files.read):
        existing = ctx.files.read(directory / ".gitignore") or b""
        writes.append(FileWrite(directory / ".gitignore", append_block(existing, GITIGNORE_HEADER, ["/secrets/"]), 0o644))
    targets = sorted({p for p in directory.glob("*.dockerignore") if p.is_file()} | (
        {directory / ".dockerignore"} if _builds_here(doc, ctx, directory) else set()))
    for target in targets:
        existing = ctx.files.read(target) or b""
        matcher = repo_facts.ignore_matcher(existing)
        if matcher is not None and not matcher.excluded(f"secrets/{secret}"):
            writes.append(FileWrite(target, append_block(existing, DOCKERIGNORE_HEADER, ["secrets/"]), 0o644))
    return writes


def _builds_here(doc: ComposeDoc, ctx: Context, directory: Path) -> bool:
    """A Dockerfile sits next to the Compose file or a service builds from its directory."""
    from hardener.discover import classify

    if ctx.files.read(directory / ".dockerignore") is not None or any(classify(p.name) == "dockerfile" for p in directory.iterdir()):
        return True
    for service in doc.services():
        build = mapping_get(service.node, "build")
        context = scalar_value(build) if isinstance(build, ScalarNode) else scalar_value(mapping_get(build, "context"))
        if build is not None and "$" not in (context or "") and (directory / (context or ".")).resolve() == directory.resolve():
            return True
    return False


def node_uses(doc: ComposeDoc, target: Node | None) -> int:
    """How often a node occurs in the graph (an anchor used by an alias counts twice)."""
    count, seen, stack = 0, set(), list(doc.documents)
    while stack:
        node = stack.pop()
        count += node is target
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack += [n for pair in node.value for n in pair]
        elif isinstance(node, SequenceNode):
            stack += node.value
    return count
