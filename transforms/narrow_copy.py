"""HD305 narrow-copy."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from hardener import repo_facts as facts
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.edits import Edit
from hardener.knowledge import writes
from hardener.model import Applicability, Finding, Transform
from hardener.options import Option
from hardener.plans.copy.plan import DEFAULT_ECOSYSTEMS, KNOWN, copies_all, enabled_ecosystems, plan
from hardener.why import Why


class NarrowCopy(Transform):
    """Replace `COPY . <dest>` with the files and directories the app really needs.

    ## What it fixes
    `COPY . <dest>` (or `ADD . <dest>`) in a Python, Node, Go or Java (Maven/Gradle)
    project: it becomes one COPY of the manifests, lock files and top-level files the app
    needs, plus one COPY per directory it needs.

    ## Why
    Copying the whole context ships tests, docs, local secrets and junk, and every edit
    to any file busts the layer cache. Naming what the app needs makes the image smaller
    and the review of what enters it possible.

    ## Example
        COPY . /app/     ->  COPY requirements.txt app.py /app/
                             COPY mypkg/ /app/mypkg/

    ## Applicability
    review: the import graph (computed with libcst from the CMD/ENTRYPOINT script or
    module) finds static imports and string literals; a file the app finds another way
    (an environment variable holding a path) would be missed. Node (the `require`/`import`
    graph of the entry, package.json `main`/`files`, the conventional inputs of a known
    build tool) and Go (the packages `go build` compiles, their local imports and
    `//go:embed` files) and Java (Maven/Gradle: the build files, wrapper, `src/`, the
    pom's `<module>`s or the projects settings.gradle includes, `buildSrc/`, and files the
    build files name) work the same way; limit them with `[tool.hardener.narrow-copy]
    ecosystems = ["python"]` (default: all four). Every top-level path a later RUN/CMD
    names is kept.

    ## Refuses when
    The context is not a project of an enabled ecosystem, no entrypoint can be read from
    CMD/ENTRYPOINT, the code imports modules by name (importlib, `__import__`, Django, a
    non-literal `require`/`import()`), a later RUN works on the whole copied tree (`pip
    install .`, `poetry install` without `--no-root`, `.` or `*` arguments, tests, lint,
    `go generate`, `go mod tidy`, make, a script from the context), a Node build runs a
    tool whose inputs are not known, Go uses cgo, a Maven parent pom or module lies outside
    the context, settings.gradle computes its projects, `mvn -f`/`gradle -p` is used, the COPY is in a stage without
    CMD/ENTRYPOINT, a needed file is excluded by .dockerignore, or a needed file named like
    a secret holds one by content (a private key, a credential, an .npmrc with a token; a CA
    bundle or a `.env` of public settings is copied like any other file).

    ## References
    Docker docs: best practices (COPY only what is needed, leverage build cache); hadolint DL3045 (context)
    """

    id = "HD305"
    name = "narrow-copy"
    targets = ("dockerfile",)
    references = ("docs.docker.com:build-best-practices",)
    applicability = Applicability.REVIEW
    options = (
        Option("ecosystems", "list[string]", DEFAULT_ECOSYSTEMS, "The ecosystems whose `COPY .` is narrowed "
               "(empty: all).", choices=KNOWN),
    )

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        if ctx.build_context is None:
            return
        for inst in doc.instructions:
            if inst.keyword in ("COPY", "ADD") and copies_all(inst):
                yield self._one(doc, inst, ctx.build_context, ctx)

    def _one(self, doc: DockerfileDoc, inst: Instruction, directory: Path, ctx: Context) -> Finding:
        listing = facts.listing(directory)
        ignore_name = f"{ctx.file.name}.dockerignore" if ctx.file else ".dockerignore"
        ignore = ctx.files.read(directory / ignore_name) or ctx.files.read(directory / ".dockerignore")
        paths = facts.included(listing.paths, ignore)
        planned = plan(doc, inst, directory, paths, enabled_ecosystems(self.option(ctx, "ecosystems")))
        if isinstance(planned, Why):
            return self.refuse(planned, inst.line)
        kept = writes.data_paths(doc, directory, ctx.files.run_view()) & {p for p in paths if "/" not in p}
        planned = replace(planned, needs=planned.needs | kept)  # the app writes there: never drop it
        new = _render(doc, inst, planned.ordered(), directory)
        reason = f"copy only what the app needs: {', '.join(sorted(planned.needs))}"
        return self.change([Edit(inst.start, inst.end, new)], reason, inst.line, end_line=inst.end_line)


def _render(doc: DockerfileDoc, inst: Instruction, needs: list[str], directory: Path) -> str:
    keyword = doc.text[inst.keyword_start : inst.keyword_end]
    keyword = "copy" if keyword.islower() else "COPY"
    flags = "".join(doc.text[f.start : f.end] + " " for f in inst.flags)
    words = list(inst.json) if inst.json is not None else inst.args.split()
    dest = words[-1].rstrip("/")  # "" for the root
    files = [n for n in needs if not (directory / n).is_dir()]
    dirs = [n for n in needs if (directory / n).is_dir()]
    lines = [f"{keyword} {flags}{' '.join(files)} {dest}/"] if files else []
    lines += [f"{keyword} {flags}{d}/ {dest}/{d}/" for d in dirs]
    return doc.newline.join(lines)
