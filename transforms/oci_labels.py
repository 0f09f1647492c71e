"""HD502 add-oci-labels."""
from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.edits import Edit
from hardener.knowledge.licenses import licenses_label
from hardener.model import Applicability, Finding, Transform
from hardener.repo_metadata import MANIFEST_TOOLS, git_remote_url, package_metadata

OCI = "org.opencontainers.image."
# build arguments for values a committed file cannot hold (a baked commit goes stale)
_BUILD_ARGS = (("revision", "VCS_REF"), ("created", "BUILD_DATE"))
_LABEL_TOKEN = re.compile(r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^\s"\'])+')


class AddOciLabels(Transform):
    """Add the standard OCI image labels that can be filled truthfully.

    ## What it fixes
    A final stage without `org.opencontainers.image.*` labels. One LABEL instruction is
    added with `source` (the git remote, as https without credentials), `revision` and
    `created` (through `ARG VCS_REF=` / `ARG BUILD_DATE=`, filled by the build),
    `title`, `description` and `licenses` (from package.json, pyproject.toml,
    Cargo.toml, setup.cfg, pom.xml or go.mod in the build context root, and the LICENSE
    file), and `base.name` / `base.digest` (from the final FROM). `base.digest` needs a
    FROM pinned by digest: a tag's digest in `hardener.lock` or the cache is not what the
    build pulls unless the FROM says so. When pin-base-image pins the FROM in the same run,
    the digest joins the LABEL that holds `base.name`.

    Labels of the base image's config (`org.opencontainers.image.vendor`, `.title`,
    `.licenses` …) are not copied: they describe the base, not this image (and the build
    inherits them anyway; a key set here overrides the inherited one).

    Only facts: a manifest describes the image only when a COPY/ADD takes it and the
    Dockerfile runs its tool (npm, pip, cargo, mvn, go, …) or starts from its language's
    image, so a front-end package.json does not label a server image. `licenses` is the
    manifest's expression when the LICENSE/COPYING texts (identified by licenseclassifier,
    from the SPDX license data) agree, else the one license those texts hold, else
    nothing; without a license file the manifest's claim stands, except npm init's `ISC`.
    `version` is not written: the manifest's version changes every release and a LABEL
    written once would not follow it; set it at build time (`--label`, docker/metadata-action).

    ## Why
    Registries, scanners and `docker inspect` read these labels to link an image to its
    source, commit and license; without them an image cannot be traced.

    ## Example
        FROM node:20-alpine
        ->  FROM node:20-alpine
            LABEL org.opencontainers.image.title="web" \\
                  org.opencontainers.image.base.name="node:20-alpine"

    Build with `--build-arg VCS_REF=$(git rev-parse HEAD) --build-arg
    BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)` to fill revision and created.

    ## Applicability
    safe: only image metadata changes. Keys the stage (or a stage it is built from)
    already sets are never repeated; only the final stage is labelled.

    ## Refuses when
    Nothing is refused: a key whose value is unknown (no git remote, no manifest of this
    image, a license file that is not recognised or contradicts nothing known, a GNU
    text alone, a base given by a variable) is left out.

    ## References
    https://github.com/opencontainers/image-spec/blob/main/annotations.md
    """

    id = "HD502"
    name = "add-oci-labels"
    targets = ("dockerfile",)
    references = ("oci:image-spec/annotations",)
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stage = doc.final_stage()
        if stage is None:
            return
        present = _label_keys(_chain(doc, stage))
        wanted = [(k, v) for k, v in _values(doc, stage, ctx) if OCI + k not in present]
        if not wanted:
            return
        beside = _base_name_label(stage) if [k for k, _ in wanted] == ["base.digest"] else None
        if beside is not None:
            # the FROM was pinned after base.name was written (pin-base-image in this run):
            # the digest goes into that LABEL, not a second one
            yield self.change([Edit(beside.end, beside.end, _continue(doc, beside, wanted[0]))],
                              "OCI labels link the image to its source, license and base: base.digest",
                              stage.from_.line)
            return
        args = [a for k, a in _BUILD_ARGS if any(w == k for w, _ in wanted)]
        anchor = _anchor(stage, with_args=bool(args))
        yield self.change([Edit(anchor.end, anchor.end, _render(doc, stage, anchor, wanted, args))],
                          "OCI labels link the image to its source, license and base: "
                          + ", ".join(k for k, _ in wanted), stage.from_.line)


def _values(doc: DockerfileDoc, stage: Stage, ctx: Context) -> list[tuple[str, str]]:
    """(key, LABEL value text) for every key that has a truthful value."""
    out: list[tuple[str, str]] = []
    source = git_remote_url(ctx.root)
    if source:
        out.append(("source", _quote(source, doc.escape)))
        out += [(key, f"${arg}") for key, arg in _BUILD_ARGS]
    context = ctx.build_context
    meta = package_metadata(context, lambda name: _builds(doc, name)) if context is not None else None
    # no `version`: the manifest's version is bumped every release and a LABEL written now
    # would not follow it (paperless-ngx's CI sets it with docker/metadata-action instead)
    if meta is not None:
        out += [(k, _quote(v, doc.escape)) for k, v in (("title", meta.title), ("description", meta.description))
                if v]
    lic = None
    if context is not None:
        lic = licenses_label(context, ctx.root if context.is_relative_to(ctx.root) else None, meta)
    if lic:
        out.append(("licenses", _quote(lic, doc.escape)))
    base = _root_base(doc, stage)
    if base:
        out.append(("base.name", _quote(base, doc.escape)))
        if "@" in base:
            out.append(("base.digest", _quote(base.rpartition("@")[2], doc.escape)))
    return out


def _builds(doc: DockerfileDoc, manifest: str) -> bool:
    """Whether the image is this manifest's package: a COPY/ADD from the build context takes
    the manifest and the Dockerfile runs its tool (or starts from its language's image).
    A front-end package.json beside a Go server's Dockerfile describes another package."""
    tool = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, MANIFEST_TOOLS[manifest])) + r")(?![\w-])")
    copied = runs = False
    for inst in doc.walk():
        if inst.keyword in ("COPY", "ADD") and inst.flag("from") is None:
            copied = copied or any(_takes(src, manifest) for src in _sources(inst))
        elif inst.keyword in ("RUN", "CMD", "ENTRYPOINT"):
            runs = runs or bool(tool.search(inst.logical))
    bases = (s.base.split("@")[0].split(":")[0].rsplit("/", 1)[-1] for s in doc.stages)
    return copied and (runs or any(tool.fullmatch(b) for b in bases))


