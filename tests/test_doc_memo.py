"""Facts kept while one file is processed (hardener/compose/doc_memo.py) are computed again
whenever what they were computed from may differ: another document, other inputs, another
file's view, or a view that outlives one file (the run's own)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hardener.compose import graph, setuid_use
from hardener.compose.doc import ComposeDoc
from hardener.compose.doc_memo import per_doc, per_view
from hardener.context import Context, FileView
from hardener.model import FileWrite

DOC = b"services:\n  web:\n    image: nginx\n    depends_on: [db]\n  db:\n    image: postgres:16\n"


def _counter() -> tuple[list[int], Callable[[], int]]:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def test_a_fact_is_computed_once_per_document_view_and_inputs() -> None:
    view = FileView().child()
    doc, other = ComposeDoc.load(DOC), ComposeDoc.load(DOC + b"  c:\n    image: c\n")
    calls, compute = _counter()
    assert per_doc(doc, view, "n", 1, compute) == 1
    assert per_doc(doc, view, "n", 1, compute) == 1  # kept
    assert per_doc(other, view, "n", 1, compute) == 2  # another document
    assert per_doc(doc, view, "n", 2, compute) == 3  # other inputs
    assert per_doc(doc, FileView().child(), "n", 2, compute) == 4  # another file's view
    assert per_view(view, "n", 1, compute) == 5 and per_view(view, "n", 1, compute) == 5
    assert per_view(view, "n", (1, "x"), compute) == 6
    assert len(calls) == 6


def test_the_runs_own_view_keeps_nothing() -> None:
    view = FileView()
    calls, compute = _counter()
    per_doc(ComposeDoc.load(DOC), view, "n", 1, compute)
    per_doc(ComposeDoc.load(DOC), view, "n", 1, compute)
    per_view(view, "n", 1, compute)
    per_view(view, "n", 1, compute)
    assert len(calls) == 4


def test_the_graph_is_shared_in_a_file_and_rebuilt_for_another_file_or_tiers(tmp_path: Path) -> None:
    doc = ComposeDoc.load(DOC)
    ctx = Context(root=tmp_path, files=FileView().child()).for_file(tmp_path / "compose.yaml")
    first = graph.build_graph(doc, ctx)
    assert graph.build_graph(doc, ctx) is first
    assert first.tier("db") == "data"
    assert graph.build_graph(doc, ctx.for_file(tmp_path / "sub" / "compose.yaml")) is not first
    tiered = Context(root=tmp_path, files=ctx.files, options={"segment-networks": {"tiers": {"db": "app"}}})
    assert graph.build_graph(doc, tiered.for_file(tmp_path / "compose.yaml")).tier("db") == "app"
    # the run's own view (no engine around it) builds it each time, as before
    plain = Context(root=tmp_path).for_file(tmp_path / "compose.yaml")
    assert graph.build_graph(doc, plain) is not graph.build_graph(doc, plain)


def test_setuid_builds_see_a_write_staged_in_the_files_view(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get install -y sudo\n")
    compose.write_text("services:\n  app:\n    image: app\n")
    ctx = Context(root=tmp_path, files=FileView().child())
    assert setuid_use._image_grants_sudo("app", compose, ctx) is None
    ctx.files.stage(FileWrite(compose, b"services:\n  app:\n    build: .\n"))
    assert "grants sudo" in (setuid_use._image_grants_sudo("app", compose, ctx) or "")


def test_a_devcontainer_file_is_read_once_per_files_view(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: app\n")
    ctx = Context(root=tmp_path, files=FileView().child())
    assert setuid_use.setuid_use("app", None, compose, ctx) is None
    (tmp_path / ".devcontainer.json").write_text('{"service": "app", "dockerComposeFile": "compose.yaml"}')
    # the disk does not change while the engine processes one file: the next file's view reads it
    assert setuid_use.setuid_use("app", None, compose, ctx) is None
    fresh = Context(root=tmp_path, files=FileView().child())
    assert "dev container" in (setuid_use.setuid_use("app", None, compose, fresh) or "")


def test_a_fact_of_the_document_alone_lives_with_it() -> None:
    from hardener.compose.doc_memo import of_doc
    from hardener.compose.project_view import fragment

    doc, other = ComposeDoc.load(DOC), ComposeDoc.load(b"services:\n  a:\n    ports: ['80']\n")
    calls, compute = _counter()
    assert of_doc(doc, "n", compute) == 1 and of_doc(doc, "n", compute) == 1
    assert of_doc(other, "n", compute) == 2
    ctx = Context(root=Path("/nonexistent")).for_file(Path("/nonexistent/compose.yaml"))
    assert fragment(doc, ctx) is None  # every service has an image
    assert "'a'" in str(fragment(other, ctx))  # its own answer, not the first document's
