"""What to write instead of an image reference once its digest is known (pin-base-image, pin-compose-image)."""
from __future__ import annotations

from dataclasses import dataclass

from hardener.model import Applicability
from hardener.oci import imageref
from hardener.oci.digest_cache import Resolution, choose_tag, is_floating
from hardener.why import Why


@dataclass(frozen=True)
class Site:
    """One place a reference is written: the text span to replace and what it serves."""

    ref: imageref.ImageRef
    start: int
    end: int
    line: int
    platforms: tuple[str, ...]
    stage: int | None = None  # the stage a FROM starts (for the base.* labels)


@dataclass(frozen=True)
class Plan:
    new: str
    applicability: Applicability
    reason: str
    digest: str


def plan(ref: imageref.ImageRef, found: Resolution | Why, platforms: tuple[str, ...],
         most_specific: bool) -> Plan | Why:
    """What to write instead of ``ref``, or why not (of kind INCOMPLETE when the registry
    failed, so the run reports itself as partial)."""
    if isinstance(found, Why):
        return found.about(ref.written)
    missing = [p for p in platforms if found.platforms and not _has_platform(found.platforms, p)]
    if missing:
        return Why(f"{ref.written}: the image has no {', '.join(missing)} variant "
                   f"(it has {', '.join(found.platforms)}); the file builds for {', '.join(platforms)}")
    short = found.digest[:19] + "…"
    if not is_floating(ref.tag):
        return Plan(ref.with_tag_and_digest(ref.tag, found.digest), Applicability.SAFE,
                    f"{ref.written} pinned to the digest it resolves to now ({short})", found.digest)
    chosen = choose_tag(found.tags, most_specific)
    if chosen is None:
        level = Applicability.SAFE if ref.tag not in (None, "latest") else Applicability.REVIEW
        return Plan(ref.with_tag_and_digest(ref.tag, found.digest), level,
                    f"{ref.written} pinned to {short}; no version tag of its family has that digest", found.digest)
    return Plan(ref.with_tag_and_digest(chosen, found.digest), Applicability.REVIEW,
                f"{ref.written} is a moving tag: pinned to version {chosen} with the same digest ({short})",
                found.digest)


def _has_platform(available: tuple[str, ...], wanted: str) -> bool:
    want = wanted.split("/")
    for have in (p.split("/") for p in available):
        if have[:2] == want[:2] and (len(want) < 3 or have[2:3] == want[2:3] or
                                     (want[1] == "arm64" and want[2] == "v8" and len(have) == 2)):
            return True
    return False
