"""Decoding file bytes into text and back without losing a byte.

Documents work on ``str``; the BOM and the encoding are kept aside so that
``SourceText.encode(text)`` of the unedited text returns the original bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

from hardener.errors import BadInput

BOM = "\ufeff"


@dataclass(frozen=True)
class SourceText:
    text: str
    bom: bool
    newline: str

    @classmethod
    def decode(cls, raw: bytes) -> SourceText:
        if b"\x00" in raw[:8192]:
            raise BadInput("binary file (contains NUL bytes)", 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise BadInput(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line) from None
        bom = text.startswith(BOM)
        if bom:
            text = text[1:]
        return cls(text, bom, detect_newline(text))

    def encode(self, text: str) -> bytes:
        return ((BOM if self.bom else "") + text).encode("utf-8")


def detect_newline(text: str) -> str:
    """The file's dominant line ending, so inserted lines match their neighbours."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def line_starts(text: str) -> list[int]:
    """Offsets at which each line begins (index 0 is line 1)."""
    starts = [0]
    pos = text.find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts
