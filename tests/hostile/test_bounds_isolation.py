"""Issue 22, case 12: one file's (or one repository's) crash never stops or hides the others."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Finding, Transform
from hardener.pr import campaign
from hardener.report import EXIT_INTERNAL, Mode, Report
from hardener.runner import RunRequest


class _Explodes(Transform):
    """A transform with a bug that only one file triggers (a real transform, not a mock)."""

    id = "HD499"
    name = "explodes"
    targets = ("dockerfile",)

    def run(self, doc, ctx: Context) -> Iterator[Finding]:  # type: ignore[no-untyped-def]
        if "boom" in doc.text:
            raise RecursionError("maximum recursion depth exceeded")
        yield from ()


def test_exception_in_one_file_is_that_files_failure(tmp_path: Path) -> None:
    ctx = Context(tmp_path)
    results = [process(name, "dockerfile", text.encode(), [_Explodes()], ctx, Options())
               for name, text in [("a/Dockerfile", "FROM a\nRUN boom\n"), ("b/Dockerfile", "FROM b\n")]]
    assert results[0].failure == "internal error: RecursionError: maximum recursion depth exceeded"
    assert results[0].output is None
    assert results[1].failure is None and results[1].error is None


def _run_or_crash(args: tuple[RunRequest, tuple[Path, ...]]) -> Report:
    if "crash" in str(args[1][0]):
        raise MemoryError("worker ran out of memory")
    return campaign.run_group(args)


def test_campaign_reports_every_repository(tmp_path: Path) -> None:
    repos = []
    for name in ("one", "crash", "three"):
        (tmp_path / name / ".git").mkdir(parents=True)
        (tmp_path / name / "Dockerfile").write_text("FROM alpine:3.19\nMAINTAINER me\n")
        repos.append(tmp_path / name)
    request = RunRequest(paths=(), mode=Mode.DIFF, select=("maintainer-to-label",), offline=True)
    work = [(request, (repo,)) for repo in repos]
    for jobs in (1, 2):
        reports = list(campaign.parallel_map(_run_or_crash, work, jobs, campaign.failed_group))
        assert [len(r.changed) for r in reports] == [1, 0, 1]
        assert reports[1].exit_code() == EXIT_INTERNAL
        assert reports[1].results[0].failure == "internal error: MemoryError: worker ran out of memory"
        assert reports[1].results[0].path.endswith("crash")
