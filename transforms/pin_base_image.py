"""HD101 pin-base-image, and the pinning decision shared with HD103 pin-compose-image."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Flag, Instruction
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform
from hardener.oci import imageref
from hardener.oci.digest_cache import OPTIONS, key, resolver_for
from hardener.oci.pinning import Plan, Site, plan
from hardener.why import Why

_WHOLE_VAR = re.compile(r"^\$(?:\{(\w+)\}|(\w+))$")
_LABEL = re.compile(r"org\.opencontainers\.image\.base\.(digest|name)=(\"?)([^\"\s]*)\2")
_MOUNT_FROM = re.compile(r"(?:^|[=,])from=([^,\s\"]+)")


class PinBaseImage(Transform):
    """Pin every base image to a version tag plus its registry digest.

    ## What it fixes
    `FROM python`, `FROM node:latest`, `FROM python:3.12-slim`, `COPY --from=nginx:1.27 …`
    and `RUN --mount=from=alpine:3 …`: images that can change under the same name.

    ## Why
    A tag moves; the image behind it changes every week. A digest names exactly one
    image (for multi-arch images, the index covering every platform), so builds are
    reproducible and a swapped image cannot slip in. The tag stays for readers and bots.

    ## Example
        FROM python:3.12-slim   ->  FROM python:3.12-slim@sha256:…
        FROM node               ->  FROM node:22.11@sha256:…   (same digest as latest)

    The version tag is the major.minor tag (`3.13`, else the closest to it) of the
    family the user wrote (`slim` → `3.13-slim`) whose digest equals the moving tag's;
    `most-specific-tag = true` picks the longest (`3.13.1`). Settings in
    `[tool.hardener.pin-base-image]`: `mirrors = {"docker.io" = "127.0.0.1:5000"}`,
    `insecure = [...]`, `lock = "hardener.lock"`, `write-lock`, `ttl = "24h"`,
    `platforms = ["linux/amd64"]`, `most-specific-tag`.

    ## Applicability
    safe when a digest is added to an explicit tag (the image built is the same);
    review when `latest`, no tag or a tag without a version (`slim`) becomes a version tag.

    ## Refuses when
    The reference is built from several ARGs or an ARG without default, the registry
    cannot be asked (down, 401/403, 404, rate limit, timeout, malformed manifest), the
    image lacks a platform the file builds for (`--platform`, default linux/amd64), or
    `--offline` runs and neither `hardener.lock` nor the cache knows the digest.

    ## References
    hadolint DL3006, DL3007; checkov CKV_DOCKER_7; SLSA build L3 (pinned dependencies)
    """

    id = "HD101"
    name = "pin-base-image"
    targets = ("dockerfile",)
    references = ("hadolint:DL3006", "hadolint:DL3007", "checkov:CKV_DOCKER_7")
    applicability = Applicability.REVIEW
    options = OPTIONS

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        yield from sorted(self._findings(doc, ctx), key=lambda finding: finding.line)  # in file order

    def _findings(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        sites: list[Site] = []
        for found in _sites(doc, _default_platforms(ctx)):
            if isinstance(found, Site):
                sites.append(found)
            else:
                yield self.refuse(found[1], found[0])
        if not sites:
            return
        try:
            resolver = resolver_for(ctx)
        except ValueError as exc:
            yield self.refuse(f"[tool.hardener.pin-base-image]: {exc}", sites[0].line)
            return
        results = resolver.resolve_many(s.ref for s in sites)
        lock = resolver.lock_update(ctx.files, [s.ref for s in sites])  # the same on every change
        for site in _merged(sites):
            decided = plan(site.ref, results[key(site.ref)], site.platforms, resolver.settings.most_specific_tag)
            if isinstance(decided, Why):
                yield self.refuse(decided, site.line)
                continue
            edits = [Edit(site.start, site.end, decided.new), *_label_edits(doc, site, decided)]
            yield self.change(edits, decided.reason, site.line, applicability=decided.applicability,
                              files=lock)


def _default_platforms(ctx: Context) -> tuple[str, ...]:
    value = PinBaseImage.option(ctx, "platforms")
    return tuple(map(str, value)) if isinstance(value, (list, tuple)) else ("linux/amd64",)


def _merged(sites: list[Site]) -> list[Site]:
    """One site per span (an ARG used by several FROMs), with all their platforms."""
    by_span: dict[tuple[int, int], Site] = {}
    for site in sites:
        old = by_span.get((site.start, site.end))
        if old is None:
            by_span[(site.start, site.end)] = site
        else:
            merged = tuple(dict.fromkeys(old.platforms + site.platforms))
            by_span[(site.start, site.end)] = Site(old.ref, old.start, old.end, old.line, merged, old.stage)
    return list(by_span.values())


def _sites(doc: DockerfileDoc, default: tuple[str, ...]) -> Iterator[Site | tuple[int, str]]:
    """Every pinnable reference, or (line, reason) where one cannot be pinned."""
    stages: set[str] = set()
    platforms = default  # of the current stage: COPY --from and RUN --mount images run there
    for inst in doc.walk():
        if inst.keyword == "FROM":
            platforms = _platforms(inst, default)
            yield from _from_site(doc, inst, stages, platforms)
            words = inst.args.split()
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
        elif inst.keyword == "COPY" and (from_flag := inst.flag("from")) is not None:
            yield from _flag_site(doc, inst, from_flag, None, stages, platforms)
        elif inst.keyword == "RUN":
            for flag in inst.flags:
                if flag.name.lower() == "mount" and flag.value and "from=" in flag.value:
                    yield from _flag_site(doc, inst, flag, _MOUNT_FROM, stages, platforms)


def _platforms(inst: Instruction, default: tuple[str, ...]) -> tuple[str, ...]:
    """``--platform=linux/arm64`` (a literal); a variable such as $BUILDPLATFORM: the default."""
    flag = inst.flag("platform")
    return (flag.value,) if flag and flag.value and "$" not in flag.value else default


def _from_site(doc: DockerfileDoc, inst: Instruction, stages: set[str], platforms: tuple[str, ...]
               ) -> Iterator[Site | tuple[int, str]]:
    words = inst.args.split()
    if not words or words[0].lower() == "scratch" or words[0].lower() in stages:
        return
    word = words[0]
    if "$" in word:
        yield from _arg_site(doc, inst, word, platforms)
        return
    start = inst.logical.rfind(inst.args)
    yield from _site(doc, inst, word, start, platforms, inst.stage)


def _site(doc: DockerfileDoc, inst: Instruction, word: str, logical_start: int, platforms: tuple[str, ...],
          stage: int | None = None, owner: Instruction | None = None) -> Iterator[Site | tuple[int, str]]:
    """A Site for ``word`` at ``logical_start`` of ``inst.logical``, if it can be pinned."""
    try:
        ref = imageref.parse(word)
    except imageref.BadReference as exc:
        yield (inst.line, str(exc))
        return
    if ref.pinned:
        return
    start = inst.source_offset(logical_start)
    end = inst.source_offset(logical_start + len(word) - 1) + 1
    if doc.text[start:end] != word:
        yield (inst.line, f"{word}: the reference is split over a line continuation; join it first")
        return
    yield Site(ref, start, end, (owner or inst).line, platforms, stage)


def _flag_site(doc: DockerfileDoc, inst: Instruction, flag: Flag, pattern: re.Pattern[str] | None,
               stages: set[str], default: tuple[str, ...]) -> Iterator[Site | tuple[int, str]]:
    raw = doc.text[flag.start:flag.end]
    if pattern is None:
        value = (flag.value or "").strip("\"'")
        offset = raw.find(value, raw.find("=") + 1) if value else -1
    else:
        match = pattern.search(raw)
        value, offset = (match.group(1), match.start(1)) if match else ("", -1)
    if not value or value.isdigit() or value.lower() in stages or offset < 0:
        return
    if "$" in value:
        yield (inst.line, f"{value}: the image is chosen by a variable; pin the ARG default by hand")
        return
    try:
        ref = imageref.parse(value)
    except imageref.BadReference:
        return  # a stage defined later, or not an image at all: BuildKit decides
    if not ref.pinned:
        start = flag.start + offset
        yield Site(ref, start, start + len(value), inst.line, default)


def _arg_site(doc: DockerfileDoc, inst: Instruction, word: str, platforms: tuple[str, ...]
              ) -> Iterator[Site | tuple[int, str]]:
    """``FROM ${BASE}``: pin the default of the one global ARG holding the whole reference."""
    match = _WHOLE_VAR.match(word)
    if not match:
        yield (inst.line, f"{word}: the reference is assembled from several parts (ARGs or text); "
                          "hold the whole reference in one ARG to have it pinned")
        return
    name = match.group(1) or match.group(2)
    decls = [(a, m) for a in doc.instructions if a.keyword == "ARG" and a.stage == -1
             for m in re.finditer(rf"(?:^|\s){name}(=(\"?)([^\s\"]*)\2)?(?=\s|$)", a.args)]
    if len(decls) != 1:
        why = "is not declared before the first FROM" if not decls else "is declared more than once"
        yield (inst.line, f"{word}: ARG {name} {why}")
        return
    arg, found = decls[0]
    value = found.group(3)
    if found.group(1) is None or not value:
        yield (inst.line, f"{word}: ARG {name} has no default; the reference is only known at build time")
    elif "$" in value:
        yield (inst.line, f"{word}: the default of ARG {name} is assembled from other ARGs ({value})")
    else:
        start = arg.logical.rfind(arg.args) + found.start(3)
        yield from _site(doc, arg, value, start, platforms, inst.stage, owner=arg)


def _label_edits(doc: DockerfileDoc, site: Site, decided: Plan) -> list[Edit]:
    """Keep ``org.opencontainers.image.base.{name,digest}`` of the stage in sync with its FROM."""
    if site.stage is None or site.stage >= len(doc.stages):
        return []
    edits = []
    for inst in doc.stages[site.stage].instructions:
        if inst.keyword != "LABEL":
            continue
        for match in _LABEL.finditer(inst.logical):
            wanted = decided.digest if match.group(1) == "digest" else decided.new.split("@")[0]
            if match.group(3) == wanted or "$" in match.group(3):
                continue
            start = inst.source_offset(match.start(3))
            end = start + len(match.group(3))
            if doc.text[start:end] == match.group(3):
                edits.append(Edit(start, end, wanted))
    return edits
