"""HD504 add-ci-security-gate on GitLab CI: the companion jobs file and the include splice.

The judge is the GitLab CI JSON schema that check-jsonschema vendors (offline): every
generated companion and every spliced ``.gitlab-ci.yml`` must validate against it.
"""
from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from ci_helpers import make_repo as _repo
from ci_helpers import run_gate as _run
from ruamel.yaml import YAML

from hardener.ci.gitlab import COMPANION, GITLAB_CI, TOOL_IMAGES, add_include
from hardener.ci.images import compose_builds, repo_images, split
from hardener.compose.doc import ComposeDoc
from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Change, Refusal
from hardener.transforms.ci_security_gate import HEADER, TARGET, CiSecurityGate

DOCKERFILE = b"FROM node:20-alpine\nCOPY . .\nRUN npm ci\nUSER node\n"
PIPELINE = "stages: [build, test]\nbuild:\n  stage: build\n  script:\n    - make\n"
ENTRY = {"local": COMPANION.as_posix()}


def _writes(findings: list[Change | Refusal], root: Path) -> dict[str, str]:
    changes = [f for f in findings if isinstance(f, Change)]
    assert len(changes) == 1 and not changes[0].edits, findings
    return {w.path.relative_to(root).as_posix(): w.content.decode() for w in changes[0].files}


def _load(text: str) -> dict:
    return YAML(typ="safe").load(text)


def _schema_errors(text: str) -> list[str]:
    import jsonschema

    schema = json.loads(files("check_jsonschema.builtin_schemas.vendor").joinpath("gitlab-ci.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_load(text))]


# ---------------------------------------------------------------- when it writes


@pytest.mark.parametrize("layout, expect", [
    pytest.param({GITLAB_CI.as_posix(): PIPELINE}, "both", id="fixes-gitlab-repo"),
    pytest.param({GITLAB_CI.as_posix(): "test:\n  script: [trivy image app]\n"},
                 "already scanned by .gitlab-ci.yml", id="leaves-trivy-job-alone"),
    pytest.param({GITLAB_CI.as_posix(): "secrets:\n  script: [gitleaks git .]\n"},
                 "already scanned by .gitlab-ci.yml", id="leaves-gitleaks-job-alone"),
    pytest.param({GITLAB_CI.as_posix(): "include:\n  - template: Jobs/Container-Scanning.gitlab-ci.yml\n"},
                 "already scanned by .gitlab-ci.yml", id="leaves-container-scanning-template-alone"),
    pytest.param({GITLAB_CI.as_posix(): "include:\n  - template: Security/Secret-Detection.gitlab-ci.yml\n"},
                 "already scanned by .gitlab-ci.yml", id="leaves-secret-detection-template-alone"),
    pytest.param({GITLAB_CI.as_posix(): "include:\n  - local: /ci/scan.yml\n", "ci/scan.yml": "s: {script: [grype x]}\n"},
                 "already scanned by ci/scan.yml (included from .gitlab-ci.yml)", id="leaves-scanner-in-local-include-alone"),
    pytest.param({GITLAB_CI.as_posix(): "include: ci/build.yml\n", "ci/build.yml": "b: {script: [make]}\n"},
                 "both", id="fixes-repo-whose-local-include-does-not-scan"),
    pytest.param({GITLAB_CI.as_posix(): PIPELINE, COMPANION.as_posix(): "mine: {script: [x]}\n"},
                 "exists and was not written by hardener", id="refuses-foreign-companion"),
    pytest.param({GITLAB_CI.as_posix(): "hardener-check:\n  script: [x]\n"},
                 "already defines hardener-check", id="refuses-job-name-clash"),
    pytest.param({GITLAB_CI.as_posix(): "a: [\n"}, "does not parse", id="refuses-broken-yaml"),
    pytest.param({GITLAB_CI.as_posix(): "include: |\n  a.yml\n"}, "cannot add the include", id="refuses-block-scalar-include"),
    pytest.param({GITLAB_CI.as_posix(): PIPELINE, COMPANION.as_posix(): HEADER + "\n"},
                 "include-only", id="re-adds-missing-include-to-own-companion"),
    pytest.param({GITLAB_CI.as_posix(): PIPELINE + f"include: {COMPANION.as_posix()}\n", COMPANION.as_posix(): HEADER + "\n"},
                 "nothing", id="leaves-own-companion-alone"),
    pytest.param({GITLAB_CI.as_posix(): PIPELINE, ".github/dependabot.yml": "version: 2\n"},
                 "github", id="github-directory-means-github-actions"),
])
def test_when_it_writes(tmp_path, layout, expect):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, **layout})
    findings = _run(root)
    if expect == "nothing":
        assert findings == []
    elif expect in ("both", "include-only", "github"):
        wanted = {"both": {COMPANION.as_posix(), GITLAB_CI.as_posix()}, "include-only": {GITLAB_CI.as_posix()},
                  "github": {TARGET.as_posix()}}[expect]
        written = _writes(findings, root)
        assert set(written) == wanted
        if GITLAB_CI.as_posix() in written:
            assert ENTRY in _includes(written[GITLAB_CI.as_posix()])
            assert _schema_errors(written[GITLAB_CI.as_posix()]) == []
    else:
        [refusal] = findings
        assert isinstance(refusal, Refusal) and expect in refusal.reason


