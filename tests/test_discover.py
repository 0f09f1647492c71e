from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import CORPUS

from hardener.discover import Found, classify, discover


def make(root: Path, *files: str, text: str | None = None) -> None:
    """Files with content of the kind their name says (discovery reads the first bytes)."""
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = classify(path.name)
        path.write_text(text if text is not None else "services: {}\n" if kind == "compose" else "FROM scratch\n")


def rels(found: list[Found], base: Path) -> list[str]:
    return [os.path.relpath(f.path, base).replace(os.sep, "/") for f in found]


def walk(base: Path, **kwargs: object) -> list[str]:
    found, errors = discover([base], **kwargs)  # type: ignore[arg-type]
    assert errors == []
    return rels(found, base)


@pytest.mark.parametrize("name", [
    "Dockerfile", "dockerfile", "Containerfile", "containerfile",
    "Dockerfile.prod", "Dockerfile.0", "Dockerfile-dev", "Containerfile-ci", "Dockerfile.multi.stage", "dockerfile.dev", "Containerfile.fedora",
    "base.Dockerfile", "app.dockerfile", "02e55b90.Dockerfile", "x.Containerfile",
])
def test_classify_dockerfiles(name: str) -> None:
    assert classify(name) == "dockerfile"


@pytest.mark.parametrize("name", [
    "compose.yaml", "compose.yml", "compose.override.yml", "compose.deploy.yml", "compose-dev.yaml",
    "compose-with-env-file.yaml", "docker-compose.yml", "docker-compose.yaml",
    "docker-compose.test.override.yml", "docker-compose-v1.yml", "docker-compose-multirole.yaml",
])
def test_classify_compose(name: str) -> None:
    assert classify(name) == "compose"


@pytest.mark.parametrize("name", [
    pytest.param("Dockerfile.dockerignore", id="buildkit-per-dockerfile-ignore"),
    pytest.param("app.Dockerfile.dockerignore", id="prefixed-ignore"),
    pytest.param(".dockerignore", id="dockerignore"),
    pytest.param("Dockerfile.orig", id="merge-leftover"),
    pytest.param("Dockerfile.rej", id="patch-reject"),
    pytest.param("Dockerfile.bak", id="backup"),
    pytest.param("Dockerfile.prod.bak", id="backup-of-variant"),
    pytest.param("Dockerfile.swp", id="vim-swap"),
    pytest.param("Dockerfile~", id="editor-backup"),
    pytest.param("Dockerfile.prod~", id="editor-backup-of-variant"),
    pytest.param("Dockerfile.template", id="template"),
    pytest.param("Dockerfile.j2", id="jinja"),
    pytest.param("Dockerfile.tmpl", id="go-template"),
    pytest.param("Dockerfile.in", id="autoconf-input"),
    pytest.param("DOCKERFILE", id="all-caps"),
    pytest.param("Dockerfile-dev.orig", id="dash-variant-leftover"),
    pytest.param("Dockerfile-", id="empty-dash-suffix"),
    pytest.param("Dockerfile_dev", id="underscore-suffix"),
    pytest.param("Dockerfile.", id="empty-suffix"),
    pytest.param(".Dockerfile", id="empty-stem"),
    pytest.param("mydockerfile", id="no-dot"),
    pytest.param("compose.json", id="compose-json"),
    pytest.param("compose.yml.bak", id="compose-backup"),
    pytest.param("compose-.yml", id="compose-empty-dash"),
    pytest.param("docker-compose.yml.j2", id="compose-template"),
    pytest.param("Compose.yaml", id="compose-capital"),
    pytest.param("mycompose.yml", id="compose-prefix"),
    pytest.param("case.json", id="corpus-case-json"),
    pytest.param("context_listing.txt", id="corpus-listing"),
])
def test_classify_rejects(name: str) -> None:
    assert classify(name) is None


def test_classify_accepts_every_original_name_in_the_corpus() -> None:
    manifest = CORPUS / "manifest.json"
    if not manifest.is_file():
        pytest.skip("../shared/corpus is not present")
    cases = json.loads(manifest.read_text())["cases"]
    wrong = {c["path"]: c["kind"] for c in cases if classify(c["path"].rsplit("/", 1)[-1]) != c["kind"]}
    assert wrong == {}


def test_walk_finds_both_kinds_sorted_and_skips_others(tmp_path: Path) -> None:
    make(tmp_path, "b/Dockerfile", "a/compose.yaml", "a-b/Dockerfile", "Dockerfile", "README.md",
         "a/Dockerfile.dockerignore", "a/.dockerignore")
    found, errors = discover([tmp_path])
    assert errors == []
    assert rels(found, tmp_path) == ["Dockerfile", "a/compose.yaml", "a-b/Dockerfile", "b/Dockerfile"]
    assert [f.kind for f in found] == ["dockerfile", "compose", "dockerfile", "dockerfile"]
    assert {f.root for f in found} == {tmp_path}


