"""Facts computed once while one file is processed, shared by the transforms and rounds.

A ComposeDoc never changes once built, and the engine loads a new one for each round's
text, so a fact that depends only on the document and on files the run does not write
while it processes one file (the disk beside the Compose file, the knowledge base) is the
same for every transform that asks in that round: three transforms each built the service
graph of a 2,000-service file, three times per round (``per_doc``). A fact read from the
disk alone is the same for the whole file (``per_view``): no-new-privileges looked for
``devcontainer.json`` files once per service. A fact of the document alone (``of_doc``)
is kept while the document lives, whoever asks.

The store belongs to the ``FileView`` the engine gives the file being processed (its child
view, one per file): it dies with that view, so a later file or a later run (which may see
other files on the disk) never gets an earlier answer. A run's own view (a transform run
outside the engine, as tests do) lives across files and disk changes: nothing is kept then. The caller passes every other input
the fact reads (the file's path, an option's value, the view's staged writes) as
``inputs``, compared for equality: one value per name, kept while the view (and, for
``per_doc``, the document) lives.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from hardener.compose.doc import ComposeDoc
    from hardener.context import FileView

T = TypeVar("T")
_Facts = dict[str, tuple[Any, Any]]  # name -> (inputs, value)


class _Store:
    def __init__(self) -> None:
        self.view: _Facts = {}
        # weak: a fact lives no longer than its document
        self.docs: weakref.WeakKeyDictionary[ComposeDoc, _Facts] = weakref.WeakKeyDictionary()


_STORES: weakref.WeakKeyDictionary[FileView, _Store] = weakref.WeakKeyDictionary()
_OF_DOC: weakref.WeakKeyDictionary[ComposeDoc, _Facts] = weakref.WeakKeyDictionary()


def of_doc(doc: ComposeDoc, name: str, compute: Callable[[], T]) -> T:
    """``compute()`` the first time fact ``name`` is asked of ``doc``, then the same value
    while the document lives: for a fact that reads nothing but the document (which never
    changes; shared: callers must not change it)."""
    return _kept(_OF_DOC.setdefault(doc, {}), name, None, compute)


def per_doc(doc: ComposeDoc, view: FileView, name: str, inputs: object, compute: Callable[[], T]) -> T:
    """``compute()`` the first time fact ``name`` is asked of ``doc`` while ``view`` lives,
    then the same value while ``inputs`` stay equal (shared: callers must not change it)."""
    if view.run_view() is view:
        return compute()
    return _kept(_STORES.setdefault(view, _Store()).docs.setdefault(doc, {}), name, inputs, compute)


def per_view(view: FileView, name: str, inputs: object, compute: Callable[[], T]) -> T:
    """``compute()`` the first time fact ``name`` is asked while ``view`` lives, then the
    same value while ``inputs`` stay equal (shared: callers must not change it)."""
    if view.run_view() is view:
        return compute()
    return _kept(_STORES.setdefault(view, _Store()).view, name, inputs, compute)


_RUNS: weakref.WeakKeyDictionary[FileView, dict[str, dict[Any, Any]]] = weakref.WeakKeyDictionary()


def per_run(view: FileView, name: str) -> dict[Any, Any]:
    """The run's own store for ``name`` (the run of ``view``): for what the run reads once and
    never writes (the project model, the READMEs); a later run gets a new one."""
    return _RUNS.setdefault(view.run_view(), {}).setdefault(name, {})


def _kept(facts: _Facts, name: str, inputs: object, compute: Callable[[], T]) -> T:
    kept = facts.get(name)
    if kept is None or kept[0] != inputs:
        kept = facts[name] = (inputs, compute())
    value: T = kept[1]
    return value
