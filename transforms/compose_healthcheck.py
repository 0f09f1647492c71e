"""HD605 compose-healthcheck."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.env_secrets import entries
from hardener.compose.health_fit import fit
from hardener.compose.listen import nginx_listening, top_configs
from hardener.compose.service_image import image_info
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import insert_mapping_entry, mapping_get, scalar_value
from hardener.context import Context
from hardener.knowledge.config_runtime import probe_hint
from hardener.knowledge.image_facts import image_facts
from hardener.model import Applicability, Finding

_LOCAL_URL = re.compile(r"http://localhost(?::(\d+))?/")


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

    An nginx service that bind-mounts its own configuration is probed on the port that
    configuration listens on (its `listen` directives, `${VAR}` in templates from the
    service's environment), not on the image's default port 80.

    ## Applicability
    review: a service configured with a password, another port or TLS may need the
    command adjusted.

    A service whose image config (recorded with its digest: lock, cache, or this run)
    carries a HEALTHCHECK gets nothing: Compose runs the image's own check. A port the image
    config exposes (or its start command's `--port`/`--bind`) is not turned into a probe: it
    says nothing about the protocol or whether curl or wget is in the image, so the refusal
    names the port and the health check to write by hand.

    ## Refuses when
    The file is a legacy v1 file, the service is an alias or not a mapping, it is built
    from a Dockerfile (give the Dockerfile a HEALTHCHECK), or its image is unknown,
    comes from a variable or has no known health command; an nginx service whose mounted
    configuration cannot be read (not in the repository, a path from a variable, a
    `listen` with an unknown variable) or listens on several plain-HTTP ports or none; a
    service whose own settings the image's command would not fit and that cannot be read
    literally (`hardener/compose/health_fit.py`): Traefik without ping enabled or with a
    static configuration file, Redis with a password or a redis.conf, Elasticsearch 8+ with
    security on, Grafana with its own configuration, HTTPS or a sub path, Prometheus with a
    web config file, mongo before 5 (no mongosh), mailpit with listen flags. A port, path
    prefix or ping flags that can be read are carried into the command.
    In a multi-file project (an override pair, a `-f` set, an include) it decides on the
    merged service, writes a new key to the service's base file (an edited one to the file
    that sets it) and gives an overlay that only extends the service nothing; it refuses when
    the projects that load the file need different changes, when the change would span two
    files, or when the file is a fragment no known project completes.

    ## References
    CIS Docker 4.6, checkov CKV_DOCKER_2
    """

    id = "HD605"
    name = "compose-healthcheck"
    references = ("cis-docker:4.6", "checkov:CKV_DOCKER_2")
    applicability = Applicability.REVIEW
    reads = ("image", "build", "extends", "healthcheck", "volumes", "environment", "entrypoint", "command")
    writes = ("healthcheck",)
    pair_keys = ("image", "build", "healthcheck")
    project_aware = True  # decided on the merged project when the file is part of one

    def service(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        if mapping_get(service.node, "healthcheck") is None:
            yield from self._one(doc, service, ctx)

    def _one(self, doc: ComposeDoc, service: Service, ctx: Context) -> Iterator[Finding]:
        if mapping_get(service.node, "build") is not None:
            yield self.refuse(
                f"service {service.name!r}: it is built from a Dockerfile; give the Dockerfile a HEALTHCHECK",
                service.line,
            )
            return
        if _image_checks_itself(service, ctx):
            return  # the image's own HEALTHCHECK runs (Compose keeps it): nothing to add
        why, info = image_info(service)
        if info is None:
            yield self.refuse(f"service {service.name!r}: {why}{_config_hint(service, ctx)}", service.line)
            return
        test = list(info.facts.healthcheck or ())
        if not test:
            yield self.refuse(f"service {service.name!r}: no health command is known for {info.name}"
                              f"{_config_hint(service, ctx)}", service.line)
            return
        test, why_not, where = _probe_listened_port(test, info.name, doc, service, ctx)
        if not why_not:
            test, why_not, more = fit(info.name, test, service.node)
            where += more
        if why_not:
            yield self.refuse(f"service {service.name!r}: {why_not}", service.line)
            return
        edit = insert_mapping_entry(doc, service.node, "healthcheck", {"test": test})
        reason = f"service {service.name!r}: health checked with {' '.join(test[1:])}{where}"
        yield self.change([edit], reason, service.line)


def _image_checks_itself(service: Service, ctx: Context) -> bool:
    image = scalar_value(mapping_get(service.node, "image"))
    if not image or "$" in image:
        return False
    facts = image_facts(ctx, image)
    return facts is not None and facts.config is not None and facts.config.has_healthcheck


def _config_hint(service: Service, ctx: Context) -> str:
    image = scalar_value(mapping_get(service.node, "image"))
    if not image or "$" in image:
        return ""
    facts = image_facts(ctx, image)
    return probe_hint(facts.config if facts else None, mapping_get(service.node, "entrypoint") is not None,
                      mapping_get(service.node, "command") is not None)


def _probe_listened_port(test: list[str], image: str, doc: ComposeDoc, service: Service,
                         ctx: Context) -> tuple[list[str], str | None, str]:
    """The health command aimed at the port the service's own server configuration opens.

    (test, why not, where the port was read). An HTTP probe of the image's default port
    fails forever when a mounted nginx configuration listens elsewhere.
    """
    probe = next((i for i, word in enumerate(test) if _LOCAL_URL.search(word)), None)
    if probe is None or not image.startswith("nginx") or ctx.file is None:
        return test, None, ""
    env = {e.name: e.value for e in entries(mapping_get(service.node, "environment")) if e.value is not None}
    listening = nginx_listening(service.node, ctx.file.parent, env, top_configs(doc))
    if listening is None:
        return test, None, ""
    if listening.unknown:
        return test, f"its mounted nginx configuration decides the port, and {listening.unknown}", ""
    match = _LOCAL_URL.search(test[probe])
    assert match is not None
    port = int(match.group(1) or 80)
    if port in listening.ports:
        return test, None, f" (port {port}: {listening.source(port)})"
    if len(listening.ports) != 1:
        ports = ", ".join(map(str, listening.ports)) or "no plain-HTTP port"
        return test, f"its mounted nginx configuration ({listening.files}) listens on {ports}; probe the right one by hand", ""
    new = listening.ports[0]
    url = test[probe][: match.start()] + f"http://localhost:{new}/" + test[probe][match.end():]
    return [*test[:probe], url, *test[probe + 1:]], None, f" (port {new}: {listening.source(new)})"
