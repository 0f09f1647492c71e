"""Work shared across services, rounds and loaders (issue 21) gives what doing it again gives.

Each cache here replaced a repeated computation on the hot path of a large Compose file or
the corpus; these tests hold each one to the answer of the uncached computation, and to
noticing a change in what it was computed from.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml.nodes import MappingNode

from hardener.compose import setuid_use
from hardener.compose.doc import ComposeDoc
from hardener.compose.splice import mapping_get
from hardener.context import Context
from hardener.dockerfile import shell
from hardener.dockerfile.doc import DockerfileDoc
from hardener.dockerfile.dockerignore import BadPattern, Matcher

COMPOSE = b"""x-common: &common
  restart: unless-stopped
services:
  a:
    <<: *common
    image: example/a:1
  b:
    image: example/b:1
"""


def test_services_are_computed_once_and_a_caller_cannot_change_them() -> None:
    doc = ComposeDoc(ComposeDoc.load(COMPOSE).source, "compose.yaml")
    first = doc.services()
    first.clear()  # a caller's list is its own
    again = doc.services()
    assert [s.name for s in again] == ["a", "b"]
    assert all(x is y for x, y in zip(again, doc.services(), strict=True))  # the same Service objects


def test_another_path_shares_the_parse_but_keeps_its_own_name() -> None:
    engine = ComposeDoc.load(COMPOSE, "compose.yaml")
    project = ComposeDoc.load(COMPOSE, "/repo/compose.yaml")
    assert project.path == "/repo/compose.yaml" and engine.path == "compose.yaml"
    assert project.documents is engine.documents
    assert ComposeDoc.load(COMPOSE + b"  c:\n    image: c\n", "compose.yaml").documents is not engine.documents


def test_dockerfile_loads_share_a_parse_under_each_path() -> None:
    raw = b"FROM debian:12\nRUN apt-get update\n"
    first = DockerfileDoc.load(raw, "Dockerfile")
    other = DockerfileDoc.load(raw, "/repo/Dockerfile")
    assert (first.path, other.path) == ("Dockerfile", "/repo/Dockerfile")
    assert other.instructions is first.instructions
    assert DockerfileDoc.load(raw, "Dockerfile").path == "Dockerfile"


def test_mapping_get_still_reads_merge_keys() -> None:
    doc = ComposeDoc.load(COMPOSE)
    a = next(s for s in doc.services() if s.name == "a")
    assert isinstance(a.node, MappingNode)
    assert mapping_get(a.node, "restart") is not None  # only through <<: *common
    assert mapping_get(a.node, "image") is not None
    assert mapping_get(a.node, "volumes") is None


@pytest.mark.parametrize("patterns", [
    pytest.param(["*.log", "!keep.log"], id="exclusion"),
    pytest.param(["", "  build/ ", "**/.env"], id="blank-and-spaced"),
])
def test_a_matcher_from_cached_patterns_matches_as_before(patterns: list[str]) -> None:
    for _ in range(2):  # the second build takes every pattern from the cache
        matcher = Matcher(patterns)
        assert [matcher.excluded(p) for p in ("a.log", "keep.log", "build/x", "x/.env", "src/a.py")] == [
            "*.log" in patterns, False, "  build/ " in patterns, "**/.env" in patterns, False]


def test_a_bad_pattern_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(BadPattern):
            Matcher(["!"])


def test_equal_run_code_gives_each_instruction_its_own_offsets() -> None:
    doc = DockerfileDoc.load(b"FROM debian:12\nRUN make && make install\nRUN make && make install\n")
    first, second = (shell.commands(i) for i in doc.instructions if i.keyword == "RUN")
    assert first is not None and second is not None
    assert [c.argv for c in first] == [c.argv for c in second]
    assert second[0].start - first[0].start == len("RUN make && make install\n")


def test_setuid_builds_are_read_again_when_the_file_changes(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get install -y sudo\n")
    compose.write_text("services:\n  app:\n    image: app\n")
    ctx = Context(root=tmp_path)
    assert setuid_use._image_grants_sudo("app", compose, ctx) is None
    compose.write_text("services:\n  app:\n    build: .\n")
    assert "grants sudo" in (setuid_use._image_grants_sudo("app", compose, ctx) or "")


def test_the_benchmark_times_the_small_repository() -> None:
    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    out = subprocess.run([sys.executable, str(bench), "--small", "--repeat", "1"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "hardener --version" in out and "small repository (4 files)" in out


@pytest.mark.parametrize(("text", "fast"), [
    pytest.param("x: &x {a: 1}\nservices:\n  s: {<<: *x, image: y}\n", True, id="merge-within-bounds"),
    pytest.param("a: &a [1, 2]\nb: &b [" + ", ".join(["*a"] * 10) + "]\nc: &c [" + ", ".join(["*b"] * 10)
                 + "]\nd: [" + ", ".join(["*c"] * 10) + "]\n", False, id="expands-past-the-budget"),
])
def test_the_plain_walk_answers_for_aliases_only_within_its_budget(text: str, fast: bool) -> None:
    from hardener.compose import doc as compose_doc

    documents, tokens = compose_doc._compose_and_scan(text)
    assert compose_doc._within_bounds(documents, 2 * len(tokens) + 1_000) is fast
    compose_doc._check_bounds(documents, tokens)  # either way within the real bounds: no refusal
    assert compose_doc._within_bounds(documents, 10) is False


def test_the_engine_keeps_the_inputs_parse_but_not_its_rounds(tmp_path: Path) -> None:
    """A round's document leaves the shared loads once the engine is done with it (its nodes
    would stay alive until four newer loads); the input's stays, and a run again is the same."""
    from collections.abc import Iterator

    from hardener.compose import doc as compose_doc
    from hardener.edits import Edit
    from hardener.engine import Options, process
    from hardener.model import Applicability, Finding, Transform

    class Mark(Transform):
        id, name, targets = "HD906", "mark", ("compose",)
        applicability = Applicability.SAFE

        def run(self, doc, ctx) -> Iterator[Finding]:  # type: ignore[no-untyped-def]
            if "# mark" not in doc.text:
                yield self.change([Edit(len(doc.text), len(doc.text), "# mark\n")], "mark", 1)

    (tmp_path / "compose.yaml").write_bytes(COMPOSE)
    ctx = Context(tmp_path).for_file(tmp_path / "compose.yaml")
    first = process("compose.yaml", "compose", COMPOSE, [Mark()], ctx, Options())
    assert first.output == COMPOSE + b"# mark\n"
    kept = list(compose_doc._LOADED)
    assert ("compose.yaml", COMPOSE) in kept and ("compose.yaml", COMPOSE + b"# mark\n") not in kept
    again = process("compose.yaml", "compose", COMPOSE, [Mark()], ctx, Options())
    assert again.output == first.output and again.changes == first.changes
