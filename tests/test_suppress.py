"""hardener.suppress: ``# hardener: ignore[=NAMES]`` in the comment block above an item."""
from __future__ import annotations

import pytest

from hardener.compose.doc import ComposeDoc
from hardener.dockerfile.doc import DockerfileDoc
from hardener.suppress import ALL, Suppressions


def _lines(text: str) -> Suppressions:
    """Comment lines (1-based) of ``text``; every other non-blank line is code."""
    lines = text.splitlines()
    comments = [(n, ln.strip()) for n, ln in enumerate(lines, 1) if ln.strip().startswith("#")]
    code = {n for n, ln in enumerate(lines, 1) if ln.strip() and not ln.strip().startswith("#")}
    return Suppressions.from_lines(comments, code)


@pytest.mark.parametrize(("text", "line", "name", "silenced"), [
    pytest.param("# hardener: ignore\nRUN x\n", 2, "exec-form", True, id="bare-ignores-all"),
    pytest.param("# hardener: ignore=exec-form\nRUN x\n", 2, "exec-form", True, id="by-name"),
    pytest.param("# hardener: ignore=HD402\nRUN x\n", 2, "hd402", True, id="by-id-any-case"),
    pytest.param("# hardener: ignore=exec-form\nRUN x\n", 2, "pipefail", False, id="other-name-not-silenced"),
    pytest.param("# hardener: ignore=a, exec-form ,b\nRUN x\n", 2, "exec-form", True, id="list-with-spaces"),
    pytest.param("#hardener:ignore=exec-form\nRUN x\n", 2, "exec-form", True, id="no-spaces"),
    pytest.param("# HARDENER: IGNORE = Exec-Form\nRUN x\n", 2, "exec-form", True, id="case-insensitive"),
    pytest.param("# hardener: ignore=exec-form\n# why: legacy\n# more\nRUN x\n", 4, "exec-form", True,
                 id="anywhere-in-the-comment-block"),
    pytest.param("# hardener: ignore=exec-form\n\nRUN x\n", 3, "exec-form", False, id="blank-line-ends-the-block"),
    pytest.param("# hardener: ignore=exec-form\nRUN y\nRUN x\n", 3, "exec-form", False, id="code-line-ends-the-block"),
    pytest.param("RUN y\n# hardener: ignore=exec-form\nRUN x\n", 1, "exec-form", False, id="applies-below-not-above"),
    pytest.param("# hardener: ignored\nRUN x\n", 2, "exec-form", False, id="ignored-is-not-the-pragma"),
    pytest.param("# hardener: ignore=exec-form please\nRUN x\n", 2, "exec-form", False, id="trailing-words-make-another-name"),
    pytest.param("# hardener: ignore=exec-form!\nRUN x\n", 2, "exec-form", False, id="stray-punctuation-is-no-pragma"),
    pytest.param("# hardener: ignore=\nRUN x\n", 2, "exec-form", False, id="empty-list-is-no-pragma"),
    pytest.param("RUN x\n", 1, "exec-form", False, id="no-comments"),
    pytest.param("", 1, "exec-form", False, id="empty"),
])
def test_applies(text: str, line: int, name: str, silenced: bool) -> None:
    assert _lines(text).applies(line, name) is silenced


def test_comment_on_a_code_line_is_not_a_block_line() -> None:
    found = Suppressions.from_lines([(1, "# hardener: ignore")], code_lines={1})
    assert found.by_line == {} and found.comment_lines == frozenset()
    assert not found.applies(2, "exec-form")


def test_parsed_names() -> None:
    found = Suppressions.from_lines([(1, "# hardener: ignore=A,b ,, c"), (2, "# hardener: ignore")], set())
    assert found.by_line == {1: frozenset({"a", "b", "c"}), 2: frozenset({ALL})}


@pytest.mark.parametrize(("text", "line", "silenced"), [
    pytest.param("FROM a\n# hardener: ignore=exec-form\nCMD npm start\n", 3, True, id="above-the-instruction"),
    pytest.param("FROM a\n# hardener: ignore=exec-form\n\nCMD npm start\n", 4, False, id="blank-line-between"),
    pytest.param("FROM a\r\n# hardener: ignore=exec-form\r\nCMD npm start\r\n", 3, True, id="crlf"),
    pytest.param("\ufeff# hardener: ignore\nFROM a\n", 2, True, id="bom-before-the-pragma"),
])
def test_dockerfile_doc(text: str, line: int, silenced: bool) -> None:
    assert DockerfileDoc.load(text.encode()).suppressed(line, "exec-form") is silenced


@pytest.mark.parametrize(("text", "line", "silenced"), [
    pytest.param("services:\n  # hardener: ignore=cap-drop\n  web:\n    image: nginx\n", 3, True, id="above-the-service"),
    pytest.param("services:\n  # hardener: ignore=pipefail\n  web:\n    image: nginx\n", 3, False, id="other-transform"),
    pytest.param("services:\n  web:  # hardener: ignore=cap-drop\n    image: nginx\n", 2, True, id="on-the-key-line"),
])
def test_compose_doc(text: str, line: int, silenced: bool) -> None:
    assert ComposeDoc.load(text.encode()).suppressed(line, "cap-drop") is silenced
