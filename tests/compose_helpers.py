"""Run one Compose transform through the real engine on a file in tmp_path (shared by tests)."""
from __future__ import annotations

from pathlib import Path

from hardener import judges
from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Transform


def run_compose(tmp_path: Path, transform: Transform, text: str,
                files: dict[str, str] | None = None, options: dict | None = None,
                engine: Options | None = None) -> tuple[str, list[str]]:
    """(output text, refusal reasons and the reasons of changes left out as unsafe); the
    output must pass the compose-spec schema."""
    for name, body in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    result = process(str(path), "compose", text.encode(), [transform], Context(tmp_path, options=options or {}).for_file(path), engine or Options())
    assert result.failure is None and result.error is None
    out = result.output.decode() if result.output is not None else text
    if out != text:
        assert judges.compose_problems(out) == []
    return out, [r.reason for r in result.refusals] + [f"(unsafe) {c.reason}" for c in result.skipped]
