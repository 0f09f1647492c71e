"""Which file of a multi-file Compose project speaks for the whole project.

Some outputs are written once per project, not per file: HD505's Falco rules cover every
service ``docker compose up`` starts. When a file is loaded with others (an override, a ``-f``
overlay, an include), those outputs are decided on the merged project
(``project_service.views``, the files as this run has hardened them so far) and written by one
file of it, the *speaker*: the last file the command names that is not an override file. For
``-f compose.yaml -f compose.prod.yaml`` that is the prod file, whose name tells the projects
apart; for the default pair, and for a file that includes others, it is the base. The other
members write nothing for that project: what they set is read through the merge.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.compose import falco
from hardener.compose.project import Loaded, Project

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc
    from hardener.compose.project_service import View
    from hardener.context import Context

_OVERRIDE = re.compile(r"\.override\.ya?ml$")
_DEFAULT = ("override pair", "default file", "with .env")


def speaker(project: Project) -> Path:
    """The file that writes the project's whole-project outputs (see the module docstring)."""
    named = [f for f in project.files if not _OVERRIDE.search(f.name)]
    return (named or list(project.files))[-1]


@dataclass(frozen=True)
class Spoken:
    """The projects that load a file: the one it speaks for, the others it also speaks for
    (left out: one output per file), and those another file speaks for."""

    mine: View | None
    also: list[View]
    others: list[View]


def spoken(doc: ComposeDoc, ctx: Context) -> Spoken | None:
    """The multi-file projects that load ``ctx.file`` (else the file's own projects with the
    ``.env`` or a command's ``--env-file`` it is interpolated from), split by speaker; None
    when there are none (it speaks for itself, as it always did)."""
    from hardener.compose import project_service as ps
    from hardener.compose.project_view import env_project, projects_of

    if ctx.file is None:
        return None
    projects = projects_of(ctx) or env_project(doc, ctx)
    views = ps.views(doc, ctx, projects) if projects else []
    if not views:
        return None
    me = ctx.file.resolve()
    mine = [v for v in views if speaker(v.loaded.project) == me]
    # the project `docker compose up` runs first: it is the one a rules file without -f covers
    mine.sort(key=lambda v: (v.loaded.project.source not in _DEFAULT, len(v.loaded.project.files)))
    return Spoken(mine[0] if mine else None, mine[1:], [v for v in views if speaker(v.loaded.project) != me])


def project_name(loaded: Loaded) -> str | None:
    """The Compose project name as Compose picks it: the command's ``-p``, else
    ``COMPOSE_PROJECT_NAME`` in its env file, else the last ``name:`` of its -f files, else
    its first file's folder, normalised; None when it comes from a variable."""
    name = loaded.project.name or loaded.env.get("COMPOSE_PROJECT_NAME") or loaded.name
    if name is not None and "$" in name:
        return None
    return falco.normalize_project(name or loaded.project.files[0].parent.name) or None


def file_project_name(doc: ComposeDoc, compose: Path, ctx: Context) -> str | None:
    """``project_name`` for a file read by itself: ``COMPOSE_PROJECT_NAME`` in the ``.env``
    beside it, its ``name:``, else its folder's name."""
    from hardener.compose.interpolate import read_dotenv
    from hardener.compose.splice import mapping_own, scalar_value

    dotenv = ctx.files.read(compose.parent / ".env")
    env = read_dotenv(dotenv.decode("utf-8", "replace")) if dotenv is not None else {}
    name = env.get("COMPOSE_PROJECT_NAME") or scalar_value(mapping_own(doc.documents[0], "name"))
    if name is not None and "$" in name:
        return None
    return falco.normalize_project(name or compose.parent.name) or None
