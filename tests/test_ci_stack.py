"""compose/ci_stack.py: a Compose file that starts a test or CI stack."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose.ci_stack import ci_stack


@pytest.mark.parametrize(("rel", "expected"), [
    pytest.param("tests/docker-compose.test.yml", "it sits in tests/", id="harbor-tests-folder"),
    pytest.param("docker/compose/docker-compose.ci-test.yml", "its name says ci", id="paperless-ci-name"),
    pytest.param("e2e/compose.yaml", "it sits in e2e/", id="e2e-folder"),
    pytest.param("compose.yaml", None, id="the-deployment"),
    pytest.param("docker-compose.latest.yml", None, id="a-word-containing-test-is-not-a-test"),
    pytest.param("contest/compose.yaml", None, id="a-folder-containing-test"),
])
def test_ci_stack(tmp_path: Path, rel: str, expected: str | None) -> None:
    path = tmp_path / rel
    why = ci_stack(path, tmp_path)
    assert (expected in why if why else why is expected), why
