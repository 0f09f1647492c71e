"""The engine: load a file, run the selected transforms to a fixed point, judge the result.

Each round collects the changes of every transform on the current text, applies the
ones at or under the applicability threshold that do not overlap an earlier one
(back-to-front, on the text), re-parses, and goes again until nothing changes. The
output must pass the judges the input passed; otherwise the file is left untouched.
"""
from __future__ import annotations

import gc
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hardener.context import Context
from hardener.edits import Edit, OffsetMap, apply_edits
from hardener.errors import BadInput
from hardener.model import Applicability, Change, FileWrite, Refusal, Transform
from hardener.source import line_starts

MAX_ROUNDS = 10


@dataclass(frozen=True)
class Options:
    threshold: Applicability = Applicability.REVIEW
    overrides: dict[str, Applicability] = field(default_factory=dict)  # by transform id or name


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file. Exactly one of error / failure is set, or neither."""

    path: str
    kind: str
    original: bytes = b""
    output: bytes | None = None
    changes: tuple[Change, ...] = ()
    skipped: tuple[Change, ...] = ()  # above the threshold; shown as "needs --unsafe"
    refusals: tuple[Refusal, ...] = ()
    error: BadInput | None = None  # bad input: exit 2
    failure: str | None = None  # hardener's own fault (judge, convergence, crash): exit 3
    companions: tuple[FileWrite, ...] = ()  # other files the accepted changes write

    @property
    def changed(self) -> bool:
        return self.output is not None and (self.output != self.original or bool(self.companions))


def load_document(kind: str, raw: bytes, path: str) -> Any:
    if kind == "dockerfile":
        from hardener.dockerfile.doc import DockerfileDoc

        return DockerfileDoc.load(raw, path)
    from hardener.compose.doc import ComposeDoc

    return ComposeDoc.load(raw, path)


def process(path: str, kind: str, raw: bytes, transforms: Sequence[Transform], ctx: Context,
            options: Options) -> FileResult:
    """One file's result; nothing raised in loading, transforming or judging escapes it.

    A bug (or a RecursionError or MemoryError on hostile input) in one file becomes that
    file's failure (exit 3) and the run goes on with the others, none of them half-written.
    """
    view = ctx.files.child()
    try:
        with _cyclic_gc_paused() if kind == "compose" else nullcontext():
            result = _process(path, kind, raw, transforms, replace(ctx, files=view), options)
    except BadInput as exc:
        return FileResult(path, kind, raw, error=exc.with_path(path))
    except Exception as exc:  # a transform's bug must not stop the other files
        return FileResult(path, kind, raw, failure=internal_error(exc))
    if result.output is not None:
        view.commit()
        result = replace(result, companions=tuple(view.writes()))
    return result


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while one Compose file is processed.

    A Compose file's parses, nodes and findings are hundreds of thousands of objects that
    live until the file is done, and almost none of them is cyclic garbage; each time the
    collector ran a full collection it walked all of them again (a 2,000-service file: ten
    full and 150 middle collections, a quarter of its CPU time). Reference counting still
    frees everything else at once; what cycles a file leaves are collected after it, when
    the collector runs again (it is enabled again only if it was). Dockerfiles are left
    alone: their facts (libcst trees of the app's code) leave cyclic garbage, and pausing
    the collector for them raised the corpus's peak memory by 6 MB and saved no time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def internal_error(exc: BaseException) -> str:
    return f"internal error: {type(exc).__name__}: {exc}"


def _process(path: str, kind: str, raw: bytes, transforms: Sequence[Transform], ctx: Context,
             options: Options) -> FileResult:
    doc = load_document(kind, raw, path)
    _check_input(doc, path)
    active = [t for t in transforms if kind in t.targets]
    try:
        return _to_fixed_point(doc, raw, active, ctx, options)
    except BadInput as exc:  # raised by a helper on the file's own text: still hardener's fault here
        return FileResult(path, kind, raw, failure=internal_error(exc))


def _to_fixed_point(doc: Any, raw: bytes, transforms: Sequence[Transform], ctx: Context,
                    options: Options) -> FileResult:
    applied: list[Change] = []
    origin = _Origin.of(doc.text)
    first = doc
    try:
        for _ in range(MAX_ROUNDS):
            chosen, skipped, refusals = _one_round(doc, transforms, ctx, options)
            if not chosen:
                return _judged(doc, raw, applied, origin.all(skipped), origin.all(refusals))
            for write in (w for c in chosen for w in c.files):
                ctx.files.stage(write)
            applied = _without_superseded(applied, chosen) + origin.all(chosen)
            edits = [e for c in chosen for e in c.edits]
            text = apply_edits(doc.text, edits) if edits else doc.text
            if text != doc.text:  # an unchanged text keeps its document: parsing is the dear part
                done, doc = doc, _reload(doc, text, chosen)
                _forget(done, first)
                origin.add_round(doc.text, edits)
        ids = sorted({c.transform_id for c in chosen})
        return FileResult(doc.path, doc.kind, raw,
                          failure=f"did not converge after {MAX_ROUNDS} rounds: {', '.join(ids)}")
    finally:
        _forget(doc, first)


def _forget(doc: Any, first: Any) -> None:
    """A round's Compose document the engine is done with leaves the shared recent loads
    (compose/doc.py); the input's stays, for the project model of the files after it."""
    if doc is not first and doc.kind == "compose":
        from hardener.compose.doc import ComposeDoc

        ComposeDoc.forget(doc)


