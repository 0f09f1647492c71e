"""HD406 npm-ci."""
from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.shell import Command, Word
from hardener.dockerfile.shell_edit import program, shell_runs, subcommand
from hardener.edits import Edit
from hardener.limits import read_text_bounded
from hardener.model import Applicability, Finding, Transform

_LOCKS = ("package-lock.json", "npm-shrinkwrap.json")
_NPM_VALUE_OPTS = ("--prefix", "--cache", "--registry", "--loglevel", "--userconfig", "-C")
# options after which `npm install` does something `npm ci` does not (global or lock-less installs)
_NOT_CI = ("-g", "--global", "--no-package-lock", "--package-lock=false", "--no-save",
           "--save", "-S", "--save-dev", "-D", "--save-exact", "-E", "--package-lock-only")


class NpmCi(Transform):
    """Install Node dependencies with `npm ci` when a lock file is in the build context.

    ## What it fixes
    `npm install` (or `npm i`) without package arguments in a RUN, while
    `package-lock.json` or `npm-shrinkwrap.json` sits next to the Dockerfile and is
    copied into the image before the RUN.

    ## Why
    `npm install` may resolve newer versions than the lock file names and rewrites it;
    `npm ci` installs exactly the locked tree, fails when package.json and the lock
    disagree, and starts from a clean `node_modules`: reproducible builds.

    ## Example
        RUN npm install --omit=dev      ->  RUN npm ci --omit=dev

    ## Applicability
    review: `npm ci` fails when the lock file is out of date with package.json, and it
    deletes a `node_modules` copied in before it.

    ## Refuses when
    The build context has package.json but no lock file, the lock file is excluded by
    `.dockerignore`, or no COPY/ADD of the stage brings the lock file in before the RUN.
    Installs of named packages and global installs are left alone.

    ## References
    docs.npmjs.com/cli/commands/npm-ci
    """

    id = "HD406"
    name = "npm-ci"
    targets = ("dockerfile",)
    references = ("npm:ci",)
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        context = ctx.build_context
        if context is None or not context.is_dir():
            return
        lock = next((name for name in _LOCKS if (context / name).is_file()), None)
        for inst, cmds, _ in shell_runs(doc, loose=True):
            for cmd in cmds:
                sub = _bare_install(cmd)
                if sub is not None:
                    yield from self._one(doc, inst, cmd.words[sub], lock, context)

    def _one(self, doc: DockerfileDoc, inst: Instruction, word: Word, lock: str | None,
             context: Path) -> Iterator[Finding]:
        if lock is None:
            if (context / "package.json").is_file():
                yield self.refuse("the build context has no package-lock.json; commit one to make "
                                  "installs reproducible", inst.line)
            return
        if _ignored(context, lock):
            yield self.refuse(f".dockerignore excludes {lock}", inst.line)
            return
        if not _copied_before(doc, inst, lock):
            yield self.refuse(f"no COPY of the stage brings {lock} in before this RUN", inst.line)
            return
        yield self.change([Edit(word.start, word.end, "ci")],
                          f"{lock} is in the build context: npm ci installs exactly the locked "
                          "versions and fails when package.json and the lock disagree",
                          inst.line, end_line=inst.end_line)


def _bare_install(cmd: Command) -> int | None:
    """Index of ``install``/``i`` in an ``npm install`` that names no packages."""
    prog = program(cmd, ("npm",))
    sub = None if prog is None else subcommand(cmd, prog, _NPM_VALUE_OPTS)
    if sub is None or cmd.words[sub].value not in ("install", "i"):
        return None
    rest = [w.value for w in cmd.words[sub + 1 :]]
    if any(not v.startswith("-") for v in rest):
        return None  # named packages (or an option value we cannot tell apart)
    if any(v in _NOT_CI or v.startswith(("--save", "--global")) for v in rest):
        return None
    return sub


def _ignored(context: Path, lock: str) -> bool:
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return False
    lines = [ln.strip() for ln in read_text_bounded(ignore).splitlines()]
    patterns = [ln.lstrip("/") for ln in lines if ln and not ln.startswith(("#", "!"))]
    return any(fnmatch.fnmatch(lock, p) or p in ("*", "**") for p in patterns)


def _copied_before(doc: DockerfileDoc, inst: Instruction, lock: str) -> bool:
    stage = doc.stages[inst.stage] if 0 <= inst.stage < len(doc.stages) else None
    if stage is None:
        return False
    for other in stage.instructions:
        if other.start >= inst.start or other.keyword not in ("COPY", "ADD") or other.flag("from"):
            continue
        words = list(other.json) if other.json is not None else other.args.split()
        for src in words[:-1]:
            name = src.rstrip("/").removeprefix("./")
            if name in ("", ".", "*") or fnmatch.fnmatch(lock, name.rsplit("/", 1)[-1]):
                return True
    return False
