"""hardener.dockerfile.shell: simple commands of a RUN with source spans."""
from __future__ import annotations

import pytest

from hardener.dockerfile.doc import DockerfileDoc
from hardener.dockerfile.shell import commands


def _run(body: str) -> tuple[DockerfileDoc, list | None]:
    doc = DockerfileDoc.load(f"FROM debian\n{body}\n".encode())
    return doc, commands(doc.instructions[1])


def _shape(body: str) -> list[tuple[str, list[str]]] | None:
    doc, cmds = _run(body)
    if cmds is None:
        return None
    return [(c.op_before, [w.value for w in c.words]) for c in cmds]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("RUN true", [("", ["true"])], id="single"),
        pytest.param(
            "RUN apt-get install -y a b && rm -rf /var/lib/apt/lists/*",
            [("", ["apt-get", "install", "-y", "a", "b"]), ("&&", ["rm", "-rf", "/var/lib/apt/lists/*"])],
            id="apt-and-rm",
        ),
        pytest.param(
            "RUN a || b; c | d & e",
            [("", ["a"]), ("||", ["b"]), (";", ["c"]), ("|", ["d"]), ("&", ["e"])],
            id="all-operators",
        ),
        pytest.param("RUN a&&b", [("", ["a"]), ("&&", ["b"])], id="no-spaces"),
        pytest.param("RUN a;", [("", ["a"])], id="trailing-semicolon"),
        pytest.param('RUN echo "a && b" c', [("", ["echo", "a && b", "c"])], id="quoted-and"),
        pytest.param("RUN echo 'a | b;c'", [("", ["echo", "a | b;c"])], id="single-quoted-ops"),
        pytest.param(r"RUN echo a\;b \&\& c", [("", ["echo", "a;b", "&&", "c"])], id="escaped-ops"),
        pytest.param(r'RUN echo "a\"b\$c\d"', [("", ["echo", 'a"b$c\\d'])], id="dquote-escapes"),
        pytest.param(
            "RUN echo $(cd /x && ls) `a; b` ${V:-a b}",
            [("", ["echo", "$(cd /x && ls)", "`a; b`", "${V:-a b}"])],
            id="substitutions-are-words",
        ),
        pytest.param(
            'RUN echo "$(echo ")" && x)" y', [("", ["echo", '$(echo ")" && x)', "y"])],
            id="nested-quotes-in-substitution",
        ),
        pytest.param("RUN echo $((1 + (2)))", [("", ["echo", "$((1 + (2)))"])], id="arithmetic"),
        pytest.param(
            "RUN make 2>&1 > /dev/null && x",
            [("", ["make"]), ("&&", ["x"])],
            id="redirections-not-words",
        ),
        pytest.param("RUN cmd &> log", [("", ["cmd"])], id="and-redirect-not-background"),
        pytest.param("RUN cat <<< x", [("", ["cat"])], id="here-string"),
        pytest.param("RUN a && b # note && c", [("", ["a"]), ("&&", ["b"])], id="shell-comment"),
        pytest.param("RUN a \\\n  # c\n  && b #x \\\n && c", [("", ["a"]), ("&&", ["b"])],
                     id="shell-comment-swallows-continuation"),
        pytest.param("RUN echo a#b '#c'", [("", ["echo", "a#b", "#c"])], id="hash-inside-word"),
        pytest.param(
            "RUN FOO=1 BAR='x y' make", [("", ["FOO=1", "BAR=x y", "make"])], id="assignments",
        ),
        pytest.param("RUN echo $'a\\'b'", [("", ["echo", "a\\'b"])], id="ansi-c-quote"),
        pytest.param("RUN echo done if", [("", ["echo", "done", "if"])], id="keywords-as-arguments"),
        pytest.param(
            "RUN apt-get update \\\n    # refresh lists\n    && apt-get install -y curl",
            [("", ["apt-get", "update"]), ("&&", ["apt-get", "install", "-y", "curl"])],
            id="continuation-with-comment",
        ),
        pytest.param(
            "RUN --mount=type=cache,target=/root/.cache pip install x",
            [("", ["pip", "install", "x"])],
            id="flags-skipped",
        ),
    ],
)
def test_split(body: str, expected: list[tuple[str, list[str]]]) -> None:
    assert _shape(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('RUN ["apt-get", "install", "x"]', id="exec-form"),
        pytest.param("RUN <<EOF\napt-get update\nEOF", id="heredoc"),
        pytest.param("RUN (cd /x && make)", id="subshell"),
        pytest.param("RUN { a; b; }", id="group"),
        pytest.param("RUN if [ -f x ]; then a; fi", id="if"),
        pytest.param("RUN for p in a b; do pip install $p; done", id="for"),
        pytest.param("RUN while true; do x; done", id="while"),
        pytest.param("RUN case $x in a) y;; esac", id="case"),
        pytest.param("RUN f() { a; }; f", id="function"),
        pytest.param("RUN [[ -f x && -f y ]] && z", id="double-bracket"),
        pytest.param("RUN diff <(a) <(b)", id="process-substitution"),
        pytest.param("RUN echo 'unterminated", id="unterminated-quote"),
        pytest.param("RUN echo $(unbalanced", id="unbalanced-substitution"),
        pytest.param("RUN && a", id="leading-operator"),
        pytest.param("RUN a && && b", id="empty-command"),
        pytest.param("RUN a &&", id="trailing-and"),
        pytest.param("RUN a &", id="trailing-background"),
        pytest.param("RUN a |& b", id="bash-pipe-both"),
    ],
)
def test_refuses(body: str) -> None:
    assert _shape(body) is None


