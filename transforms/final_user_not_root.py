"""HD203 final-user-not-root."""
from __future__ import annotations

from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.edits import Edit
from hardener.knowledge import images
from hardener.knowledge.images import Base
from hardener.model import Applicability, Finding, Transform

_FS_KEYWORDS = ("RUN", "COPY", "ADD", "WORKDIR", "VOLUME")


class FinalUserNotRoot(Transform):
    """Do not end a stage with `USER root`.

    ## What it fixes
    A stage whose last `USER` is root: after a non-root `USER`, `USER root` was added for
    a few build steps and never undone; or a redundant `USER root` in a builder stage.

    ## Why
    The last `USER` of the final stage is the user the container runs as. A `USER root`
    left behind after package installs silently turns a non-root image back into a root
    one; linters flag every stage that ends as root.

    ## Example
        USER app                        USER app
        ...                             ...
        USER root                       USER root
        RUN apt-get install -y curl     RUN apt-get install -y curl
        CMD ["app"]                 ->  USER app
                                        CMD ["app"]

    When nothing after `USER root` needs root it is removed instead. In a builder stage
    that already runs as root (the base image's default), the redundant `USER root` is
    removed.

    ## Applicability
    review when the user the stage ends with changes (the app, or `--target` of that
    stage, runs as the earlier user again); safe when a `USER root` is removed that an
    earlier `USER root` of the same file already made redundant; review when only the
    knowledge base says the base image runs as root.

    ## Refuses when
    The entrypoint switches users itself (gosu, su-exec …) or its start command needs
    root or comes from an unknown base image, a later stage is built `FROM` this stage and inherits its user, or the base
    image is unknown so it cannot tell whether `USER root` is redundant. A final stage
    that never had a non-root user is left to run-as-non-root (HD201).

    ## References
    hadolint DL3002, checkov CKV_DOCKER_8
    """

    id = "HD203"
    name = "final-user-not-root"
    targets = ("dockerfile",)
    references = ("hadolint:DL3002", "checkov:CKV_DOCKER_8")
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for stage in doc.stages:
            last = next((i for i in reversed(stage.instructions) if i.keyword == "USER"), None)
            if last is not None and images.is_root_user(last.args.strip()):
                yield from self._one(doc, stage, last, ctx)

    def _one(self, doc: DockerfileDoc, stage: Stage, root: Instruction, ctx: Context) -> Iterator[Finding]:
        base = images.resolve_stage(doc, stage)
        final = stage is doc.stages[-1]
        before, set_at = images.effective_user(base, before_line=root.line)
        if before == "?":
            if not final:
                yield self.refuse(f"cannot tell whether `USER root` is redundant: {base.unknown}", root.line)
            return
        if images.is_root_user(before):
            if not final:  # the final stage is run-as-non-root's: it adds a real user
                reason = f"stage {_label(stage)} runs as root anyway; `USER root` is redundant"
                # Safe only when this file says so; the base image's default user is a
                # knowledge-base fact, and a wrong one would leave the build's RUNs unprivileged.
                level = Applicability.SAFE if set_at is not None else Applicability.REVIEW
                if set_at is None:
                    reason += " (the base image's default user, from hardener's image knowledge)"
                yield self.change([_delete(doc, root)], reason, root.line, applicability=level)
            return
        why = _obstacle(doc, base, stage, ctx)
        if why:
            yield self.refuse(why, root.line)
            return
        previous = before  # the earlier USER as written, or the image's default non-root uid
        after = [i for i in stage.instructions if i.line > root.line and i.keyword in _FS_KEYWORDS]
        if not after:
            reason = f"nothing after `USER root` needs root; the stage ends as {previous} again"
            yield self.change([_delete(doc, root)], reason, root.line, end_line=root.end_line)
            return
        anchor = after[-1]
        keyword = "user" if doc.text[root.keyword_start : root.keyword_end].islower() else "USER"
        edit = Edit(anchor.end, anchor.end, f"{doc.newline}{keyword} {previous}")
        reason = f"`USER root` (line {root.line}) is undone after the last build step: back to {previous}"
        yield self.change([edit], reason, root.line, end_line=anchor.end_line)


def _obstacle(doc: DockerfileDoc, base: Base, stage: Stage, ctx: Context) -> str | None:
    children = [s for s in doc.stages[stage.index + 1 :] if stage.name and s.base.lower() == stage.name]
    if children:
        return f"stage {_label(children[0])} is built FROM this stage and inherits its user"
    if images.last_start(base.instructions()) is None and base.info is None:
        return f"the start command comes from the base image, which may need root: {base.unknown}"
    drops = images.drops_privileges(base, ctx.build_context)
    if drops:
        return f"`USER root` is needed: {drops}"
    command = images.root_start_command(base.instructions(), ctx.build_context)
    if command:
        return f"`USER root` is needed at run time: the start command runs {command}"
    return None


def _label(stage: Stage) -> str:
    return repr(stage.name) if stage.name else f"#{stage.index}"


def _delete(doc: DockerfileDoc, inst: Instruction) -> Edit:
    """Remove the instruction's lines, line break included."""
    start = doc.text.rfind("\n", 0, inst.start) + 1
    end = doc.text.find("\n", inst.end)
    if end == -1:  # last line without a line break: take the one before it
        return Edit(max(0, start - len(doc.newline)) if start else 0, len(doc.text), "")
    return Edit(start, end + 1, "")
