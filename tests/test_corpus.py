"""hardener over the whole shared corpus: no internal errors, judges accept every output,
and a second run changes nothing. Skipped when ../shared/corpus is absent."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from hardener import judges
from hardener.report import Mode
from hardener.runner import RunRequest, run

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import CORPUS

    if not (CORPUS / "manifest.json").is_file():
        pytest.skip("../shared/corpus is not present")
    work = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(CORPUS, work, symlinks=True)
    return work


def test_apply_then_second_run_is_a_no_op(corpus_copy: Path) -> None:
    first = run(RunRequest((corpus_copy,), Mode.APPLY, offline=True))  # no registry here: deterministic
    failures = [f"{r.path}: {r.failure}" for r in first.results if r.failure]
    assert failures == [], failures[:5]
    assert first.exit_code() in (0, 2)
    errors = [r for r in first.results if r.error]
    assert len(errors) <= 5, [str(r.error) for r in errors]  # the corpus's deliberately broken files
    changed = [r for r in first.results if r.changed]
    assert len(changed) > 300
    for result in changed:
        text = result.output.decode("utf-8-sig")
        if result.kind == "dockerfile":
            assert judges.dockerfile_problem(text) is None, result.path
        else:
            before = len(judges.compose_problems(result.original.decode("utf-8-sig")))
            assert len(judges.compose_problems(text)) <= before, result.path
    by_transform = Counter(c.transform_id for r in changed for c in r.changes)
    print("changes per transform:", dict(sorted(by_transform.items())))
    second = run(RunRequest((corpus_copy,), Mode.CHECK, offline=True))
    again = [r.path for r in second.results if r.changed]
    assert again == [], again[:5]
    assert second.exit_code() in (0, 2)


def test_comments_survive(corpus_copy: Path) -> None:
    """Every comment line of the original is still in the output (after the apply above)."""
    from conftest import CORPUS

    lost = []
    for original in CORPUS.glob("*/*"):
        if original.name in ("case.json", "context_listing.txt") or not original.is_file():
            continue
        after = corpus_copy / original.relative_to(CORPUS)
        old = Counter(ln.strip() for ln in original.read_text(errors="replace").splitlines() if ln.strip().startswith("#"))
        new = Counter(ln.strip() for ln in after.read_text(errors="replace").splitlines() if ln.strip().startswith("#"))
        if old - new:
            lost.append(str(original))
    assert lost == []
