"""The parts of ``hardener pr`` that are pure functions: groups, bodies, line anchors, the dashboard."""
from __future__ import annotations

import re

import pytest

from hardener.engine import FileResult
from hardener.model import Applicability, Change, Refusal
from hardener.output.markdown import GITHUB_BODY_LIMIT
from hardener.pr import dashboard
from hardener.pr.body import new_lines, render_body, report_path
from hardener.pr.checks import _BY_ID, check_for
from hardener.pr.groups import DEFAULT_GROUPS, GroupError, configured_groups, file_slug, wanted
from hardener.report import CompanionResult, Mode, Report
from hardener.transforms import REGISTRY


def no_link(path: str, line: int) -> str:
    return ""


def test_default_groups_partition_the_registry() -> None:
    seen: dict[str, str] = {}
    for group in DEFAULT_GROUPS:
        for t in group.transforms:
            assert t not in seen, f"{t} in {seen.get(t)} and {group.name}"
            seen[t] = group.name
    assert set(seen) == {cls.id for cls in REGISTRY}  # a new transform must be given a group


def test_topology_and_gate_are_never_in_the_safe_group() -> None:
    (safe,) = [g for g in DEFAULT_GROUPS if g.name == "safe"]
    assert safe.level == "safe" and safe.threshold(unsafe=True) is Applicability.SAFE
    assert not {"HD701", "HD702", "HD504", "HD505"} & set(safe.transforms)
    by_id = {cls.id: cls for cls in REGISTRY}
    assert all(by_id[t].applicability is Applicability.SAFE for t in safe.transforms)


def test_every_transform_has_its_own_check() -> None:
    assert {cls.id for cls in REGISTRY} <= set(_BY_ID)


def test_check_names_the_file_and_how_it_runs() -> None:
    dockerfile = check_for("HD305", "api/Dockerfile", "dockerfile")
    assert "`docker build -f api/Dockerfile api`" in dockerfile.verify
    compose = check_for("HD605", "deploy/compose.yml", "compose")
    assert "HEALTH" in compose.verify and "`docker compose -f deploy/compose.yml up -d`" in compose.verify


def test_configured_group_claims_transforms_and_can_drop_a_default() -> None:
    groups = configured_groups({"hygiene": {"transforms": ["exec-form", "HD501"]}, "pinning": {"transforms": []}})
    names = [g.name for g in groups]
    assert names[0] == "hygiene" and "pinning" not in names
    hygiene, safe = groups[0], next(g for g in groups if g.name == "safe")
    assert hygiene.transforms == ("HD401", "HD501") and "HD501" not in safe.transforms
    with pytest.raises(GroupError, match="branch"):
        configured_groups({"Bad Name": {"transforms": ["HD401"]}})


def test_opt_in_groups_only_when_asked() -> None:
    assert "ci-gate" not in [g.name for g in wanted(DEFAULT_GROUPS, ())]
    assert "ci-gate" in [g.name for g in wanted(DEFAULT_GROUPS, {"ci-gate"})]
    assert file_slug("deploy/docker-compose.prod.yml") == "deploy-docker-compose-prod-yml"


def _change(tid: str, line: int, why: str = "a reason") -> Change:
    return Change(tid, "name", Applicability.REVIEW, why, line, ())


def _dockerfile(path: str, n_lines: int) -> FileResult:
    before = "".join(f"RUN echo {i}\n" for i in range(n_lines))
    after = "".join(f"RUN echo {i} && true\n" for i in range(n_lines))
    changes = tuple(_change("HD407", i + 1) for i in range(0, n_lines, 10))
    return FileResult(path, "dockerfile", before.encode(), after.encode(), changes)


def test_a_huge_report_is_cut_under_the_limit_and_committed_whole() -> None:
    report = Report(Mode.APPLY, results=[_dockerfile(f"svc{i:03d}/Dockerfile", 120) for i in range(150)])
    body = render_body(report, "build hygiene", "hardener/build", link=no_link, footer="\n---\nfooter\n")
    assert len(body.text) < GITHUB_BODY_LIMIT
    assert body.full_report is not None and len(body.full_report) > GITHUB_BODY_LIMIT
    assert report_path("hardener/build") in body.text and "svc149/Dockerfile" in body.full_report
    assert body.text.index("| file | change | risk |") < body.text.index("### `svc000/Dockerfile`")
    assert body.text.endswith("footer\n")


