"""HD605 compose-healthcheck."""
from __future__ import annotations

from collections.abc import Iterator

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.service_image import image_info
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import insert_mapping_entry, mapping_get
from hardener.context import Context
from hardener.model import Applicability, Finding


class ComposeHealthcheck(ServiceTransform):
    """Add the image's known health command to Compose services that have none.

    ## What it fixes
    Services of well-known images (postgres, redis, mysql, mongo …) without a
    `healthcheck:`.

    ## Why
    Without a health check Docker reports a service as running while it still
    initialises or has hung; `depends_on: condition: service_healthy` and restart
    policies cannot tell. The knowledge base holds the command each image ships for it
    (`pg_isready`, `redis-cli ping`, `mysqladmin ping` …).

    ## Example
        services:
          cache:
            image: redis:7.2
        ->
            healthcheck:
              test:
                - CMD
                - redis-cli
                - ping

    ## Applicability
    review: a service configured with a password, another port or TLS may need the
    command adjusted.

    ## Refuses when
    The file is a legacy v1 file, the service is an alias or not a mapping, it is built
    from a Dockerfile (give the Dockerfile a HEALTHCHECK), or its image is unknown,
    comes from a variable or has no known health command. Beside `compose.override.yaml`:
    a base service whose override sets `image`, `build` or `healthcheck`, and an override
    service its base completes.

    ## References
    CIS Docker 4.6, checkov CKV_DOCKER_2
    """

    id = "HD605"
    name = "compose-healthcheck"
    references = ("cis-docker:4.6", "checkov:CKV_DOCKER_2")
    applicability = Applicability.REVIEW
    reads = ("image", "build", "extends", "healthcheck")
    writes = ("healthcheck",)
    pair_keys = ("image", "build", "healthcheck")

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        if mapping_get(service.node, "healthcheck") is None:
            yield from self._one(doc, service)

    def _one(self, doc: ComposeDoc, service: Service) -> Iterator[Finding]:
        if mapping_get(service.node, "build") is not None:
            yield self.refuse(
                f"service {service.name!r}: it is built from a Dockerfile; give the Dockerfile a HEALTHCHECK",
                service.line,
            )
            return
        why, info = image_info(service)
        if info is None:
            yield self.refuse(f"service {service.name!r}: {why}", service.line)
            return
        test = list(info.facts.healthcheck or ())
        if not test:
            yield self.refuse(f"service {service.name!r}: no health command is known for {info.name}", service.line)
            return
        edit = insert_mapping_entry(doc, service.node, "healthcheck", {"test": test})
        reason = f"service {service.name!r}: health checked with {' '.join(test[1:])}"
        yield self.change([edit], reason, service.line)
