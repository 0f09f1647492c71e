"""HD401 exec-form."""
from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform

# A word is plain characters and quoted segments; a double-quoted segment must not hold
# anything the shell would still expand ($, `, \\). Such words unquote to fixed strings.
_SEGMENT = re.compile(r"[A-Za-z0-9_./:,@%+=^-]++" + r"|'[^']*+'" + r'|"[^"$`\\]*+"')
# possessive quantifiers: a failing match must not backtrack exponentially over long commands
_PLAIN_WORD = re.compile(rf"^(?:{_SEGMENT.pattern})++$")
_PLAIN_ARGS = re.compile(rf"^(?:{_SEGMENT.pattern}|[ \t]++)++$")
# Builtins and keywords that only exist inside a shell; exec form cannot run them.
_SHELL_ONLY = frozenset(
    "exec cd source . export set unset if then else fi for while until do done case esac eval "
    "ulimit umask trap wait alias function select time [ [[ test command builtin shift".split()
)


class ExecForm(Transform):
    """Write CMD and ENTRYPOINT in exec (JSON) form when they hold a plain command.

    ## What it fixes
    Shell-form `CMD`/`ENTRYPOINT` whose string is a plain command with arguments.

    ## Why
    Shell form runs the command as a child of `/bin/sh -c`: the shell is PID 1, so the
    app never receives SIGTERM and is killed after the stop timeout. Exec form runs the
    app itself as PID 1.

    ## Example
        CMD python app.py               ->  CMD ["python", "app.py"]

    ## Applicability
    review. The change is meant to change behaviour: the app becomes PID 1 and now
    receives SIGTERM (an app with a shutdown handler shuts down differently, one without
    one and no init is no longer killed by the shell's exit). A CMD also reaches an
    ENTRYPOINT — the stage's or the base image's, which the file may not show — as
    `app args` instead of `/bin/sh -c "app args"`. For ENTRYPOINT, `docker run IMAGE
    args` passes the arguments to it instead of ignoring them.

    ## Refuses when
    The string uses shell syntax (variables, quotes, pipes, redirections, globs, `&&`,
    `;`, env assignments, shell builtins such as `exec`/`cd`), a `SHELL` instruction
    changed the shell of that stage, the file uses the backtick escape (Windows images),
    comments sit inside its continuation lines, or an ENTRYPOINT would start receiving
    the stage's CMD as arguments, or the program is a script of the build context without
    a `#!` line (the shell ran it as a shell script; exec form fails with "exec format error").

    ## References
    hadolint DL3025
    """

    id = "HD401"
    name = "exec-form"
    targets = ("dockerfile",)
    references = ("hadolint:DL3025",)
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for stage in doc.stages:
            for inst in stage.instructions:
                if inst.keyword in ("CMD", "ENTRYPOINT") and inst.json is None and inst.args:
                    yield from self._one(doc, stage, inst, ctx)

    def _one(self, doc: DockerfileDoc, stage: Stage, inst: Instruction, ctx: Context) -> Iterator[Finding]:
        why_not = _obstacle(doc, stage, inst) or _no_shebang(stage, inst, ctx)
        if why_not:
            yield self.refuse(f"{inst.keyword} stays in shell form: {why_not}", inst.line)
            return
        words = shlex.split(inst.args)
        array = "[" + ", ".join(json.dumps(w) for w in words) + "]"
        reason = "the command then runs as PID 1 and receives stop signals"
        if inst.keyword == "ENTRYPOINT":
            reason += "; `docker run IMAGE args` now passes args to it instead of dropping them"
        yield self.change([Edit(inst.args_start, inst.args_end, array)], reason, inst.line,
                          end_line=inst.end_line)


def _obstacle(doc: DockerfileDoc, stage: Stage, inst: Instruction) -> str | None:
    if doc.escape == "`":
        return "the file uses the backtick escape of Windows images, whose shell is cmd/PowerShell"
    if any(i.keyword == "SHELL" and i.line < inst.line for i in stage.instructions):
        return "a SHELL instruction chose another shell for this stage"
    if inst.comments_inside:
        return "comments inside its continuation lines would be lost"
    if not _PLAIN_ARGS.match(inst.args):
        bad = next((w for w in inst.args.split() if not _PLAIN_WORD.match(w)), inst.args)
        return f"{bad!r} has shell syntax"
    words = shlex.split(inst.args)
    if words[0] in _SHELL_ONLY or "=" in inst.args.split()[0]:
        return f"{words[0]!r} only works inside a shell"
    if inst.keyword == "ENTRYPOINT" and any(i.keyword == "CMD" for i in stage.instructions):
        return "in exec form it would receive the stage's CMD as arguments"
    return None



def _no_shebang(stage: Stage, inst: Instruction, ctx: Context) -> str | None:
    """A script from the build context without a ``#!`` line: ``/bin/sh -c script`` runs it
    as a shell script when exec() says it is no executable (ENOEXEC), exec form fails with
    "exec format error"."""
    from hardener.knowledge.images import entrypoint_script

    upto = [i for i in stage.instructions if i.line <= inst.line]
    if next((i for i in reversed(upto) if i.keyword in ("CMD", "ENTRYPOINT")), None) is not inst:
        return None
    if inst.keyword == "CMD" and any(i.keyword == "ENTRYPOINT" for i in upto):
        return None  # the CMD is the ENTRYPOINT's arguments, never executed by itself
    found = entrypoint_script(upto, ctx.build_context)
    if found is None or found[0].rsplit("/", 1)[-1] != shlex.split(inst.args)[0].rsplit("/", 1)[-1]:
        return None
    name, text = found
    if text.startswith("#!") or not text.strip() or "\x00" in text[:1024]:
        return None  # a script with an interpreter line, or a binary
    return f"{name} has no #! line: the shell ran it as a shell script, exec form would fail with \"exec format error\""
