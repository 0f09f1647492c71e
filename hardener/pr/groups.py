"""Which changes go into which pull request: groups by risk and kind, like Renovate's.

A maintainer merges pull requests, not hunks, and merges a small one of one kind sooner
than a big mixed one. So each group is its own branch ``hardener/<group>`` on top of the
base branch, holding the changes of the group's transforms only. The default groups split
by what a reviewer must check: the ``safe`` hygiene (merge on sight), Compose runtime
settings (one PR per Compose file: each is a stack to restart), network topology and port
bindings (can cut a service off), users and privileges (file ownership), multi-stage
splits and narrowed COPY (the image's content), pinning (digests to keep fresh), build
hygiene to review, and the CI gate with runtime rules (a new workflow: opt-in).

Topology and the CI gate are never in the safe PR: the safe group only holds transforms
whose every change is ``safe`` by construction and runs at the safe threshold.

``[tool.hardener.pr.groups.<name>]`` adds a group or replaces a default one of that name;
a transform a configured group claims leaves the default groups; ``transforms = []``
drops a group.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hardener.model import Applicability


@dataclass(frozen=True)
class Group:
    name: str  # the branch is hardener/<name> (hardener/<name>-<file> when per file)
    title: str
    transforms: tuple[str, ...]  # ids or names
    level: str = "review"  # "safe": only safe changes; "review": up to the run's threshold
    per: str = "repo"  # "file": one PR per changed file
    opt_in: bool = False  # opened only when configured or requested on the dashboard

    def threshold(self, unsafe: bool) -> Applicability:
        if self.level == "safe":
            return Applicability.SAFE
        return Applicability.UNSAFE if unsafe else Applicability.REVIEW

    def claims(self, transform_id: str, name: str) -> bool:
        return transform_id in self.transforms or name in self.transforms


DEFAULT_GROUPS: tuple[Group, ...] = (
    Group("safe", "safe hygiene", ("HD301", "HD303", "HD402", "HD403", "HD404", "HD405", "HD408", "HD409",
                                   "HD501", "HD502"), level="safe"),
    Group("compose-runtime", "Compose runtime settings",
          ("HD601", "HD602", "HD603", "HD604", "HD605", "HD606", "HD607", "HD609"), per="file"),
    Group("network", "network topology and port bindings", ("HD701", "HD702")),
    Group("users", "users and privileges", ("HD201", "HD202", "HD203", "HD204", "HD205")),
    Group("image-content", "multi-stage splits and narrowed COPY", ("HD411", "HD305")),
    Group("pinning", "pinned images", ("HD101", "HD103")),
    Group("build", "build hygiene to review", ("HD102", "HD302", "HD304", "HD401", "HD406", "HD407", "HD410",
                                                "HD608")),
    Group("ci-gate", "CI security gate and runtime rules", ("HD504", "HD505"), opt_in=True),
)
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


class GroupError(ValueError):
    """A configured group cannot be used; the message says which and why."""


def configured_groups(table: Mapping[str, Any] | None) -> tuple[Group, ...]:
    """The default groups with ``[tool.hardener.pr.groups]`` applied (configured ones first)."""
    mine = [_group(name, spec) for name, spec in (table or {}).items()]
    claimed = {t for g in mine for t in g.transforms}
    names = {g.name for g in mine}
    out = [g for g in mine if g.transforms]
    for default in DEFAULT_GROUPS:
        if default.name in names:
            continue
        rest = tuple(t for t in default.transforms if t not in claimed and _name_of(t) not in claimed)
        if rest:
            out.append(Group(default.name, default.title, rest, default.level, default.per, default.opt_in))
    return tuple(out)


def _group(name: str, spec: Mapping[str, Any]) -> Group:
    if not _NAME.fullmatch(name):
        raise GroupError(f"group name {name!r}: use lower-case letters, digits and '-' (it names a branch)")
    transforms = tuple(_id_of(t) for t in spec.get("transforms", []))
    return Group(name, str(spec.get("title") or name), transforms, str(spec.get("level", "review")),
                 str(spec.get("per", "repo")), bool(spec.get("opt-in", False)))


def _id_of(code: str) -> str:
    from hardener.config_check import transform_ids

    for transform_id, name in transform_ids().items():
        if code.upper() == transform_id or code == name:
            return transform_id
    raise GroupError(f"unknown transform {code!r} in a group (use an id or name from `hardener list`)")


def _name_of(transform_id: str) -> str:
    from hardener.config_check import transform_ids

    return transform_ids().get(transform_id, transform_id)


def wanted(groups: Iterable[Group], requested: Iterable[str]) -> tuple[Group, ...]:
    """The groups to open: every group not opt-in, and opt-in ones configured or requested."""
    asked = set(requested)
    return tuple(g for g in groups if not g.opt_in or g.name in asked)


def file_slug(path: str) -> str:
    """A branch-safe, readable suffix for a per-file group: ``deploy/docker-compose.yml`` -> ``deploy-docker-compose-yml``."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    return slug[:60].rstrip("-") or "file"
