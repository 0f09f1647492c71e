"""HD404 rpm-hygiene."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hardener.ci.images import image_stages_of
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.reach import builder_note
from hardener.dockerfile.shell import Command
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
from hardener.model import Applicability, Finding, Transform

_VALUE_OPTS = ("-c", "--config", "-x", "--exclude", "--setopt", "--enablerepo", "--disablerepo",
               "--releasever", "--installroot", "--repo", "--repoid", "-R", "-d", "-e",
               "--disableplugin", "--enableplugin", "--forcearch")


@dataclass(frozen=True)
class _Tool:
    yes_long: tuple[str, ...]  # long options that answer yes
    yes_after_verb: bool  # zypper's -y belongs to the subcommand, yum's to the program
    prompts: frozenset[str]  # subcommands that ask for confirmation
    caches: frozenset[str]  # subcommands that leave metadata/packages behind
    clean: str  # the command that removes them
    weak_deps: bool  # install_weak_deps=0 exists


_YUM_VERBS = frozenset({"install", "groupinstall", "localinstall", "reinstall", "update", "upgrade",
                        "remove", "erase", "downgrade", "distro-sync", "group", "module"})
_YUM_CACHES = frozenset({"install", "groupinstall", "localinstall", "reinstall", "update",
                         "upgrade", "downgrade", "distro-sync", "group", "module"})
_TOOLS = {
    "yum": _Tool(("--assumeyes",), False, _YUM_VERBS, _YUM_CACHES, "yum clean all", False),
    "dnf": _Tool(("--assumeyes",), False, _YUM_VERBS, _YUM_CACHES, "dnf clean all", True),
    "microdnf": _Tool(("--assumeyes",), False, _YUM_VERBS, _YUM_CACHES, "microdnf clean all", True),
    "zypper": _Tool(("--no-confirm",), True,
                    frozenset({"install", "in", "remove", "rm", "update", "up", "dist-upgrade", "dup"}),
                    frozenset({"install", "in", "update", "up", "dist-upgrade", "dup",
                               "source-install", "si", "patch"}),
                    "zypper clean --all", False),
}
_SIZE_CHANGES = "the package-cache cleanup and install_weak_deps=0"
_CACHE_PATHS = ("/var/cache/yum", "/var/cache/dnf", "/var/cache/zypp", "/var/cache/libdnf5")


class RpmHygiene(Transform):
    """Make yum/dnf/microdnf/zypper installs non-interactive and clean their caches.

    ## What it fixes
    `yum|dnf|microdnf install` without `-y`, `zypper install|remove|update` without `-y`,
    a RUN that installs but leaves the package manager's metadata and package cache in
    the layer, and (dnf/microdnf) installs that pull weak dependencies.

    ## Why
    Without `-y` the build stops at the confirmation prompt. The metadata and package
    cache add tens to hundreds of MB to the layer. Weak dependencies are optional
    packages: more size, more CVEs.

    ## Example
        RUN dnf install httpd
    becomes
        RUN dnf -y install --setopt=install_weak_deps=0 httpd && dnf clean all

    ## Applicability
    safe: `-y` and `<tool> clean all` / `zypper clean --all` at the end of the RUN (later
    installs fetch fresh metadata by themselves). review: `--setopt=install_weak_deps=0`,
    because the app may rely on a weak dependency at runtime.

    The size changes (the cleanup, `install_weak_deps=0`) go only to stages in the image:
    the built stage (Compose's `target`, else the last), the stages it is built FROM and
    those it copies wholesale (`COPY --from=x / /`). A builder stage whose files are
    copied one by one is thrown away, and a weak dependency can be what its build needs.

    ## Refuses when
    Never refuses, but notes a builder stage whose size changes it leaves out (once per
    stage). RUNs with a cache mount on /var/cache/yum, /var/cache/dnf or
    /var/cache/zypp, exec-form and heredoc RUNs are left alone. Inside if/for blocks and
    subshells only the flags are added: where the cleanup belongs is not certain there.

    ## References
    hadolint DL3030, DL3032, DL3034, DL3036, DL3038, DL3040
    """

    id = "HD404"
    name = "rpm-hygiene"
    targets = ("dockerfile",)
    references = ("hadolint:DL3030", "hadolint:DL3032", "hadolint:DL3034", "hadolint:DL3036",
                  "hadolint:DL3038", "hadolint:DL3040")
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stages = image_stages_of(doc, ctx)
        noted: set[int] = set()
        for inst, cmds, exact in shell_runs(doc, loose=True):
            if has_cache_under(inst, _CACHE_PATHS):
                continue
            if stages.reaches(inst):
                yield from self._one(doc, inst, cmds, exact)
                continue
            flags = list(self._one(doc, inst, cmds, exact=False, sized=False))
            yield from flags
            if inst.stage not in noted and len(list(self._one(doc, inst, cmds, exact))) > len(flags):
                noted.add(inst.stage)
                yield self.refuse(builder_note(doc, inst, _SIZE_CHANGES), inst.line)

    def _one(self, doc: DockerfileDoc, inst: Instruction, cmds: list[Command],
             exact: bool, sized: bool = True) -> Iterator[Finding]:
        needs_clean: list[str] = []
        for cmd in cmds:
            prog = program(cmd, _TOOLS)
            sub = None if prog is None else subcommand(cmd, prog, _VALUE_OPTS)
            if prog is None or sub is None:
                continue
            name = cmd.words[prog].value.rsplit("/", 1)[-1]
            tool, verb = _TOOLS[name], cmd.words[sub].value
            yield from self._flags(inst, cmd, prog, sub, tool, name, sized)
            if verb in tool.caches and tool.clean not in needs_clean:
                needs_clean.append(tool.clean)
        if not exact or "keepcache" in inst.args or ends_with_exit(cmds):
            return  # the author keeps the package cache on purpose, or nothing after exit runs
        for clean in needs_clean:
            if not _cleans(cmds, clean):
                yield self.change([append_command(doc, inst, cmds, clean)],
                                  f"the package cache stays in the layer; {clean} removes it",
                                  inst.line, end_line=inst.end_line)
                return  # one append per round: two would insert at the same spot

    def _flags(self, inst: Instruction, cmd: Command, prog: int, sub: int, tool: _Tool,
               name: str, sized: bool) -> Iterator[Finding]:
        verb, options = cmd.words[sub].value, cmd.words[prog + 1 :]
        if verb in tool.prompts and not has_option(options, tool.yes_long, "y"):
            at = cmd.words[sub] if tool.yes_after_verb else cmd.words[prog]
            yield self.change([insert_after(at, "-y")],
                              f"{name} {verb} without -y stops at the confirmation prompt",
                              inst.line, end_line=inst.end_line)
        if sized and tool.weak_deps and verb == "install" and not any(
                "weak_deps" in w.value for w in options):
            yield self.change(
                [insert_after(cmd.words[sub], "--setopt=install_weak_deps=0")],
                "weak dependencies are optional packages; check the app needs none at runtime",
                inst.line, end_line=inst.end_line, applicability=Applicability.REVIEW)


def _cleans(cmds: list[Command], clean: str) -> bool:
    """Whether the RUN already runs ``<tool> clean all`` (zypper: any ``clean``/``cc``)."""
    tool = clean.split()[0]
    for cmd in cmds:
        prog = program(cmd, (tool,))
        if prog is None:
            continue
        rest = {w.value for w in cmd.words[prog + 1 :]}
        if "clean" in rest and ("all" in rest or tool == "zypper") or tool == "zypper" and "cc" in rest:
            return True
    return False
