"""Why not: the one value a planner or helper returns instead of a result it cannot give.

A function that may fail to produce its value returns ``T | Why`` (never ``T | str``, a
``"!"``/``"refuse: "`` prefix, a str subclass or a ValueError the caller catches); the caller
tests ``isinstance(x, Why)`` and hands it to ``Transform.refuse``. The kind says what sort of
"no" it is, so no caller reads meaning out of the wording. ``str(why)`` is the reason alone:
reports show exactly the text the helper wrote. (The edit primitives of compose/splice.py
still raise ValueError on a node they cannot edit; callers turn that into a Why at once.)
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class WhyKind(enum.Enum):
    """What sort of "no" a reason is; callers branch on this, never on the text."""

    REFUSE = "refuse"  # a decision: the change would be a guess
    UNKNOWN = "unknown"  # a fact is missing; a fallback may still apply (cap-drop's runtime default)
    COMPLETED = "completed"  # another file (an override's base) completes this service
    HARDENED_THERE = "hardened-there"  # ... and gets the change itself: nothing to say here
    INCOMPLETE = "incomplete"  # an outside failure (registry down): the refusal is incomplete

    @property
    def completed(self) -> bool:
        """Another file completes the service (whether or not the fix belongs there)."""
        return self in (WhyKind.COMPLETED, WhyKind.HARDENED_THERE)


@dataclass(frozen=True)
class Why:
    """A reason something is not done, and its kind."""

    reason: str
    kind: WhyKind = WhyKind.REFUSE

    def __str__(self) -> str:
        return self.reason

    @property
    def incomplete(self) -> bool:
        """An outside failure, not a decision: the run's answer for this file is partial."""
        return self.kind is WhyKind.INCOMPLETE

    def about(self, subject: str) -> Why:
        """The same "no", said of ``subject`` (``"subject: reason"``), keeping its kind."""
        return Why(f"{subject}: {self.reason}", self.kind)
