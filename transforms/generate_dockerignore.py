"""HD303 generate-dockerignore."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hardener import repo_facts as facts
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.dockerfile.dockerignore import Matcher, append_block, read_patterns
from hardener.limits import read_bounded
from hardener.model import Applicability, FileWrite, Finding, Transform
from hardener.plans.copy.devfiles import dev_plan
from hardener.plans.copy.plan import enabled_ecosystems
from hardener.plans.copy.uses import ContextUse, context_use, judge


class GenerateDockerignore(Transform):
    """Create or extend .dockerignore so secrets, VCS data and local build output stay out of the image.

    ## What it fixes
    A build context without a `.dockerignore`, or one that misses entries: VCS directories
    (`.git`), dotenv files (`.env`, `.env.production`, …), keys and certificates (`*.pem`,
    `*.key`, `id_rsa*`, …), cloud and tool credentials (`.aws`, `.ssh`, `.pypirc`, gcloud
    service-account JSON), local dependency directories (`node_modules`, `.venv`) when the
    image installs its own, build output (`dist`, `target`, …) when the image builds it,
    Python caches, test and coverage output, editor/OS junk, and the Dockerfiles and Compose
    files themselves. Only entries that match something in the context are added, and only
    when more than the Docker files themselves would be excluded. Tests, docs and dev files
    too, when the build after every `COPY .` provably does not read them: `go build` ignores
    `*_test.go` and `testdata/`; `pip install .` packages only what the build backend's
    configuration names (setuptools, hatch, poetry, flit), so `tests/`, `docs/`,
    `requirements-dev.txt`, `Makefile`, … outside it can go.

    ## Why
    `COPY . .` sends everything in the context into the image: a `.env` or a key becomes a
    layer anyone with the image can read, `.git` leaks history, and a host `node_modules`
    overwrites the one the image installed.

    ## Example
        (no .dockerignore; the context has .git/, .env, node_modules/ and RUN npm ci)
        -> .dockerignore:
           # added by hardener (generate-dockerignore): …
           .git
           **/.env
           **/node_modules

    ## Applicability
    safe: the user's lines, order and comments are kept byte for byte and one commented
    block is appended; a pattern is never added when it would exclude a path that a COPY,
    ADD or `RUN --mount=type=bind` of any Dockerfile of the context takes, a path the user
    re-included with `!`, or a name a RUN/CMD mentions (a RUN that uses git keeps `.git`).
    A `COPY .` takes what narrow-copy keeps of it (the same answer before and after
    narrow-copy rewrote it), or every file when narrow-copy cannot narrow it. The patterns
    added because a file may be a secret (`*.pem`, `*.key`, `id_rsa*`, `.env`, …) read each
    file such a COPY takes: a certificate, a public key or a `.env` without credentials
    stays in the context (the pattern is dropped, or narrowed to the secret files alone).
    review: when a file a COPY takes holds a secret by content (a private key, a PKCS#12
    store, an AWS key pair, a `password=`-style value that is not a placeholder), the
    pattern stays and the reason names the file: the image loses it, the app must get it
    at run time. Tests, docs and dev files (review): proven from the build commands, but a
    program could still open one by path at run time.

    ## Refuses when
    The existing `.dockerignore` holds a pattern Docker rejects, another Dockerfile of the
    context cannot be read, the context has too many entries to list, or a pattern had to
    be left out because something needs the path it would exclude (the refusal names the
    instruction, the file and what it holds; a secret a COPY names itself is never excluded,
    since the COPY would then fail). Tests, docs and dev files stay, and a refusal says why,
    when a RUN runs tests (`go test`, `go vet`, pytest, tox), builds docs, runs make or a
    script from the context, works on the whole tree, when no `go build`/`pip install .`
    follows the COPY, or when the backend's package list includes them or cannot be read
    (a setup.py that computes it, an unknown backend).

    ## References
    Docker docs: .dockerignore files; CIS Docker 4.10; OWASP Docker Top 10 D06
    """

    id = "HD303"
    name = "generate-dockerignore"
    targets = ("dockerfile",)
    references = ("docs.docker.com:dockerignore", "cis-docker:4.10")
    applicability = Applicability.SAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        if ctx.file is None or ctx.build_context is None:
            return
        directory = ctx.build_context
        own = directory / f"{ctx.file.name}.dockerignore"  # BuildKit prefers it to .dockerignore
        target = own if ctx.files.read(own) is not None else directory / ".dockerignore"
        existing = ctx.files.read(target) or b""
        listing = facts.listing(directory)
        docs = _docs_using(doc, ctx, target)
        problem = _problem(existing, listing, docs)
        if problem:
            yield self.refuse(problem, 1)
            return
        assert docs is not None
        enabled = enabled_ecosystems(ctx.option("narrow-copy", "ecosystems"))
        result = _plan(existing, listing.paths, directory, docs, enabled, existing)
        planned = read_patterns(existing)
        for _ in range(2):  # the block may let narrow-copy plan (node_modules gone): agree with it
            planned_with = append_block(existing, HEADER, result.added)
            if read_patterns(planned_with) == planned:
                break  # the plan reads the ignore file's patterns only: the same patterns, the same plan
            planned = read_patterns(planned_with)
            again = _plan(existing, listing.paths, directory, docs, enabled, planned_with)
            result, same = again, again.added == result.added
            if same:
                break
        for pattern, why, line in result.dropped:
            yield self.refuse(f"did not add {pattern!r} to {target.name}: {why}", line)
        for stays, name, at in result.stays:
            yield self.refuse(stays, at if ctx.file.name == name else 1)
        if result.substantive:
            content = append_block(existing, result.header, result.added)
            reason = f"{target.name}: exclude {', '.join(result.added)}"
            line = next((s.line for s in facts.context_sources(doc)), 1)
            level = None
            if result.secrets:  # the image loses files an instruction takes: a human decides
                reason += f"; review: {'; '.join(result.secrets)} (the image no longer holds it: mount it at run time)"
                level = Applicability.REVIEW
            if result.dev:  # proven from the build commands, but a program may still open one by path
                grouped = {r: [p for p, q in result.dev if q == r] for _, r in result.dev}
                reason += "; review: " + "; ".join(f"{', '.join(ps)}: {r}" for r, ps in grouped.items())
                level = Applicability.REVIEW
            yield self.change([], reason, line, applicability=level, files=(FileWrite(target, content, 0o644),))


def _problem(existing: bytes, listing: facts.Listing, docs: dict[str, DockerfileDoc] | None) -> str | None:
    if facts.ignore_matcher(existing) is None:
        return "the existing .dockerignore has a pattern Docker rejects; fix it first"
    if listing.truncated:
        return f"the build context has more than {facts.MAX_ENTRIES} entries; not listed completely"
    if docs is None:
        return "another Dockerfile in this build context cannot be parsed, so what it copies is unknown"
    return None


def _docs_using(doc: DockerfileDoc, ctx: Context, target: Path) -> dict[str, DockerfileDoc] | None:
    """Every Dockerfile of the directory that reads ``target`` (by name), this one included."""
    from hardener.discover import classify

    assert ctx.file is not None
    docs = {ctx.file.name: doc}
    if target.name != ".dockerignore":
        return docs
    for path in sorted(target.parent.iterdir()):
        if path.name in docs or not path.is_file() or classify(path.name) != "dockerfile":
            continue
        if ctx.files.read(path.parent / f"{path.name}.dockerignore") is not None:
            continue  # that Dockerfile has its own ignore file
        raw = ctx.files.read(path) or b""
        if not raw.strip():
            continue  # an empty Dockerfile builds nothing and reads nothing
        try:
            docs[path.name] = DockerfileDoc.load(raw, path.name)
        except Exception:
            return None
    return docs



HEADER = "# added by hardener (generate-dockerignore): secrets, VCS data, local build output"
# (condition, patterns); conditions are checked against the RUN lines of the context's Dockerfiles
CANDIDATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no-git", (".git", ".hg", ".svn", ".bzr")),
    ("secret", ("**/*.pem", "**/*.key", "**/id_rsa*", "**/id_dsa*", "**/id_ecdsa*", "**/id_ed25519*",
                "**/*.p12", "**/*.pfx", "**/.ssh", "**/.aws", "**/.gnupg", "**/.pypirc", "**/.netrc")),
    ("installs", ("**/node_modules", ".venv")),
    ("always", ("**/__pycache__", "**/*.pyc", ".pytest_cache", ".tox", ".nox", ".mypy_cache",
                ".ruff_cache", ".coverage", "htmlcov", "coverage", ".nyc_output")),
    ("builds", ("dist", ".next", "target")),
    ("gradle", ("build", ".gradle")),
    ("always", (".idea", ".vscode", "**/.DS_Store", "**/Thumbs.db", "**/*.swp",
                "**/npm-debug.log*", "**/yarn-error.log*")),
)
_CONDITIONS = {
    "installs": re.compile(r"\b(npm (ci|install|i)\b|yarn\b|pnpm (i|install)\b|pip3? install|poetry install"
                           r"|uv (sync|pip)|pipenv install|python3? -m venv|virtualenv)"),
    "builds": re.compile(r"\b(npm run build|yarn (run )?build|pnpm (run )?build|ng build|vite build|next build"
                         r"|tsc\b|python3? -m build|setup\.py|mvnw?\b|gradlew?\b|cargo build)"),
    "gradle": re.compile(r"\bgradlew?\b"),
    # git run on the copied tree (a clone of another repository does not need the local .git)
    "git": re.compile(r"\bgit\s+(-C\s+\S+\s+)?(describe|rev-parse|rev-list|log|submodule|status|diff|show|tag"
                      r"|branch|symbolic-ref|ls-files|ls-tree|archive|stash|pull|fetch|checkout|reset|remote)\b"
                      r"|(?<![\w.-])\.git(?![\w.-])|setuptools[_-]scm|versioneer|dunamai|hatch-vcs|\bpbr\b"),
}
_ENV_FILE = re.compile(r"\.env(\.[\w.-]+)?")
_TEMPLATE = re.compile(r"\.(example|sample|template|dist|defaults?|tpl)$")
_PLAIN = re.compile(r"[\w./@+-]+")  # a path that means itself as a .dockerignore pattern
# recreated inside the image anyway, or (git) checked by its own rule
_NOT_CHECKED_BY_NAME = {"installs", "builds", "gradle", "no-git"}


class _Plan:
    def __init__(self) -> None:
        self.added: list[str] = []
        self.substantive = False  # only Dockerfile/Compose names is not worth a new block
        self.dropped: list[tuple[str, str, int]] = []  # pattern, why, line in this Dockerfile
        self.secrets: list[str] = []  # taken files the block removes because they hold secrets
        self.dev: list[tuple[str, str]] = []  # test/doc/dev patterns and why the build does not read them
        self.stays: tuple[tuple[str, str, int], ...] = ()  # why the context's test/doc files stay (why, Dockerfile, line)
        self.header = HEADER


@dataclass(frozen=True)
class _Fit:
    """What every candidate pattern is checked against."""

    paths: tuple[str, ...]  # the whole listing
    sent: list[str]  # what Docker sends with the ignore file as it is
    directory: Path
    taken: ContextUse
    reincluded: set[str]
    this: str  # the name of the Dockerfile being run on


def _plan(existing: bytes, paths: tuple[str, ...], directory: Path, docs: dict[str, DockerfileDoc],
          enabled: list[str], planned_with: bytes) -> _Plan:
    """Which patterns to append: each must newly exclude something and hurt nothing needed.
    narrow-copy's plan of a `COPY .` is made with the ignore file ``planned_with``."""
    result = _Plan()
    patterns = read_patterns(existing)
    sent = facts.included(paths, existing)
    reincluded = {p for x in patterns if x.startswith("!") for p in paths if Matcher([x[1:]]).excluded(p)}
    taken = context_use(docs, directory, sent, enabled, facts.included(paths, planned_with))
    fit = _Fit(paths, sent, directory, taken, reincluded, next(iter(docs)))
    commands = "\n".join(i.logical for d in docs.values() for i in d.instructions
                         if i.keyword not in ("COPY", "ADD", "FROM"))
    narrowed = {(u.doc, u.source.line): frozenset(u.kept) for u in taken.named.values() if u.kept}
    dev = dev_plan(docs, directory, sent, narrowed)
    result.stays = dev.stays
    reasons = {e.pattern: e.reason for e in dev.exclusions}
    found: dict[str, bool] = {}  # each condition searched once, not once per candidate pattern

    def uses(condition: str) -> bool:
        if condition not in found:
            found[condition] = _uses(condition, commands) if len(commands) <= _USES_KEPT_CHARS else \
                _CONDITIONS[condition].search(commands) is not None
        return found[condition]

    for condition, pattern in [*_candidates(paths, directory, docs), *(("dev", p) for p in reasons)]:
        if condition == "no-git" and uses("git"):
            if _hits(pattern, paths, Matcher(patterns)):
                result.dropped.append((pattern, "a RUN or CMD uses git, which needs it", 1))
            continue
        if condition in _CONDITIONS and not uses(condition):
            continue
        chosen, why, line, secrets = _fit(pattern, patterns, fit if condition != "dev" else dev_fit(fit),
                                          by_content=condition == "secret")
        if condition == "docker-files" and not chosen:
            continue  # not worth a report: ignoring them only saves a few bytes
        if not chosen:
            if why:
                result.dropped.append((pattern, why, line))
        elif condition not in _NOT_CHECKED_BY_NAME and _named(chosen[0], commands):
            if condition != "docker-files":
                result.dropped.append((chosen[0], f"an instruction mentions {_core(chosen[0])!r}", 1))
        else:
            patterns.extend(chosen)
            result.added.extend(chosen)
            result.secrets.extend(secrets)
            result.dev += [(chosen[0], reasons[pattern])] if condition == "dev" else []
            result.substantive |= condition != "docker-files"
            if chosen != [pattern]:
                instead = f"the root-only {chosen[0]!r}" if chosen == [pattern.removeprefix("**/")] else \
                    f"{', '.join(map(repr, chosen))}, the files that hold secrets,"
                result.dropped.append((pattern, f"{why}; added {instead} instead", line))
    return result


