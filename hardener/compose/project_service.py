"""Per-service Compose transforms on a multi-file project: decide on the merged service.

A service of a file that a project loads with other files (an override, a ``-f`` overlay, an
include) is decided twice: on the file alone (what the transform always did) and on the merged
project (compose/project.py, rendered by ``project_view.merged_doc``), with the files read as
this run has hardened them so far and this file as it is now. The merged decision wins:

- each key the merged change adds or edits belongs to exactly one file: the file that already
  sets it, else the first file that gives the service its image or build (``Merged.base``,
  also when an overlay replaces the image: the base serves every project that loads it);
- the file keeps its own change only when its effect (the keys it adds or edits, list items it
  appends) equals the part of the merged change that belongs to it, in every project that
  loads the service, so a key is never added where the merged view already has it;
- nothing belongs to it (an overlay that only adds ports, the merged view needs no change):
  no change, and the merged refusals are said once, by the file that owns the service;
- otherwise a refusal that names the project and what the file alone would not do.
"""
from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardener.compose.merge import Merged, plain
from hardener.compose.project import Loaded, load
from hardener.compose.project_view import describe, merged_doc
from hardener.edits import Edit, apply_edits
from hardener.model import Change, Finding, Refusal

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc, Service
    from hardener.context import Context, FileView

Decide = Callable[["ComposeDoc", "Service", "Context"], list[Finding]]
_GONE = "<removed>"


@dataclass
class View:
    """One project that loads the file, merged with the file's current text."""

    loaded: Loaded
    ctx: Context
    name: str
    docs: dict[str, ComposeDoc]  # one document per merged service, shared by every transform

    def service(self, name: str) -> tuple[ComposeDoc, Service] | None:
        if name not in self.loaded.services:
            return None
        if name not in self.docs:
            self.docs[name] = merged_doc(self.loaded, only=name)
        doc = self.docs[name]
        found = next((s for s in doc.services() if s.name == name), None)
        return (doc, found) if found is not None else None


_LOADS: weakref.WeakKeyDictionary[FileView, dict[Any, list[tuple[dict[Path, bytes | None], Loaded, dict[str, ComposeDoc]]]]] \
    = weakref.WeakKeyDictionary()


def views(doc: ComposeDoc, ctx: Context, projects: list[Loaded]) -> list[View]:
    """Every project that loads ``ctx.file``, reloaded as this run sees the files now. A load
    is reused (by every transform, every round) while each file it read reads the same."""
    assert ctx.file is not None
    me = ctx.file.resolve()
    mine = doc.text.encode("utf-8")

    def read(path: Path) -> bytes | None:
        return mine if path == me else ctx.files.read(path)

    cache = _LOADS.setdefault(ctx.files.run_view(), {})
    out = []
    for found in projects:
        if me not in found.members:
            continue
        entries = cache.setdefault(found.project, [])
        hit = next((e for e in entries if all(read(p) == b for p, b in e[0].items())), None)
        if hit is None:
            hit = (*_load_recording(found, read), {})
            entries[:] = [*entries[-3:], hit]  # a few states per project: the run moves forward
        _reads, loaded, docs = hit
        if loaded.problems:
            continue  # the merge is not trusted: segment-networks names the problem
        out.append(View(loaded, ctx.for_file(loaded.project.files[0]), describe(loaded, ctx.root), docs))
    return out


def _load_recording(found: Loaded, read: Callable[[Path], bytes | None]) -> tuple[dict[Path, bytes | None], Loaded]:
    """The project loaded through ``read``, and what each file it read held."""
    seen: dict[Path, bytes | None] = {}

    def recording(path: Path) -> bytes | None:
        seen[path] = read(path)
        return seen[path]

    return seen, load(found.project, recording)


def effect(doc: ComposeDoc, name: str, changes: list[Change]) -> dict[str, Any]:
    """What ``changes`` do to service ``name``: per key, the new scalar, the appended and
    removed list items, or the changed entries of a mapping."""
    from hardener.compose.doc import ComposeDoc

    if not changes:
        return {}
    before = _plain_service(doc, name)
    edits = [e for c in changes for e in c.edits]
    after = _after_alone(doc, name, edits)
    if after is None:
        try:
            after = _plain_service(ComposeDoc.load(apply_edits(doc.text, edits).encode("utf-8"), doc.path), name)
        except Exception:  # overlapping edits or output that does not parse: an effect nothing equals
            return {"": object()}
    out: dict[str, Any] = {}
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key, _GONE)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            out[key] = ("list", tuple(repr(i) for i in new if i not in old), tuple(repr(i) for i in old if i not in new))
        elif isinstance(old, dict) and isinstance(new, dict):
            out[key] = ("map", tuple(sorted((k, repr(v)) for k, v in new.items() if old.get(k) != v)),
                        tuple(sorted(k for k in old if k not in new)))
        else:
            out[key] = repr(new)
    return out


