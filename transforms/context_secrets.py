"""HD304 context-secrets."""
from __future__ import annotations

from collections.abc import Iterator

from hardener import repo_facts as facts
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge.secret_files import secret_kind
from hardener.model import Applicability, Finding, Transform

MAX_LISTED = 5


class ContextSecrets(Transform):
    """Report secret-looking files that a COPY or ADD would put into the image.

    ## What it fixes
    Nothing by itself: for each COPY/ADD it lists the files it would copy from the build
    context (after the `.dockerignore`) that look like secrets: dotenv files, private keys
    and certificates, SSH keys, `.ssh`/`.aws`/`.gnupg` directories, `.pypirc`, `.netrc`,
    an `.npmrc` holding an `_authToken`, gcloud service-account JSON, Terraform state.
    Templates such as `.env.example` are not reported.

    ## Why
    A file copied into a layer stays readable by anyone who can pull the image, even when
    a later instruction deletes it. Whether a file is really a secret, and how the app
    should get it instead, is a decision for a human.

    ## Example
        COPY . .    (the context holds .env and deploy/id_rsa)
        -> refused: "COPY . copies secret-looking files into the image: .env (dotenv file), …"

    ## Applicability
    report only (no change is made). generate-dockerignore excludes such files where no
    COPY names them; pass secrets at runtime or with `RUN --mount=type=secret`.

    ## Refuses when
    Always, once per COPY/ADD that copies such files: the refusal is the report.

    ## References
    hadolint DL3020 (context); CIS Docker 4.10; OWASP Docker Top 10 D06
    """

    id = "HD304"
    name = "context-secrets"
    targets = ("dockerfile",)
    references = ("cis-docker:4.10",)
    applicability = Applicability.REVIEW
    report_only = True

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        if ctx.file is None or ctx.build_context is None:
            return
        directory = ctx.build_context
        own = ctx.files.read(directory / f"{ctx.file.name}.dockerignore")
        ignore = own if own is not None else ctx.files.read(directory / ".dockerignore")
        sent = facts.included(facts.listing(directory).paths, ignore)
        for source in facts.context_sources(doc):
            if source.keyword not in ("COPY", "ADD"):
                continue  # a RUN bind mount does not stay in the image
            copied = sent if source.regex is None else list(facts.needed_by([source], sent))
            found = [(p, why) for p in copied if (why := secret_kind(directory, p))]
            if found:
                yield self.refuse(_message(source, found), source.line)


def _message(source: facts.Source, found: list[tuple[str, str]]) -> str:
    listed = ", ".join(f"{p} ({why})" for p, why in found[:MAX_LISTED])
    more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
    return (f"{source.keyword} {source.text} copies secret-looking files into the image: {listed}{more}; "
            "exclude them in .dockerignore and pass secrets at runtime or with RUN --mount=type=secret")
