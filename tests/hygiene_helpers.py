"""Run one transform through the real engine on a Dockerfile text (tests of HD402-HD407)."""
from __future__ import annotations

from pathlib import Path

from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Applicability, Transform


def fix(transform: Transform, text: str, tmp_path: Path, *, safe_only: bool = False,
        options: dict | None = None) -> tuple[str, list[str]]:
    """(output text, refusal reasons) after the engine ran ``transform`` to a fixed point."""
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    ctx = Context(tmp_path, options or {}).for_file(path)
    level = Applicability.SAFE if safe_only else Applicability.REVIEW
    result = process(str(path), "dockerfile", text.encode(), [transform], ctx, Options(level))
    assert result.failure is None and result.error is None, result.failure or result.error
    output = (result.output or text.encode()).decode()
    again = process(str(path), "dockerfile", output.encode(), [transform], ctx, Options(level))
    assert not again.changes, "a second run must change nothing"
    return output, [r.reason for r in result.refusals]
