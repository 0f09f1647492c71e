"""HD501 maintainer-to-label."""
from __future__ import annotations

from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform

AUTHORS = "org.opencontainers.image.authors"


class MaintainerToLabel(Transform):
    """Replace the deprecated MAINTAINER with the OCI authors label.

    ## What it fixes
    `MAINTAINER name <mail>`, deprecated since Docker 1.13.

    ## Why
    Tools read authorship from the standard `org.opencontainers.image.authors` label;
    MAINTAINER is only kept for backwards compatibility.

    ## Example
        MAINTAINER Jane <jane@example.com>
        ->  LABEL org.opencontainers.image.authors="Jane <jane@example.com>"

    ## Applicability
    safe: only image metadata changes.

    ## Refuses when
    The stage already sets `org.opencontainers.image.authors` (the two might disagree),
    or comments sit inside the MAINTAINER's continuation lines.

    ## References
    hadolint DL4000, checkov CKV_DOCKER_6
    """

    id = "HD501"
    name = "maintainer-to-label"
    targets = ("dockerfile",)
    references = ("hadolint:DL4000", "checkov:CKV_DOCKER_6")
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for stage in doc.stages:
            has_label = any(i.keyword == "LABEL" and AUTHORS in i.args for i in stage.instructions)
            for inst in stage.instructions:
                if inst.keyword == "MAINTAINER":
                    yield from self._one(doc, inst, has_label)

    def _one(self, doc: DockerfileDoc, inst: Instruction, has_label: bool) -> Iterator[Finding]:
        if has_label:
            yield self.refuse(f"the stage already sets {AUTHORS}; remove MAINTAINER by hand", inst.line)
            return
        if inst.comments_inside:
            yield self.refuse("comments inside its continuation lines would be lost", inst.line)
            return
        keyword = doc.text[inst.keyword_start : inst.keyword_end]
        label = "label" if keyword.islower() else "LABEL"
        text = f'{label} {AUTHORS}="{_escape(inst.args, doc.escape)}"'
        yield self.change([Edit(inst.keyword_start, inst.args_end, text)],
                          f"MAINTAINER is deprecated; {AUTHORS} is the standard place", inst.line,
                          end_line=inst.end_line)


def _escape(value: str, escape: str) -> str:
    """Quote for LABEL, which expands variables and quotes while MAINTAINER did neither."""
    out = value.replace(escape, escape * 2)
    return out.replace('"', escape + '"').replace("$", escape + "$")
