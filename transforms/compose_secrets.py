"""HD607 compose-secrets."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hardener.compose.anchors import LEGACY, SILENT, Silent, obstacle, own_sequence
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.env_files import EnvFileCredential, env_file_credentials, env_lines, env_paths, without_lines
from hardener.compose.env_secrets import (
    EnvEntry,
    entries,
    has_url_password,
    ignore_writes,
    is_credential_name,
    is_literal,
    node_uses,
)
from hardener.compose.interpolation_env import interpolation_files
from hardener.compose.service_transform import ServiceTransform, WhyNot
from hardener.compose.splice import (
    append_sequence_item,
    insert_mapping_entry,
    mapping_get,
    mapping_own,
    replace_scalar,
    scalar_value,
    written_here,
)
from hardener.context import Context
from hardener.edits import Edit, merge_inserts
from hardener.knowledge import images
from hardener.model import Applicability, FileWrite, Finding
from hardener.why import Why

ROTATE = "rotate it and move it to a secret/env file"
ROTATE_ENV_FILE = "rotate it and keep it out of git (an untracked env file or a secret)"
# the entrypoint reads *_FILE only when it starts the server (first argument, or a flag for it)
_SERVERS = {"postgres": {"postgres"}, "mysql": {"mysqld"}, "mariadb": {"mariadbd", "mysqld"}}
_OLD_VERSION = re.compile(r"[12](\..*)?|3(\.0)?")  # Compose file formats without `secrets:`


class Move(NamedTuple):
    service: Service
    name: str
    value: str
    line: int
    entry: EnvEntry | None  # a credential written in `environment:`
    source: EnvFileCredential | None = None  # or in an env_file


class ComposeSecrets(ServiceTransform):
    """Move literal credentials out of `environment:` and committed `env_file`s into Compose secrets files.

    ## What it fixes
    Passwords, tokens and keys written in a service's `environment:` (names such as
    `*_PASSWORD`, `*_TOKEN`, `*_SECRET`, `*_API_KEY`, `*_PRIVATE_KEY`, `*_ACCESS_KEY`,
    and URLs with `user:password@`). `${VAR}` values, empty values and yes/no flags
    (`MYSQL_ALLOW_EMPTY_PASSWORD`) are not literals; placeholders such as `changeme` are.
    The same credentials in an `env_file:` that git tracks (its index is read, git is never
    run; without a git repository an env file is not known to be committed and is left
    alone), read with Compose's dotenv rules: the file, its line and the variable are
    reported, never the value.

    ## Why
    A credential in the Compose file is in every clone, fork and CI log of the repository,
    and `docker inspect` shows it. When the image reads `<NAME>_FILE` (postgres, mysql,
    mariadb: `file_env` in the knowledge base), the value moves to `./secrets/<name>`
    (created 0600, added to `.gitignore` and to the `.dockerignore` of a build context
    there) and is mounted at `/run/secrets/<name>`; from an env_file, its line is removed
    there and `<NAME>_FILE` is added to the service's `environment:`. Anything else is
    reported for rotation.

    ## Example
        services:
          db:
            image: postgres:16
            environment:
              POSTGRES_PASSWORD: hunter2
        ->
              POSTGRES_PASSWORD_FILE: /run/secrets/db_postgres_password
            secrets:
              - db_postgres_password
        secrets:
          db_postgres_password:
            file: ./secrets/db_postgres_password

    ## Applicability
    unsafe: the value leaves version control, so every other checkout must create its own
    `secrets/` file before `docker compose up`; the old value stays in the history and
    must be rotated. `diff` and JSON show the new secrets file by its size only (the
    Compose file's removed line still shows the value, as the repository already does), so
    `hardener diff | git apply` would write that placeholder: use `hardener apply`.

    ## Refuses when
    Reports (never the value) every literal credential it does not move: the image is
    unknown, built here or does not read `<NAME>_FILE`; a URL with a password; the service
    overrides the entrypoint, runs a custom command or another `user:` (the 0600 file would
    be unreadable), drops DAC_OVERRIDE; its healthcheck or command uses the variable; an
    `env_file` sets it; `<NAME>_FILE` is set; `environment`, `secrets` or the service come
    from a shared anchor; the file is legacy v1 or a `version:` before 3.1. For an env_file
    credential also: another service of the file reads the same env_file, `environment:`
    sets the variable or its `_FILE` too, or the env file sets it twice. (Anything outside the
    Compose file that reads the env file, a script's `docker run --env-file`, loses the
    variable: one more reason this is unsafe.) An env_file that is also the file Compose
    interpolates from (the `.env` beside it, a command's `--env-file`) is left to
    interpolation-secrets (HD609), which reports each credential once: its values reach
    every `${VAR}` of the project, so only a whole-file report names them all, and a move
    from it would take the value from those uses.

    ## References
    CIS Docker 5.x (secrets management), OWASP Docker Security Cheat Sheet rule 12,
    Docker docs: Compose secrets
    """

    id = "HD607"
    name = "compose-secrets"
    references = ("docs.docker.com:compose-secrets", "owasp-docker:12")
    applicability = Applicability.UNSAFE
    reads = ("environment", "env_file", "image", "build", "entrypoint", "command", "healthcheck", "user",
             "cap_drop", "cap_add", "secrets")
    writes = ("environment", "secrets")
    shared = False  # a service others merge is refused per credential (obstacle), not shared

    def gate(self, service: Service, why_not: WhyNot | None) -> Silent | None:
        # an alias's environment is the anchored service's: reported there
        return SILENT if service.alias or not isinstance(service.node, MappingNode) else None

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """Each credential that cannot move is reported where it is written (each may be
        suppressed on its own line); the rest move in one change per YAML document."""
        moves: list[Move] = []
        reported: set[tuple[Path, int]] = set()  # an env_file several services read: reported once

        def one(service: Service) -> Iterator[Finding]:
            for entry, why in _credentials(doc, service, ctx):
                line = doc.line_of(entry.node.start_mark.index)
                if any(doc.suppressed(n, x) for n in (line, service.line) for x in (self.name, self.id)):
                    continue
                if why:
                    reason = f"service {service.name!r}: literal credential in environment: {entry.name} — {ROTATE} ({why})"
                    yield self.refuse(reason, line)
                else:
                    moves.append(Move(service, entry.name, entry.value or "", line, entry))
            for cred, why in _env_file_credentials(doc, service, ctx):
                if (cred.path, cred.entry.line) in reported or doc.suppressed(cred.line, self.name) or doc.suppressed(cred.line, self.id):
                    continue
                reported.add((cred.path, cred.entry.line))
                if why:
                    yield self.refuse(f"service {service.name!r}: literal credential in env_file {cred.shown} line "
                                      f"{cred.entry.line}: {cred.entry.name} — {ROTATE_ENV_FILE} ({why})", cred.line)
                else:
                    moves.append(Move(service, cred.entry.name, cred.entry.value or "", cred.line, None, cred))

        yield from self.each_service(doc, ctx, one)
        for index in sorted({m.service.doc_index for m in moves}):
            yield from self._change(doc, ctx, [m for m in moves if m.service.doc_index == index])

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """Only the credentials of a legacy v1 file are reported: a plain LEGACY refusal is noise here."""
        for root in doc.documents:
            for key, value in root.value if isinstance(root, MappingNode) else ():
                for entry in entries(mapping_get(value, "environment")):
                    if is_literal(entry.value) and (is_credential_name(entry.name) or has_url_password(entry.value or "")):
                        yield self.refuse(f"service {key.value!r}: literal credential in environment: {entry.name} — "
                                          f"{ROTATE} ({LEGACY})", doc.line_of(entry.node.start_mark.index))

    def _change(self, doc: ComposeDoc, ctx: Context, moves: list[Move]) -> Iterator[Finding]:
        directory = ctx.file.parent if ctx.file is not None else ctx.root
        names = _secret_names(doc, ctx, directory, moves)
        try:
            edits = _edits(doc, moves, names)
        except ValueError as err:  # replace_scalar: a value it cannot splice
            edits = Why(str(err))
        if isinstance(edits, Why):
            for move in moves:
                yield self.refuse(f"service {move.service.name!r}: literal credential in environment: "
                                  f"{move.name} — {ROTATE} ({edits})", move.line)
            return
        files = [FileWrite(directory / "secrets" / n, m.value.encode(), 0o600, sensitive=True) for m, n in zip(moves, names)]
        files += _env_file_writes(ctx, moves) + ignore_writes(doc, ctx, directory, names[0])
        moved = ", ".join(f"{m.service.name}.{m.name}{_origin(m)} → {m.name}_FILE (secrets/{n})" for m, n in zip(moves, names))
        reason = (f"moved literal credentials to git-ignored Compose secrets files: {moved}; rotate them "
                  "(the old values stay in the VCS history) and create secrets/ in every other checkout"
                  + ("; anything else that reads the env_file loses them" if any(m.source for m in moves) else ""))
        lines = [m.line for m in moves]
        yield self.change(merge_inserts(edits), reason, min(lines), end_line=max(lines), files=tuple(files))


def _credentials(doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[tuple[EnvEntry, str | None]]:
    """Each literal credential of the service, with why it cannot be moved (None: it can)."""
    env = mapping_get(service.node, "environment")
    all_entries = list(entries(env))
    found = [e for e in all_entries if is_literal(e.value)
             and (is_credential_name(e.name) or has_url_password(e.value or ""))]
    if not found:
        return
    blocker = _service_problem(doc, service, env)
    info = _file_env_image(service)
    names = {e.name for e in all_entries}
    for entry in found:
        why = blocker or entry.problem
        if why is None and not is_credential_name(entry.name):
            why = "a URL with a password; the app must get it from elsewhere"
        if why is None:
            why = info.reason if isinstance(info, Why) else _variable_problem(doc, service, entry.name, info, names, ctx)
        yield entry, why


def _service_problem(doc: ComposeDoc, service: Service, env: Node | None) -> str | None:
    why = obstacle(doc, service)
    if why:
        return why.reason
    if env is not None and (written_here(service.node, "environment") is None or node_uses(doc, env) > 1):
        return "`environment` comes from a shared anchor; change it there"
    version = scalar_value(mapping_own(doc.documents[service.doc_index], "version"))
    if version and _OLD_VERSION.fullmatch(version.strip()):
        return f"`version: {version}` predates Compose secrets (3.1)"
    secrets = mapping_get(service.node, "secrets")
    if secrets is not None:
        seq = own_sequence(service.node, "secrets")
        if isinstance(seq, Why):
            return seq.reason
    return None


def _file_env_image(service: Service) -> Why | frozenset[str]:
    """The variables the service's image reads from ``<NAME>_FILE``, or why that is unknown."""
    node = service.node
    if mapping_get(node, "build") is not None:
        return Why("it is built from a Dockerfile, whose entrypoint may not read *_FILE")
    image = scalar_value(mapping_get(node, "image"))
    info = images.lookup(image) if image and "$" not in image else None
    if info is None:
        return Why(f"the image {image!r} is not known to read *_FILE" if image else "it has no `image:`")
    file_env = frozenset(info.facts.file_env)
    if not file_env:
        return file_env  # each variable is reported as not read from a file
    if mapping_get(node, "entrypoint") is not None:
        return Why("`entrypoint:` replaces the script that reads *_FILE")
    command = mapping_get(node, "command")
    first = _first_word(command)
    if command is not None and not (first.startswith("-") or first in _SERVERS.get(info.name, ())):
        return Why(f"its `command:` does not start the {info.name} server, so *_FILE is not read")
    user = scalar_value(mapping_get(node, "user"))
    if user and not images.is_root_user(user):
        return Why(f"it runs as user {user}, which cannot read a 0600 secrets file owned by you")
    drop = {c.upper() for c in _words(mapping_get(node, "cap_drop"))}
    add = {c.upper().removeprefix("CAP_") for c in _words(mapping_get(node, "cap_add"))}
    if "ALL" in drop and not add & {"DAC_OVERRIDE", "DAC_READ_SEARCH"}:
        return Why("without DAC_OVERRIDE root in the container cannot read a 0600 secrets file owned by you")
    return file_env


def _variable_problem(doc: ComposeDoc, service: Service, name: str, file_env: frozenset[str],
                      names: set[str], ctx: Context) -> str | None:
    if name not in file_env:
        image = scalar_value(mapping_get(service.node, "image"))
        return f"{image} does not read {name}_FILE"
    if f"{name}_FILE" in names:
        return f"{name}_FILE is set as well"
    return _uses_problem(doc, service, name) or _env_file_problem(service, name, ctx)


def _uses_problem(doc: ComposeDoc, service: Service, name: str) -> str | None:
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    for key in ("healthcheck", "command", "entrypoint"):
        node = mapping_get(service.node, key)
        if node is not None and word.search(doc.text[node.start_mark.index:node.end_mark.index]):
            return f"its {key} uses ${name}, which would no longer be set"
    return None


def _env_file_problem(service: Service, name: str, ctx: Context, skip: Path | None = None) -> str | None:
    directory = ctx.file.parent if ctx.file is not None else ctx.root
    node = mapping_get(service.node, "env_file")
    items = node.value if isinstance(node, SequenceNode) else [node] if node is not None else []
    setting = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=", re.MULTILINE)
    for item in items:
        path = scalar_value(mapping_get(item, "path") if isinstance(item, MappingNode) else item)
        if path is None or "$" in path:
            return "an `env_file` path is not a plain path; it may set the variable too"
        if skip is not None and directory / path == skip:
            continue
        data = ctx.files.read(directory / path)
        if data is None and os.path.lexists(directory / path):  # a FIFO, a device, too large: unknown
            return f"env_file {path} cannot be read (not a regular file, or over the size limit); it may set the variable too"
        if data is not None and setting.search(data.decode("utf-8", "replace")):
            return f"env_file {path} sets it too, which would clash with {name}_FILE"
    return None


def _env_file_credentials(doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[tuple[EnvFileCredential, str | None]]:
    """Each literal credential of a git-tracked env_file of the service, with why it cannot be
    moved to a secret (None: it can)."""
    directory = ctx.file.parent if ctx.file is not None else ctx.root
    found = list(env_file_credentials(service.node, directory, ctx))
    if found:  # the project model only when there is something to leave to HD609
        interpolated = {source.path.resolve() for source in interpolation_files(ctx)}
        found = [c for c in found if c.path.resolve() not in interpolated]
    if not found:
        return
    env = mapping_get(service.node, "environment")
    blocker = _service_problem(doc, service, env)
    info = _file_env_image(service)
    names = {e.name for e in entries(env)}
    for cred in found:
        why = blocker or (info.reason if isinstance(info, Why) else None)
        if why is None and not isinstance(info, Why):
            why = _env_file_move_problem(doc, service, cred, info, names, ctx)
        yield cred, why


def _env_file_move_problem(doc: ComposeDoc, service: Service, cred: EnvFileCredential, file_env: frozenset[str],
                           names: set[str], ctx: Context) -> str | None:
    name = cred.entry.name
    if name not in file_env:
        return f"{scalar_value(mapping_get(service.node, 'image'))} does not read {name}_FILE"
    if name in names or f"{name}_FILE" in names:
        return f"`environment:` sets {name if name in names else name + '_FILE'} too"
    others = [s.name for s in doc.services() if s.name != service.name and cred.path in env_paths(s.node, cred.path.parent)]
    if others:
        return f"env_file {cred.shown} is read by {', '.join(others)} as well, which would lose {name}"
    text = (ctx.files.read(cred.path) or b"").decode("utf-8", "replace")
    if sum(e.name in (name, f"{name}_FILE") for e in env_lines(text)) > 1:
        return f"env_file {cred.shown} sets {name} or {name}_FILE more than once"
    return _uses_problem(doc, service, name) or _env_file_problem(service, name, ctx, skip=cred.path)


def _env_file_writes(ctx: Context, moves: list[Move]) -> list[FileWrite]:
    """Each env file without the lines of its moved credentials (its mode kept)."""
    lines: dict[Path, set[int]] = {}
    for move in moves:
        if move.source is not None:
            lines.setdefault(move.source.path, set()).add(move.source.entry.line)
    return [FileWrite(path, without_lines(ctx.files.read(path) or b"", numbers)) for path, numbers in sorted(lines.items())]


def _file_env_edits(doc: ComposeDoc, service: Service, moved: list[tuple[Move, str]]) -> list[Edit]:
    """``NAME_FILE: /run/secrets/<secret>`` in `environment:` for credentials moved out of an env_file."""
    new = {f"{m.name}_FILE": f"/run/secrets/{secret}" for m, secret in moved}
    env = mapping_own(service.node, "environment")
    if not new:
        return []
    if env is None:
        return [insert_mapping_entry(doc, service.node, "environment", new)]
    if isinstance(env, SequenceNode):
        return [append_sequence_item(doc, env, f"{k}={v}") for k, v in new.items()]
    return [insert_mapping_entry(doc, env, k, v) for k, v in new.items()]


def _origin(move: Move) -> str:
    return f" (env_file {move.source.shown} line {move.source.entry.line})" if move.source else ""


def _secret_names(doc: ComposeDoc, ctx: Context, directory: Path, moves: list[Move]) -> list[str]:
    """``<service>_<var>``, with ``_2``, ``_3`` … when a secret or a different file has the name."""
    taken = {str(k.value) for d in doc.documents for k, _ in _pairs(mapping_own(d, "secrets"))}
    out = []
    for move in moves:
        base = re.sub(r"[^A-Za-z0-9._-]", "_", f"{move.service.name}_{move.name.lower()}")
        name, n = base, 1
        while name in taken or ctx.files.read(directory / "secrets" / name) not in (None, move.value.encode()):
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out


def _edits(doc: ComposeDoc, moves: list[Move], names: list[str]) -> list[Edit] | Why:
    edits: list[Edit] = []
    by_service: dict[str, list[str]] = {}
    for move, secret in zip(moves, names):
        entry = move.entry
        if entry is None:
            continue
        if entry.key is not None:
            edits += [replace_scalar(doc, entry.key, f"{entry.name}_FILE"), replace_scalar(doc, entry.node, f"/run/secrets/{secret}")]
        else:
            edits.append(replace_scalar(doc, entry.node, f"{entry.name}_FILE=/run/secrets/{secret}"))
    for move, secret in zip(moves, names):
        by_service.setdefault(move.service.name, []).append(secret)
    for service in dict.fromkeys(m.service for m in moves):
        new = by_service[service.name]
        edits += _file_env_edits(doc, service, [(m, s) for m, s in zip(moves, names) if m.service is service and m.source])
        if mapping_own(service.node, "secrets") is None:
            edits.append(insert_mapping_entry(doc, service.node, "secrets", new))
        else:
            seq = own_sequence(service.node, "secrets")
            if isinstance(seq, Why):  # _service_problem refuses such a service first
                return seq
            edits += [append_sequence_item(doc, seq, s) for s in new]
    root = doc.documents[moves[0].service.doc_index]
    top = mapping_own(root, "secrets")
    files = {s: {"file": f"./secrets/{s}"} for s in names}
    if top is None:
        edits.append(insert_mapping_entry(doc, root, "secrets", files))
    elif isinstance(top, MappingNode):
        edits += [insert_mapping_entry(doc, top, s, f) for s, f in files.items()]
    else:
        return Why("the top-level `secrets:` is not a mapping")
    return edits


def _pairs(node: Node | None) -> list[tuple[Node, Node]]:
    return list(node.value) if isinstance(node, MappingNode) else []


def _words(node: Node | None) -> list[str]:
    if isinstance(node, ScalarNode):
        return [str(node.value)]
    if isinstance(node, SequenceNode):
        return [str(i.value) for i in node.value if isinstance(i, ScalarNode)]
    return []


def _first_word(node: Node | None) -> str:
    words = _words(node)
    if isinstance(node, ScalarNode):
        words = (words[0].split() or [""])[:1]
    return words[0] if words else ""
