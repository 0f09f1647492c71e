"""HD502 add-oci-labels."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform
from hardener.repo_metadata import git_remote_url, license_spdx, package_metadata

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
    `title`, `description`, `version` and `licenses` (from package.json, pyproject.toml,
    Cargo.toml, setup.cfg, pom.xml or go.mod in the build context, and the LICENSE
    file), and `base.name` / `base.digest` (from the final FROM).

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
    Nothing is refused: a key whose value is unknown (no git remote, no manifest, an
    unrecognised or dual license, a base given by a variable) is simply left out.

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
        args = [a for k, a in _BUILD_ARGS if any(w == k for w, _ in wanted)]
        anchor = _anchor(stage, with_args=bool(args))
        yield self.change([Edit(anchor.end, anchor.end, _render(doc, stage, anchor, wanted, args))],
                          "OCI labels link the image to its source, version, license and base: "
                          + ", ".join(k for k, _ in wanted), stage.from_.line)


def _values(doc: DockerfileDoc, stage: Stage, ctx: Context) -> list[tuple[str, str]]:
    """(key, LABEL value text) for every key that has a truthful value."""
    out: list[tuple[str, str]] = []
    source = git_remote_url(ctx.root)
    if source:
        out.append(("source", _quote(source, doc.escape)))
        out += [(key, f"${arg}") for key, arg in _BUILD_ARGS]
    context = ctx.build_context
    meta = package_metadata(context) if context is not None else None
    if meta is not None:
        out += [(k, _quote(v, doc.escape)) for k, v in
                (("title", meta.title), ("description", meta.description), ("version", meta.version))
                if v]
    lic = meta.license if meta is not None and meta.license else None
    if lic is None and context is not None:
        lic = license_spdx(context, ctx.root if context.is_relative_to(ctx.root) else None)
    if lic:
        out.append(("licenses", _quote(lic, doc.escape)))
    base = _root_base(doc, stage)
    if base:
        out.append(("base.name", _quote(base, doc.escape)))
        if "@" in base:
            out.append(("base.digest", _quote(base.rpartition("@")[2], doc.escape)))
    return out


def _chain(doc: DockerfileDoc, stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [stage]
    while True:
        base = chain[-1].base.lower()
        parent = next((s for s in doc.stages[: chain[-1].index] if s.name == base), None)
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