_USES_KEPT_CHARS = 64 << 10  # longer command texts are not kept (the cache holds 1,024 texts)


@lru_cache(maxsize=1024)
def _uses(condition: str, commands: str) -> bool:
    """Whether the build commands match a condition, remembered for the next plan and round
    of the same commands (each Dockerfile is planned two to four times)."""
    return _CONDITIONS[condition].search(commands) is not None


def dev_fit(fit: _Fit) -> _Fit:
    """The check for a test/doc/dev pattern: devfiles.py proved that no build after a `COPY .`
    reads its files, so only instructions that name them (not a narrowed `COPY .`) may block it."""
    named = {p: u for p, u in fit.taken.named.items() if not u.kept}
    return _Fit(fit.paths, fit.sent, fit.directory, ContextUse(named, fit.taken.whole), fit.reincluded, fit.this)


def _candidates(paths: tuple[str, ...], directory: Path, docs: dict[str, DockerfileDoc]) -> Iterator[tuple[str, str]]:
    from hardener.discover import classify

    for condition, patterns in CANDIDATES[:2]:
        yield from ((condition, p) for p in patterns)
    env_names = sorted({p.rsplit("/", 1)[-1] for p in paths if _ENV_FILE.fullmatch(p.rsplit("/", 1)[-1])})
    yield from (("secret", f"**/{n}") for n in env_names if not _TEMPLATE.search(n))
    yield from (("secret", p) for p in paths if p.endswith(".json") and _service_account(directory / p))
    for condition, patterns in CANDIDATES[2:]:
        yield from ((condition, p) for p in patterns)
    yield from (("docker-files", p) for p in paths if "/" not in p and classify(p) is not None)


