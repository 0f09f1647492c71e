"""Edge services of bind-ports-localhost: a README naming the public entry, and ssh hints."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose.public_entry import readme_entries
from hardener.context import Context, FileView
from hardener.engine import Options, process
from hardener.model import Applicability
from hardener.transforms.bind_ports_localhost import BindPortsLocalhost

SERVICES = ["web", "api", "db", "my-proxy"]


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("Only the `web` service is exposed to the internet.", {"web"}, id="backticks"),
    pytest.param("The my-proxy container is the public entry point.", {"my-proxy"}, id="beside-container"),
    pytest.param("Put \"api\" behind your ingress.\n\nThe `db` service is not public.", {"api"}, id="negation-per-sentence"),
    pytest.param("The web UI is public.", set(), id="prose-word-is-not-a-name"),
    pytest.param("The `api` container's entrypoint runs migrations.", set(), id="entrypoint-is-not-entry-point"),
    pytest.param("Never expose the `db` service publicly.", set(), id="negation"),
    pytest.param("Start `web` first.", set(), id="no-public-word"),
])
def test_readme_entries(text: str, expected: set[str], tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Stack\n\n" + text + "\n")
    assert set(readme_entries([tmp_path], SERVICES)) == expected


def test_readme_line_and_root(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "README.rst").write_text("Stack\n=====\n\nThe `web` service faces the internet.\n")
    assert readme_entries([tmp_path / "deploy", tmp_path], SERVICES) == {"web": "README.rst line 4"}


def test_readmes_are_read_once_per_run(tmp_path: Path) -> None:
    """Within a run the folder's READMEs are read once (hardener writes no README); the
    next run reads them again."""
    (tmp_path / "README.md").write_text("The `web` service faces the internet.\n")
    run = FileView()
    assert readme_entries([tmp_path], SERVICES, run) == {"web": "README.md line 1"}
    (tmp_path / "README.md").write_text("The `api` service faces the internet.\n")
    assert readme_entries([tmp_path], SERVICES, run) == {"web": "README.md line 1"}
    assert readme_entries([tmp_path], SERVICES, FileView()) == {"api": "README.md line 1"}
    assert readme_entries([tmp_path], SERVICES) == {"api": "README.md line 1"}


def _reasons(text: str, tmp_path: Path) -> list[str]:
    (tmp_path / "compose.yaml").write_text(text)
    ctx = Context(tmp_path).for_file(tmp_path / "compose.yaml")
    result = process("compose.yaml", "compose", text.encode(), [BindPortsLocalhost()], ctx,
                     Options(Applicability.REVIEW))
    return [c.reason for c in result.changes] + [r.reason for r in result.refusals]


@pytest.mark.parametrize("ports", [
    pytest.param('      - "0:5432"', id="short-ephemeral"),
    pytest.param("      - target: 5432\n        published: 0", id="long-ephemeral"),
    pytest.param("      - target: 5432\n        published: ${PG_PORT}", id="long-variable-no-default"),
    pytest.param("      - target: 5432", id="long-target-only"),
    pytest.param('      - "${PG_PORT:-0}:5432"', id="variable-default-zero"),
])
def test_hint_never_prints_port_zero(ports: str, tmp_path: Path) -> None:
    text = f"services:\n  db:\n    image: postgres:16\n    ports:\n{ports}\n  app:\n    image: x\n    ports: ['80:80']\n"
    reasons = _reasons(text, tmp_path)
    assert any("ssh -L" in r for r in reasons), reasons
    assert not any("ssh -L 0:" in r or ":0 host" in r for r in reasons), reasons


def test_hint_for_a_range_is_its_first_port(tmp_path: Path) -> None:
    text = "services:\n  db:\n    image: postgres:16\n    ports: ['7000-7005:7000-7005']\n  app:\n    image: x\n    ports: ['80:80']\n"
    assert any("ssh -L 7000:127.0.0.1:7000 host" in r for r in _reasons(text, tmp_path))