def test_a_small_report_is_whole_with_diffs_collapsed_and_companions_shown() -> None:
    report = Report(Mode.APPLY, results=[_dockerfile("Dockerfile", 3)])
    report.companions = [CompanionResult(".dockerignore", None, b".git\n"),
                         CompanionResult("secrets/db.txt", None, b"hunter2\n", sensitive=True)]
    body = render_body(report, "hygiene", "hardener/safe", link=no_link, footer="")
    assert body.full_report is None
    assert "**3 files change**: 1 hardened, 2 companions (`.dockerignore` new, `secrets/db.txt` new)" in body.text
    assert "<details><summary>Diff of Dockerfile</summary>" in body.text
    assert "<details><summary>.dockerignore (new file)</summary>" in body.text
    assert "hunter2" not in body.text


def test_untrusted_paths_and_reasons_stay_text() -> None:
    evil = "x<img src=x onerror=alert(1)>@maintainer/Dockerfile"
    result = FileResult(evil, "dockerfile", b"FROM a\n", b"FROM b\n", (_change("HD101", 1, "see @someone <b>"),))
    body = render_body(Report(Mode.APPLY, results=[result]), "pinning", "hardener/pinning", link=no_link, footer="")
    fences = re.sub(r"```diff\n.*?\n```", "", body.text, flags=re.DOTALL)  # a diff block is inert
    outside = re.sub(r"`[^`\n]+`", "", fences)  # so is a code span
    assert not re.search(r"(?<!\\)<(img|b)", outside)  # only escaped: \<img
    assert "@maintainer" not in outside and "@someone" not in outside
    assert "| x\\<img src=x onerror=alert(1)\\>@\u2060maintainer/Dockerfile | HD101" in body.text  # a | would split the row


def test_anchor_is_the_changed_line_not_the_service_start() -> None:
    before = "services:\n  web:\n    image: a\n    ports:\n      - 80\n"
    after = "services:\n  web:\n    image: a\n    ports:\n      - 80\n    read_only: true\n"
    assert new_lines(before, after)(2, 5) == 6  # the insertion right after the service
    moved = "# added\n" + before.replace("image: a", "image: b")
    assert new_lines(before, moved)(2, 3) == 4


def test_dashboard_counts_refusals_by_kind_and_reads_ticks() -> None:
    results = [FileResult(f"s{i}/Dockerfile", "dockerfile", b"", None, (),
                          refusals=(Refusal("HD101", "pin-base-image", f"node:{i}: registry unreachable", 1),))
               for i in range(30)]
    body = dashboard.render([dashboard.PrLine("hardener/safe", "t", "#1")], [Report(Mode.APPLY, results=results)],
                            DEFAULT_GROUPS, set())
    assert "### Refused (30 places, 1 kinds)" in body
    assert "×30 in `s0/Dockerfile`, `s1/Dockerfile`, `s10/Dockerfile` and 27 more" in body
    ticked = body.replace("- [ ] <!-- hardener-group:ci-gate -->", "- [x] <!-- hardener-group:ci-gate -->")
    assert dashboard.requested(body) == set() and dashboard.requested(ticked) == {"ci-gate"}


def test_a_per_file_group_with_many_files_is_one_pr(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Real git in a scratch repository: six changed Compose files exceed PER_FILE_MAX."""
    import subprocess

    from hardener.pr.gitcmd import Git
    from hardener.pr.units import PER_FILE_MAX, units

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    work = Git(tmp_path, env)
    results = []
    for count in (PER_FILE_MAX, PER_FILE_MAX + 1):
        results = []
        for i in range(count):
            (tmp_path / f"c{i}.yml").write_text("services: {}\n")
            results.append(FileResult(f"c{i}.yml", "compose", b"services: {}\n", b"services: {a: {}}\n",
                                      (_change("HD601", 1),)))
        work("add", "-A")
        work("commit", "-qm", "base", "--allow-empty")
        base = work("rev-parse", "HEAD")
        (group,) = [g for g in DEFAULT_GROUPS if g.name == "compose-runtime"]
        made = units(group, Report(Mode.APPLY, results=results), work, base, lambda b: no_link, "")
        if count == PER_FILE_MAX:
            assert [u.branch for u in made] == [f"hardener/compose-runtime-c{i}-yml" for i in range(count)]
            assert "services: {a: {}}" in work("show", f"{made[0].tree}:c0.yml")
            assert "services: {}" in work("show", f"{made[0].tree}:c1.yml")  # only its own file
        else:
            assert [u.branch for u in made] == ["hardener/compose-runtime"]
