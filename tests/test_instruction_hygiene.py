"""HD408 duplicate-instructions, HD409 absolute-workdir, HD410 cd-to-workdir."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.dockerfile.workdir import join_workdir
from hardener.engine import Options, process
from hardener.model import Transform
from hardener.transforms.absolute_workdir import AbsoluteWorkdir
from hardener.transforms.cd_to_workdir import CdToWorkdir
from hardener.transforms.duplicate_instructions import DuplicateInstructions


def _fix(transform: Transform, text: str, tmp_path: Path) -> tuple[str, list[str]]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    ctx = Context(tmp_path).for_file(path)
    result = process(str(path), "dockerfile", text.encode(), [transform], ctx, Options())
    assert result.failure is None and result.error is None, result.failure or result.error
    output = (result.output or text.encode()).decode()
    again = process(str(path), "dockerfile", output.encode(), [transform], ctx, Options())
    assert not again.changes, "a second run must change nothing"
    return output, [r.reason for r in result.refusals]


@pytest.mark.parametrize(("before", "after"), [
    pytest.param('FROM a\nCMD ["x"]\nCMD ["y"]\n', 'FROM a\nCMD ["y"]\n', id="cmd"),
    pytest.param('FROM a\n# starts x\nENTRYPOINT ["x"]\nRUN z\nENTRYPOINT ["y"]\n',
                 'FROM a\n# starts x\nRUN z\nENTRYPOINT ["y"]\n', id="entrypoint-comment-kept"),
    pytest.param("FROM a\nHEALTHCHECK --interval=5s \\\n  CMD x\nHEALTHCHECK NONE\n",
                 "FROM a\nHEALTHCHECK NONE\n", id="multiline-healthcheck"),
    pytest.param("FROM a\r\ncmd x\r\ncmd y\r\ncmd z", "FROM a\r\ncmd z", id="crlf-three-no-final-newline"),
    pytest.param("FROM a AS b\nCMD x\nCMD y\nFROM b\nCMD z\n", "FROM a AS b\nCMD y\nFROM b\nCMD z\n",
                 id="per-stage"),
])
def test_duplicates_removed(before: str, after: str, tmp_path: Path) -> None:
    assert _fix(DuplicateInstructions(), before, tmp_path) == (after, [])


@pytest.mark.parametrize("text", [
    pytest.param("FROM a\nCMD x\nFROM b\nCMD y\n", id="one-per-stage"),
    pytest.param("FROM a\nHEALTHCHECK --interval=30s \\\n  CMD node hc.js\nCMD node app.js\n",
                 id="healthcheck-cmd-is-not-a-cmd"),
    pytest.param("FROM a\nONBUILD CMD x\nCMD y\n", id="onbuild-trigger"),
])
def test_duplicates_left_alone(text: str, tmp_path: Path) -> None:
    assert _fix(DuplicateInstructions(), text, tmp_path) == (text, [])


def test_duplicate_with_inner_comment_refused(tmp_path: Path) -> None:
    text = 'FROM a\nCMD ["x", \\\n# why\n  "y"]\nCMD ["z"]\n'
    out, refusals = _fix(DuplicateInstructions(), text, tmp_path)
    assert out == text and "comments inside" in refusals[0]


@pytest.mark.parametrize(("current", "path", "expected"), [
    pytest.param("/srv", "app", "/srv/app", id="join"),
    pytest.param("/srv", "./a/../b/", "/srv/b", id="normalised"),
    pytest.param("/", "..", "/", id="above-root"),
    pytest.param(None, "/abs", "/abs", id="absolute-needs-nothing"),
    pytest.param(None, "rel", None, id="unknown-base"),
    pytest.param("/srv", "$HOME", None, id="variable"),
    pytest.param("/srv", "~/x", None, id="tilde"),
    pytest.param("/srv", '"a b"', None, id="quoted"),
])
def test_join_workdir(current: str | None, path: str, expected: str | None) -> None:
    assert join_workdir(current, path) == expected


@pytest.mark.parametrize(("before", "after"), [
    pytest.param("FROM a\nWORKDIR /srv\nWORKDIR app\n", "FROM a\nWORKDIR /srv\nWORKDIR /srv/app\n",
                 id="after-absolute"),
    pytest.param("FROM a AS b\nWORKDIR /go\nFROM b\nWORKDIR src\n",
                 "FROM a AS b\nWORKDIR /go\nFROM b\nWORKDIR /go/src\n", id="stage-chain"),
    pytest.param("FROM scratch\nworkdir app\n", "FROM scratch\nworkdir /app\n", id="scratch-is-root"),
    pytest.param("FROM a\nWORKDIR /x\nWORKDIR y\nWORKDIR z\n", "FROM a\nWORKDIR /x\nWORKDIR /x/y\nWORKDIR /x/y/z\n",
                 id="chain-of-relatives"),
    pytest.param("FROM busybox\nWORKDIR .\nCOPY a /a\n", "FROM busybox\nCOPY a /a\n", id="dot-is-a-no-op"),
    pytest.param("FROM b\nWORKDIR x/..\n", "FROM b\n", id="dot-after-normalising"),
])
def test_workdir_made_absolute(before: str, after: str, tmp_path: Path) -> None:
    assert _fix(AbsoluteWorkdir(), before, tmp_path) == (after, [])


@pytest.mark.parametrize(("text", "refusal"), [
    pytest.param("FROM node\nWORKDIR app\n", "unknown", id="base-image-default"),
    pytest.param("FROM node\nWORKDIR ..\n", "unknown", id="dot-dot-is-not-a-no-op"),
    pytest.param("FROM a AS b\nONBUILD WORKDIR /o\nFROM b\nWORKDIR x\n", "unknown", id="parent-has-onbuild"),
    pytest.param("FROM a\nWORKDIR $HOME\nWORKDIR x\n", "unknown", id="after-variable"),
    pytest.param('FROM a\nWORKDIR /x\nWORKDIR "my dir"\n', "quotes", id="quoted"),
    pytest.param("FROM a\nWORKDIR /x\nWORKDIR '/abs'\nWORKDIR $X/y\nWORKDIR C:\\\\app\n", None,
                 id="already-absolute-forms"),
])
def test_workdir_left_alone(text: str, refusal: str | None, tmp_path: Path) -> None:
    out, refusals = _fix(AbsoluteWorkdir(), text, tmp_path)
    assert out == text
    assert (refusal in refusals[0]) if refusal else refusals == []


@pytest.mark.parametrize(("before", "after"), [
    pytest.param("FROM a\nWORKDIR /app\nRUN cd web && npm ci\nCOPY . .\n",
                 "FROM a\nWORKDIR /app\nWORKDIR /app/web\nRUN npm ci\nWORKDIR /app\nCOPY . .\n",
                 id="relative-restored"),
    pytest.param("FROM a\nRUN cd /src && \\\n    make\nWORKDIR /app\n",
                 "FROM a\nWORKDIR /src\nRUN make\nWORKDIR /app\n", id="absolute-then-workdir"),
    pytest.param("FROM a\nWORKDIR /app\nRUN cd /app && make\n", "FROM a\nWORKDIR /app\nRUN make\n",
                 id="same-directory"),
    pytest.param("FROM a\n  run --mount=type=cache,target=/c cd /s && make\n  EXPOSE 80\n  WORKDIR /x\n",
                 "FROM a\n  workdir /s\n  run --mount=type=cache,target=/c make\n  EXPOSE 80\n  WORKDIR /x\n",
                 id="flags-indent-lowercase"),
    pytest.param('FROM a\nWORKDIR /w\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN cd b && make | tee l\n',
                 'FROM a\nWORKDIR /w\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nWORKDIR /w/b\n'
                 'RUN make | tee l\nWORKDIR /w\n', id="bash-shell"),
])
def test_cd_becomes_workdir(before: str, after: str, tmp_path: Path) -> None:
    assert _fix(CdToWorkdir(), before, tmp_path) == (after, [])


@pytest.mark.parametrize(("text", "refusal"), [
    pytest.param("FROM a\nRUN cd /tmp && make\nRUN ls\n", "unknown", id="base-dir-unknown"),
    pytest.param("FROM a\nWORKDIR /a\nRUN cd $D && make\n", "cannot tell", id="variable"),
    pytest.param("FROM a\nWORKDIR /a\nRUN cd b && make && cd .. && make\n", "again", id="second-cd"),
    pytest.param("FROM a\nWORKDIR /a\nRUN cd b && \\\n# note\n    make\n", "comments", id="comment-in-span"),
    pytest.param("FROM a\nRUN cd /a; make\n", None, id="semicolon"),
    pytest.param("FROM a\nRUN cd /a || exit 1\n", None, id="or"),
    pytest.param("FROM a\nRUN cd /a\n", None, id="cd-alone"),
    pytest.param('FROM a\nRUN ["sh", "-c", "cd /a && make"]\n', None, id="exec-form"),
    pytest.param('FROM a\nWORKDIR /a\nSHELL ["pwsh", "-c"]\nRUN cd b && make\n', None, id="powershell"),
    pytest.param("FROM a\nRUN make && cd /a && make\n", None, id="cd-not-first"),
])
def test_cd_left_alone(text: str, refusal: str | None, tmp_path: Path) -> None:
    out, refusals = _fix(CdToWorkdir(), text, tmp_path)
    assert out == text
    assert (refusal in refusals[0]) if refusal else refusals == []
