"""The knowledge base: data files under ``hardener/data`` and the typed lookups on them."""
from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any


@functools.cache
def load(name: str) -> dict[str, Any]:
    """One data file of the knowledge base (``hardener/data/<name>``), parsed once."""
    return tomllib.loads(resources.files("hardener").joinpath("data", name).read_text(encoding="utf-8"))