def test_relative_argument_gives_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, "svc/Dockerfile")
    monkeypatch.chdir(tmp_path)
    found, _ = discover([Path(".")])
    assert found == [Found(Path("svc/Dockerfile"), "dockerfile", tmp_path)]


def test_root_gitignore(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile", "build/Dockerfile", "deep/build/Dockerfile", "vendor/x/Dockerfile",
         "old.Dockerfile", "keep/compose.yml")
    (tmp_path / ".gitignore").write_text("# comment\nbuild/\n/vendor\n*.Dockerfile\n")
    assert walk(tmp_path) == ["Dockerfile", "keep/compose.yml"]


def test_nested_gitignore_is_relative_to_its_directory(tmp_path: Path) -> None:
    make(tmp_path, "gen/Dockerfile", "sub/gen/Dockerfile", "sub/x/gen/Dockerfile", "sub/Dockerfile.prod")
    (tmp_path / "sub" / ".gitignore").write_text("/gen\nDockerfile.prod\n")
    assert walk(tmp_path) == ["gen/Dockerfile", "sub/x/gen/Dockerfile"]


def test_negation_in_the_same_file(tmp_path: Path) -> None:
    make(tmp_path, "a/Dockerfile.prod", "a/Dockerfile.dev", "b/Dockerfile.dev")
    (tmp_path / ".gitignore").write_text("Dockerfile.*\n!a/Dockerfile.dev\n")
    assert walk(tmp_path) == ["a/Dockerfile.dev"]


def test_nested_negation_overrides_parent(tmp_path: Path) -> None:
    make(tmp_path, "a/compose.yaml", "b/compose.yaml")
    (tmp_path / ".gitignore").write_text("compose.yaml\n")
    (tmp_path / "b" / ".gitignore").write_text("!compose.yaml\n")
    assert walk(tmp_path) == ["b/compose.yaml"]


def test_negation_cannot_reinclude_from_an_ignored_directory(tmp_path: Path) -> None:
    make(tmp_path, "out/Dockerfile")
    (tmp_path / ".gitignore").write_text("out/\n!out/Dockerfile\n")
    assert walk(tmp_path) == []  # git does not look inside an excluded directory either


def test_malformed_gitignore_line_is_skipped_like_git(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile", "tmp/Dockerfile")
    (tmp_path / ".gitignore").write_text("!\ntmp/\n")
    assert walk(tmp_path) == ["Dockerfile"]


def test_git_info_exclude_and_vcs_dirs(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile", "local/Dockerfile", ".git/Dockerfile", ".hg/Dockerfile", ".svn/compose.yml")
    (tmp_path / ".git" / "info").mkdir()
    (tmp_path / ".git" / "info" / "exclude").write_text("local/\n")
    assert walk(tmp_path) == ["Dockerfile"]


def test_walking_a_subdirectory_honours_ancestor_gitignores_and_finds_the_repo_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    make(tmp_path, "svc/api/Dockerfile", "svc/api/dist/Dockerfile", "svc/api/Dockerfile.local")
    (tmp_path / ".gitignore").write_text("dist/\n")
    (tmp_path / "svc" / ".gitignore").write_text("/api/Dockerfile.local\n")
    found, errors = discover([tmp_path / "svc" / "api"])
    assert errors == []
    assert rels(found, tmp_path) == ["svc/api/Dockerfile"]
    assert found[0].root == tmp_path


def test_nested_repository_is_its_own_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "lib" / "dep").mkdir(parents=True)
    (tmp_path / "lib" / "dep" / ".git").write_text("gitdir: ../../.git/modules/dep\n")  # a submodule
    make(tmp_path, "Dockerfile", "lib/dep/Dockerfile")
    found, _ = discover([tmp_path])
    assert {rels([f], tmp_path)[0]: f.root for f in found} == {
        "Dockerfile": tmp_path, "lib/dep/Dockerfile": tmp_path / "lib" / "dep",
    }


def test_symlinked_directory_is_not_followed(tmp_path: Path) -> None:
    make(tmp_path, "real/Dockerfile")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert walk(tmp_path) == ["real/Dockerfile"]


def test_symlink_pointing_outside_is_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, "Dockerfile")
    repo = tmp_path / "repo"
    make(repo, "Dockerfile")
    (repo / "sub").mkdir()
    (repo / "sub" / "Dockerfile").symlink_to(outside / "Dockerfile")
    (repo / "compose.yaml").symlink_to(tmp_path / "missing.yaml")  # dangling
    assert walk(repo) == ["Dockerfile"]


def test_symlink_inside_is_deduplicated_and_the_real_path_wins(tmp_path: Path) -> None:
    make(tmp_path, "z/Dockerfile")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").symlink_to(Path("..") / "z" / "Dockerfile")
    assert walk(tmp_path) == ["z/Dockerfile"]