def _fit(pattern: str, patterns: list[str], fit: _Fit, *, by_content: bool) -> tuple[list[str], str, int, tuple[str, ...]]:
    """The pattern, its root-only form, or (``by_content``) the exact paths of the secret files
    it hits, whichever is the first to hurt nothing needed; else [], why and a line."""
    why, line = "", 1
    secret_paths: tuple[str, ...] = ()
    for variant in (pattern, pattern.removeprefix("**/")) if pattern.startswith("**/") else (pattern,):
        new = _hits(variant, fit.paths, Matcher(patterns))
        if not new:
            break  # the narrower form hits nothing: only the secret files alone may still go
        verdict = judge(fit.taken, new, fit.sent, fit.directory, by_content=by_content)
        if verdict.blocker is not None and verdict.use is not None:
            why, line = verdict.blocker, verdict.use.source.line if verdict.use.doc == fit.this else 1
            secret_paths = secret_paths or verdict.secret_paths
            continue
        kept = next((p for p in new if p in fit.reincluded), None)
        if kept is not None:
            why = f"the existing .dockerignore re-includes {kept} with '!'"
            continue
        return [variant], why, line, verdict.secrets  # a narrower form fits: why says what the wider one hit
    exact = [p for p in secret_paths if _PLAIN.fullmatch(p) and p not in fit.reincluded]
    alone = judge(fit.taken, exact, fit.sent, fit.directory, by_content=True) if exact else None
    if alone is None or alone.blocker is not None or set(alone.secret_paths) != set(exact):
        return [], why, line, ()
    return exact, why, line, alone.secrets


def _hits(pattern: str, paths: tuple[str, ...], current: Matcher) -> list[str]:
    """Paths the pattern would newly exclude (appended last, it wins where it matches)."""
    single = Matcher([pattern])
    return [p for p in paths if single.excluded(p) and not current.excluded(p)]


def _core(pattern: str) -> str:
    return pattern.removeprefix("**/").replace("*", "").strip("/")


def _named(pattern: str, commands: str) -> bool:
    core = _core(pattern)
    return len(core) > 2 and core in commands


def _service_account(path: Path) -> bool:
    try:
        head = read_bounded(path, 4096, truncate=True)
    except OSError:
        return False
    return b'"service_account"' in head and b"private_key" in head
