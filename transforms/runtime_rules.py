"""HD505 add-runtime-rules.

A whole-file transform on the ServiceTransform base: it keeps the legacy decision (with its
own wording, and only when enabled) but writes one rules file for the whole project, so it
reads every service in one pass; it edits no service, so aliases and merges are read as
merged values. A file loaded with others (the override pair, a ``-f`` set, an include) is read
as the merged project, and the rules file is written by the file that speaks for that project
(compose/project_owner.py): a user, image or network set in the base counts when the overlay
is the one that writes the rules.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from hardener.compose import falco, project_owner
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.mounts import mount_targets
from hardener.compose.project_view import merged_doc
from hardener.compose.service_image import built_dockerfile, image_info
from hardener.compose.service_transform import ServiceTransform
from hardener.compose.splice import mapping_get, mapping_own, scalar_value
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge import images
from hardener.model import Applicability, FileWrite, Finding
from hardener.options import Option
from hardener.why import Why

TARGET_DIR = Path("deploy/falco")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRUE = ("true", "yes", "on")


class AddRuntimeRules(ServiceTransform):
    """Generate Falco rules per Compose service from what hardener knows (opt-in).

    ## What it fixes
    A hardened stack that nobody watches at runtime. With
    `[tool.hardener.add-runtime-rules] enabled = true`, each Compose file gets
    `deploy/falco/<project>-rules.yaml` (and a `README.md` on how to load it) with, per service:
    a shell started in a service whose image has no shell (distroless, scratch; or listed in
    `no-shell = ["svc"]`); a file written outside the paths the service may write (its
    volumes and tmpfs once `read_only: true` is set, else the image's writable paths from the
    knowledge base, the list read-only-root uses); a connection attempt to a public address
    from a service whose networks are all `internal: true` (as segment-networks makes data
    services); a package manager (apt, apk, dnf, pip, npm …) started at runtime. Without
    `enabled = true` it does nothing.

    ## Why
    Hardening narrows what a container can do; runtime rules report when something tries
    anyway, which is what an intruder does first: open a shell, drop a binary, call home,
    install tools. Rules written from the same facts as the hardening fire on nothing else.

    ## Example
        services: {db: {image: postgres:16, networks: [backend]}}, networks: {backend: {internal: true}}
        -> deploy/falco/shop-rules.yaml: "shop/db: write outside its writable paths",
           "shop/db: outbound connection from an internal network",
           "shop/db: package manager at runtime"

    ## Applicability
    review: alerts only, but a service may legitimately write or connect somewhere its
    files do not show. Containers are matched by the Compose project (the `-p` of the command
    that runs it, else `COMPOSE_PROJECT_NAME` in its env file, else `name:`, else the
    directory) and service name and by the image repository; built services by the image Compose v2 names `<project>-<service>`
    (v1: `<project>_<service>`; both are matched).

    A file that a command, the override pair or an include loads with other files is read as
    the merged project (what `docker compose` runs): the rules are written once per project,
    by its last `-f` file that is not an override file (`-f compose.yaml -f compose.prod.yaml`:
    `<project>-prod-rules.yaml`, merged from both files); the other files of the project write
    none of their own.

    ## Refuses when
    The file is legacy v1, has several documents or is an override file; the file is part of
    a project another file writes the rules for; the project name
    comes from a variable; the rules file exists and was not written by hardener (or for
    another Compose file). A service whose container_name is a variable is left out; a rule
    is left out, with the reason, when the image has (or may use) a shell or where the
    service writes is not known.

    ## References
    Falco rules reference (falco.org/docs/rules); NIST SP 800-190 4.4 (runtime monitoring);
    OWASP Docker Security Cheat Sheet rule 12
    """

    id = "HD505"
    name = "add-runtime-rules"
    references = ("falco:rules", "nist:sp800-190-4.4")
    applicability = Applicability.REVIEW
    options = (
        Option("enabled", "bool", False, "Generate the rules (the transform is opt-in)."),
        Option("no-shell", "list[string]", (), "Services that never start a shell, though their image has one."),
    )
    reads = ("image", "build", "container_name", "read_only", "volumes", "tmpfs", "networks", "network_mode",
             "entrypoint", "command")
    writes = ()  # only its own rules file

    def legacy(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        if self.option(ctx, "enabled") and ctx.file is not None:
            yield self.refuse("no runtime rules: legacy v1 Compose file (no `services:`)", 1)

    def services(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        if not self.option(ctx, "enabled") or ctx.file is None:
            return
        compose = Path(os.path.abspath(ctx.file))
        problem = _file_problem(doc, compose)
        spoken = None if problem else project_owner.spoken(doc, ctx)
        if spoken is None:
            project = None if problem else project_owner.file_project_name(doc, compose, ctx)
            yield from self._rules(doc, ctx, compose, project, problem)
            return
        if spoken.mine is None:
            names = "; ".join(f"{v.name}, written from {project_owner.speaker(v.loaded.project).name}"
                              for v in spoken.others)
            yield self.refuse(f"no runtime rules of its own: its services are covered by the rules of project {names}", 1)
            return
        view = spoken.mine
        for other in spoken.also:
            yield self.refuse(f"no runtime rules for project {other.name}: this file writes one rules file, and it "
                              f"follows project {view.name}", 1)
        lines = {s.name: s.line for s in doc.services() if s.doc_index == 0}
        yield from self._rules(merged_doc(view.loaded), view.ctx, compose, project_owner.project_name(view.loaded), None,
                               view.loaded.project.files, lines, tuple(view.loaded.services))

    def _rules(self, doc: ComposeDoc, ctx: Context, compose: Path, project: str | None, problem: str | None,
               files: tuple[Path, ...] = (), lines: dict[str, int] | None = None,
               merged_order: tuple[str, ...] = ()) -> Iterator[Finding]:
        """The rules file of ``doc``: the file itself, or a project merged (``files``, with
        ``lines`` placing each service's refusals in the file being worked on)."""
        if project is None:
            yield self.refuse(f"no runtime rules: {problem or 'the project name comes from a variable'}", 1)
            return
        root = Path(os.path.abspath(ctx.root))
        target = root / TARGET_DIR / f"{project}{falco.target_suffix(compose.name)}-rules.yaml"
        source = os.path.relpath(compose, root).replace(os.sep, "/")
        clash = falco.clash(ctx.files.read(target), source)
        if clash:
            yield self.refuse(f"{target.relative_to(root).as_posix()}: {clash}", 1)
            return
        services, skipped = self._facts(doc, ctx, project)
        if merged_order:  # the merged document is sorted by name: say them in the project's order
            order = {n: i for i, n in enumerate(merged_order)}
            services.sort(key=lambda r: order.get(r.name, len(order)))
            skipped.sort(key=lambda p: order.get(p[0].name, len(order)))
        for service, reason in skipped:
            yield self.refuse(reason, service.line if lines is None else lines.get(service.name, 1))
        if not any(s.count for s in services):
            return
        merged = " + ".join(os.path.relpath(f, root).replace(os.sep, "/") for f in files) if len(files) > 1 else None
        content = falco.render(project, source, services, merged).encode()
        out = [FileWrite(target, content, 0o644)]
        readme = target.parent / "README.md"
        current = ctx.files.read(readme)
        if current is None or current.startswith(falco.README_HEADER.encode()):
            out.append(FileWrite(readme, falco.README.encode(), 0o644))
        yield self.change([], falco.summary(target.relative_to(root).as_posix(), services), 1, files=tuple(out))

    def _facts(self, doc: ComposeDoc, ctx: Context, project: str
               ) -> tuple[list[falco.ServiceRules], list[tuple[Service, str]]]:
        no_shell = set(_strings(list(self.option(ctx, "no-shell"))))
        internal = _internal_networks(doc)
        by_name = {s.name: s for s in doc.services()}
        found, skipped = [], []
        for service in by_name.values():
            match, why = _match(project, service)
            if match is None:
                skipped.append((service, f"service {service.name!r}: no runtime rules: {why}"))
                continue
            built = _dockerfile(service, ctx) if mapping_get(service.node, "build") is not None else None
            shell, why_shell = _no_shell(service, built, service.name in no_shell)
            writable, why_write = _writable(service)
            nets = _networks(by_name, service)
            rules = falco.ServiceRules(
                service.name, match, shell, writable,
                tuple(nets) if nets and all(n in internal for n in nets) else (),
                _package_managers(service, built),
            )
            found.append(rules)
            notes = [n for n in (why_shell, why_write) if n]
            if notes:
                skipped.append((service, f"service {service.name!r}: left out: {'; '.join(notes)}"))
        return found, skipped


def _file_problem(doc: ComposeDoc, compose: Path) -> str | None:
    if len(doc.documents) != 1:
        return "the file has several YAML documents"
    if re.search(r"\.override\.ya?ml$", compose.name):
        return "an override file; its services are merged into the base file, whose rules cover them"
    return None


def _match(project: str, service: Service) -> tuple[str | None, str | None]:
    """(the condition selecting the service's containers, None) or (None, why there is none)."""
    # Anchors and aliases are fine here: the rules read the merged values and edit nothing.
    if not isinstance(service.node, MappingNode):
        return None, "the service definition is not a mapping"
    if not _NAME.match(service.name):
        return None, "the service name holds characters a container name cannot"
    fixed = scalar_value(mapping_get(service.node, "container_name"))
    if fixed is not None:
        return (f"container.name = {falco.quote(fixed)}", None) if _NAME.match(fixed) else (
            None, "its container_name comes from a variable" if "$" in fixed else "its container_name is not valid")
    names = f"(container.name startswith {falco.quote(f'{project}-{service.name}-')} " \
            f"or container.name startswith {falco.quote(f'{project}_{service.name}_')})"
    image = scalar_value(mapping_get(service.node, "image"))
    if image is None:  # built: Compose v2 tags it <project>-<service>, v1 <project>_<service>
        repos = ", ".join(falco.quote(f"{project}{sep}{service.name}".lower()) for sep in "-_")
        return f"{names} and container.image.repository in ({repos})", None
    repo = falco.repository(image)
    return (f"{names} and container.image.repository = {falco.quote(repo)}" if repo else names), None


def _no_shell(service: Service, built: DockerfileDoc | None, vouched: bool) -> tuple[str | None, str | None]:
    """(why a shell is foreign to the service, None) or (None, why no shell rule)."""
    if vouched:
        return "the configuration says it never uses one (no-shell)", None
    stage = built.final_stage() if built is not None else None
    info = images.resolve_stage(built, stage).info if built is not None and stage is not None else None
    if info is None and mapping_get(service.node, "build") is None:
        image = scalar_value(mapping_get(service.node, "image")) or ""
        info = images.lookup(image) if image and "$" not in image else None
    if info is None:
        return None, "shell (its image is not known; list it in no-shell if it never starts one)"
    if not info.shell and not re.search(r"(^|-)debug($|-)", info.tag):  # distroless :debug has busybox
        return f"its image ({info.name}) has no shell", None
    return None, f"shell ({info.name} has a shell its entrypoint may use; list it in no-shell if it never does)"


def _dockerfile(service: Service, ctx: Context) -> DockerfileDoc | None:
    """The Dockerfile a ``build:`` uses, as hardened in this run (as cap-drop reads it)."""
    found = built_dockerfile(mapping_get(service.node, "build"), ctx)
    return found[1] if found else None


def _writable(service: Service) -> tuple[tuple[str, ...] | None, str | None]:
    """The paths it may write: its mounts once read_only, else the KB's list (read-only-root's)."""
    mounts = mount_targets(service.node)
    flag = (scalar_value(mapping_get(service.node, "read_only")) or "").lower()
    if flag not in _TRUE:
        if mapping_get(service.node, "build") is not None:
            return None, "writes (it is built here and where it writes is not known; set read_only: true " \
                         "with tmpfs/volumes and the rule follows them)"
        why, info = image_info(service)
        kb = info.facts.writable_paths if info is not None else None
        if kb is None:
            reason = why or f"the knowledge base does not list where {info.name} writes"  # type: ignore[union-attr]  # image_info gives a why when info is None
            return None, f"writes ({reason})"
        mounts += [str(p) for p in kb]
    paths = falco.pmatch_paths(mounts)
    return (None, f"writes ({paths})") if isinstance(paths, Why) else (paths, None)


def _internal_networks(doc: ComposeDoc) -> set[str]:
    top = mapping_own(doc.documents[0], "networks")
    if not isinstance(top, MappingNode):
        return set()
    return {str(k.value) for k, v in top.value
            if (scalar_value(mapping_get(v, "internal")) or "").lower() in _TRUE}


def _networks(by_name: dict[str, Service], service: Service, depth: int = 0) -> list[str]:
    """The networks the service is on; [] for host/none/unknown network modes."""
    mode = scalar_value(mapping_get(service.node, "network_mode"))
    if mode is not None:
        target = by_name.get(mode[len("service:"):]) if mode.startswith("service:") else None
        return _networks(by_name, target, depth + 1) if target is not None and depth < 5 else []
    node = mapping_get(service.node, "networks")
    if node is None:
        return ["default"]
    if isinstance(node, MappingNode):
        return sorted(str(k.value) for k, _v in node.value)
    return sorted(_strings_node(node))


def _package_managers(service: Service, built: DockerfileDoc | None) -> tuple[str, ...]:
    """Every package manager but those the service's own start command runs (npm start …)."""
    words: list[str] = []
    for key in ("entrypoint", "command"):
        node = mapping_get(service.node, key)
        words += " ".join(_strings_node(node)).split()
    stage = built.final_stage() if built is not None else None
    start = images.last_start(images.resolve_stage(built, stage).instructions()) if built and stage else None
    if start is not None:
        words += list(start.json) if start.json else start.args.split()
    used = {w.strip("\"'[],").rsplit("/", 1)[-1] for w in words}
    return tuple(p for p in falco.PACKAGE_MANAGERS if p not in used)


def _strings_node(node: object) -> list[str]:
    if isinstance(node, SequenceNode):
        return [str(i.value) for i in node.value if isinstance(i, ScalarNode)]
    return [str(node.value)] if isinstance(node, ScalarNode) and node.value else []


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
