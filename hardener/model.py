"""The transform contract: applicability, changes, refusals and the Transform base class.

A transform is pure: ``run(doc, ctx)`` yields ``Change`` (edits on ``doc.text``
plus a reason) or ``Refusal`` (what it would not do, and why). It never writes.
"""
from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from hardener.edits import Edit
from hardener.options import Option, named
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.context import Context


class Applicability(enum.IntEnum):
    """How sure a change is; higher is riskier (ruff's fix applicability)."""

    SAFE = 0
    REVIEW = 1
    UNSAFE = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Applicability:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown applicability {value!r} (safe, review, unsafe)") from None


class Document(Protocol):
    """What the engine needs of a loaded file (DockerfileDoc, ComposeDoc)."""

    kind: ClassVar[str]
    text: str
    path: str

    def suppressed(self, line: int, name: str) -> bool: ...


@dataclass(frozen=True)
class FileWrite:
    """A whole new content for a companion file (.dockerignore, a secrets file, …)."""

    path: Path  # absolute
    content: bytes
    mode: int | None = None  # permission bits for a file that does not exist yet
    sensitive: bool = False  # a secret: reports show its size, never its content


@dataclass(frozen=True)
class Change:
    transform_id: str
    name: str
    applicability: Applicability
    reason: str
    line: int
    edits: tuple[Edit, ...]
    end_line: int = 0
    references: tuple[str, ...] = ()
    files: tuple[FileWrite, ...] = ()  # companion files this change writes

    @property
    def last_line(self) -> int:
        return max(self.line, self.end_line)


@dataclass(frozen=True)
class Refusal:
    transform_id: str
    name: str
    reason: str
    line: int
    references: tuple[str, ...] = field(default=())
    incomplete: bool = False  # an outside failure (registry down), not a decision: the run is partial


Finding = Change | Refusal


class Transform:
    """Base class. Subclasses set the class attributes and implement ``run``.

    The class docstring is the user documentation (``hardener explain``) and must
    have the headings listed in ``DOC_HEADINGS``.
    """

    DOC_HEADINGS: ClassVar[tuple[str, ...]] = (
        "What it fixes", "Why", "Example", "Applicability", "Refuses when", "References",
    )
    id: ClassVar[str]
    name: ClassVar[str]
    targets: ClassVar[tuple[str, ...]]  # document kinds: "dockerfile", "compose"
    references: ClassVar[tuple[str, ...]] = ()
    applicability: ClassVar[Applicability] = Applicability.SAFE
    report_only: ClassVar[bool] = False  # only refusals: a finding a human must act on
    options: ClassVar[tuple[Option, ...]] = ()  # [tool.hardener.<name>]: checked on load, shown by explain

    @classmethod
    def option(cls, ctx: Context, key: str) -> Any:
        """``[tool.hardener.<name>] key`` from the config, else its declared default."""
        return ctx.option(cls.name, key, named(cls.options, key).default)

    def run(self, doc: Any, ctx: Context) -> Iterator[Finding]:
        raise NotImplementedError

    def change(
        self,
        edits: tuple[Edit, ...] | list[Edit],
        reason: str,
        line: int,
        *,
        end_line: int = 0,
        applicability: Applicability | None = None,
        files: tuple[FileWrite, ...] = (),
    ) -> Change:
        return Change(
            self.id, self.name, self.applicability if applicability is None else applicability,
            reason, line, tuple(edits), end_line, self.references, files,
        )

    def refuse(self, reason: str | Why, line: int, *, incomplete: bool = False) -> Refusal:
        """A refusal; a ``Why`` of kind INCOMPLETE (an outside failure) marks it incomplete."""
        if isinstance(reason, Why):
            incomplete, reason = incomplete or reason.incomplete, reason.reason
        return Refusal(self.id, self.name, reason, line, self.references, incomplete)