def _includes(text: str) -> list:
    value = _load(text)["include"]
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- the include, spliced in

NL_ENTRY = f"  - local: {COMPANION.as_posix()}\n"


@pytest.mark.parametrize("before, after", [
    pytest.param("a:\n  script: [x]\n", f"a:\n  script: [x]\n\ninclude:\n{NL_ENTRY}", id="appends-include"),
    pytest.param("a:\n  script: [x]\n\n", f"a:\n  script: [x]\n\ninclude:\n{NL_ENTRY}", id="appends-after-blank-line"),
    pytest.param("a:\n  script: [x]", f"a:\n  script: [x]\n\ninclude:\n{NL_ENTRY.rstrip()}", id="keeps-missing-final-newline"),
    pytest.param("a:\r\n  script: [x]\r\n", f"a:\r\n  script: [x]\r\n\r\ninclude:\r\n{NL_ENTRY[:-1]}\r\n", id="keeps-crlf"),
    pytest.param("a:\n  script:\n  - x\n", f"a:\n  script:\n  - x\n\ninclude:\n- local: {COMPANION.as_posix()}\n",
                 id="appends-in-the-files-dash-style"),
    pytest.param("a:\n  script: [x]\n# trailing comment\n", f"a:\n  script: [x]\n# trailing comment\n\ninclude:\n{NL_ENTRY}",
                 id="appends-after-trailing-comment"),
    pytest.param("include: 'ci/a.yml'\nb: {script: [x]}\n", f"include:\n  - 'ci/a.yml'\n{NL_ENTRY}b: {{script: [x]}}\n",
                 id="string-include-becomes-list"),
    pytest.param("include:  ci/a.yml  # ours\nb: {script: [x]}\n",
                 f"include:\n  - ci/a.yml\n{NL_ENTRY[:-1]}  # ours\nb: {{script: [x]}}\n", id="string-include-keeps-comment"),
    pytest.param("include:\n  - local: a.yml # one\n\nb: {script: [x]}\n",
                 f"include:\n  - local: a.yml # one\n{NL_ENTRY}\nb: {{script: [x]}}\n", id="appends-to-block-list"),
    pytest.param("include:\n- template: T.yml\nb: {script: [x]}\n",
                 f"include:\n- template: T.yml\n- local: {COMPANION.as_posix()}\nb: {{script: [x]}}\n", id="appends-to-unindented-list"),
    pytest.param("include: [a.yml, 'b.yml']\n", f"include: [a.yml, 'b.yml', {{local: {COMPANION.as_posix()}}}]\n",
                 id="appends-to-flow-list"),
    pytest.param("include: []\n", f"include: [{{local: {COMPANION.as_posix()}}}]\n", id="fills-empty-flow-list"),
    pytest.param("include: {local: a.yml}\n", f"include: [{{local: a.yml}}, {{local: {COMPANION.as_posix()}}}]\n",
                 id="flow-mapping-becomes-list"),
    pytest.param("include:\n  local: a.yml\n  rules:\n    - if: $X # why\nb: {script: [x]}\n",
                 f"include:\n  - local: a.yml\n    rules:\n      - if: $X # why\n{NL_ENTRY}b: {{script: [x]}}\n",
                 id="block-mapping-becomes-list"),
])
def test_include_forms(before, after):
    doc = ComposeDoc.load(before.encode(), ".gitlab-ci.yml")
    out = add_include(doc)
    assert out == after
    assert ENTRY in _includes(out)
    assert len(_includes(out)) == len(_includes(before)) + 1 if "include" in before else len(_includes(out)) == 1


