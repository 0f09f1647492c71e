"""The env files a Compose file is interpolated from, as the repository's commands run it.

``docker compose up`` reads the ``.env`` of the project folder (the folder of the first
file); ``docker compose --env-file X up`` reads X instead. So a file is interpolated from the
``.env`` beside it, from each ``--env-file`` of a command that loads it (``-f`` sets, and
commands without ``-f`` run in its folder), and from the ``.env`` of the first file of each
project that loads it. Used by interpolation-secrets (HD609), which reports the tracked
credentials in them, and compose-secrets (HD607), which leaves those files to it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from hardener.context import Context


class EnvSource(NamedTuple):
    path: Path
    how: str  # "" for the .env beside the file; else "--env-file of Makefile:3"


def interpolation_files(ctx: Context) -> list[EnvSource]:
    """The env files ``ctx.file`` is interpolated from (see the module docstring), resolved."""
    from hardener.compose import project_find
    from hardener.compose.project_view import all_projects

    if ctx.file is None:
        return []
    me = ctx.file.resolve()
    found: dict[Path, str] = {me.parent / ".env": ""}
    for loaded in all_projects(ctx):
        if me in loaded.members:
            project = loaded.project
            path = project.env_file or project.files[0].parent / ".env"
            found.setdefault(path, f"--env-file of {project.source.removeprefix('-f from ').removeprefix('--env-file from ')}"
                             if project.env_file else f"the .env of project {project.files[0].name}")
    if project_find.is_default_name(me):
        for command in project_find.env_commands(ctx.root.resolve()):
            if command.folder == me.parent and command.env_file is not None:
                found.setdefault(command.env_file, f"--env-file of {command.where}")
    return [EnvSource(p, how) for p, how in found.items()]
