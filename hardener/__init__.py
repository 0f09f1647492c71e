"""hardener: rewrite Dockerfiles and Compose files into hardened ones, losslessly."""
from __future__ import annotations

__version__ = "0.1.0"
