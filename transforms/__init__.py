"""The registry: every transform, in execution order."""
from __future__ import annotations

REGISTRY: list[type] = []
