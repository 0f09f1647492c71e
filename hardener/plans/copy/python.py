"""What a Python app needs from its build context (narrow-copy, HD305).

The entrypoint comes from CMD/ENTRYPOINT (``python app.py``, ``python -m pkg``, a WSGI/ASGI
server's ``module:app``); its import graph (``repo_facts.python_needs``, libcst) names the
top-level modules, packages and data directories it uses; the manifests and lock files
always come along. A later RUN that works on the whole tree (``pip install .``, tests,
``.``/``*`` arguments) makes the needs unknowable.
"""
from __future__ import annotations

import re
from pathlib import Path

from hardener import repo_facts as facts
from hardener.dockerfile.doc import Instruction
from hardener.why import Why

PY_MANIFESTS = ("requirements.txt", "requirements-prod.txt", "constraints.txt", "pyproject.toml", "setup.cfg",
                "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "gunicorn.conf.py", "alembic.ini")
PY_KINDS = ("pip", "poetry", "uv", "pipenv")
NO_ENTRY = Why("no Python entrypoint in this stage's CMD/ENTRYPOINT (`python app.py`, `python -m pkg`, `gunicorn mod:app`)")
_WHOLE_TREE = re.compile(r"(^|\s)(\.|\./|\*|\./\*)(\s|$|;|&)|pip3? install (-e )?\.|setup\.py|poetry install(?!.*--no-root)"
                         r"|uv sync(?!.*--no-install-project)|compileall|pytest|tox\b")
_PY_CMD = re.compile(r"^python[\d.]*$")
_APP = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(\(.*\))?$")  # module:callable of a WSGI/ASGI server


def mentioned(texts: list[str], tops: set[str]) -> set[str]:
    """Top-level entries named as a word in any of ``texts`` (a RUN, a CMD, a script)."""
    return {t for text in texts for t in tops if re.search(rf"(?<![\w.-]){re.escape(t)}(?![\w-])", text)}


def python_needs(directory: Path, tops: set[str], later: list[Instruction]) -> set[str] | Why:
    """The top-level entries to copy, or why they cannot be known."""
    runs = [i for i in later if i.keyword == "RUN"]
    whole = next((i for i in runs if _WHOLE_TREE.search(i.args)), None)
    if whole is not None:
        return Why(f"the RUN at line {whole.line} works on the whole copied tree")
    commands = [i for i in later if i.keyword in ("CMD", "ENTRYPOINT")]
    entry = _entry(commands, tops)
    if entry is None:
        return NO_ENTRY
    found = facts.python_needs(directory, entry, tops)
    if found.dynamic:
        return Why(found.dynamic)
    return (set(found.entries) | mentioned([i.args for i in later], tops) | {entry.split("/")[0]}
            | {m for m in PY_MANIFESTS if m in tops})


def python_probes(directory: Path, tops: set[str], checks: list[Instruction]) -> set[str] | Why:
    """What the HEALTHCHECK probes that run a Python file or module import (or why unknown)."""
    needs: set[str] = set()
    for check in checks:
        entry = _entry([check], tops)
        if entry is None:
            continue
        found = facts.python_needs(directory, entry, tops)
        if found.dynamic:
            return Why(f"the HEALTHCHECK at line {check.line}: {found.dynamic}")
        needs |= set(found.entries) | {entry.split("/")[0]}
    return needs


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
