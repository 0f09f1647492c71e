"""A Compose file that starts a test or CI stack, not a deployment.

Its published ports are for the test runner, and test runners do not always connect through
127.0.0.1: goharbor/harbor's CI passes the runner's own address (`hostname -I`) to the
tests that reach the registry and the database its `tests/docker-compose.test.yml` publishes.
Binding those ports to the loopback address would break the project's CI while protecting
little (a CI runner is short-lived), so bind-ports-localhost leaves such files alone.
"""
from __future__ import annotations

import re
from pathlib import Path

_FOLDERS = frozenset({"test", "tests", "testing", "ci", "e2e", "integration", "integration-test",
                      "integration-tests", "_integration-test", "it", "spec", "specs"})
_NAME_WORDS = frozenset({"test", "tests", "ci", "e2e", "integration", "it"})


def ci_stack(path: Path, root: Path) -> str | None:
    """Why ``path`` is a test or CI stack (its folder or its name says so), or None."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    folder = next((p for p in rel.parts[:-1] if p.lower() in _FOLDERS), None)
    if folder is not None:
        return f"it is a test stack (it sits in {folder}/)"
    words = set(re.split(r"[.\-_]", rel.name.lower()))
    named = sorted(words & _NAME_WORDS)
    return f"it is a test stack (its name says {named[0]})" if named else None
