"""HD403 apk-no-cache."""
from __future__ import annotations

from collections.abc import Iterator

from hardener.ci.images import image_stages_of
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.dockerfile.reach import builder_note
from hardener.dockerfile.shell_edit import has_cache_under, has_option, insert_after, program, shell_runs, subcommand
from hardener.model import Applicability, Finding, Transform

# global apk options that take their value as the next word
_APK_VALUE_OPTS = ("-X", "--repository", "-p", "--root", "--arch", "--cache-dir", "--keys-dir",
                   "--repositories-file", "--cache-max-age", "--wait", "--timeout")
_CACHE_PATHS = ("/var/cache/apk", "/etc/apk/cache")


class ApkNoCache(Transform):
    """Install Alpine packages with `apk add --no-cache`.

    ## What it fixes
    `apk add` without `--no-cache`.

    ## Why
    Without it apk keeps the package index (and, with a cache directory, the packages)
    in `/var/cache/apk`: a few MB per layer that the image never uses. `--no-cache`
    fetches a fresh index for the install and stores nothing.

    ## Example
        RUN apk add curl                ->  RUN apk add --no-cache curl

    ## Applicability
    safe: `--no-cache` installs the same packages from a freshly fetched index.
    An `apk update` or `rm -rf /var/cache/apk/*` already in the RUN is left as it is;
    both become redundant but harmless.

    Only stages in the image get it: the built stage (Compose's `target`, else the last),
    the stages it is built FROM and those it copies wholesale (`COPY --from=x / /`). A
    builder stage whose files are copied one by one is thrown away with its cache.

    ## Refuses when
    Never refuses, but notes a builder stage it leaves alone (once per stage). RUNs
    with a cache mount on /var/cache/apk or /etc/apk/cache, exec-form
    and heredoc RUNs, and `case` blocks are left alone. Calls inside if/for blocks and
    subshells are fixed too.

    ## References
    hadolint DL3019
    """

    id = "HD403"
    name = "apk-no-cache"
    targets = ("dockerfile",)
    references = ("hadolint:DL3019",)
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        stages = image_stages_of(doc, ctx)
        noted: set[int] = set()
        for inst, cmds, _ in shell_runs(doc, loose=True):
            if has_cache_under(inst, _CACHE_PATHS):
                continue
            for cmd in cmds:
                prog = program(cmd, ("apk",))
                sub = None if prog is None else subcommand(cmd, prog, _APK_VALUE_OPTS)
                if sub is None or cmd.words[sub].value != "add":
                    continue
                if has_option(cmd.words, ("--no-cache",)):
                    continue
                if not stages.reaches(inst):
                    if inst.stage not in noted:
                        noted.add(inst.stage)
                        yield self.refuse(builder_note(doc, inst, "--no-cache"), inst.line)
                else:
                    yield self.change(
                        [insert_after(cmd.words[sub], "--no-cache")],
                        "apk keeps its index in /var/cache/apk; --no-cache stores nothing",
                        inst.line, end_line=inst.end_line)