def test_backtick_escape_refused() -> None:
    doc = DockerfileDoc.load(b"# escape=`\nFROM x\nRUN a && b\n")
    assert commands(doc.instructions[1], escape=doc.escape) is None


@pytest.mark.parametrize(
    ("body", "word_sources"),
    [
        pytest.param(
            "RUN apt-get update && \\\n    apt-get install -y a",
            ["apt-get", "update", "apt-get", "install", "-y", "a"],
            id="continuation",
        ),
        pytest.param(
            "RUN apt-get update \\\n  # one\n\n  # two\n  && apt-get install \\\n      curl \\\n   # three\n      git",
            ["apt-get", "update", "apt-get", "install", "curl", "git"],
            id="comments-and-blank-lines-skipped",
        ),
        pytest.param(
            "RUN echo ab\\\ncd", ["echo", "ab\\\ncd"], id="word-spanning-continuation",
        ),
        pytest.param("RUN\techo\t'x y'", ["echo", "'x y'"], id="tabs"),
    ],
)
def test_source_spans(body: str, word_sources: list[str]) -> None:
    doc, cmds = _run(body)
    assert cmds is not None
    assert [doc.text[w.start : w.end] for c in cmds for w in c.words] == word_sources


def test_command_span_includes_redirects() -> None:
    doc, cmds = _run("RUN make install > /dev/null 2>&1 && true")
    assert cmds is not None
    assert doc.text[cmds[0].start : cmds[0].end] == "make install > /dev/null 2>&1"
    assert [r.value for r in cmds[0].redirects] == ["/dev/null", "1"]


def test_crlf_offsets() -> None:
    doc = DockerfileDoc.load(b"FROM x\r\nRUN a \\\r\n  # c\r\n  && b\r\n")
    cmds = commands(doc.instructions[1])
    assert cmds is not None
    assert [doc.text[c.start : c.end] for c in cmds] == ["a", "b"]


def test_onbuild_sub_instruction() -> None:
    doc = DockerfileDoc.load(b"FROM x\nONBUILD RUN a && b\n")
    sub = doc.instructions[1].sub
    assert sub is not None
    cmds = commands(sub)
    assert cmds is not None
    assert [doc.text[c.start : c.end] for c in cmds] == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "index"),
    [
        pytest.param("RUN make", 0, id="plain"),
        pytest.param("RUN A=1 B=2 make", 2, id="assignments"),
        pytest.param("RUN A=1", 1, id="only-assignment"),
        pytest.param("RUN ./x=1", 0, id="not-a-name"),
    ],
)
def test_program_index(body: str, index: int) -> None:
    _, cmds = _run(body)
    assert cmds is not None
    assert cmds[0].program_index() == index


# --- hardener.dockerfile.shell_edit -------------------------------------------------------------

