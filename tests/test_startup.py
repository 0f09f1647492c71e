"""`hardener --version` and `--help` stay fast: no heavy dependency and no transform is imported
(ARCHITECTURE.md, "Lazy imports and start-up time")."""
from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("ruamel", "rich", "libcst", "httpx", "dockerfile", "dockerfile_parse", "check_jsonschema", "hardener.transforms")
PROBE = """
import importlib, sys
from hardener.cli import main
for name in sys.argv[2:]:
    importlib.import_module(name)
try:
    main([sys.argv[1]])
except SystemExit:
    pass
print("\\n".join(sys.modules), file=sys.stderr)
"""


def heavy_imports(argument: str, *also: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, argument, *also], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(result.stderr.split())
    assert "hardener.cli" in loaded
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argument", ["--version", "--help"])
def test_no_heavy_import_at_start_up(argument: str) -> None:
    heavy = heavy_imports(argument)
    assert heavy == [], f"import these inside the function that needs them: {heavy}"


def test_the_probe_sees_a_heavy_import() -> None:
    assert "ruamel.yaml" in heavy_imports("--version", "ruamel.yaml")