@pytest.mark.parametrize("text, reason", [
    pytest.param("include: |\n  a.yml\n", "block scalar", id="refuses-block-scalar"),
    pytest.param("x: &i a.yml\ninclude: *i\n", "alias", id="refuses-alias"),
    pytest.param("include: !reference [.x, include]\n", "tagged", id="refuses-tagged-list"),
    pytest.param("include: !local a.yml\n", "tagged", id="refuses-tagged-scalar"),
    pytest.param("{a: {script: [x]}}\n", "not a block mapping", id="refuses-flow-top-level"),
    pytest.param("include:\n  local: |\n    a.yml\n", "block scalar", id="refuses-mapping-with-block-scalar"),
    pytest.param("a: {script: [x]}\n...\n", "text follows", id="refuses-document-end-marker"),
])
def test_include_forms_it_refuses(text, reason):
    with pytest.raises(ValueError, match=reason):
        add_include(ComposeDoc.load(text.encode(), ".gitlab-ci.yml"))


@pytest.mark.parametrize("include", [
    pytest.param(f"include: {COMPANION.as_posix()}\n", id="string"),
    pytest.param(f"include:\n  - local: /{COMPANION.as_posix()}\n", id="leading-slash"),
    pytest.param(f"include: [{{local: '{COMPANION.as_posix()}'}}]\n", id="flow"),
])
def test_present_include_is_not_added_twice(tmp_path, include):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, GITLAB_CI.as_posix(): include + "b: {script: [x]}\n"})
    assert set(_writes(_run(root), root)) == {COMPANION.as_posix()}


def test_a_file_of_another_project_is_not_ours(tmp_path):
    include = f"include:\n  - project: group/ci\n    file: {COMPANION.as_posix()}\n"
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, GITLAB_CI.as_posix(): include})
    written = _writes(_run(root), root)
    assert _includes(written[GITLAB_CI.as_posix()])[-1] == ENTRY


# ---------------------------------------------------------------- the companion


@pytest.fixture
def companion(tmp_path) -> str:
    root = _repo(tmp_path, {"api/Dockerfile": DOCKERFILE, "web/Dockerfile.prod": DOCKERFILE,
                            GITLAB_CI.as_posix(): PIPELINE})
    options = {"add-ci-security-gate": {"action": "example/hardener@" + "ab" * 20}}
    return _writes(_run(root, "api/Dockerfile", options=options), root)[COMPANION.as_posix()]


def test_companion_passes_the_gitlab_schema(companion):
    assert _schema_errors(companion) == []


def test_the_schema_judge_bites():
    assert _schema_errors("job:\n  script: [x]\n  artifacts:\n    reports:\n      bogus: x.json\n")
    assert _schema_errors("job:\n  script: [x]\n  rules:\n    - iff: $X\n")


