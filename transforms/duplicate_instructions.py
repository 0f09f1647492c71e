"""HD408 duplicate-instructions."""
from __future__ import annotations

from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform

# only the last of each takes effect in a stage's image configuration
_LAST_WINS = ("CMD", "ENTRYPOINT", "HEALTHCHECK")


class DuplicateInstructions(Transform):
    """Delete CMD, ENTRYPOINT and HEALTHCHECK instructions that a later one overrides.

    ## What it fixes
    A stage with more than one `CMD`, `ENTRYPOINT` or `HEALTHCHECK`: every one but the
    last is deleted (its lines and their line break; comments above it stay).

    ## Why
    Only the last of each sets the image configuration; the earlier ones are dead code
    that misleads the reader about how the container starts or is health-checked.

    ## Example
        CMD ["npm", "run", "dev"]
        COPY . /app
        CMD ["npm", "start"]
        ->  COPY . /app
            CMD ["npm", "start"]

    ## Applicability
    safe: the image configuration is the same (an ENTRYPOINT resets an inherited CMD
    only when the stage set none before it, which the deletion does not change).

    ## Refuses when
    A duplicate has comments inside its continuation lines (they would be lost).

    ## References
    hadolint DL4003, DL4004, DL3012
    """

    id = "HD408"
    name = "duplicate-instructions"
    targets = ("dockerfile",)
    references = ("hadolint:DL4003", "hadolint:DL4004", "hadolint:DL3012")
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for stage in doc.stages:
            for keyword in _LAST_WINS:
                same = [i for i in stage.instructions if i.keyword == keyword]
                for inst in same[:-1]:
                    yield self._delete(doc, inst, same[-1])

    def _delete(self, doc: DockerfileDoc, inst: Instruction, last: Instruction) -> Finding:
        if inst.comments_inside:
            return self.refuse(
                f"a later {inst.keyword} on line {last.line} overrides this one, but comments "
                "inside its continuation lines would be lost; delete it by hand", inst.line)
        start = doc.lines[inst.line - 1].start
        end = doc.lines[inst.end_line - 1].next
        reason = (f"only the last {inst.keyword} of a stage takes effect; the one on line "
                  f"{last.line} overrides this one")
        return self.change([Edit(start, end, "")], reason, inst.line, end_line=inst.end_line)


# ------------------------------------------------------------------------------------------
# Deletion helpers shared by the transforms that remove instructions, ENV/ARG pairs, words
# or whole commands of a RUN (HD102, HD302). They delete exactly one adjacent blank so no
# double spaces, empty continuation lines or dangling operators remain.






















