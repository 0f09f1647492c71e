"""HD305 narrow-copy."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from hardener import repo_facts as facts
from hardener.context import Context
from hardener.dockerfile_doc import DockerfileDoc, Instruction
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform
from hardener.transforms.context_secrets import secret_kind

PY_MANIFESTS = ("requirements.txt", "requirements-prod.txt", "constraints.txt", "pyproject.toml", "setup.cfg",
                "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "gunicorn.conf.py", "alembic.ini")
_WHOLE_TREE = re.compile(r"(^|\s)(\.|\./|\*|\./\*)(\s|$|;|&)|pip3? install (-e )?\.|setup\.py|poetry install(?!.*--no-root)"
                         r"|uv sync(?!.*--no-install-project)|compileall|pytest|tox\b")
_PY_CMD = re.compile(r"^python[\d.]*$")
_APP = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(\(.*\))?$")  # module:callable of a WSGI/ASGI server


class NarrowCopy(Transform):
    """Replace `COPY . <dest>` with the files and directories a Python app really needs.

    ## What it fixes
    `COPY . <dest>` (or `ADD . <dest>`) in a Python project: it becomes one COPY of the
    manifests, lock files and top-level modules the app imports, plus one COPY per local
    package or data directory it imports or opens by a literal path.

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
    (an environment variable holding a path) would be missed.

    ## Refuses when
    The context is not a Python project, no entrypoint can be read from CMD/ENTRYPOINT,
    the code imports modules by name (importlib, `__import__`, Django), a later RUN works
    on the whole copied tree (`pip install .`, `poetry install` without `--no-root`, `.`
    or `*` arguments, tests), the COPY is in a stage without CMD/ENTRYPOINT, a needed
    file is excluded by .dockerignore or looks like a secret.

    ## References
    Docker docs: best practices (COPY only what is needed, leverage build cache); hadolint DL3045 (context)
    """

    id = "HD305"
    name = "narrow-copy"
    targets = ("dockerfile",)
    references = ("docs.docker.com:build-best-practices",)
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        if ctx.build_context is None:
            return
        for inst in doc.instructions:
            if inst.keyword in ("COPY", "ADD") and _copies_all(inst):
                yield self._one(doc, inst, ctx.build_context, ctx)

    def _one(self, doc: DockerfileDoc, inst: Instruction, directory: Path, ctx: Context) -> Finding:
        later = [i for i in doc.stages[inst.stage].instructions if i.line > inst.line] if inst.stage >= 0 else []
        listing = facts.listing(directory)
        ignore_name = f"{ctx.file.name}.dockerignore" if ctx.file else ".dockerignore"
        ignore = ctx.files.read(directory / ignore_name) or ctx.files.read(directory / ".dockerignore")
        tops = {p for p in facts.included(listing.paths, ignore) if "/" not in p}
        needs = _needs(directory, tops, later)
        if isinstance(needs, str):
            return self.refuse(needs, inst.line)
        odd = next((n for n in sorted(needs) if re.search(r"[\s$\\\"'*?\[]", n)), None)
        if odd:
            return self.refuse(f"the needed path {odd!r} cannot be written plainly in a COPY", inst.line)
        secret = next((n for n in sorted(needs) if secret_kind(directory, n)), None)
        if secret:
            return self.refuse(f"the app needs {secret}, which looks like a secret; mount it at runtime", inst.line)
        new = _render(doc, inst, sorted(needs), directory)
        reason = f"copy only what the app needs: {', '.join(sorted(needs))}"
        return self.change([Edit(inst.start, inst.end, new)], reason, inst.line, end_line=inst.end_line)


def _copies_all(inst: Instruction) -> bool:
    words = list(inst.json) if inst.json is not None else inst.args.split()
    return (len(words) == 2 and words[0] in (".", "./") and inst.flag("from") is None and not inst.heredocs
            and not inst.comments_inside)


def _needs(directory: Path, tops: set[str], later: list[Instruction]) -> set[str] | str:
    """The top-level entries to copy, or why they cannot be known."""
    if not any(e.name in ("pip", "poetry", "uv", "pipenv") for e in facts.ecosystems(tops)):
        return "not a Python project (narrow-copy knows Python's import graph only)"
    runs = [i for i in later if i.keyword == "RUN"]
    whole = next((i for i in runs if _WHOLE_TREE.search(i.args)), None)
    if whole is not None:
        return f"the RUN at line {whole.line} works on the whole copied tree"
    commands = [i for i in later if i.keyword in ("CMD", "ENTRYPOINT")]
    entry = _entry(commands, tops)
    if entry is None:
        return "no Python entrypoint in this stage's CMD/ENTRYPOINT (`python app.py`, `python -m pkg`, `gunicorn mod:app`)"
    found = facts.python_needs(directory, entry, tops)
    if found.dynamic:
        return found.dynamic
    mentioned = {t for i in later for t in tops if re.search(rf"(?<![\w.-]){re.escape(t)}(?![\w-])", i.args)}
    return set(found.entries) | mentioned | {entry.split("/")[0]} | {m for m in PY_MANIFESTS if m in tops}


def _entry(commands: list[Instruction], tops: set[str]) -> str | None:
    """The file the CMD/ENTRYPOINT runs: a script, ``-m module`` or ``module:app`` of a server."""
    for inst in commands:
        words = list(inst.json) if inst.json is not None else inst.args.split()
        for i, word in enumerate(words):
            name = word.rsplit("/", 1)[-1]
            rest = words[i + 1 :]
            if _PY_CMD.match(name) and rest:
                target = next((w for w in rest if not w.startswith("-") or w == "-m"), None)
                if target == "-m" and rest.index("-m") + 1 < len(rest):
                    return _module_file(rest[rest.index("-m") + 1], tops)
                if target and target.removeprefix("./").split("/")[0] in tops:
                    return target.removeprefix("./")
            if name in ("gunicorn", "uvicorn", "hypercorn", "waitress-serve"):
                app = next((w for w in rest if _APP.match(w)), None)
                if app:
                    return _module_file(app.split(":")[0], tops)
    return None


def _module_file(module: str, tops: set[str]) -> str | None:
    top = module.split(".")[0]
    if f"{top}.py" in tops and "." not in module:
        return f"{top}.py"
    path = module.replace(".", "/")
    if top in tops:
        return f"{path}/__main__.py" if "." not in module else f"{path}.py"
    return None


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
