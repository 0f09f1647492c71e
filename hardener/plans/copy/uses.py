"""Which build-context files the COPY/ADD (and RUN bind mounts) of some Dockerfiles take.

One answer for generate-dockerignore (a pattern must not remove such a file) and narrow-copy
(which rewrites the `COPY .` the answer reads): a `COPY . <dest>` takes what narrow-copy's
planner would keep of it, so the answer is the same before and after narrow-copy rewrote
the COPY, in this run or an earlier one. A whole-context source the planner cannot narrow
takes every file. `--from` sources, URLs and heredocs take nothing from the context.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hardener import repo_facts as facts
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.knowledge.secret_files import content_of
from hardener.plans.copy.plan import Plan, copies_all, plan
from hardener.why import Why

_PLANS: dict[tuple[str, str, int, tuple[str, ...], int], Plan | Why] = {}  # the planner reads files: once per run
_MAX_PLANS = 256


@dataclass(frozen=True)
class Use:
    """One instruction that takes files from the context."""

    source: facts.Source
    doc: str  # the Dockerfile's name
    text: str  # the instruction as the user reads it: "COPY certs/ /app/certs/"
    kept: tuple[str, ...] = ()  # a narrowed `COPY .`: the top-level entries narrow-copy keeps

    @property
    def where(self) -> str:
        return f"{self.text} (line {self.source.line} of {self.doc})"

    def short(self) -> str:
        """The source word only: "COPY certs/ (line 5 of Dockerfile)"."""
        return f"{self.source.keyword} {self.source.text} (line {self.source.line} of {self.doc})"

    def takes_by_name(self) -> bool:
        """The source names what it copies, so excluding all of its matches fails the build."""
        return self.source.regex is not None

    def describe(self) -> str:
        if self.kept:
            return f"{self.where}, narrowed by narrow-copy to {', '.join(self.kept)},"
        return self.where


@dataclass(frozen=True)
class ContextUse:
    """The files some Dockerfiles take from one build context."""

    named: Mapping[str, Use]  # path -> the first instruction that takes it (and all below it)
    whole: tuple[Use, ...] = field(default=())  # whole-context sources that take every path

    def taker(self, path: str) -> Use | None:
        return self.named.get(path) or (self.whole[0] if self.whole else None)

    def matches(self, use: Use, paths: tuple[str, ...] | list[str]) -> list[str]:
        """The paths a named source matches itself (not the ones below a matched directory)."""
        regex = use.source.regex
        return [p for p in paths if regex is not None and regex.match(p)]


def context_use(docs: Mapping[str, DockerfileDoc], directory: Path, paths: list[str],
                enabled: list[str], plan_paths: list[str] | None = None) -> ContextUse:
    """What the Dockerfiles ``docs`` (name -> document) take of ``paths`` (the context as Docker
    sends it) in ``directory``; ``enabled`` are narrow-copy's ecosystems, ``plan_paths`` the
    context its planner sees (default ``paths``)."""
    named: dict[str, Use] = {}
    whole: list[Use] = []
    for name, doc in docs.items():
        at_line = _by_line(doc)
        for source in facts.context_sources(doc):
            here = at_line.get(source.line, ())
            use = Use(source, name, _text(here, source))
            if source.regex is not None:
                _add(named, facts.needed_by([source], paths), use)
                continue
            kept = _narrowed(doc, here, source, directory, paths if plan_paths is None else plan_paths, enabled)
            if kept is None:
                whole.append(use)
            else:
                use = Use(source, name, use.text, tuple(sorted(kept)))
                _add(named, [p for p in paths if p.split("/", 1)[0] in kept], use)
    return ContextUse(named, tuple(whole))


def _add(named: dict[str, Use], paths: Iterable[str], use: Use) -> None:
    for path in paths:
        named.setdefault(path, use)


def _by_line(doc: DockerfileDoc) -> dict[int, list[Instruction]]:
    """The instructions starting on each line, in order: each source looks up its own line
    (a search of the whole file per source made a file of 2,000 COPYs quadratic)."""
    out: dict[int, list[Instruction]] = {}
    for inst in doc.instructions:
        out.setdefault(inst.line, []).append(inst)
    return out


def _text(here: Sequence[Instruction], source: facts.Source) -> str:
    inst = next((i for i in here if i.keyword == source.keyword), None)
    text = " ".join(inst.logical.split()) if inst is not None else f"{source.keyword} {source.text}"
    return text if len(text) <= 80 else text[:77] + "..."


def _narrowed(doc: DockerfileDoc, here: Sequence[Instruction], source: facts.Source, directory: Path,
              paths: list[str], enabled: list[str]) -> frozenset[str] | None:
    """The top-level entries narrow-copy keeps of this whole-context COPY (``here``: the
    instructions on its line), or None when it would leave the COPY whole (not a plain
    `COPY . <dest>`, or the planner cannot say)."""
    inst = next((i for i in here if i.keyword in ("COPY", "ADD")), None)
    if inst is None or not copies_all(inst):
        return None
    key = (str(directory), doc.text, inst.start, tuple(enabled), hash(tuple(paths)))
    if key not in _PLANS:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan(doc, inst, directory, paths, enabled)
    found = _PLANS[key]
    return None if isinstance(found, Why) else found.needs


@dataclass(frozen=True)
class Verdict:
    """Whether a .dockerignore pattern may remove ``hits`` from the context, and at what cost."""

    blocker: str | None = None  # why it must not be added
    use: Use | None = None  # the instruction behind the blocker
    secrets: tuple[str, ...] = ()  # taken files it removes that hold secrets, each with why and who takes it
    secret_paths: tuple[str, ...] = ()


def judge(taken: ContextUse, hits: list[str], sent: list[str], directory: Path, *, by_content: bool) -> Verdict:
    """May a pattern that newly excludes ``hits`` (of ``sent``, what Docker sends now) be added?

    A file an instruction names (or narrow-copy keeps) must stay. With ``by_content`` (a
    pattern added because its files may be secrets) every taken file is read: one that holds
    no secret blocks the pattern, one that holds a secret lets it stay at a cost (``secrets``)
    unless the instruction names it so that excluding it leaves the source nothing to copy.
    """
    if not by_content:
        clash = next((p for p in hits if p in taken.named), None)
        return Verdict() if clash is None else Verdict(f"{taken.named[clash].short()} needs {clash}", taken.named[clash])
    secrets: list[str] = []
    paths: list[str] = []
    blocker: Verdict | None = None
    for path in hits:
        use = taken.taker(path)
        if use is None or (directory / path).is_dir():
            continue
        content = content_of(directory / path)
        if content.secret is None:
            blocker = blocker or Verdict(f"{use.describe()} takes {path}, which holds {content.what}", use)
            continue
        if use.takes_by_name() and not _left(taken, use, hits, sent):
            blocker = blocker or Verdict(
                f"{use.describe()} copies {path} by name, so excluding it fails the build; it holds "
                f"{content.secret}: pass it as a build secret or mount it at runtime instead", use)
        secrets.append(f"{path} holds {content.secret} and {use.describe()} takes it")
        paths.append(path)
    if blocker is not None:  # the secrets it found still tell the caller which files to exclude alone
        return Verdict(blocker.blocker, blocker.use, secret_paths=tuple(paths))
    return Verdict(secrets=tuple(secrets), secret_paths=tuple(paths))


def _left(taken: ContextUse, use: Use, hits: list[str], sent: list[str]) -> bool:
    """Whether the source still matches something once ``hits`` are excluded."""
    gone = set(hits)
    return any(p not in gone for p in taken.matches(use, sent))
