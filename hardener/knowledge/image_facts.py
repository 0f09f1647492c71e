"""One place to ask what an image runs as, exposes, mounts and checks: the knowledge base
merged with the image's own config blob (``hardener.oci.imageconfig``).

The knowledge base wins where both speak (it was written by someone who read the image's
documentation, e.g. an entrypoint that drops root); a disagreement is kept as a
``conflict`` for the reason. The config is only what this run already has: a lock entry,
the digest cache, or a digest a pin transform resolved in this run. Asking never makes a
request, so a transform that reads facts never reaches the network by itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hardener.knowledge.images import ImageInfo, is_root_user, lookup
from hardener.oci.imageconfig import SOURCE, ImageConfig
from hardener.oci.imageref import BadReference, ImageRef, parse
from hardener.why import Why


@dataclass(frozen=True)
class ImageFacts:
    """The knowledge base entry (``info``) and the image config of one reference."""

    image: str
    info: ImageInfo | None
    config: ImageConfig | None
    config_why: str = ""  # why the config is missing although a registry was asked

    @property
    def config_uid(self) -> str | None:
        """The numeric ``uid[:gid]`` the config runs as: a number as written, or a name whose
        uid the knowledge base knows. None: root, or a name nobody knows the uid of."""
        if self.config is None:
            return None
        name, _, group = self.config.user.partition(":")
        if name.isdigit():
            uid = name
        elif self.info is not None and self.info.nonroot_user is not None and self.info.nonroot_user.name == name:
            uid = str(self.info.nonroot_user.uid)
            if not group:
                group = str(self.info.nonroot_user.gid)
        else:
            return None
        return f"{uid}:{group}" if group.isdigit() else uid

    @property
    def non_root_uid(self) -> str | None:
        """The config's uid when it is not root and the knowledge base does not say otherwise."""
        uid = self.config_uid
        if uid is None or is_root_user(uid) or (self.info is not None and self.info.runs_as_root):
            return None
        return uid

    @property
    def conflicts(self) -> tuple[str, ...]:
        """Where the knowledge base and the image config disagree (the knowledge base is used)."""
        if self.info is None or self.config is None:
            return ()
        out = []
        config_root = is_root_user(self.config.user or "0")
        if self.info.runs_as_root != config_root:
            kb = "root" if self.info.runs_as_root else self.info.runs_as
            out.append(f"the knowledge base says {self.info.name} runs as {kb}, its {SOURCE} "
                       f"says {self.config.user or 'root'}")
        return tuple(out)

    def note(self) -> str:
        """A reason's suffix naming the conflicts, or why the config could not be read."""
        if self.conflicts:
            return f" ({'; '.join(self.conflicts)}; the knowledge base is used)"
        if self.config_why:
            return f" ({SOURCE} not read: {self.config_why})"
        return ""


def image_facts(ctx: Any, image: str) -> ImageFacts | None:
    """The facts about ``image`` (a reference as written, no variables); None: not a reference."""
    try:
        ref = parse(image)
    except BadReference:
        return None
    info = lookup(ref)
    found = _config(ctx, ref)
    if isinstance(found, Why):
        return ImageFacts(image, info, None, str(found))
    return ImageFacts(image, info, found)


def _config(ctx: Any, ref: ImageRef) -> ImageConfig | Why | None:
    from hardener.oci.digest_cache import resolver_for

    if ctx is None or getattr(ctx, "root", None) is None:
        return None
    return resolver_for(ctx).known_config(ref)
