"""Per-service Compose transforms and services that others merge (``a: &a`` … ``b: {<<: *a}``).

An edit inside a service that carries an anchor also lands in every service that merges
it. That is wrong unless each of those services would get exactly the same change; then
the one edit in the anchored service is the right place (the merging services inherit it,
which is what "change the service, never the shared anchor, unless every user of the
anchor gets the same change" asks for), and they get no change of their own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.splice import mapping_own, merge_sources, written_here
from hardener.model import Change, Finding, Refusal, Transform
from hardener.why import Why

LEGACY = "legacy v1 Compose file (no `services:`); migrate it to the Compose spec first"

OneService = Callable[[Service], Iterable[Finding]]


def merge_users(doc: ComposeDoc, service: Service) -> list[Service]:
    """The other services whose merge keys (directly or through a chain) include this one."""
    if not getattr(service.node, "anchor", None):
        return []
    return [s for s in doc.services() if s is not service and any(m is service.node for m in _merged(s.node))]


def _merged(node: object) -> list[object]:
    """Every mapping merged into ``node``, through merges of merges (``c: <<: *b``, ``b: <<: *a``)."""
    found: list[object] = []
    todo = list(merge_sources(node))  # type: ignore[arg-type]  # a non-mapping merges nothing: []
    while todo:
        source = todo.pop()
        if not any(source is f for f in found):
            found.append(source)
            todo.extend(merge_sources(source))
    return found


def shape_problem(service: Service) -> Why | None:
    """Why a service cannot be edited by itself at all."""
    if service.alias:
        return Why("the service is an alias of another; changing it would change the anchor")
    if not isinstance(service.node, MappingNode) or not service.node.value:
        return Why("the service definition is not a mapping")
    return None


class Silent:
    """A gate's verdict: leave the service alone without a word (its base file speaks for it,
    or the transform has nothing to say about such a service)."""


SILENT = Silent()
Gate = Callable[[Service], "Why | None | Silent"]


def default_gate(why_not: Callable[[Service], Why | None] | None) -> Gate:
    """Refuse a service that cannot be edited by itself, then for the transform's own reason."""
    return lambda service: shape_problem(service) or (why_not(service) if why_not is not None else None)


def per_service(transform: Transform, doc: ComposeDoc, one: OneService,
                why_not: Callable[[Service], Why | None] | None = None, *,
                gate: Gate | None = None, shared: bool = True) -> Iterator[Finding]:
    """Run ``one`` on each service that passes ``gate`` (default: shape, then ``why_not``).
    With ``shared``, a service others merge gets one change they all inherit, or a refusal
    naming why not; ``why_not`` is asked of them too."""
    gate = gate or default_gate(why_not)
    covered: set[str] = set()
    for service in doc.services():
        if service.name in covered:
            continue  # the anchored service it merges already carries its change
        why = gate(service)
        if isinstance(why, Silent):
            continue
        if why:
            yield transform.refuse(f"service {service.name!r}: {why}", service.line)
            continue
        users = merge_users(doc, service) if shared else []
        mine = list(one(service))
        if not users or not any(isinstance(f, Change) for f in mine):
            yield from mine
            continue
        change, differs = _shared(doc, mine, users, one, why_not)
        if change is None:
            names = ", ".join(u.name for u in users)
            yield transform.refuse(f"service {service.name!r}: its anchor is merged into {names}; an edit would "
                                   f"change them too, and {differs}", service.line)
            continue
        covered |= {u.name for u in users}
        yield change


def _shared(doc: ComposeDoc, mine: list[Finding], users: list[Service], one: OneService,
            why_not: Callable[[Service], Why | None] | None) -> tuple[Change | None, str]:
    """The anchored service's change when each user would get the same one, else (None, why)."""
    if len(mine) != 1 or not isinstance(mine[0], Change):
        return None, "this service's change comes with a refusal"
    change, wanted = mine[0], _shape(mine[0])
    for user in users:
        if why_not is not None and why_not(user):
            return None, f"{user.name} would not get it ({why_not(user)})"
        theirs = list(one(user))
        if len(theirs) != 1 or not isinstance(theirs[0], Change) or _shape(theirs[0]) != wanted:
            said = next((f.reason for f in theirs if isinstance(f, Refusal)), None)
            return None, f"{user.name} would get a different change" + (f" ({said})" if said else "")
    names = ", ".join(u.name for u in users)
    return replace(change, reason=f"{change.reason}; also applies to {names} through the merge key"), ""


def _shape(change: Change) -> tuple[tuple[bool, str], ...]:
    """What a change adds, without where and how deep: insertions of the same lines."""
    return tuple((e.start == e.end, "\n".join(line.strip() for line in e.replacement.splitlines()))
                 for e in change.edits)


def obstacle(doc: ComposeDoc, service: Service) -> Why | None:
    """Why a service cannot be edited on its own: an alias, not a mapping, or merged into others."""
    why = shape_problem(service)
    if why is None and (users := merge_users(doc, service)):
        return Why(f"its anchor is merged into {', '.join(u.name for u in users)}; an edit would change them too")
    return why


def own_sequence(service: Node | None, key: str) -> SequenceNode | Why:
    """The list under ``key`` written in this service itself, else why not (anchor/merge)."""
    value = mapping_own(service, key)
    if not isinstance(value, SequenceNode) or not isinstance(service, MappingNode):
        return Why(f"`{key}` comes from a shared anchor or is not a list; change it there")
    if written_here(service, key) is None:  # ``key: *alias``
        return Why(f"`{key}` is an alias of a shared anchor; change it there")
    return value
