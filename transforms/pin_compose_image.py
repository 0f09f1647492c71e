"""HD103 pin-compose-image."""
from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode, ScalarNode

from hardener.compose.anchors import SILENT, Silent
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_transform import ServiceTransform, WhyNot
from hardener.compose.splice import mapping_get, replace_scalar, scalar_value
from hardener.context import Context
from hardener.edits import Edit
from hardener.model import Applicability, Finding
from hardener.oci import imageref
from hardener.oci.digest_cache import OPTIONS, key, resolver_for
from hardener.oci.pinning import plan
from hardener.options import named
from hardener.why import Why


class PinComposeImage(ServiceTransform):
    """Pin every Compose service image to a version tag plus its registry digest.

    ## What it fixes
    `image: postgres`, `image: redis:latest`, `image: nginx:1.27`: service images that
    can change under the same name between two `docker compose pull`s.

    ## Why
    A tag moves; a digest names exactly one image (for multi-arch images, the index
    covering every platform). Every host then runs the same image, and a swapped image
    cannot slip in. The tag stays for readers and update bots.

    ## Example
        image: nginx:1.27       ->  image: nginx:1.27@sha256:…
        image: postgres         ->  image: postgres:17.2@sha256:…   (same digest as latest)

    ## Applicability
    safe when a digest is added to an explicit tag; review when `latest`, no tag or a
    tag without a version becomes a version tag. Settings are shared with
    pin-base-image (`[tool.hardener.pin-base-image]`).

    ## Refuses when
    The image comes from a variable (`${IMAGE}`), the registry cannot be asked (down,
    401/403, 404, rate limit, timeout, malformed manifest), the image lacks the service's
    `platform` (default linux/amd64), or `--offline` runs and neither `hardener.lock`
    nor the cache knows the digest. Services with `build:` are skipped: their `image:`
    names the image Compose builds.

    ## References
    compose-lint CL-0008 (image tag), checkov CKV_DOCKER_7, SLSA build L3
    """

    id = "HD103"
    name = "pin-compose-image"
    references = ("checkov:CKV_DOCKER_7",)
    applicability = Applicability.REVIEW
    reads = ("image", "build", "platform")
    writes = ("image",)
    shared = False  # services sharing one `image:` node (anchors, merges) get one pin: see `seen`

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        return iter(())  # the other Compose transforms already name the file legacy

    def gate(self, service: Service, why_not: WhyNot | None) -> Silent | None:
        # an alias pins through its anchor; with `build:` the image is the one Compose builds
        node = service.node
        return SILENT if service.alias or not isinstance(node, MappingNode) or mapping_get(node, "build") is not None \
            else None

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        yield from sorted(self._findings(doc, ctx), key=lambda finding: finding.line)  # in file order

    def _findings(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """Every image to pin, resolved in one registry batch; refusals as they are found."""
        sites = []
        seen: set[int] = set()

        def one(service: Service) -> Iterator[Finding]:
            found = self._site(service, ctx)
            if isinstance(found, tuple) and found[0].start_mark.index not in seen:
                seen.add(found[0].start_mark.index)
                sites.append((service, *found))
            elif isinstance(found, Why):
                yield self.refuse(f"service {service.name!r}: {found}", service.line)

        yield from self.each_service(doc, ctx, one)
        if not sites:
            return
        try:
            resolver = resolver_for(ctx)
        except ValueError as exc:
            yield self.refuse(f"[tool.hardener.pin-base-image]: {exc}", sites[0][0].line)
            return
        results = resolver.resolve_many(ref for _, _, ref, _ in sites)
        lock = resolver.lock_update(ctx.files, [ref for _, _, ref, _ in sites])  # the same on every change
        for service, node, ref, platforms in sites:
            decided = plan(ref, results[key(ref)], platforms, resolver.settings.most_specific_tag)
            line = node.start_mark.line + 1
            if isinstance(decided, Why):
                yield self.refuse(decided.about(f"service {service.name!r}"), line)
                continue
            try:
                edit = _keep_quotes(replace_scalar(doc, node, decided.new), node.style)
            except ValueError as exc:
                yield self.refuse(f"service {service.name!r}: image: {exc}", line)
                continue
            yield self.change([edit], f"service {service.name!r}: {decided.reason}", line,
                              applicability=decided.applicability, files=lock)

    def _site(self, service: Service, ctx: Context) -> tuple[ScalarNode, imageref.ImageRef, tuple[str, ...]] | Why | None:
        """(image node, ref, platforms), a refusal reason, or None when there is nothing to pin."""
        node = service.node
        image = mapping_get(node, "image")
        text = scalar_value(image)
        if not isinstance(image, ScalarNode) or not text:
            return None
        if "$" in text:
            return Why(f"image {text!r} comes from a variable; pin the value where it is set")
        try:
            ref = imageref.parse(text.strip())
        except imageref.BadReference as exc:
            return Why(str(exc))
        if ref.pinned:
            return None
        platform = scalar_value(mapping_get(node, "platform"))
        if platform and "$" not in platform:
            return image, ref, (platform,)
        default = ctx.option("pin-base-image", "platforms", named(OPTIONS, "platforms").default)
        return image, ref, tuple(map(str, default)) if isinstance(default, (list, tuple)) else ("linux/amd64",)


def _keep_quotes(edit: Edit, style: str | None) -> Edit:
    """``image: "nginx:1.27"`` stays quoted (a reference never needs escapes inside quotes)."""
    if style in ('"', "'") and not edit.replacement.startswith(style):
        return Edit(edit.start, edit.end, f"{style}{edit.replacement}{style}")
    return edit