from hardener.dockerfile.shell_edit import append_command, cache_targets, has_option  # noqa: E402


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("RUN a && b", "RUN a && b && z", id="inline"),
        pytest.param("RUN a \\\n  && b", "RUN a \\\n  && b \\\n  && z", id="leading"),
        pytest.param("RUN a && \\\n\tb", "RUN a && \\\n\tb && \\\n\tz", id="trailing-tab"),
        pytest.param("RUN a; \\\n    b", "RUN a; \\\n    b && \\\n    z", id="semicolon-list-keeps-status"),
        pytest.param("RUN a \\\n  # c\n  && b > /dev/null", "RUN a \\\n  # c\n  && b > /dev/null \\\n  && z",
                     id="comment-and-redirect"),
        pytest.param("RUN a && b \\\n    c", "RUN a && b \\\n    c && z", id="last-command-spans-lines"),
        pytest.param("RUN a # note", "RUN a && z # note", id="before-shell-comment"),
    ],
)
def test_append_command(body: str, expected: str) -> None:
    from hardener.edits import apply_edits

    doc = DockerfileDoc.load(f"FROM x\n{body}\n".encode())
    inst = doc.instructions[1]
    cmds = commands(inst)
    assert cmds is not None
    assert apply_edits(doc.text, [append_command(doc, inst, cmds, "z")]) == f"FROM x\n{expected}\n"


@pytest.mark.parametrize(
    ("flags", "targets"),
    [
        pytest.param("--mount=type=cache,target=/root/.cache", ["/root/.cache"], id="cache"),
        pytest.param("--mount=target=/var/cache/apt,type=cache,sharing=locked", ["/var/cache/apt"], id="order"),
        pytest.param("--mount=type=bind,target=/src", [], id="bind-is-no-cache"),
        pytest.param("--mount=type=cache,dst=/a --mount=type=cache,destination=/b", ["/a", "/b"], id="aliases"),
    ],
)
def test_cache_targets(flags: str, targets: list[str]) -> None:
    doc = DockerfileDoc.load(f"FROM x\nRUN {flags} true\n".encode())
    assert cache_targets(doc.instructions[1]) == targets


@pytest.mark.parametrize(
    ("args", "found"),
    [
        pytest.param("-y", True, id="short"),
        pytest.param("-qqy", True, id="cluster"),
        pytest.param("--yes", True, id="long"),
        pytest.param("--yes=true", True, id="long-value"),
        pytest.param("--dry-run", False, id="other-long-with-y"),
        pytest.param("-q", False, id="other-short"),
    ],
)
def test_has_option(args: str, found: bool) -> None:
    _, cmds = _run(f"RUN apt-get {args} install")
    assert cmds is not None
    assert has_option(cmds[0].words[1:], ("--yes",), "y") is found


@pytest.mark.parametrize(
    ("body", "programs"),
    [
        pytest.param("RUN if [ -n x ]; then apk add curl; fi", [["[", "-n", "x", "]"], ["apk", "add", "curl"]],
                     id="if"),
        pytest.param("RUN for p in a b; do pip install $p; done", [["p", "in", "a", "b"], ["pip", "install", "$p"]],
                     id="for"),
        pytest.param("RUN (cd /x && make) || { echo no; exit 1; }",
                     [["cd", "/x"], ["make"], ["echo", "no"], ["exit", "1"]], id="subshell-and-group"),
        pytest.param("RUN if ! grep -q x f; then a; fi", [["grep", "-q", "x", "f"], ["a"]], id="negation"),
    ],
)
def test_loose(body: str, programs: list[list[str]]) -> None:
    doc = DockerfileDoc.load(f"FROM x\n{body}\n".encode())
    inst = doc.instructions[1]
    assert commands(inst) is None
    cmds = commands(inst, loose=True)
    assert cmds is not None
    assert [c.argv for c in cmds] == programs
    for c in cmds:
        assert all(doc.text[w.start : w.end] == w.raw for w in c.words)


def test_loose_still_refuses_case() -> None:
    doc = DockerfileDoc.load(b"FROM x\nRUN case $a in x) apk add y;; esac\n")
    assert commands(doc.instructions[1], loose=True) is None
