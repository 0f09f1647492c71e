"""HD609 interpolation-secrets."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hardener.compose.doc import ComposeDoc
from hardener.compose.env_files import env_credentials, env_paths
from hardener.compose.git_index import tracked
from hardener.compose.interpolation_env import interpolation_files
from hardener.compose.weak_secrets import references, weak_defaults
from hardener.context import Context
from hardener.model import Applicability, Finding, Transform


class InterpolationSecrets(Transform):
    """Report credentials that reach a Compose file through interpolation: weak defaults and a tracked `.env`.

    ## What it fixes
    Nothing by itself: it reports `${VAR:-default}` and `${VAR-default}` defaults that are
    weak credentials, anywhere in the file (environment, command, labels, healthcheck …),
    and literal credentials that git tracks in the files Compose interpolates it from: the
    `.env` next to it, the `.env` of each project that loads it, and the `--env-file` of
    each repository command that runs it (compose/interpolation_env.py).
    A default is weak when the variable is a credential by name (password, secret, token,
    api/private/access key, `*_KEY` such as `ENCRYPTION_KEY`) and the value is a placeholder
    (`changeme`, `secret`, `admin`, `example`, `test` …), one character repeated (an all-zero key),
    a counting or keyboard sequence, or shorter than 12
    characters; a URL default whose password is weak; or a value that is a password
    placeholder (`changeme`, `mysecret` …) whatever the variable is called. Each report
    names the file, line and variable, and why the value is weak by category: never the value.

    ## Why
    `${NEXTAUTH_SECRET:-mysecret}` starts the stack with a secret that is printed in the
    repository whenever the variable is not set, silently: nobody notices that production
    signs its sessions with `mysecret`. A `.env` that git tracks publishes every value in it
    to each clone and fork. (Literal credentials in `environment:` and in `env_file:` files
    are compose-secrets' (HD607), except in an env file that is also the interpolation file:
    that one is reported here, once, with every credential in it, because its values reach
    every `${VAR}` of the project and HD607 could not move them without taking them from
    those uses.)

    ## Example
        environment:
          NEXTAUTH_SECRET: ${NEXTAUTH_SECRET:-mysecret}
        -> refused: "weak default for the credential NEXTAUTH_SECRET (a placeholder) …"

    ## Applicability
    report only. No edit keeps behaviour: `${VAR:?VAR must be set}` makes `docker compose up`
    fail where it started before, dropping the default passes an empty value, and a generated
    random value would lock the app out of data already encrypted or signed with the old one
    (an `ENCRYPTION_KEY`). Which value is right is the operator's decision.

    ## Refuses when
    Always, for each finding above: the refusal is the report. An interpolation file's
    credential is reported where the file first uses it (or, unused but read as `env_file`,
    at the first service reading it). An env file is reported only when the repository's
    git index lists it (read without running git); with no git repository whether it is
    committed is unknown and it is not reported. Strong-looking
    defaults (12 characters or more, no placeholder word), empty defaults, `${VAR:?err}`,
    `$${…}` (escaped) and non-credential names (`${PORT:-8080}`) are not reported.

    ## References
    CWE-1392 (use of default credentials), CWE-798 (hard-coded credentials), OWASP Docker
    Security Cheat Sheet rule 12
    """

    id = "HD609"
    name = "interpolation-secrets"
    targets = ("compose",)
    references = ("cwe:1392", "cwe:798", "owasp-docker:12")
    applicability = Applicability.REVIEW
    report_only = True
    # Every string of the file can hold a `${VAR:-default}`; it edits nothing.
    reads = ("environment", "command", "entrypoint", "labels", "healthcheck", "image", "env_file")
    writes = ()

    def run(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        for weak in weak_defaults(doc):
            yield self.refuse(f"weak default for the credential {weak.name} ({weak.why}): the stack runs with it "
                              f"whenever {weak.name} is not set; drop the default and set the value outside the "
                              f"repository (an untracked .env, the environment, a secret)", weak.line)
        yield from self._dotenv(doc, ctx)

    def _dotenv(self, doc: ComposeDoc, ctx: Context) -> Iterator[Finding]:
        """Credentials of each tracked interpolation file (``.env``, ``--env-file``) that this
        file interpolates, at their first use; all of them when a service also reads the file
        as its ``env_file`` (then the container gets every value, used or not)."""
        if ctx.file is None:
            return
        used = references(doc)
        readers = _env_file_readers(doc, ctx.file.parent)
        for source in interpolation_files(ctx):
            data = ctx.files.read(source.path)
            if not data or tracked(ctx.root, source.path) is not True:
                continue
            shown = _shown(source.path, ctx.file.parent)
            how = f" ({source.how})" if source.how else ""
            services = readers.get(source.path.resolve(), [])
            for entry in env_credentials(data.decode("utf-8", "replace")):
                if entry.name not in used and not services:
                    continue
                uses = ["this file interpolates"] if entry.name in used else []
                uses += [f"{'service' if len(services) == 1 else 'services'} {', '.join(services)} "
                         f"{'reads' if len(services) == 1 else 'read'} as env_file"] if services else []
                yield self.refuse(f"literal credential {entry.name} in {shown} line {entry.line}{how}, which git "
                                  f"tracks and {' and '.join(uses)}: rotate it, untrack {shown} (`git rm --cached "
                                  f"{shown}`, add it to .gitignore) and commit a {Path(shown).name}.example without "
                                  "values", used.get(entry.name) or _services_line(doc, services))


def _env_file_readers(doc: ComposeDoc, directory: Path) -> dict[Path, list[str]]:
    readers: dict[Path, list[str]] = {}
    for service in doc.services():
        for path in env_paths(service.node, directory):
            readers.setdefault(path.resolve(), []).append(service.name)
    return readers


def _services_line(doc: ComposeDoc, names: list[str]) -> int:
    return next((s.line for s in doc.services() if s.name in names), 1)


def _shown(path: Path, directory: Path) -> str:
    try:
        return path.resolve().relative_to(directory.resolve()).as_posix()
    except ValueError:
        return path.name