def test_jobs_per_image_with_needs_rules_and_no_global_keys(companion):
    data = _load(companion)
    assert not {"stages", "workflow", "default", "variables", "include"} & set(data)
    assert data["hardener-build-api"]["variables"] == {
        "DOCKERFILE": "api/Dockerfile", "BUILD_CONTEXT": "api", "IMAGE_NAME": "api",
        "BUILD_ARGS": {"value": "", "expand": False}, "BUILD_TARGET": ""}
    assert data["hardener-build-web-prod"]["variables"]["DOCKERFILE"] == "web/Dockerfile.prod"
    assert data["hardener-scan-web-prod"]["needs"] == ["hardener-build-web-prod"]
    job = data[".hardener-job"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
                            {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert job["inherit"] == {"default": False, "variables": False} and job["stage"] == "test"
    scan = data[".hardener-scan"]
    assert scan["artifacts"]["reports"] == {"cyclonedx": "sbom.cdx.json"}
    assert scan["artifacts"]["when"] == "always" and scan["artifacts"]["expire_in"]
    assert "hardener check ." in data["hardener-check"]["script"]
    # hardener from its repository at a pinned commit, never an unpublished package name
    assert f'"hardener @ git+https://github.com/example/hardener.git@{"ab" * 20}"' in data["hardener-check"]["script"][0]


def test_no_repository_text_in_scripts_and_no_secret_in_logs(companion):
    data = _load(companion)
    scripts = "\n".join(line for job in data.values() for line in job.get("script", []))
    assert "api/" not in scripts and "web/" not in scripts  # paths reach scripts only as quoted variables
    assert '"$DOCKERFILE"' in scripts and '"$BUILD_CONTEXT"' in scripts
    assert "--redact" in scripts and "echo" not in scripts


def test_tool_images_are_pinned_tags(companion):
    for ref in TOOL_IMAGES.values():
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+[\w.-]*", ref), ref
        assert ref in companion
    assert ":latest" not in companion and "dind" not in _load(companion).get(".hardener-build", {}).get("image", "")


@pytest.mark.parametrize("options, expect", [
    pytest.param({}, ['TRIVY_SEVERITY: "CRITICAL,HIGH"', 'TRIVY_IGNORE_UNFIXED: "true"'], id="defaults"),
    pytest.param({"add-ci-security-gate": {"ignore-unfixed": False, "severity": "CRITICAL"}},
                 ['TRIVY_SEVERITY: "CRITICAL"', 'TRIVY_IGNORE_UNFIXED: "false"'], id="configured"),
])
def test_options(tmp_path, options, expect):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, GITLAB_CI.as_posix(): PIPELINE})
    text = _writes(_run(root, options=options), root)[COMPANION.as_posix()]
    assert all(e in text for e in expect)


@pytest.mark.parametrize("stages, stage", [
    pytest.param("", "test", id="default-stages"),
    pytest.param("stages: [build, test, deploy]\n", "test", id="has-test"),
    pytest.param("stages:\n  - lint\n  - deploy\n", "lint", id="first-stage-without-test"),
    pytest.param("stages: [.pre, build]\n", "build", id="skips-pre"),
])
def test_stage_is_one_the_pipeline_has(tmp_path, stages, stage):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, GITLAB_CI.as_posix(): stages + "b: {script: [x]}\n"})
    assert _load(_writes(_run(root), root)[COMPANION.as_posix()])[".hardener-job"]["stage"] == stage


def test_converges_through_the_engine(tmp_path):
    root = _repo(tmp_path, {"Dockerfile": DOCKERFILE, GITLAB_CI.as_posix(): PIPELINE})
    ctx = Context(root).for_file(root / "Dockerfile")
    first = process("Dockerfile", "dockerfile", DOCKERFILE, [CiSecurityGate()], ctx, Options())
    assert first.output == DOCKERFILE
    assert sorted(w.path for w in first.companions) == sorted([root / GITLAB_CI, root / COMPANION])
    for write in first.companions:
        write.path.parent.mkdir(parents=True, exist_ok=True)
        write.path.write_bytes(write.content)
    again = process("Dockerfile", "dockerfile", DOCKERFILE, [CiSecurityGate()], Context(root).for_file(root / "Dockerfile"), Options())
    assert not again.changed and again.companions == () and again.refusals == ()