def _sources(inst: Instruction) -> list[str]:
    if inst.json is not None:
        return list(inst.json[:-1])
    try:
        return shlex.split(inst.args)[:-1]
    except ValueError:
        return inst.args.split()[:-1]


def _takes(source: str, manifest: str) -> bool:
    """Whether a COPY source in the build context root takes ``manifest``."""
    clean = source.removeprefix("./").rstrip("/")
    return clean in ("", ".", "*") or ("/" not in clean and fnmatch.fnmatchcase(manifest, clean))


def _chain(doc: DockerfileDoc, stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [stage]
    while True:
        parent = doc.stage_named(chain[-1].base, before=chain[-1].index)
        if parent is None:
            return chain
        chain.append(parent)


def _root_base(doc: DockerfileDoc, stage: Stage) -> str | None:
    base = _chain(doc, stage)[-1].base
    if not base or "$" in base or base.lower() == "scratch" or base.startswith("-"):
        return None
    return base


def _label_keys(stages: list[Stage]) -> set[str]:
    keys: set[str] = set()
    for stage in stages:
        for inst in stage.instructions:
            if inst.keyword == "LABEL":
                tokens = _LABEL_TOKEN.findall(inst.args)
                if tokens and "=" not in tokens[0]:
                    tokens = tokens[:1]  # the legacy `LABEL key value` form: one pair
                keys.update(t.split("=", 1)[0].strip("\"'") for t in tokens)
    return keys


def _anchor(stage: Stage, with_args: bool) -> Instruction:
    """Where the LABEL goes: after the last LABEL (and, when it brings build ARGs whose
    values change on every build, after the last RUN so they do not defeat its cache),
    else after the FROM and the ARGs that follow it."""
    kinds = ("LABEL", "RUN") if with_args else ("LABEL",)
    chosen = [i for i in stage.instructions if i.keyword in kinds]
    if chosen:
        return chosen[-1]
    anchor = stage.from_
    for inst in stage.instructions[1:]:
        if inst.keyword != "ARG":
            break
        anchor = inst
    return anchor


def _render(doc: DockerfileDoc, stage: Stage, anchor: Instruction,
            wanted: list[tuple[str, str]], args: list[str]) -> str:
    nl = doc.newline
    indent = doc.text[doc.lines[anchor.line - 1].start : anchor.start]
    lower = doc.text[stage.from_.keyword_start : stage.from_.keyword_end].islower()
    label, arg_kw = ("label", "arg") if lower else ("LABEL", "ARG")
    in_scope = [i for i in stage.instructions if i.start <= anchor.start]
    out = "".join(f"{nl}{indent}{arg_kw} {_arg_decl(doc, a)}" for a in args
                  if not _declared(in_scope, a))
    pairs = [f"{OCI}{k}={v}" for k, v in wanted]
    joiner = f" {doc.escape}{nl}{indent}{' ' * (len(label) + 1)}"
    return out + f"{nl}{indent}{label} " + joiner.join(pairs)


def _base_name_label(stage: Stage) -> Instruction | None:
    """The stage's LABEL whose last pair is ``base.name`` (as this transform writes it)."""
    for inst in stage.instructions:
        if inst.keyword == "LABEL" and not inst.heredocs:
            tokens = _LABEL_TOKEN.findall(inst.args)
            if tokens and tokens[-1].startswith(OCI + "base.name="):
                return inst
    return None


def _continue(doc: DockerfileDoc, label: Instruction, pair: tuple[str, str]) -> str:
    """One more pair on ``label``'s own continuation line, aligned like _render's."""
    nl = doc.newline
    indent = doc.text[doc.lines[label.line - 1].start : label.start]
    return f" {doc.escape}{nl}{indent}{' ' * (len(label.keyword) + 1)}{OCI}{pair[0]}={pair[1]}"


def _declared(instructions: tuple[Instruction, ...] | list[Instruction], name: str) -> bool:
    return any(i.keyword == "ARG" and re.match(rf"{name}(=|\s|$)", i.args) for i in instructions)


def _arg_decl(doc: DockerfileDoc, name: str) -> str:
    """``NAME=`` (empty default), or ``NAME`` to inherit a default declared before FROM."""
    globals_ = [i for i in doc.instructions if i.stage == -1]
    return name if _declared(globals_, name) else f"{name}="


def _quote(value: str, escape: str) -> str:
    """A double-quoted LABEL value: LABEL expands variables and quotes."""
    out = value.replace(escape, escape * 2).replace('"', escape + '"').replace("$", escape + "$")
    return f'"{out}"'