def _after_alone(doc: ComposeDoc, name: str, edits: list[Edit]) -> dict[str, Any] | None:
    """The service after ``edits``, composing only its own lines (a whole file per service and
    transform made a project run several times slower); None when that cannot be done: an
    edit outside the service, an alias or merge key to another part of the file."""
    found = next((s for s in doc.services() if s.name == name and s.doc_index == 0), None)
    if found is None or found.node is None:
        return None
    start = doc.text.rfind("\n", 0, found.key.start_mark.index) + 1
    end = found.node.end_mark.index
    if doc.text[start:found.key.start_mark.index].strip() or any(e.start < start or e.end > end for e in edits):
        return None
    moved = [Edit(e.start - start, e.end - start, e.replacement) for e in edits]
    try:
        root = _composer().compose("services:\n" + apply_edits(doc.text[start:end], moved))
        value = plain(root).get("services", {}).get(name) if root is not None else None
    except Exception:  # an alias to an anchor elsewhere in the file, or a flow-style block
        return None
    return value if isinstance(value, dict) else None


@functools.lru_cache(maxsize=1)
def _composer() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


def _plain_service(doc: ComposeDoc, name: str) -> dict[str, Any]:
    found = next((s for s in doc.services() if s.name == name and s.doc_index == 0), None)
    value = plain(found.node) if found is not None else None
    return value if isinstance(value, dict) else {}


def target(merged: Merged, key: str) -> Path | None:
    """The one file an edit of ``key`` goes to: the file that sets it, else the service's base
    (the first file with its image or build, so every project that loads it agrees)."""
    return merged.defined_in(key) or merged.base()


@dataclass
class Verdict:
    """The merged decision for one service in one project, and this file's part of it."""

    view: View
    changes: list[Change]
    refusals: list[Refusal]
    wanted: dict[str, Any]  # this file's part of the merged change
    elsewhere: dict[str, Path]  # the keys of the merged change that belong to another file
    owner: bool  # this file is the service's base (Merged.base)


_VERDICTS: weakref.WeakKeyDictionary[FileView, dict[Any, Verdict | None]] = weakref.WeakKeyDictionary()


def verdict(view: View, name: str, me: Path, decide: Decide, transform: str) -> Verdict | None:
    """The merged decision of ``transform`` on service ``name``; remembered for the run while
    the merged service and the files that write its keys stay the same (each round re-reads
    every service, and most did not change)."""
    merged = view.loaded.services.get(name)
    if merged is None:
        return None
    where = {k: str(o[-1].file) for k, o in merged.origins.items()}
    key = (transform, view.loaded.project, name, me, repr(merged.value), repr(where), str(merged.base()))
    cache = _VERDICTS.setdefault(view.ctx.files.run_view(), {})
    if key not in cache:
        cache[key] = _verdict(view, name, me, decide)
    return cache[key]


def _verdict(view: View, name: str, me: Path, decide: Decide) -> Verdict | None:
    merged = view.loaded.services.get(name)
    pair = view.service(name)
    if merged is None or pair is None:
        return None
    found = decide(pair[0], pair[1], view.ctx)
    changes = [f for f in found if isinstance(f, Change)]
    refusals = [f for f in found if isinstance(f, Refusal)]
    whole = effect(pair[0], name, changes)
    wanted = {k: v for k, v in whole.items() if target(merged, k) == me}
    elsewhere = {k: f for k in whole if k not in wanted and (f := target(merged, k)) is not None}
    return Verdict(view, changes, refusals, wanted, elsewhere, merged.base() == me)


def reconcile(local: list[Finding], local_effect: dict[str, Any], verdicts: list[Verdict],
              name: str) -> tuple[list[Finding], list[str], str | None]:
    """(findings to keep, merged refusal reasons to say here, why the file's change cannot be
    kept); see the module docstring."""
    wanted = [v.wanted for v in verdicts]
    if any(w != wanted[0] for w in wanted):
        return [], [], _disagree(verdicts, name)
    if not wanted or not wanted[0]:
        said = [r.reason for v in verdicts if v.owner for r in v.refusals]
        return [], list(dict.fromkeys(said)), None
    if local_effect == wanted[0]:
        return local, [], None
    first = next(v for v in verdicts if v.wanted)
    reason = first.changes[0].reason if first.changes else "a change"
    alone = "gets no such change" if not local_effect else "would get a different one"
    split = "".join(f"; `{k}:` goes to {f.name}" for k, f in first.elsewhere.items())
    return [], [], (f"on project {first.view.name} the merged service needs this file to change "
                    f"({_bare(reason, name)}), but the file alone {alone}{split}; set it by hand")


def _disagree(verdicts: list[Verdict], name: str) -> str:
    """Why no change fits every project that loads the service: what the first one that wants
    a change here needs, and what another one says instead."""
    want = next(v for v in verdicts if v.wanted)
    other = next(v for v in verdicts if v.wanted != want.wanted)
    if other.wanted:
        says = "needs a different change here"
    elif other.refusals:
        says = f"refuses it ({_bare(other.refusals[0].reason, name)})"
    elif other.changes:
        says = "makes the change in another file"
    else:
        says = "needs no change"
    keys = ", ".join(f"`{k}:`" for k in want.wanted)
    return (f"project {want.view.name} needs {keys} here ({_bare(want.changes[0].reason, name)}), but project "
            f"{other.view.name} {says}; an edit here would be wrong for one of them")


def _bare(reason: str, name: str) -> str:
    return reason.removeprefix(f"service {name!r}: ")
