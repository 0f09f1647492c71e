"""HD205 numeric-user."""
from __future__ import annotations

from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.edits import Edit
from hardener.knowledge import images
from hardener.knowledge.dockerfile_users import created_users
from hardener.knowledge.images import Base
from hardener.model import Applicability, Finding, Transform
from hardener.why import Why


class NumericUser(Transform):
    """Write the final `USER` as the numeric `uid:gid` it names.

    ## What it fixes
    A final stage that runs as a named user (`USER app`) whose uid is known: created in
    the Dockerfile with a fixed uid (`useradd -u 1001 app`, `adduser -u 1001 app`, a
    passwd line written into `/etc/passwd`), or the base image's own user in the
    knowledge base (node -> `node` 1000:1000).

    ## Why
    A runtime cannot tell from a name whether it is root: Kubernetes refuses to start a
    pod with `runAsNonRoot: true` whose image's user is not numeric, and policy tools
    (hadolint DL3066's rationale, admission controllers) read only numbers. The number is
    also what files on volumes are owned by. A separate transform, not part of
    run-as-non-root (which adds a user to a stage that runs as root) or
    final-user-not-root (which removes a trailing `USER root`): this one changes a user
    that is already non-root, only its spelling, and `--ignore numeric-user` keeps the
    other two. It runs after them, so a `USER` they write by name is seen in the next
    round. Only the final stage: a builder stage's user never reaches the container.
    The image config cannot help here: it holds the user the base runs as, not the uid
    of a name.

    ## Example
        RUN useradd -u 1001 -g 1001 app      RUN useradd -u 1001 -g 1001 app
        USER app                        ->   USER 1001:1001

    ## Applicability
    review: the same uid runs. Without a known gid only the uid is written
    (`USER 1001`): the runtime then takes the primary group from the passwd entry, as
    it does for the name; supplementary groups come from `/etc/group` either way.

    ## Refuses when
    The uid of the user is not known: the Dockerfile creates it without a fixed uid (add
    `-u`), or it comes from the base image and the knowledge base does not list it (no
    guess: `nobody` is 65534 on Debian and Alpine, 99 elsewhere). Also when `USER name:group`
    names a group whose gid is not known. A `USER` from a variable or in an earlier stage
    the final one is built `FROM` is left as is.

    ## References
    hadolint DL3066, Kubernetes runAsNonRoot
    """

    id = "HD205"
    name = "numeric-user"
    targets = ("dockerfile",)
    references = ("hadolint:DL3066",)
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stage = doc.final_stage()
        if stage is None:
            return
        base = images.resolve_stage(doc, stage)
        insts = base.instructions()
        last = next((i for i in reversed(insts) if i.keyword == "USER"), None)
        if last is None or last.stage != stage.index:
            return
        value = last.args.strip()
        name, _, group = value.partition(":")
        if "$" in value or not name or images.is_root_user(name) or (name.isdigit() and (not group or group.isdigit())):
            return
        if doc.escape == "`" or (base.info is not None and base.info.windows) or name in _WINDOWS_USERS:
            return  # Windows users have no uid to write
        found = _numeric(base, insts[: insts.index(last)], name, group)
        if isinstance(found, Why):
            yield self.refuse(f"`USER {value}` stays: {found}", last.line)
            return
        numeric, source = found
        reason = (f"`USER {value}` -> `USER {numeric}` ({source}): a numeric user lets a runtime verify it is "
                  "not root (Kubernetes runAsNonRoot)")
        yield self.change([Edit(last.args_start, last.args_end, numeric)], reason, last.line)


_WINDOWS_USERS = frozenset({"ContainerAdministrator", "ContainerUser"})


def _numeric(base: Base, before: list[Instruction], name: str, group: str) -> tuple[str, str] | Why:
    """``uid[:gid]`` for ``name[:group]`` and where the ids come from, or why they are unknown."""
    made = created_users(before).get(name)
    info = base.info
    if made is not None:
        if made.uid is None:
            return Why(f"line {made.line} creates {name} without a fixed uid; add `-u <uid>` there")
        uid, gid, source = made.uid, made.gid, f"{name} is created with uid {made.uid} on line {made.line}"
    elif info is not None and info.nonroot_user is not None and info.nonroot_user.name == name:
        spec = info.nonroot_user
        uid, gid, source = spec.uid, spec.gid, f"the knowledge base: {info.name}'s user {name} is {spec.numeric}"
    else:
        where = f"the base image {base.image}" if base.image else "the base image"
        return Why(f"the uid of {name} is not known (not created in this Dockerfile with a fixed uid, "
                   f"and the knowledge base does not list a user {name} for {where})")
    if group and group != name:
        if not group.isdigit():
            return Why(f"the gid of group {group} is not known")
        gid = int(group)
    elif group and gid is None:
        return Why(f"the gid of group {group} is not known")
    return (f"{uid}:{gid}" if gid is not None else str(uid)), source
