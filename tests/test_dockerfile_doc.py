"""DockerfileDoc: lossless round trip and instruction boundaries that agree with BuildKit.

The official BuildKit parser (PyPI ``dockerfile``) is the oracle for where instructions
start and end, their flags, exec form and heredoc bodies.
"""
from __future__ import annotations

import pytest
from conftest import corpus_cases

from hardener.dockerfile.doc import DockerfileDoc
from hardener.errors import BadInput

dockerfile = pytest.importorskip("dockerfile")


def ours(doc: DockerfileDoc) -> list[tuple[object, ...]]:
    return [
        (
            i.keyword, i.line, i.end_line,
            tuple(f"--{f.name}" + ("" if f.value is None else f"={f.value}") for f in i.flags),
            i.json is not None,
            # the Python wrapper does not expose heredocs of ONBUILD triggers (lines still agree)
            () if i.keyword == "ONBUILD" else
            tuple((h.name, h.body(doc.text).replace("\r", "")) for h in i.heredocs),
        )
        for i in doc.instructions
    ]


def buildkit(text: str) -> list[tuple[object, ...]]:
    return [
        (
            c.cmd.upper(), c.start_line, c.end_line, tuple(c.flags), c.json,
            tuple((h.name, h.content.replace("\r", "")) for h in c.heredocs),
        )
        for c in dockerfile.parse_string(text)
    ]


def assert_agrees(raw: bytes) -> DockerfileDoc:
    doc = DockerfileDoc.load(raw)
    assert doc.render() == raw
    assert ours(doc) == buildkit(raw.decode("utf-8-sig"))
    return doc


CORPUS = corpus_cases("dockerfile")


@pytest.mark.corpus
@pytest.mark.parametrize("path", [p for _, p in CORPUS], ids=[c for c, _ in CORPUS])
def test_corpus_round_trip_and_boundaries(path):
    raw = path.read_bytes()
    try:
        expected = buildkit(raw.decode("utf-8-sig"))
    except dockerfile.GoParseError:
        with pytest.raises(BadInput):
            DockerfileDoc.load(raw)
        return
    doc = DockerfileDoc.load(raw, str(path))
    assert doc.render() == raw
    assert ours(doc) == expected


CASES = [
    pytest.param(b"FROM a\nRUN x\n", id="simple"),
    pytest.param(b"FROM a\r\nRUN x \\\r\n  y\r\n", id="crlf"),
    pytest.param(b"\xef\xbb\xbfFROM a\nRUN x\n", id="bom"),
    pytest.param(b"FROM a\nRUN x", id="no-final-newline"),
    pytest.param(b"# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir `\n  c:\\ \nCOPY a\\b c\\\n", id="backtick"),
    pytest.param(b"FROM a\nRUN <<EOF\necho 1\nEOF\n", id="heredoc"),
    pytest.param(b"FROM a\nRUN <<-EOF\n\techo 1\n\tEOF\nRUN b\n", id="heredoc-chomp"),
    pytest.param(b"FROM a\nRUN <<'EOF' bash\necho $x\nEOF\n", id="heredoc-quoted"),
    pytest.param(b"FROM a\nCOPY <<A <<B /dst/\na\nA\nb\nB\n", id="two-heredocs"),
    pytest.param(b"FROM a\nRUN echo '<<EOF'\nRUN b\n", id="quoted-not-heredoc"),
    pytest.param(b"FROM a\nRUN [\"cat\", \"<<EOF\"]\nRUN b\n", id="json-not-heredoc"),
    pytest.param(b"FROM a\nONBUILD RUN <<EOF\nx\nEOF\n", id="onbuild-heredoc"),
    pytest.param(b"FROM a\nRUN a \\\n# comment\n\n    b \\  \n    c\n", id="comment-blank-ws-in-continuation"),
    pytest.param(b"from a\nrun x\ncopy --chown=1:1 --link a b\n", id="lowercase"),
    pytest.param(b"ARG B=a\nFROM --platform=$P ${B} AS x\nFROM x\nCOPY --from=x /a /b\n", id="stages"),
    pytest.param(b"FROM a\nRUN --mount=type=cache,target=/r \\\n    --network=none x\n", id="run-flags"),
    pytest.param(b"FROM a\nHEALTHCHECK --interval=5s CMD [\"x\"]\n", id="healthcheck-json"),
    pytest.param(b"FROM a\n  \t# indented comment\n   RUN x\n", id="indented"),
    pytest.param(b"# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n", id="directives"),
]


@pytest.mark.parametrize("raw", CASES)
def test_focused_cases_agree_with_buildkit(raw):
    assert_agrees(raw)


def test_spans_and_logical_mapping():
    doc = assert_agrees(b"FROM a AS build\nCOPY --from=build \\\n  # c\n  /src /dst\nCMD echo hi\n")
    copy = doc.instructions[1]
    assert doc.text[copy.keyword_start:copy.keyword_end] == "COPY"
    assert doc.text[copy.flags[0].start:copy.flags[0].end] == "--from=build"
    assert copy.args == "/src /dst"
    assert doc.text[copy.args_start:copy.args_end] == "/src /dst"
    assert [c.text for c in copy.comments_inside] == ["# c"]
    assert doc.stages[0].name == "build" and doc.final_stage().base == "a"
    cmd = doc.instructions[2]
    assert cmd.json is None and doc.text[cmd.start:cmd.end] == "CMD echo hi"


def test_directives_and_escape():
    doc = assert_agrees(b"# escape=`\n# syntax=docker/dockerfile:1\nFROM a\n")
    assert doc.escape == "`"
    assert [(d.name, d.value) for d in doc.directives] == [("escape", "`"), ("syntax", "docker/dockerfile:1")]
    late = DockerfileDoc.load(b"FROM a\n# escape=`\nRUN x \\\n y\n")
    assert late.escape == "\\" and late.directives == []


def test_suppression_comment_block():
    doc = DockerfileDoc.load(b"FROM a\n# hardener: ignore=add-to-copy\n# why: archive\nADD a b\nADD c d\n")
    assert doc.suppressed(4, "add-to-copy")
    assert not doc.suppressed(4, "exec-form")
    assert not doc.suppressed(5, "add-to-copy")


@pytest.mark.parametrize(
    ("raw", "message", "line"),
    [
        pytest.param(b"FROM a\nRUN <<EOF\nx\n", "unterminated heredoc", 2, id="heredoc"),
        pytest.param(b"# escape=x\nFROM a\n", "invalid escape token", 1, id="escape"),
        pytest.param(b"# escape=`\n# escape=`\nFROM a\n", "only one escape", 2, id="twice"),
        pytest.param(b"# only a comment\n\n", "no instructions", 2, id="empty"),
        pytest.param(b"FROM a\nRUN \xff\n", "not valid UTF-8", 2, id="latin1"),
        pytest.param(b"\x7fELF\x00\x00\x01", "binary", 1, id="binary"),
    ],
)
def test_bad_input_has_line(raw, message, line):
    with pytest.raises(BadInput) as err:
        DockerfileDoc.load(raw, "Dockerfile")
    assert message in err.value.message
    assert err.value.line == line
    assert str(err.value).startswith(f"Dockerfile:{line}: ")
