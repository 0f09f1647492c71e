"""The engine's contract with transforms: fixed point, overlaps, thresholds, companions."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hardener.context import Context
from hardener.edits import Edit
from hardener.engine import MAX_ROUNDS, Options, process
from hardener.model import Applicability, FileWrite, Finding, Transform

DOCKERFILE = b"FROM alpine:3.20\nRUN true\n"


class Append(Transform):
    """Appends a line once (converges: it checks for its own mark)."""

    id, name, targets = "HD901", "append", ("dockerfile",)

    def run(self, doc, ctx) -> Iterator[Finding]:
        if "# mark" not in doc.text:
            yield self.change([Edit(len(doc.text), len(doc.text), "# mark\n")], "mark it", 1)


class Forever(Transform):
    """Never converges: always appends."""

    id, name, targets = "HD902", "forever", ("dockerfile",)

    def run(self, doc, ctx) -> Iterator[Finding]:
        yield self.change([Edit(0, 0, "# again\n")], "again", 1)


class Companion(Transform):
    """Writes a companion file next to the Dockerfile, without editing the Dockerfile."""

    id, name, targets = "HD903", "companion", ("dockerfile",)

    def run(self, doc, ctx) -> Iterator[Finding]:
        target = ctx.file.parent / ".dockerignore"
        old = ctx.files.read(target) or b""
        new = old if b".git\n" in old else old + b".git\n"
        yield self.change([], "ignore .git", 1, files=(FileWrite(target, new),))


class Risky(Transform):
    """An unsafe change, only applied with --unsafe."""

    id, name, targets = "HD904", "risky", ("dockerfile",)
    applicability = Applicability.UNSAFE

    def run(self, doc, ctx) -> Iterator[Finding]:
        if "risky" not in doc.text:
            yield self.change([Edit(0, 0, "# risky\n")], "risky", 1)


def ctx_for(tmp_path: Path) -> Context:
    (tmp_path / "Dockerfile").write_bytes(DOCKERFILE)
    return Context(tmp_path).for_file(tmp_path / "Dockerfile")


def test_fixed_point_and_convergence_failure(tmp_path):
    ctx = ctx_for(tmp_path)
    done = process("Dockerfile", "dockerfile", DOCKERFILE, [Append()], ctx, Options())
    assert done.output == DOCKERFILE + b"# mark\n" and len(done.changes) == 1
    stuck = process("Dockerfile", "dockerfile", DOCKERFILE, [Forever()], ctx, Options())
    assert stuck.output is None and f"did not converge after {MAX_ROUNDS} rounds: HD902" in stuck.failure


def test_threshold_and_override(tmp_path):
    ctx = ctx_for(tmp_path)
    default = process("Dockerfile", "dockerfile", DOCKERFILE, [Risky()], ctx, Options())
    assert not default.changed and [c.transform_id for c in default.skipped] == ["HD904"]
    unsafe = process("Dockerfile", "dockerfile", DOCKERFILE, [Risky()], ctx, Options(Applicability.UNSAFE))
    assert unsafe.changed
    moved = process("Dockerfile", "dockerfile", DOCKERFILE, [Risky()], ctx,
                    Options(overrides={"HD904": Applicability.SAFE}))
    assert moved.changed and moved.changes[0].applicability is Applicability.SAFE


def test_companion_files_converge_and_reach_the_run_view(tmp_path):
    ctx = ctx_for(tmp_path)
    result = process("Dockerfile", "dockerfile", DOCKERFILE, [Companion()], ctx, Options())
    assert result.changed and result.output == DOCKERFILE
    assert [(w.path.name, w.content) for w in result.companions] == [(".dockerignore", b".git\n")]
    assert ctx.files.read(tmp_path / ".dockerignore") == b".git\n"  # accepted into the run's view
    assert not (tmp_path / ".dockerignore").exists()  # the engine never writes
    again = process("Dockerfile", "dockerfile", DOCKERFILE, [Companion()], ctx, Options())
    assert not again.changed and again.companions == ()


def test_rejected_output_leaves_no_companion(tmp_path, monkeypatch):
    ctx = ctx_for(tmp_path)
    monkeypatch.setattr("hardener.judges.dockerfile_problem", lambda text: "synthetic" if "mark" in text else None)
    result = process("Dockerfile", "dockerfile", DOCKERFILE, [Append(), Companion()], ctx, Options())
    assert result.failure and result.output is None
    assert ctx.files.read(tmp_path / ".dockerignore") is None


class Mirror(Transform):
    """Writes a companion holding the document's text: it follows the other transforms' edits."""

    id, name, targets = "HD905", "mirror", ("dockerfile",)

    def run(self, doc, ctx) -> Iterator[Finding]:
        yield self.change([], "mirror", 1, files=(FileWrite(ctx.file.parent / "mirror.txt", doc.text.encode()),))


def test_a_rewritten_companion_is_reported_once(tmp_path):
    """Round 1: Append edits and Mirror writes the old text; round 2: Mirror rewrites it.
    The report shows one Mirror change (the file holds only the last content)."""
    ctx = ctx_for(tmp_path)
    result = process("Dockerfile", "dockerfile", DOCKERFILE, [Append(), Mirror()], ctx, Options())
    assert [c.transform_id for c in result.changes] == ["HD901", "HD905"]
    assert [w.content for w in result.companions] == [DOCKERFILE + b"# mark\n"]


class GcWatcher(Transform):
    """Records whether cyclic garbage collection runs while the engine processes the file."""

    id, name, targets = "HD905", "gc-watcher", ("dockerfile", "compose")
    fail = False

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def run(self, doc, ctx) -> Iterator[Finding]:
        import gc

        self.seen.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("boom")
        return iter(())


def test_cyclic_gc_is_paused_for_a_compose_file_and_restored_after(tmp_path):
    import gc

    compose = b"services:\n  web:\n    image: nginx\n"
    (tmp_path / "compose.yaml").write_bytes(compose)
    ctx = Context(tmp_path).for_file(tmp_path / "compose.yaml")
    watcher = GcWatcher()
    assert gc.isenabled()
    process("compose.yaml", "compose", compose, [watcher], ctx, Options())
    assert watcher.seen == [False] and gc.isenabled()
    process("Dockerfile", "dockerfile", DOCKERFILE, [watcher], ctx_for(tmp_path), Options())
    assert watcher.seen == [False, True]  # not for a Dockerfile
    watcher.fail = True
    failed = process("compose.yaml", "compose", compose, [watcher], ctx, Options())
    assert failed.failure and gc.isenabled()  # restored after a transform's crash too
    gc.disable()  # a caller that turned it off keeps it off
    try:
        process("compose.yaml", "compose", compose, [GcWatcher()], ctx, Options())
        assert not gc.isenabled()
    finally:
        gc.enable()