@pytest.mark.parametrize("layout, reason", [
    pytest.param({"b/Dockerfile": b"FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n"}, "b/Dockerfile (Windows image",
                 id="leaves-out-windows"),
    pytest.param({"$x/Dockerfile": DOCKERFILE}, "$x/Dockerfile (a `$` in its path would be expanded by GitLab)",
                 id="leaves-out-dollar-path"),
])
def test_left_out(tmp_path, layout, reason):
    root = _repo(tmp_path, {"a/Dockerfile": DOCKERFILE, GITLAB_CI.as_posix(): PIPELINE, **layout})
    first = repo_images(Context(root)).dockerfiles[0].relative_to(root).as_posix()  # it speaks for the repo
    findings = _run(root, first)
    refusals = [f.reason for f in findings if isinstance(f, Refusal)]
    assert len(refusals) == 1 and refusals[0].startswith(f"left out of {COMPANION.as_posix()}: ") and reason in refusals[0]
    assert "hardener-build-a:" in _writes(findings, root)[COMPANION.as_posix()]


# ---------------------------------------------------------------- images and Compose builds


@pytest.mark.parametrize("compose, expect", [
    pytest.param("services:\n  a:\n    build: ./app\n", [("app/Dockerfile", "app", None)], id="scalar-build"),
    pytest.param("services:\n  a:\n    build:\n      context: .\n      dockerfile: app/Dockerfile.prod\n",
                 [("app/Dockerfile.prod", ".", None)], id="mapping-build"),
    pytest.param("services:\n  a:\n    build: {}\n", [("Dockerfile", ".", None)], id="empty-build-is-the-folder"),
    pytest.param("services:\n  a:\n    build:\n      context: ${CTX}\n", [(None, None, "variable")], id="variable-context"),
    # with nothing setting CTX, docker compose uses the default, so the build is known
    pytest.param("services:\n  a:\n    build:\n      context: ${CTX:-.}\n", [("Dockerfile", ".", None)],
                 id="variable-context-default"),
    pytest.param("services:\n  a:\n    build: https://github.com/x/y.git\n", [], id="remote-context-ignored"),
    pytest.param("services:\n  a:\n    build:\n      dockerfile_inline: FROM x\n", [], id="inline-ignored"),
    pytest.param("web:\n  build: web\n", [("web/Dockerfile", "web", None)], id="legacy-v1"),
    pytest.param("services:\n  a:\n    image: nginx\n", [], id="image-only"),
    pytest.param("services: [\n", [], id="broken-file"),
])
def test_compose_builds(tmp_path, compose, expect):
    path = tmp_path / "compose.yaml"
    path.write_text(compose)
    found = compose_builds(path, Context(tmp_path))
    got = [(b.dockerfile.relative_to(tmp_path).as_posix() if b.dockerfile else None,
            (b.context.relative_to(tmp_path).as_posix() or ".") if b.context else None,
            "variable" if b.unknown else None) for b in found]
    assert got == expect


def test_compose_context_is_the_build_context(tmp_path):
    root = _repo(tmp_path, {"svc/api/Dockerfile": DOCKERFILE, "svc/web/Dockerfile": DOCKERFILE,
                            "compose.yaml": "services:\n  api:\n    build:\n      context: .\n      dockerfile: svc/api/Dockerfile\n"})
    ctx = Context(root).for_file(root / "svc/api/Dockerfile")
    images, left_out = split(ctx, repo_images(ctx).dockerfiles)
    assert [(i.dockerfile, i.context) for i in images] == [("svc/api/Dockerfile", "."), ("svc/web/Dockerfile", "svc/web")]
    assert left_out == []


def test_context_outside_the_repository_is_left_out(tmp_path):
    root = _repo(tmp_path / "repo", {"Dockerfile": DOCKERFILE, ".git/HEAD": "ref: refs/heads/main\n",
                                     "compose.yaml": "services:\n  a:\n    build:\n      context: ..\n      dockerfile: repo/Dockerfile\n"})
    ctx = Context(root).for_file(root / "Dockerfile")
    images, left_out = split(ctx, repo_images(ctx).dockerfiles)
    assert images == [] and left_out == ["Dockerfile (its Compose build context is outside the repository)"]
