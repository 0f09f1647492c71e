"""Compose builds as the project builds them: a ``build:`` completed by another file.

``docker compose -f compose.yaml -f compose.prod.yaml build`` builds each service from the
merged project (compose/project.py): a base whose ``build:`` an overlay gives a ``target:``,
an overlay that adds ``build:`` to a service whose ``image:`` the base names, an override
that changes the ``dockerfile``. Read one file at a time, the overlay's build has no context
(the CI gate built the overlay's folder) and the base's has no target. Here every project
that loads several files gives its merged builds, and a file's own build of a service is
left out when that file is never run alone (it is a member of a multi-file project and of
no project of its own), so the gate builds what the commands build.

Relative paths are the project's: a ``-f`` file's are resolved from the first file's folder
(as Compose does), an included file's from its own. Values are interpolated by the project
load (``.env`` or the command's ``--env-file``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.ci.images import ComposeBuild
    from hardener.compose.project import Loaded
    from hardener.context import Context


def project_builds(ctx: Context) -> tuple[list[ComposeBuild], set[tuple[Path, str]]]:
    """(the builds of every multi-file project, the (file, service) builds those replace)."""
    from hardener.compose.project import document_services
    from hardener.compose.project_view import all_projects

    projects = [p for p in all_projects(ctx) if not p.problems]
    alone = {p.members[0] for p in projects if len(p.members) == 1}
    read = ctx.files.run_view().original
    builds: list[ComposeBuild] = []
    replaced: set[tuple[Path, str]] = set()
    for loaded in projects:
        if len(loaded.members) < 2:
            continue
        found = _merged_builds(loaded)
        builds += [b for b in found if b not in builds]
        names = {b.service for b in found}
        for member in loaded.members:
            if member not in alone:
                replaced |= {(member, n) for n, body in document_services(member, read).items()
                             if n in names and "build" in body}
    return builds, replaced


def _merged_builds(loaded: Loaded) -> list[ComposeBuild]:
    """The builds of one merged project (``images._build`` on each merged service)."""
    from hardener.ci.images import _build
    from hardener.compose.project_view import merged_doc

    try:
        doc = merged_doc(loaded)
    except Exception:  # a merged value YAML cannot hold: leave the project to its files
        return []
    out = []
    for service in doc.services():
        merged = loaded.services.get(service.name)
        if merged is None or "build" not in merged.value or service.node is None:
            continue
        build = _build(_folder_file(loaded, merged.origins["build"][0].file), service.name, service.node, {})
        if build is not None:
            out.append(build)
    return out


def _folder_file(loaded: Loaded, origin: Path) -> Path:
    """The file whose folder resolves the build's relative paths: the project's first file
    for a -f file, the included (or extended) file itself otherwise."""
    return loaded.project.files[0] if origin in loaded.project.files else origin
