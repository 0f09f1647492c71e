"""HD301 add-to-copy."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.edits import Edit
from hardener.limits import read_bounded
from hardener.model import Applicability, Finding, Transform
from hardener.why import Why

_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_ARCHIVE_NAME = re.compile(r"\.(tar|tgz|tbz2?|txz|tzst|gz|bz2|xz|zst|lz4|z)$", re.IGNORECASE)
_ADD_ONLY_FLAGS = {"checksum", "keep-git-dir", "unpack"}
# magic numbers of the formats ADD unpacks (Docker detects archives by content, not name)
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


class AddToCopy(Transform):
    """Use COPY instead of ADD for local files that are not archives.

    ## What it fixes
    `ADD` of a local file or directory that is neither a URL nor a tar archive.

    ## Why
    `ADD` also downloads URLs and unpacks tar archives, silently. `COPY` does only what
    it says, so a reviewer sees exactly what enters the image.

    ## Example
        ADD requirements.txt /app/      ->  COPY requirements.txt /app/

    ## Applicability
    safe when every source was found in the build context and is not an archive by its
    content; review when a source could not be inspected (not in the context, a wildcard
    or a variable) and only its name says it is no archive.

    ## Refuses when
    A source is a URL or git address, looks like an archive, the instruction uses a
    flag only ADD knows (`--checksum`, `--keep-git-dir`, `--unpack`), or the destination
    is relative while the stage sets no WORKDIR (hadolint DL3045 would flag the COPY).

    ## References
    hadolint DL3020, checkov CKV_DOCKER_4
    """

    id = "HD301"
    name = "add-to-copy"
    targets = ("dockerfile",)
    references = ("hadolint:DL3020", "checkov:CKV_DOCKER_4")
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for inst in doc.walk():
            if inst.keyword == "ADD":
                yield from self._one(doc, inst, ctx)

    def _one(self, doc: DockerfileDoc, inst: Instruction, ctx: Context) -> Iterator[Finding]:
        add_only = sorted({f.name.lower() for f in inst.flags} & _ADD_ONLY_FLAGS)
        if add_only:
            yield self.refuse(f"--{add_only[0]} has no COPY equivalent", inst.line)
            return
        sources = _sources(inst)
        if sources is None:
            return  # malformed; the BuildKit judge reports it
        if _relative_without_workdir(doc, inst):
            yield self.refuse(
                "the destination is relative and the stage sets no WORKDIR (hadolint DL3045); "
                "make it absolute or set WORKDIR first", inst.line)
            return
        verdicts = [_verdict(s, ctx.build_context) for s in sources]
        refusal = next((v for v in verdicts if isinstance(v, Why)), None)
        if refusal:
            yield self.refuse(refusal, inst.line)
            return
        keyword = doc.text[inst.keyword_start : inst.keyword_end]
        new = "copy" if keyword.islower() else "COPY"
        unsure = [s for s, v in zip(sources, verdicts) if v == "unsure"]
        level = Applicability.REVIEW if unsure else Applicability.SAFE
        reason = "ADD of local files: COPY does the same without URL fetching or archive unpacking"
        if unsure:
            reason += f"; {unsure[0]!r} was not inspected, only its name says it is no tar archive"
        yield self.change([Edit(inst.keyword_start, inst.keyword_end, new)], reason, inst.line,
                          end_line=inst.end_line, applicability=level)


def _sources(inst: Instruction) -> list[str] | None:
    if inst.heredocs:
        return []
    words = list(inst.json) if inst.json is not None else inst.args.split()
    return words[:-1] if len(words) >= 2 else None


def _relative_without_workdir(doc: DockerfileDoc, inst: Instruction) -> bool:
    words = list(inst.json) if inst.json is not None else inst.args.split()
    dest = words[-1] if words else "/"
    if dest.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", dest):
        return False
    stage = doc.stages[inst.stage] if 0 <= inst.stage < len(doc.stages) else None
    while stage is not None:
        if any(i.keyword == "WORKDIR" and i.line < inst.line for i in stage.instructions):
            return False
        stage = doc.stage_named(stage.base, before=stage.index)
    return True


def _verdict(source: str, context_dir: Path | None) -> Literal["safe", "unsure"] | Why:
    """'safe', 'unsure' (name only) or why not."""
    if _REMOTE.match(source):
        return Why("the source is a URL; ADD downloads it (pin it with --checksum instead)")
    if _ARCHIVE_NAME.search(source.rstrip("/")):
        return Why("the source looks like an archive, which ADD unpacks and COPY would not")
    if "$" in source or any(ch in source for ch in "*?["):
        return "unsure"
    if context_dir is None:
        return "unsure"
    path = (context_dir / source.lstrip("/")).resolve()
    if not path.exists():
        return "unsure"
    if path.is_file() and _is_archive(path):
        return Why("the source is a tar or compressed archive, which ADD unpacks")
    return "safe"


def _is_archive(path: Path) -> bool:
    try:
        head = read_bounded(path, 512, truncate=True)
    except OSError:
        return True  # cannot look: assume the worst
    return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"
