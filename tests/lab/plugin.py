"""The session-wide lab: bases built once, the registry up, the environment pointed at both.

Test modules import the ``lab`` fixture from here. The lab object itself is one per
process (reference-counted), so importing the fixture into two modules still builds
and starts everything once; the registry stops when the last user is torn down.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab import bases, env
from lab.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Lab:
    dir: Path
    env: dict[str, str]
    registry: Registry
    digests: dict[str, str] = field(default_factory=dict)  # docker.io name -> registry digest
    log: list[str] = field(default_factory=list)
    setup_seconds: float = 0.0


def app_dirs() -> list[Path]:
    return sorted(p for p in APPS.iterdir() if (p / "Dockerfile").is_file()) if APPS.is_dir() else []


def needed_recipes(apps: list[Path]) -> set[str]:
    """Only the bases the apps' FROM lines name (a cold CI run builds nothing else)."""
    keys: set[str] = set()
    for app in apps:
        for ref in _FROM.findall((app / "Dockerfile").read_text()):
            recipe = bases.recipe_for(ref)
            if recipe is not None:
                keys.add(recipe.key)
    return keys


_shared: Lab | None = None
_users = 0
_saved: dict[str, str | None] = {}


def _start() -> Lab:
    started = time.monotonic()
    lab_path = env.lab_dir()
    registry = Registry(lab_path)
    variables = {**os.environ, **env.write_configs(lab_path, registry.port)}
    lab = Lab(lab_path, variables, registry)
    with env.locked("bases"):
        names = bases.ensure(needed_recipes(app_dirs()), lab_path, variables, lab.log)
    registry.start()
    try:
        for name in names:
            lab.digests[name] = registry.push(name, variables)
    except Exception:
        registry.stop()
        raise
    lab.setup_seconds = time.monotonic() - started
    return lab


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    global _shared, _users, _saved
    reason = env.missing_prerequisite()
    if reason:
        pytest.skip(reason)
    if _shared is None:
        try:
            _shared = _start()
        except RuntimeError as exc:
            if "Could not resolve" in str(exc) or "Temporary failure" in str(exc):
                pytest.skip(f"no package registry reachable for the lab: {exc}")
            raise
        _saved = {k: os.environ.get(k) for k in _shared.env if k.startswith(("CONTAINERS_", "BUILDAH_"))}
        os.environ.update({k: _shared.env[k] for k in _saved})
    _users += 1
    try:
        yield _shared
    finally:
        _users -= 1
        if _users == 0:
            for key, value in _saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _shared.registry.stop()
            _shared = None
