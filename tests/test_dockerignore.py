"""Docker's .dockerignore semantics, case by case from moby/patternmatcher's own tests."""
from __future__ import annotations

import pytest

from hardener.dockerfile.dockerignore import BadPattern, Matcher, go_clean, read_patterns

# (pattern, path, matches) through MatchesOrParentMatches, as in patternmatcher_test.go TestMatches
SINGLE = [
    ("**", "file", True), ("**", "file/", True), ("**/", "file", True), ("**/", "file/", True),
    ("**", "/", True), ("**/", "/", True), ("**", "dir/file", True), ("**/", "dir/file", True),
    ("**", "dir/file/", True), ("**/", "dir/file/", True), ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True), ("dir/**", "dir/file", True), ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True), ("dir/**", "dir/dir2/file/", True), ("**/dir", "dir", True),
    ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True), ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True), ("**file", "file", True), ("**file", "dir/file", True),
    ("**/file", "dir/file", True), ("**file", "dir/dir/file", True), ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True), ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True), ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True), ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True), ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True), (".*", ".foo", True), (".*", "foo", False),
    ("abc.def", "abcdef", False), ("abc.def", "abc.def", True), ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False), ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True), ("abc/**", "abc", False), ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True), ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    # filepath.Match cases (TestMatch)
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", True), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False),
    ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False), ("a?b", "a/b", False), ("a*b", "a/b", False),
    ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True),
    ("[x\\-]", "z", False), ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False),
    ("*x", "xxx", True),
    # directory semantics: a pattern matching a parent excludes everything below it
    ("docs", "docs/a/b.md", True), ("docs/", "docs/README.md", True), ("/docs", "docs/x", True),
    ("./docs", "docs/x", True), ("docs", "other/docs/x", False), ("*/docs", "a/docs/x", True),
    ("node_modules", "node_modules", True), ("node_modules", "src/node_modules", False),
    ("**/node_modules", "src/node_modules/x/y.js", True), ("a/../b", "b/c", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), [pytest.param(*c, id=f"{c[0]}|{c[1]}") for c in SINGLE])
def test_single_pattern(pattern: str, path: str, expected: bool) -> None:
    assert Matcher.from_file(pattern).matches_or_parent_matches(path) is expected  # via ReadAll


MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*"], "fileutils.go", True), (["*.go"], "fileutils.go", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True), (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["docs", "  !docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md  "], "docs/README.md", False),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
    (["*.go"], ".", False),  # the context root is never excluded
]


@pytest.mark.parametrize(("patterns", "path", "expected"), [pytest.param(*c, id=f"{'+'.join(c[0])}|{c[1]}") for c in MULTI])
def test_multiple_patterns_last_match_wins(patterns: list[str], path: str, expected: bool) -> None:
    assert Matcher(patterns).excluded(path) is expected


@pytest.mark.parametrize("pattern", ["!", "[", "a[", "[^", "[^bc", "\\", "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]"])
def test_bad_patterns_raise(pattern: str) -> None:
    with pytest.raises(BadPattern):
        Matcher([pattern])


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("a/b/../c", "a/c", id="dotdot"), pytest.param("./a//b/", "a/b", id="dot-and-slashes"),
    pytest.param("", ".", id="empty"), pytest.param("/../a", "/a", id="rooted-dotdot"),
    pytest.param("../a", "../a", id="leading-dotdot"), pytest.param("/", "/", id="root"),
])
def test_go_clean(raw: str, expected: str) -> None:
    assert go_clean(raw) == expected


def test_read_patterns_like_ignorefile_readall() -> None:
    data = b"\xef\xbb\xbf# comment\n  # not a comment: trimmed later\n\n/abs\n! spaced \n./dot/\n!/x\ndir/../y\r\n"
    assert read_patterns(data) == ["# not a comment: trimmed later", "abs", "!spaced", "dot", "!x", "y"]


def test_the_literal_shortcut_never_changes_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pattern is skipped for a path that lacks its plain run of characters; random patterns
    and paths (with classes, escapes, "..", "//" and exceptions) get the same verdicts as the
    full match of every pattern against the path and its parents."""
    import random

    from hardener.dockerfile import dockerignore

    rng = random.Random(21)
    pieces = ["a", "b", "ab", ".git", ".env", "x", "*", "**", "?", "/", "[ab]", "\\*", "..", ".", "node_modules"]
    patterns: list[list[str]] = [[p] for p in (
        "**/.git", "**.git", "**/a/**", "a/**", "**", "a/../b", "./a", "/a", "a//b", "!a", "*/.env", "a?b")]
    while len(patterns) < 400:
        group = []
        for _ in range(rng.randint(1, 3)):
            text = ("!" if rng.random() < 0.2 else "") + "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
            try:
                dockerignore._pattern(text)
            except BadPattern:
                continue
            group.append(text)
        if group:
            patterns.append(group)
    segments = ["a", "b", "ab", ".git", ".env", "x", "node_modules", "..", ".", "", "a*b", "ba"]
    paths = [".git", "a/.git", "b", "a", "a/b", "x/../a", "./.env", "a/x/.env", "axb", "/a"]
    paths += ["/".join(rng.choice(segments) for _ in range(rng.randint(1, 4))) for _ in range(300)]
    shortcut = [[Matcher(group).excluded(p) for p in paths] for group in patterns]
    monkeypatch.setattr(dockerignore.Pattern, "__post_init__", _without_literal(dockerignore.Pattern.__post_init__))
    dockerignore._pattern.cache_clear()
    try:
        full = [[Matcher(group).excluded(p) for p in paths] for group in patterns]
    finally:
        monkeypatch.undo()
        dockerignore._pattern.cache_clear()
    assert shortcut == full
    assert any(any(row) for row in full) and not all(all(row) for row in full)  # both verdicts occur


def _without_literal(post_init):  # type: ignore[no-untyped-def]
    def init(self) -> None:  # type: ignore[no-untyped-def]
        post_init(self)
        self.literal = ""  # "" is in every path: every pattern is matched in full

    return init
