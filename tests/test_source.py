"""hardener.source: bytes to text and back without losing one (BOM, CRLF, no final newline)."""
from __future__ import annotations

import pytest

from hardener.errors import BadInput
from hardener.source import BOM, SourceText, detect_newline, line_starts

ROUND_TRIPS = [
    pytest.param(b"", id="empty"),
    pytest.param(b"FROM a\n", id="lf"),
    pytest.param(b"FROM a\r\nRUN x\r\n", id="crlf"),
    pytest.param(b"FROM a\r\nRUN x\n", id="mixed"),
    pytest.param(b"FROM a", id="no-final-newline"),
    pytest.param(b"\xef\xbb\xbfFROM a\r\n", id="bom-crlf"),
    pytest.param(b"\xef\xbb\xbf", id="bom-only"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfx", id="two-boms: only the first is the mark"),
    pytest.param("RUN echo héllo ✓ 🐳\n".encode(), id="non-ascii"),
    pytest.param(b"a\rb\x0cc\n", id="lone-cr-and-form-feed"),
]


@pytest.mark.parametrize("raw", ROUND_TRIPS)
def test_round_trip(raw: bytes) -> None:
    source = SourceText.decode(raw)
    assert source.encode(source.text) == raw
    assert not source.text.startswith(BOM) or raw.startswith(b"\xef\xbb\xbf" * 2)


@pytest.mark.parametrize(("raw", "text", "bom", "newline"), [
    pytest.param(b"\xef\xbb\xbfa\n", "a\n", True, "\n", id="bom-is-kept-aside"),
    pytest.param(b"a\r\nb\r\n", "a\r\nb\r\n", False, "\r\n", id="crlf-stays-in-text"),
    pytest.param(b"", "", False, "\n", id="empty"),
])
def test_decode(raw: bytes, text: str, bom: bool, newline: str) -> None:
    assert SourceText.decode(raw) == SourceText(text, bom, newline)


def test_edited_text_keeps_the_bom() -> None:
    source = SourceText.decode(b"\xef\xbb\xbfFROM a\n")
    assert source.encode("FROM b\n") == b"\xef\xbb\xbfFROM b\n"


@pytest.mark.parametrize(("raw", "message", "line"), [
    pytest.param(b"FROM a\n\x00\x01", "binary file", 1, id="nul-byte"),
    pytest.param(b"FROM a\nRUN x\n\xff\n", "byte 0xff", 3, id="invalid-utf8-line-3"),
    pytest.param(b"\xe2\x82", "byte 0xe2", 1, id="truncated-sequence"),
    pytest.param(b"\xff\xfeF\x00R\x00", "binary file", 1, id="utf16-has-nuls"),
])
def test_bad_input(raw: bytes, message: str, line: int) -> None:
    with pytest.raises(BadInput, match=message) as caught:
        SourceText.decode(raw)
    assert caught.value.line == line


@pytest.mark.parametrize(("text", "newline"), [
    pytest.param("", "\n", id="empty-defaults-to-lf"),
    pytest.param("a", "\n", id="one-line-no-ending"),
    pytest.param("a\r\nb\r\n", "\r\n", id="crlf"),
    pytest.param("a\r\nb\nc\n", "\n", id="lf-majority"),
    pytest.param("a\r\nb\r\nc\n", "\r\n", id="crlf-majority"),
    pytest.param("a\r\nb\n", "\n", id="tie-is-lf"),
    pytest.param("a\rb\r", "\n", id="lone-cr-is-not-a-line-ending"),
])
def test_detect_newline(text: str, newline: str) -> None:
    assert detect_newline(text) == newline


@pytest.mark.parametrize(("text", "starts"), [
    pytest.param("", [0], id="empty"),
    pytest.param("a", [0], id="one-line"),
    pytest.param("a\n", [0, 2], id="final-newline-starts-an-empty-line"),
    pytest.param("a\nbc\nd", [0, 2, 5], id="three-lines"),
    pytest.param("a\r\nb", [0, 3], id="crlf"),
    pytest.param("a\rb", [0], id="lone-cr"),
    pytest.param("\n\n", [0, 1, 2], id="blank-lines"),
])
def test_line_starts(text: str, starts: list[int]) -> None:
    assert line_starts(text) == starts
