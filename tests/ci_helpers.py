"""Shared by the CI security gate tests (GitHub and GitLab): a repo on disk and one HD504 run."""
from __future__ import annotations

from pathlib import Path

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.model import Change, Refusal
from hardener.transforms.ci_security_gate import CiSecurityGate


def make_repo(tmp_path: Path, layout: dict[str, bytes | str]) -> Path:
    for rel, data in layout.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return tmp_path


def run_gate(root: Path, rel: str = "Dockerfile", options: dict | None = None) -> list[Change | Refusal]:
    ctx = Context(root, options or {}).for_file(root / rel)
    return list(CiSecurityGate().run(DockerfileDoc.load((root / rel).read_bytes(), rel), ctx))
