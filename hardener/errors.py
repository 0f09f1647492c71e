"""The one error type for bad input: it always knows the file and, where it can, the line."""
from __future__ import annotations


class BadInput(Exception):
    """Input hardener cannot read. Rendered as ``path:line: message``."""

    def __init__(self, message: str, line: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path

    def with_path(self, path: str) -> BadInput:
        return BadInput(self.message, self.line, path)

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"
