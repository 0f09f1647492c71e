"""hardener.patch: unified diffs that git apply and patch -p1 accept, byte for byte."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hardener.patch import NO_NEWLINE, split_lines, unified_diff

CASES = [
    pytest.param("a\nb\nc\n", "a\nB\nc\n", id="change-middle-line"),
    pytest.param("a\nb\n", "a\nb\nc\n", id="append-line"),
    pytest.param("a\nb\nc\n", "b\nc\n", id="delete-first-line"),
    pytest.param("a\nb\n", "a\nb", id="remove-final-newline"),
    pytest.param("a\nb", "a\nb\n", id="add-final-newline"),
    pytest.param("a\nb", "a\nc", id="change-last-line-without-newline"),
    pytest.param("a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", id="crlf"),
    pytest.param("a\r\nb\r\n", "a\r\nb\r\nc\r\n", id="crlf-append"),
    pytest.param("a\nb\r\nc\n", "a\nb\r\nC\n", id="mixed-line-endings"),
    pytest.param("\ufeffFROM x\n", "\ufeffFROM y\n", id="bom-kept-in-text"),
    pytest.param("", "FROM x\n", id="empty-to-content"),
    pytest.param("FROM x\n", "", id="content-to-empty"),
    pytest.param("RUN echo héllo ✓\n", "RUN echo hello ✓\n", id="non-ascii"),
    pytest.param("".join(f"{i}\n" for i in range(40)), "".join(f"{i}\n" for i in range(40)).replace("3\n", "x\n", 1)
                 .replace("35\n", "y\n"), id="two-hunks"),
    # \f, \v, a lone \r, NEL, U+2028 and friends are line breaks to str.splitlines, not to git
    pytest.param("a\fb\nc\n", "a\fb\nd\n", id="form-feed-in-line"),
    pytest.param("a\rb\nc\n", "a\rb\nd\n", id="lone-cr-in-line"),
    pytest.param("a\u2028b\nc\n", "a\u2028b\nd\n", id="line-separator-in-line"),
    pytest.param("a\x85b\nc\n", "a\x85b\nd\n", id="nel-in-line"),
    pytest.param("a\vb\x1c\x1d\x1e\u2029\nc\n", "a\vb\x1c\x1d\x1e\u2029\nd\n", id="other-splitlines-breaks"),
    pytest.param("a\nb\r", "a\nc\r", id="lone-cr-at-end-without-newline"),
    pytest.param("a\f\n\fb\n", "a\f\n\fc\n", id="form-feed-ends-line"),
]


def _git_apply(tmp_path: Path, before: str | None, patch: str) -> bytes:
    """Apply ``patch`` with git in a fresh repository holding ``before``; the result's bytes."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    target = tmp_path / "Dockerfile"
    if before is not None:
        target.write_bytes(before.encode())
    (tmp_path / "change.patch").write_bytes(patch.encode())
    for args in (["--check"], []):
        result = subprocess.run(["git", "apply", *args, "change.patch"], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    return target.read_bytes()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize(("before", "after"), CASES)
def test_git_apply_reproduces_after(tmp_path: Path, before: str, after: str) -> None:
    assert _git_apply(tmp_path, before, unified_diff("Dockerfile", before, after)) == after.encode()


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch")
@pytest.mark.parametrize(("before", "after"), CASES)
def test_patch_p1_reproduces_after(tmp_path: Path, before: str, after: str) -> None:
    (tmp_path / "Dockerfile").write_bytes(before.encode())
    patch = unified_diff("Dockerfile", before, after).encode()
    result = subprocess.run(["patch", "-p1", "--quiet", "--force"], input=patch, cwd=tmp_path, capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "Dockerfile").read_bytes() == after.encode()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("after", [
    pytest.param("*\n", id="one-line"),
    pytest.param("node_modules\n.git\n", id="two-lines"),
    pytest.param(".git", id="no-final-newline"),
])
def test_new_file(tmp_path: Path, after: str) -> None:
    patch = unified_diff(".dockerignore", None, after)
    assert patch.startswith("diff --git a/.dockerignore b/.dockerignore\nnew file mode 100644\n--- /dev/null\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "new.patch").write_text(patch)
    subprocess.run(["git", "apply", "new.patch"], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / ".dockerignore").read_bytes() == after.encode()


@pytest.mark.parametrize(("before", "after"), [
    pytest.param("a\n", "a\n", id="same"),
    pytest.param("", "", id="both-empty"),
    pytest.param("a\r\n", "a\r\n", id="same-crlf"),
])
def test_no_change_is_no_patch(before: str, after: str) -> None:
    assert unified_diff("Dockerfile", before, after) == ""


def test_exact_text() -> None:
    assert unified_diff("app/Dockerfile", "FROM a\nRUN x\n", "FROM b\nRUN x") == (
        "diff --git a/app/Dockerfile b/app/Dockerfile\n"
        "--- a/app/Dockerfile\n"
        "+++ b/app/Dockerfile\n"
        "@@ -1,2 +1,2 @@\n"
        "-FROM a\n"
        "-RUN x\n"
        "+FROM b\n"
        "+RUN x\n" + NO_NEWLINE
    )


@pytest.mark.parametrize(("before", "after", "header"), [
    pytest.param("", "a\n", "@@ -0,0 +1 @@", id="from-empty: zero-length range starts at 0"),
    pytest.param("a\n", "", "@@ -1 +0,0 @@", id="to-empty"),
    pytest.param("a\nb\nc\n", "a\nc\n", "@@ -1,3 +1,2 @@", id="one-removed"),
])
def test_hunk_ranges(before: str, after: str, header: str) -> None:
    assert header + "\n" in unified_diff("f", before, after)


def test_context_lines() -> None:
    before = "".join(f"{i}\n" for i in range(10))
    after = before.replace("5\n", "five\n")
    assert unified_diff("f", before, after, context=1).splitlines()[3:] == ["@@ -5,3 +5,3 @@", " 4", "-5", "+five", " 6"]


# Names git quotes (control bytes, '"', '\\', non-ASCII) or marks with a trailing tab (a space).
ODD_NAMES = ["a b/Dockerfile", "q\"x/Dockerfile", "back\\slash", "tab\tname", "é/Dockerfile", "é b/Dockerfile",
             "new\nline", "plain-dir/Dockerfile"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("name", ODD_NAMES)
def test_headers_are_what_git_writes(tmp_path: Path, name: str) -> None:
    """Compare with git's own diff of the same change, then apply ours."""
    git = ["git", "-c", "core.quotePath=true", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"x\n")
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    target.write_bytes(b"y\n")
    theirs = subprocess.run([*git, "diff"], cwd=tmp_path, capture_output=True, check=True).stdout.decode()
    ours = unified_diff(name, "x\n", "y\n")
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    assert ours.split("\n")[1:3] == theirs.split("\n")[2:4]  # git adds an index line between
    (tmp_path / "change.patch").write_bytes(ours.encode())
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=tmp_path, check=True)
    result = subprocess.run(["git", "apply", "change.patch"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"y\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_new_file_with_space_applies(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "new.patch").write_text(unified_diff("d i r/.dockerignore", None, ".git\n"))
    result = subprocess.run(["git", "apply", "new.patch"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d i r" / ".dockerignore").read_bytes() == b".git\n"


@pytest.mark.parametrize(("text", "lines"), [
    pytest.param("", [], id="empty"),
    pytest.param("a", ["a"], id="no-newline"),
    pytest.param("a\n\n", ["a\n", "\n"], id="blank-last"),
    pytest.param("a\r\nb\u2028c\x0c", ["a\r\n", "b\u2028c\x0c"], id="only-lf-breaks"),
])
def test_split_lines(text: str, lines: list[str]) -> None:
    assert split_lines(text) == lines
    assert "".join(split_lines(text)) == text
