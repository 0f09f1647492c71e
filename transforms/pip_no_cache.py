"""HD405 pip-no-cache-dir."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.ci.images import image_stages_of
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.reach import builder_note
from hardener.dockerfile.shell import Command
from hardener.dockerfile.shell_edit import cache_targets, has_option, insert_after, shell_runs, subcommand
from hardener.model import Applicability, Finding, Transform

_PIP = re.compile(r"^pip[0-9.]*$")
_PYTHON = re.compile(r"^python[0-9.]*$")
_PIP_VALUE_OPTS = ("--proxy", "--log", "--timeout", "--retries", "--cert", "--client-cert",
                   "--python", "--exists-action", "--trusted-host", "--keyring-provider")
_CHOSEN = ("--no-cache-dir", "--cache-dir")


class PipNoCacheDir(Transform):
    """Run `pip install` with `--no-cache-dir`.

    ## What it fixes
    `pip install`, `pip3 install` and `python -m pip install` without `--no-cache-dir`.

    ## Why
    pip keeps every downloaded and built wheel in `~/.cache/pip`; in an image layer that
    cache is dead weight, often larger than the installed packages.

    ## Example
        RUN pip install -r requirements.txt  ->  RUN pip install --no-cache-dir -r requirements.txt

    ## Applicability
    safe: the same packages are installed, only the cache is not written.

    Only stages in the image get it: the built stage (Compose's `target`, else the last),
    the stages it is built FROM and those it copies wholesale (`COPY --from=x / /`). A
    builder stage whose files are copied one by one (a venv, wheels) is thrown away with
    its cache.

    ## Refuses when
    Never refuses, but notes a builder stage it leaves alone (once per stage). Left
    alone: a RUN with a cache mount (the cache then lives outside the
    layer on purpose), a stage that sets `PIP_NO_CACHE_DIR` in ENV or ARG, a command
    that sets it or passes `--cache-dir`, exec-form and heredoc RUNs. Calls inside if/for
    blocks and subshells are fixed too.

    ## References
    hadolint DL3042
    """

    id = "HD405"
    name = "pip-no-cache-dir"
    targets = ("dockerfile",)
    references = ("hadolint:DL3042",)
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stages = image_stages_of(doc, ctx)
        noted: set[int] = set()
        for inst, cmds, _ in shell_runs(doc, loose=True):
            if _pip_cache_mounted(inst) or _env_disables_cache(doc, inst):
                continue
            for cmd in cmds:
                sub = _pip_install(cmd)
                if sub is None or has_option(cmd.words, _CHOSEN):
                    continue
                if any(w.raw.startswith("PIP_NO_CACHE_DIR=") for w in cmd.words[: cmd.program_index()]):
                    continue
                if not stages.reaches(inst):
                    if inst.stage not in noted:
                        noted.add(inst.stage)
                        yield self.refuse(builder_note(doc, inst, "--no-cache-dir"), inst.line)
                    continue
                yield self.change([insert_after(cmd.words[sub], "--no-cache-dir")],
                                  "pip's wheel cache would stay in the layer",
                                  inst.line, end_line=inst.end_line)


def _pip_install(cmd: Command) -> int | None:
    """Index of the ``install`` word of a pip call, or None."""
    i = cmd.program_index()
    words = cmd.words
    if i < len(words) and words[i].value == "sudo":
        i += 1
    if i >= len(words):
        return None
    name = words[i].value.rsplit("/", 1)[-1]
    if _PYTHON.match(name):
        if i + 2 < len(words) and words[i + 1].value == "-m" and words[i + 2].value == "pip":
            i += 2
        else:
            return None
    elif not _PIP.match(name):
        return None
    sub = subcommand(cmd, i, _PIP_VALUE_OPTS)
    return sub if sub is not None and words[sub].value == "install" else None


def _pip_cache_mounted(inst: Instruction) -> bool:
    return any(".cache" in t or "pip" in t for t in cache_targets(inst))


def _env_disables_cache(doc: DockerfileDoc, inst: Instruction) -> bool:
    """PIP_NO_CACHE_DIR set by ENV/ARG in this stage or a stage it is built on."""
    stage = doc.stages[inst.stage] if 0 <= inst.stage < len(doc.stages) else None
    seen: set[int] = set()
    while stage is not None and stage.index not in seen:
        seen.add(stage.index)
        if any(i.keyword in ("ENV", "ARG") and "PIP_NO_CACHE_DIR" in i.args
               for i in stage.instructions if i.start < inst.start):
            return True
        stage = doc.stage_named(stage.base, before=stage.index)
    return False
