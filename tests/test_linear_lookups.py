"""The indexes and per-round reuse that keep large inputs linear (issue 21) answer exactly
what the searches they replaced answered, and a reused answer is never a stale one."""
from __future__ import annotations

from pathlib import Path

from ci_helpers import make_repo

from hardener.context import Context, FileView
from hardener.dockerfile.doc import DockerfileDoc
from hardener.model import Change, FileWrite
from hardener.transforms.ci_security_gate import CiSecurityGate

STAGES = b"""FROM debian AS Base
FROM base AS build
FROM alpine AS base
FROM build
"""


def test_stage_named_is_the_first_stage_of_that_name_before_the_bound() -> None:
    doc = DockerfileDoc.load(STAGES)
    first = doc.stage_named("BASE")
    assert first is not None and first.index == 0  # case-insensitive, the first of a repeated name
    assert doc.stage_named("base", before=0) is None  # none before the first stage
    found = doc.stage_named("build", before=3)
    assert found is not None and found.index == 1
    assert doc.stage_named("build", before=1) is None
    assert doc.stage_named("debian") is None  # a base image is not a stage
    for stage in doc.stages:  # what every caller used to search for
        expected = next((s for s in doc.stages[: stage.index] if s.name and s.name == stage.base.lower()), None)
        assert doc.stage_named(stage.base, before=stage.index) == expected


def test_comment_lines_leave_out_comments_inside_a_continuation() -> None:
    doc = DockerfileDoc.load(b"# top\nFROM debian\n# above\nRUN a \\\n# inside\n    b\n")
    assert {line: c.text for line, c in doc.comment_lines().items()} == {1: "# top", 3: "# above"}


def test_file_view_state_changes_with_staged_writes_and_recorded_outputs(tmp_path: Path) -> None:
    run = FileView()
    child = run.child()
    before = child.state()
    child.stage(FileWrite(tmp_path / ".dockerignore", b".git\n", 0o644))
    staged = child.state()
    assert staged != before
    assert run.state() == before  # the run's view does not see a write its child has not committed
    child.stage(FileWrite(tmp_path / ".dockerignore", b".git\n.env\n", 0o644))
    assert child.state() != staged  # the same path with other bytes
    run.record_output(tmp_path / "Dockerfile", b"FROM debian\n")
    assert child.state()[0] == 1


def _matrix(ctx: Context, rel: str) -> str:
    doc = DockerfileDoc.load((ctx.root / rel).read_bytes(), rel)
    changes = [f for f in CiSecurityGate().run(doc, ctx) if isinstance(f, Change)]
    return changes[0].files[0].content.decode() if changes else ""


def test_gate_selection_is_reused_only_while_the_files_read_the_same(tmp_path: Path) -> None:
    """The gate reads every Dockerfile of the repository in each round of the first one; a
    round whose view reads other bytes (a write staged by an earlier round) selects anew."""
    root = make_repo(tmp_path, {"a/Dockerfile": "FROM node:20-alpine\nUSER node\n",
                                "b/Dockerfile": "FROM python:3.12-slim\nUSER nobody\n"})
    ctx = Context(root, {}).for_file(root / "a" / "Dockerfile")
    first = _matrix(ctx, "a/Dockerfile")
    assert "b/Dockerfile" in first
    assert _matrix(ctx, "a/Dockerfile") == first  # the same view: the same matrix
    round_two = ctx.files.child()  # as the engine stages a round's companion writes
    round_two.stage(FileWrite(root / "b" / "Dockerfile", b"FROM mcr.microsoft.com/windows/servercore\n", 0o644))
    again = _matrix(Context(root, {}, file=ctx.file, files=round_two), "a/Dockerfile")
    assert again and "b/Dockerfile" not in again  # a Windows image needs a Windows runner: left out


def test_gate_selection_is_not_shared_between_runs(tmp_path: Path) -> None:
    root = make_repo(tmp_path, {"a/Dockerfile": "FROM node:20-alpine\nUSER node\n",
                                "b/Dockerfile": "FROM python:3.12-slim\nUSER nobody\n"})
    assert "b/Dockerfile" in _matrix(Context(root, {}).for_file(root / "a" / "Dockerfile"), "a/Dockerfile")
    (root / "b" / "Dockerfile").write_bytes(b"FROM mcr.microsoft.com/windows/servercore\n")
    assert "b/Dockerfile" not in _matrix(Context(root, {}).for_file(root / "a" / "Dockerfile"), "a/Dockerfile")