def test_symlink_inside_whose_target_is_not_found_by_name_is_kept(tmp_path: Path) -> None:
    make(tmp_path, "files/base.txt")
    (tmp_path / "Dockerfile").symlink_to("files/base.txt")
    assert walk(tmp_path) == ["Dockerfile"]


def test_exclude_patterns_from_config(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile", "third_party/x/Dockerfile", "docs/Dockerfile", "a/docs/Dockerfile",
         "test/compose.test.yml", "compose.yml")
    found = walk(tmp_path, exclude=("third_party/", "/docs", "compose.*.yml"))
    assert found == ["Dockerfile", "a/docs/Dockerfile", "compose.yml"]


def test_exclude_is_anchored_at_the_repo_root_not_the_walked_directory(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    make(tmp_path, "svc/gen/Dockerfile", "svc/Dockerfile")
    found, _ = discover([tmp_path / "svc"], exclude=("/svc/gen/",))
    assert rels(found, tmp_path) == ["svc/Dockerfile"]


def test_invalid_exclude_pattern_is_reported_and_the_rest_applied(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile", "x/Dockerfile")
    found, errors = discover([tmp_path], exclude=("!", "x/"))
    assert rels(found, tmp_path) == ["Dockerfile"]
    assert [e.message for e in errors] == ["invalid exclude pattern '!'"]


def test_explicit_files_are_taken_whatever_their_name(tmp_path: Path) -> None:
    make(tmp_path, "build.docker", "stack.yml", "Dockerfile.template", "ignored/compose.yaml")
    (tmp_path / ".gitignore").write_text("ignored/\n")
    args = [tmp_path / n for n in ("build.docker", "stack.yml", "Dockerfile.template", "ignored/compose.yaml")]
    found, errors = discover(args, exclude=("*.yml",))
    assert errors == []
    assert [(f.path.name, f.kind) for f in found] == [
        ("Dockerfile.template", "dockerfile"), ("build.docker", "dockerfile"),
        ("compose.yaml", "compose"), ("stack.yml", "compose"),
    ]
    assert {f.root for f in found} == {tmp_path, tmp_path / "ignored"}


def test_a_file_named_twice_or_also_walked_is_listed_once(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile")
    found, _ = discover([tmp_path / "Dockerfile", tmp_path, tmp_path / "." / "Dockerfile"])
    assert rels(found, tmp_path) == ["Dockerfile"]


def test_missing_path_is_bad_input_and_the_others_still_run(tmp_path: Path) -> None:
    make(tmp_path, "Dockerfile")
    missing = tmp_path / "nope" / "Dockerfile"
    found, errors = discover([missing, tmp_path])
    assert rels(found, tmp_path) == ["Dockerfile"]
    assert [(e.message, e.path, e.line) for e in errors] == [("no such file or directory", str(missing), None)]
    assert str(errors[0]) == f"{missing}: no such file or directory"


def test_root_without_git_is_the_directory_given(tmp_path: Path) -> None:
    make(tmp_path, "project/svc/Dockerfile")
    found, _ = discover([tmp_path / "project"])
    assert found[0].root == tmp_path / "project"


# --- the shared corpus -------------------------------------------------------------------

@pytest.mark.corpus
def test_corpus_walk_finds_exactly_the_manifest_files(corpus_dir: Path) -> None:
    cases = json.loads((corpus_dir / "manifest.json").read_text())["cases"]
    expected = {f"{c['case_id']}/{c['file']}": c["kind"] for c in cases}
    started = time.perf_counter()
    found, errors = discover([corpus_dir])
    elapsed = time.perf_counter() - started
    assert errors == []
    got = {f.path.relative_to(corpus_dir).as_posix(): f.kind for f in found}
    # Case folders hold case.json, context_listing.txt and (some) a context/ folder of copied
    # files (.env, .dockerignore, package.json …). None of those is a Dockerfile or Compose
    # file today; if a case ever copies one in, it shows up here and this count must change.
    in_context = sorted(p for p in got if p.split("/")[1] == "context")
    assert in_context == []
    top_level = {p: k for p, k in got.items() if p not in in_context}
    missing = sorted(set(expected) - set(top_level))
    extra = sorted(set(top_level) - set(expected))
    wrong_kind = sorted(p for p in expected.keys() & top_level.keys() if expected[p] != top_level[p])
    assert (missing, extra, wrong_kind) == ([], [], [])
    kinds = [f.kind for f in found]
    assert (kinds.count("dockerfile"), kinds.count("compose")) == (702, 269)
    assert elapsed < 1.0, f"corpus walk took {elapsed:.2f}s"


@pytest.mark.corpus
def test_corpus_context_folders_do_hold_lookalike_files(corpus_dir: Path) -> None:
    """The test above proves something only if context/ folders hold files to be ignored."""
    names = {p.name for p in corpus_dir.glob("*/context/*")}
    assert {".dockerignore", ".env", "package.json"} <= names
