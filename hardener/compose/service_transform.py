"""One base for Compose transforms: the legacy-v1 decision and the per-service loop.

``ServiceTransform.run`` refuses (or, per transform, reports or skips) a legacy v1 file,
then runs ``service()`` on each service through ``per_service``, which owns what each
transform used to write out for itself: aliases and services that are not mappings, the
``compose.override.yaml`` pair (``pair_keys``), and services others merge (``shared``).
A transform declares the service keys it ``reads`` and ``writes``; a test holds ``writes``
to what its golden fixtures change.

A transform that needs state across services (a registry batch, one change per file, a
stack graph) overrides ``services()`` and calls ``each_service`` with its own closure; a
whole-stack transform overrides ``services()`` outright and keeps only the legacy decision.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar

from hardener.compose import override
from hardener.compose.anchors import LEGACY, Silent, per_service, shape_problem
from hardener.compose.doc import ComposeDoc, Service
from hardener.context import Context
from hardener.model import Change, Finding, Transform
from hardener.why import Why

WhyNot = override.WhyNot  # one definition: the pair check and the transforms share it


class ServiceTransform(Transform):
    """A Compose transform that works service by service (see the module docstring)."""

    targets: ClassVar[tuple[str, ...]] = ("compose",)
    reads: ClassVar[tuple[str, ...]] = ()  # service keys whose values decide what it does
    writes: ClassVar[tuple[str, ...]] = ()  # service keys it adds or edits
    # The keys that, set by the other file of the default pair, leave a service to that file;
    # None: the pair is not consulted.
    pair_keys: ClassVar[tuple[str, ...] | None] = None
    # A service others merge (``<<: *svc``) gets one change they all inherit, or a refusal.
    shared: ClassVar[bool] = True
    # Decide on the merged service when the file belongs to a multi-file project
    # (compose/project_service.py); the override pair is then one such project.
    project_aware: ClassVar[bool] = False

    def run(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        if doc.is_legacy_v1:
            yield from self.legacy(doc, ctx)
            return
        yield from self.services(doc, ctx)

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """What a legacy v1 file (services at the top level) gets: by default one refusal."""
        yield self.refuse(LEGACY, 1)

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """The findings of a Compose-spec file: by default ``service()`` on each service."""
        found = self.on_project(doc, ctx) if self.project_aware else None
        if found is not None:
            yield from found
            return
        yield from self.each_service(doc, ctx, lambda service: self.service(doc, service, ctx))

    def on_project(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding] | None:
        """The findings decided on the merged project (compose/project_service.py); None when
        the file is not part of a multi-file project (then it is hardened by itself)."""
        from hardener.compose import project_service as ps
        from hardener.compose.project_view import fragment, projects_of

        if ctx.file is None:
            return None
        projects = projects_of(ctx)
        why = fragment(doc, ctx)
        if not projects:
            # a file by itself keeps its own decisions; in a fragment, a service another file
            # completes is left to that file (mattermost/docker's overlays add ports to a
            # service whose base file already sets what would be written)
            return None if why is None else self._fragment(doc, ctx)
        if why is not None:
            return iter([self.refuse(f"cannot harden its services one by one: {why}", 1)])
        views = ps.views(doc, ctx, projects)
        if not views:
            return None
        me = ctx.file.resolve()
        mine = self.why_not if type(self).why_not is not ServiceTransform.why_not else None

        def decide(on: ComposeDoc, service: Service, here: Context) -> list[Finding]:
            why = self.gate(service, mine)
            if isinstance(why, Silent):
                return []
            if why:
                return [self.refuse(f"service {service.name!r}: {why}", service.line)]
            return list(self.service(on, service, here))

        def one(service: Service) -> Iterator[Finding]:
            # the transform's own reasons are asked of the merged service too, not of the file alone
            local = decide(doc, service, ctx)
            verdicts = [v for view in views if (v := ps.verdict(view, service.name, me, decide, self.id)) is not None]
            if not verdicts or service.doc_index:
                yield from local
                return
            changes = [f for f in local if isinstance(f, Change)]
            needed = any(v.wanted for v in verdicts)  # else the local change is dropped whatever it does
            here = ps.effect(doc, service.name, changes) if needed else {}
            keep, said, why = ps.reconcile(local, here, verdicts, service.name)
            yield from keep
            yield from (self.refuse(reason, service.line) for reason in said)
            if why is not None:
                yield self.refuse(f"service {service.name!r}: {why}", service.line)

        return per_service(self, doc, one, mine, gate=lambda s: self.gate(s, None), shared=self.shared)

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterable[Finding]:
        raise NotImplementedError

    def _fragment(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """A fragment no known project places: a service with no image, build or extends is
        refused (what it becomes is decided by a file hardener cannot name), the rest as usual."""
        from hardener.compose.project_view import completes

        def one(service: Service) -> Iterable[Finding]:
            if completes(service):
                return self.service(doc, service, ctx)
            return [self.refuse(f"service {service.name!r}: it has no image, build or extends here and no command, "
                                "include or config found in the repository names the file that completes it; "
                                "harden it where it is defined, or name the files in [tool.hardener] "
                                "compose-projects", service.line)]

        return self.each_service(doc, ctx, one)

    def each_service(self, doc: ComposeDoc, ctx: Context,
                     one: Callable[[Service], Iterable[Finding]]) -> Iterator[Finding]:
        """``one`` on each service that passes ``gate``, merged services handled as ``shared`` says."""
        mine = self.why_not if type(self).why_not is not ServiceTransform.why_not else None
        why_not = override.why_not(ctx, self.pair_keys, mine) if self.pair_keys is not None else mine
        yield from per_service(self, doc, one, why_not, gate=lambda s: self.gate(s, why_not), shared=self.shared)

    def gate(self, service: Service, why_not: WhyNot | None) -> Why | None | Silent:
        """Why a service is left alone: refused when it cannot be edited by itself, then for
        ``why_not`` (the pair, then the transform's own reason); ``SILENT`` to say nothing."""
        return shape_problem(service) or (why_not(service) if why_not is not None else None)

    def why_not(self, service: Service) -> Why | None:
        """The transform's own reason to leave a service alone (asked of merging services too)."""
        return None