@dataclass
class _Origin:
    """Maps what a later round found (lines and edits on an intermediate text) back to the
    original text, so every report's line numbers refer to the file the user has.

    Line starts and sorted edits are computed once per round, not per finding: a round
    with 2,000 changes asks 2,000 times."""

    original_starts: list[int]
    original_last: int  # the original's last line: one without its newline still counts
    rounds: list[OffsetMap] = field(default_factory=list)  # each round's edits, oldest first
    last_starts: list[int] = field(default_factory=list)  # line starts of the latest round's text

    @classmethod
    def of(cls, original: str) -> _Origin:
        last = max(1, original.count("\n") + (0 if original.endswith("\n") else 1))
        return cls(line_starts(original), last)

    def add_round(self, text_after: str, edits: list[Edit]) -> None:
        self.rounds.append(OffsetMap(edits))
        self.last_starts = line_starts(text_after)

    def all(self, findings: list[Any]) -> list[Any]:
        return findings if not self.rounds else [self._mapped(f) for f in findings]

    def _mapped(self, finding: Any) -> Any:
        line = self._line(finding.line)
        if isinstance(finding, Refusal):
            return replace(finding, line=line)
        end = self._line(finding.end_line) if finding.end_line else 0
        edits = tuple(Edit(self._offset(e.start), max(self._offset(e.start), self._offset(e.end)), e.replacement)
                      for e in finding.edits)
        return replace(finding, line=line, end_line=end, edits=edits)

    def _offset(self, offset: int) -> int:
        for edits in reversed(self.rounds):
            offset = edits.before(offset)
        return offset

    def _line(self, line: int) -> int:
        starts = self.last_starts
        offset = self._offset(starts[min(max(line, 1), len(starts)) - 1])
        # bisect_right over line starts is the 1-based line holding ``offset``
        return min(bisect_right(self.original_starts, offset), self.original_last)


def _without_superseded(applied: list[Change], chosen: list[Change]) -> list[Change]:
    """A files-only change that rewrites the files an earlier round's files-only change of the
    same transform wrote replaces it in the report (the files hold only the last content)."""
    def key(c: Change) -> tuple[str, frozenset[Path]]:
        return c.transform_id, frozenset(w.path for w in c.files)

    newer = {key(c) for c in chosen if not c.edits and c.files}
    return [c for c in applied if c.edits or key(c) not in newer]


def _one_round(doc: Any, transforms: Sequence[Transform], ctx: Context, options: Options
               ) -> tuple[list[Change], list[Change], list[Refusal]]:
    chosen: list[Change] = []
    skipped: list[Change] = []
    refusals: list[Refusal] = []
    taken = _Taken()
    for transform in transforms:
        for finding in transform.run(doc, ctx):
            if doc.suppressed(finding.line, finding.name) or doc.suppressed(finding.line, finding.transform_id):
                continue
            if isinstance(finding, Refusal):
                refusals.append(finding)
                continue
            finding = _with_override(finding, options)
            if not finding.edits and all(ctx.files.read(w.path) == w.content for w in finding.files):
                continue  # a companion write that is already in place changes nothing
            if finding.applicability > options.threshold:
                skipped.append(finding)
            elif not any(taken.overlaps(e) for e in finding.edits):
                chosen.append(finding)
                taken.extend(finding.edits)
    return chosen, skipped, refusals


