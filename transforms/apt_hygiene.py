"""HD402 apt-hygiene."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from hardener.ci.images import image_stages_of
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.reach import builder_note
from hardener.dockerfile.shell import Command, Word
from hardener.dockerfile.shell_edit import (
    append_command,
    ends_with_exit,
    has_cache_under,
    has_option,
    insert_after,
    program,
    shell_runs,
    subcommand,
)
from hardener.edits import Edit
from hardener.knowledge.child_images import UPDATES, USES_LISTS, apt_list_users
from hardener.model import Applicability, Change, Finding, Refusal, Transform
from hardener.options import Option

_APT_VALUE_OPTS = ("-o", "-c", "-t", "--option", "--config-file", "--target-release",
                   "--default-release")
# apt subcommands that apt-get has with the same meaning
# `apt upgrade` installs new dependencies where `apt-get upgrade` holds the package back,
# so it is not renamed.
_SAME_IN_APT_GET = {"install", "update", "dist-upgrade", "remove", "purge",
                    "autoremove", "clean", "autoclean", "build-dep", "source", "download"}
_NEEDS_LISTS = {"install", "upgrade", "dist-upgrade", "build-dep", "source", "download"}
_LISTS = "/var/lib/apt/lists"
_CACHE_PATHS = ("/var/lib/apt", "/var/cache/apt")
_UNPINNED = ("apt install of unpinned packages stays apt: as apt-get it trades hadolint DL3027 "
             "for DL3008 (pin versions); set rename-unpinned = true to rename anyway")
_SIZE_CHANGES = "--no-install-recommends and the package-list cleanup"


class AptHygiene(Transform):
    """Make apt-get installs non-interactive, lean and free of package lists.

    ## What it fixes
    `apt` used in a Dockerfile, `apt-get install` without `-y` or without
    `--no-install-recommends`, an install RUN without its own `apt-get update`, and a
    RUN that ran `apt-get update` but left `/var/lib/apt/lists` in the layer.

    ## Why
    `apt` has no stable CLI for scripts; an install without `-y` aborts at the prompt;
    recommended packages bloat the image and widen its attack surface; package lists
    in a layer add tens of MB and go stale, and an install that relies on lists from an
    earlier (cached) layer installs outdated versions.

    ## Example
        RUN apt-get update && apt-get install curl
    becomes
        RUN apt-get update && apt-get -y install --no-install-recommends curl && rm -rf /var/lib/apt/lists/*

    ## Applicability
    safe: `apt` → `apt-get`, `-y`, and `rm -rf /var/lib/apt/lists/*` at the end of the
    RUN that ran `apt-get update`. review: `--no-install-recommends` (the app may need a
    recommended package at runtime), `apt-get update &&` added to an install RUN that
    lacked it, and removing a RUN that only ran `apt-get update`.

    The size changes (`--no-install-recommends`, the list cleanup) go only to stages in
    the image: the built stage (Compose's `target`, else the last), the stages it is built
    FROM and those it copies wholesale (`COPY --from=x / /`). A builder stage whose files
    are copied one by one is thrown away, and a package only *recommended* there can be
    what the build needs (protobuf-compiler recommends the libprotobuf-dev whose .proto
    files a build imports). `apt` is renamed on a whole RUN or not at all.

    ## Refuses when
    A later RUN of the stage (or of a stage built on it) installs without its own
    `apt-get update` and relies on the lists this RUN would delete; an `apt` command of
    the RUN cannot become apt-get (then none is renamed); a size change falls in a
    builder stage (noted once per stage). RUNs with a cache
    mount on /var/lib/apt or /var/cache/apt, and exec-form and heredoc RUNs, are left
    alone. Inside if/for blocks and subshells only `apt`, `-y` and
    `--no-install-recommends` are fixed: where an update or cleanup belongs is not
    certain there.

    ## References
    hadolint DL3009, DL3014, DL3015, DL3027
    """

    id = "HD402"
    name = "apt-hygiene"
    targets = ("dockerfile",)
    references = ("hadolint:DL3009", "hadolint:DL3014", "hadolint:DL3015", "hadolint:DL3027")
    applicability = Applicability.SAFE
    options = (
        Option("rename-unpinned", "bool", False, "Also rename `apt install` of unpinned packages to apt-get "
               "(trading hadolint DL3027 for DL3008)."),
    )

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        rename_unpinned = bool(self.option(ctx, "rename-unpinned"))
        stages = image_stages_of(doc, ctx)
        noted: set[str] = set()
        for inst, cmds, exact in shell_runs(doc, loose=True):
            if has_cache_under(inst, _CACHE_PATHS):
                continue
            for finding in self._one(doc, inst, cmds, exact, rename_unpinned, stages.reaches(inst), ctx):
                if isinstance(finding, Refusal) and finding.reason.startswith("builder stage"):
                    if finding.reason in noted:
                        continue  # one note per stage, not one per RUN
                    noted.add(finding.reason)
                yield finding

    def _one(self, doc: DockerfileDoc, inst: Instruction, cmds: list[Command], exact: bool,
             rename_unpinned: bool, sized: bool, ctx: Context) -> Iterator[Finding]:
        calls = [(c, p, subcommand(c, p, _APT_VALUE_OPTS)) for c in cmds
                 if (p := program(c, ("apt", "apt-get"))) is not None]
        renames = list(self._renames(inst, calls, rename_unpinned))
        yield from renames
        renaming = any(isinstance(f, Change) for f in renames)
        for cmd, prog, sub in calls:
            if renaming and cmd.words[prog].value.rsplit("/", 1)[-1] == "apt":
                continue  # its flags come next round, on apt-get
            if sub is not None and cmd.words[sub].value == "install":
                yield from self._install(doc, inst, cmd, prog, sub, sized)
        if not exact:
            return  # inside if/for blocks: flags only, the RUN's structure is not known
        uses = [(c, p, s) for c, p, s in calls if s is not None
                and c.words[s].value in _NEEDS_LISTS]
        updates = [c for c, p, s in calls if s is not None and c.words[s].value == "update"]
        if uses and not updates:
            yield from self._add_update(inst, uses[0][0])
        elif updates and not _removes_lists(cmds) and not sized:
            yield self.refuse(builder_note(doc, inst, _SIZE_CHANGES), inst.line)
        elif updates and not _removes_lists(cmds):
            yield from self._cleanup(doc, inst, cmds, updates, ctx)

    def _renames(self, inst: Instruction, calls: list[tuple[Command, int, int | None]],
                 rename_unpinned: bool) -> Iterator[Finding]:
        """Rename every `apt` of the RUN to apt-get, or none: a half-renamed line reads as a bug."""
        apts = [(c, p, s) for c, p, s in calls if c.words[p].value.rsplit("/", 1)[-1] == "apt"]
        why = [w for c, p, s in apts if (w := _kept_apt(c, p, s, rename_unpinned))]
        if apts and not why:
            yield self.change([Edit(c.words[p].end - 3, c.words[p].end, "apt-get") for c, p, _ in apts],
                              "apt is meant for people; apt-get has a stable CLI for scripts",
                              inst.line, end_line=inst.end_line)
        elif _UNPINNED in why:
            yield self.refuse(_UNPINNED + ("" if len(apts) == 1 else "; so do the other apt commands "
                                           "of this RUN: a half-renamed line reads as a bug"),
                              inst.line)
        elif len(why) < len(apts):
            yield self.refuse(f"apt stays apt in this RUN: {why[0]}, and a half-renamed line reads "
                              "as a bug", inst.line)

    def _install(self, doc: DockerfileDoc, inst: Instruction, cmd: Command, prog: int, sub: int,
                 sized: bool) -> Iterator[Finding]:
        word = cmd.words[prog]
        options = cmd.words[prog + 1 :]
        if not (has_option(options, ("--yes", "--assume-yes"), "y") or _quiet_two(options)):
            yield self.change([insert_after(word, "-y")],
                              f"{word.value} install without -y stops at the confirmation prompt",
                              inst.line, end_line=inst.end_line)
        if not (has_option(options, ("--no-install-recommends", "--install-recommends"))
                or any("Install-Recommends" in w.value for w in options)):
            if not sized:
                yield self.refuse(builder_note(doc, inst, _SIZE_CHANGES), inst.line)
                return
            yield self.change(
                [insert_after(cmd.words[sub], "--no-install-recommends")],
                "recommended packages bloat the image; check the app needs none of them at runtime",
                inst.line, end_line=inst.end_line, applicability=Applicability.REVIEW)

    def _add_update(self, inst: Instruction, first: Command) -> Iterator[Finding]:
        if first.op_before not in ("", "&&", ";"):
            yield self.refuse(f"apt-get install follows {first.op_before!r}; add apt-get update "
                              "to this RUN by hand", inst.line)
            return
        yield self.change(
            [Edit(first.start, first.start, "apt-get update && ")],
            "the install relied on package lists from another layer, which go stale in the build "
            "cache; a RUN that installs refreshes its own lists",
            inst.line, end_line=inst.end_line, applicability=Applicability.REVIEW)

    def _cleanup(self, doc: DockerfileDoc, inst: Instruction, cmds: list[Command],
                 updates: list[Command], ctx: Context) -> Iterator[Finding]:
        user = _later_list_user(doc, inst)
        if user is not None:
            yield self.refuse(f"the RUN at line {user.line} installs without its own apt-get update "
                              f"and needs the lists this RUN downloads", inst.line)
            return
        children = apt_list_users(ctx, ctx.file) if ctx.file is not None else []
        stuck = next((c for c in children if c.certain and not c.fixable), None)
        if stuck is not None:
            yield self.refuse(f"{stuck.where} is built FROM this image ({stuck.base}) and installs without its "
                              "own apt-get update: it needs the lists this RUN downloads", inst.line)
            return
        child = next((c for c in children if c.certain), children[0] if children else None)
        # the child's own RUN gets `apt-get update &&` from this transform (review): both go
        # together, so this cleanup is review too and applies only with it
        maybe = "" if child is None else (
            f"; {child.where} is built FROM {'this image' if child.certain else 'a variable that may be this image'} "
            f"({child.base}) and installs without its own apt-get update: it gets one in the same run, "
            "apply both together")
        level = Applicability.REVIEW if children else None
        if ends_with_exit(cmds):
            yield self.refuse("the RUN ends with exit; add rm -rf /var/lib/apt/lists/* before it",
                              inst.line)
            return
        if len(cmds) == len(updates) == 1:
            yield self.change([_delete_lines(doc, inst)],
                              "a RUN that only runs apt-get update leaves stale lists in a layer; "
                              "every install RUN now updates by itself",
                              inst.line, end_line=inst.end_line, applicability=Applicability.REVIEW)
            return
        yield self.change([append_command(doc, inst, cmds, f"rm -rf {_LISTS}/*")],
                          "package lists add tens of MB to the layer and are stale by the next build" + maybe,
                          inst.line, end_line=inst.end_line, applicability=level)


def _delete_lines(doc: DockerfileDoc, inst: Instruction) -> Edit:
    """Remove the instruction's lines; between two blank lines, one blank line goes too."""
    start = doc.text.rfind("\n", 0, inst.start) + 1
    end = doc.text.find("\n", inst.end) + 1 or len(doc.text)
    before_blank = doc.text[:start].endswith(doc.newline * 2)
    after = doc.text.find("\n", end)
    if before_blank and after != -1 and doc.text[end:after].strip() == "":
        end = after + 1
    return Edit(start, end, "")


def _kept_apt(cmd: Command, prog: int, sub: int | None, rename_unpinned: bool) -> str | None:
    """Why this `apt` command cannot become apt-get, or None when it can."""
    word = cmd.words[prog]
    if sub is None:
        return "an apt call has no subcommand"
    if cmd.words[sub].value not in _SAME_IN_APT_GET:
        return f"apt-get has no {cmd.words[sub].value!r} with the same meaning"
    if word.raw != word.value:
        return "the apt word is quoted or escaped"
    if cmd.words[sub].value == "install" and not rename_unpinned and not _all_pinned(cmd, sub):
        return _UNPINNED
    return None


def _all_pinned(cmd: Command, sub: int) -> bool:
    """Every package argument carries a version (``pkg=1.2``) or is a local .deb file."""
    packages = [w.value for w in cmd.words[sub + 1 :] if not w.value.startswith("-")]
    return all("=" in p or p.endswith(".deb") for p in packages)


def _quiet_two(options: Sequence[Word]) -> bool:
    values = [w.value for w in options]
    if any(v in ("-q=2", "--quiet=2") for v in values):
        return True
    q = sum(v.count("q") for v in values if v.startswith("-") and not v.startswith("--"))
    return q + values.count("--quiet") >= 2


def _removes_lists(cmds: list[Command]) -> bool:
    return any(c.words[p].value == "rm" and any(w.value.startswith(_LISTS) for w in c.words)
               for c in cmds if (p := c.program_index()) < len(c.words))


def _later_list_user(doc: DockerfileDoc, inst: Instruction) -> Instruction | None:
    """A later RUN of this stage or a stage built on it that installs without updating."""
    stages = {inst.stage}
    for stage in doc.stages:
        if stage.index > inst.stage and stage.base.lower() in {
                doc.stages[i].name for i in stages if doc.stages[i].name}:
            stages.add(stage.index)
    for other in doc.walk():
        if other.keyword != "RUN" or other.start <= inst.start or other.stage not in stages:
            continue
        code = other.args if other.json is None else " ".join(other.json)
        if USES_LISTS.search(code) and not UPDATES.search(code):
            return other
    return None