class _Taken:
    """The edits chosen so far in a round, answering "does this edit overlap one?" in
    O(log n): a file with 10,000 RUN lines brings 10,000 changes to one round.

    Chosen edits do not overlap each other, so sorted by (start, end) their ends rise
    too, and only the last edit starting before a new one's end can reach into it. One
    change could still carry overlapping edits of its own (apply_edits rejects them
    later); then the list falls back to asking every edit, as before."""

    def __init__(self) -> None:
        self.edits: list[Edit] = []
        self.disjoint = True

    def overlaps(self, edit: Edit) -> bool:
        if not self.disjoint:
            return any(edit.overlaps(t) for t in self.edits)
        at = bisect_left(self.edits, (edit.end, edit.end + 1), key=_span)
        # edits[:at] start before edit.end, or at it and empty; the last of them ends
        # latest; an empty edit at edit.start == edit.end sits just before ``at``.
        return any(self.edits[i].overlaps(edit) for i in range(max(0, at - 2), at))

    def extend(self, edits: Sequence[Edit]) -> None:
        for edit in edits:
            if self.overlaps(edit):
                self.disjoint = False
            self.edits.insert(bisect_left(self.edits, _span(edit), key=_span), edit)


def _span(edit: Edit) -> tuple[int, int]:
    return edit.start, edit.end


def _with_override(change: Change, options: Options) -> Change:
    level = options.overrides.get(change.transform_id)
    if level is None:
        level = options.overrides.get(change.name)
    if level is None or level == change.applicability:
        return change
    return replace(change, applicability=level)


def _reload(doc: Any, text: str, chosen: list[Change]) -> Any:
    raw = doc.source.encode(text)
    try:
        return load_document(doc.kind, raw, doc.path)
    except BadInput as exc:
        ids = ", ".join(sorted({c.transform_id for c in chosen}))
        raise RuntimeError(f"output of {ids} no longer parses: {exc.message}") from None


def _judged(doc: Any, raw: bytes, applied: list[Change], skipped: list[Change],
            refusals: list[Refusal]) -> FileResult:
    output = doc.render()
    result = FileResult(doc.path, doc.kind, raw, output, tuple(applied), _unique(skipped), _unique(refusals))
    if output == raw:
        return result
    problem = _judge_regression(doc.kind, raw, output)
    if problem:
        ids = ", ".join(sorted({c.transform_id for c in applied}))
        return replace(result, output=None, failure=f"output of {ids} rejected by the judge: {problem}")
    return result


def _judge_regression(kind: str, before: bytes, after: bytes) -> str | None:
    """A problem the output has that the input did not have, or None."""
    from hardener import judges

    old, new = before.decode("utf-8-sig"), after.decode("utf-8-sig")
    if kind == "dockerfile":
        return judges.dockerfile_problem(new)
    new_problems = judges.compose_problems(new)
    if new_problems and len(new_problems) > len(judges.compose_problems(old)):
        return new_problems[0]
    return None


def _unique(findings: Sequence[Change] | Sequence[Refusal]) -> tuple[Any, ...]:
    """One entry per (transform, line, reason): several transforms or ONBUILD copies may repeat one."""
    seen: dict[tuple[str, int, str], Any] = {}
    for finding in findings:
        seen.setdefault((finding.transform_id, finding.line, finding.reason), finding)
    return tuple(seen.values())


_LINE_IN_MESSAGE = re.compile(r"line (\d+)")


def _check_input(doc: Any, path: str) -> None:
    """Bad input is reported, not transformed: BuildKit must accept a Dockerfile."""
    if doc.kind != "dockerfile":
        return
    from hardener import judges

    problem = judges.dockerfile_problem(doc.text)
    if problem:
        match = _LINE_IN_MESSAGE.search(problem)
        raise BadInput(f"BuildKit cannot parse this file: {problem}", int(match.group(1)) if match else 1)
    unknown = next((i for i in doc.instructions if i.keyword not in KNOWN_INSTRUCTIONS), None)
    if unknown is not None:
        raise BadInput(f"unknown instruction {unknown.keyword!r}", unknown.line)


KNOWN_INSTRUCTIONS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN "
    "SHELL STOPSIGNAL USER VOLUME WORKDIR".split()
)

