"""HD302 build-secrets."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Instruction, Stage
from hardener.dockerfile.removal import Pair, env_pairs, overlapping, remove_pairs
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform
from hardener.why import Why

# BuildKit's SecretsUsedInArgOrEnv tokens, without the bare "key" (GPG_KEY is a public
# fingerprint) but with the compound keys that are secrets
_DENY = re.compile(r"(?:^|_)(apikey|auth|credentials?|password|passphrase|pword|passwd|secret|token"
                   r"|(api|private|access|secret|auth|signing|encryption|ssh)_key)(?:_|$)", re.I)
_ALLOW = re.compile(r"(?:^|_)(public|file|version|path|dir|url|uri|name|user|username|id|type"
                    r"|length|endpoint|host|port|method|mode|enabled|header|image)(?:_|$)", re.I)
# values that are secrets whatever their name (checkov/gitleaks style, high confidence only)
_SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY|gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{30,}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20}|sk_live_[A-Za-z0-9]{20,}"
    r"|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}")
_OLD_FRONTEND = re.compile(r"^(?:docker\.io/)?docker/dockerfile:1\.(\d)(?:\.\d+)?(?:-labs)?$")
_SYNTAX_OK = re.compile(r"^(?:docker\.io/)?docker/dockerfile(?::(1|1-labs|labs|latest|1\.\d{2,}.*))?$")


def secret_name(name: str) -> bool:
    return bool(_DENY.search(name)) and not _ALLOW.search(name)


class BuildSecrets(Transform):
    """Pass secret build arguments as BuildKit secret mounts instead of ARG.

    ## What it fixes
    An `ARG` whose name says it holds a secret (`NPM_TOKEN`, `DB_PASSWORD`,
    `AWS_SECRET_ACCESS_KEY` …): the ARG goes and every RUN of the stage after it gets
    `--mount=type=secret,id=<name>,env=<NAME>`, so the commands still see the variable.
    `# syntax=docker/dockerfile:1` is added when the file has no syntax directive.

    ## Why
    Build arguments are recorded in the image history and the build cache; anyone
    with the image can read them. A secret mount exists only while the RUN runs.

    ## Example
        ARG NPM_TOKEN
        RUN npm ci
        ->  RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci
    Build with `docker build --secret id=npm_token,env=NPM_TOKEN .`, or in Compose
    `build: {secrets: [npm_token]}` with a top-level `secrets: {npm_token: {environment:
    NPM_TOKEN}}`.

    ## Applicability
    unsafe: the build invocation changes (`--build-arg` becomes `--secret`).

    ## Refuses when
    The ARG or an ENV has a literal value that looks like a secret (it is in the
    repository: rotate it; the value is never printed), an ENV names a secret (the
    running container may need it), the ARG is used by an instruction other than RUN,
    declared twice in the stage or defaults to another variable, or the syntax
    directive pins a frontend older than docker/dockerfile:1.10 (needed for `env=`).

    ## References
    BuildKit check SecretsUsedInArgOrEnv, hadolint DL3064-style secret names
    """

    id = "HD302"
    name = "build-secrets"
    targets = ("dockerfile",)
    references = ("buildkit:SecretsUsedInArgOrEnv",)
    applicability = Applicability.UNSAFE

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        plan: list[tuple[Instruction, list[Pair], list[Pair]]] = []
        for inst in doc.instructions:
            if inst.keyword not in ("ARG", "ENV"):
                continue
            pairs = env_pairs(doc, inst)
            movable: list[Pair] = []
            for pair in pairs:
                verdict = self._judge(doc, inst, pair)
                if isinstance(verdict, Why):
                    yield self.refuse(verdict, inst.line)
                elif verdict:
                    movable.append(pair)
            if movable:
                plan.append((inst, pairs, movable))
        if plan:
            yield from self._move(doc, plan)

    def _judge(self, doc: DockerfileDoc, inst: Instruction, pair: Pair) -> bool | Why:
        """True: move it to a secret mount; False: not a secret; Why: a refusal."""
        literal = pair.has_value and pair.value and "$" not in pair.value
        if literal and _SECRET_VALUE.search(pair.value):
            return Why(f"{inst.keyword} {pair.name} holds a literal secret: rotate it, then pass it "
                       "as a build secret")
        if not secret_name(pair.name) or (literal and pair.value.startswith(("/", "./"))):
            return False
        if literal:
            return Why(f"{inst.keyword} {pair.name} has a literal value in the Dockerfile: if it is a real "
                       "secret, rotate it and pass it as a build secret")
        if inst.stage < 0 or (inst.keyword == "ENV" and not pair.value):
            return False  # a global ARG only supplies defaults; an empty ENV holds nothing
        if inst.keyword == "ENV":
            return Why(f"ENV {pair.name} looks like a secret, but the running container may need it; "
                       "move it to a runtime secret by hand")
        return self._usable(doc, inst, pair)

    def _usable(self, doc: DockerfileDoc, inst: Instruction, pair: Pair) -> bool | Why:
        if pair.has_value and pair.value:
            return Why(f"ARG {pair.name} defaults to another variable, which a secret cannot express")
        stage = doc.stages[inst.stage]
        same = [i for i in stage.instructions if i.keyword == "ARG"
                and any(p.name == pair.name for p in env_pairs(doc, i))]
        if len(same) > 1:
            return Why(f"ARG {pair.name} is declared twice in the stage; merge them first")
        later = [i for i in stage.instructions if i.start > inst.start]
        other = next((i for i in later if i.keyword != "RUN" and _mentions(doc, i, pair.name)), None)
        if other is not None:
            return Why(f"ARG {pair.name} is used by {other.keyword} on line {other.line}; "
                       "a secret mount only reaches RUN")
        if not any(i.keyword == "RUN" for i in later):
            return False
        problem = _frontend_problem(doc)
        return Why(f"ARG {pair.name}: {problem}") if problem else True

    def _move(self, doc: DockerfileDoc, plan: list[tuple[Instruction, list[Pair], list[Pair]]]
              ) -> Iterator[Finding]:
        mounts: dict[int, list[str]] = {}
        edits: list[Edit] = []
        for inst, pairs, movable in plan:
            removal = remove_pairs(doc, inst, pairs, movable)
            if removal is None:
                yield self.refuse(f"ARG {movable[0].name}: comments inside the instruction would be "
                                  "lost; move it to a secret by hand", inst.line)
                return
            edits += removal
            for pair in movable:
                for run in _runs_after(doc.stages[inst.stage], inst):
                    if not _has_secret_env(run, pair.name):
                        mounts.setdefault(run.keyword_end, []).append(_mount(pair.name))
        edits += [Edit(at, at, "".join(f" {m}" for m in ms)) for at, ms in mounts.items()]
        if not any(d.name == "syntax" for d in doc.directives):
            edits.append(Edit(0, 0, f"# syntax=docker/dockerfile:1{doc.newline}"))
        names = [p.name for _, _, movable in plan for p in movable]
        if overlapping(edits):
            yield self.refuse(f"ARG {names[0]}: the edits overlap; move it by hand", plan[0][0].line)
            return
        flags = " ".join(f"--secret id={n.lower()},env={n}" for n in names)
        compose = ", ".join(n.lower() for n in names)
        reason = (f"build arguments {', '.join(names)} are kept in the image history; a secret mount "
                  f"is not. Build with `docker build {flags}`, or in Compose list [{compose}] under "
                  "build.secrets and define them in the top-level secrets (environment: NAME)")
        yield self.change(edits, reason, plan[0][0].line, end_line=plan[-1][0].end_line)


def _mount(name: str) -> str:
    return f"--mount=type=secret,id={name.lower()},env={name}"


def _runs_after(stage: Stage, inst: Instruction) -> list[Instruction]:
    return [i for i in stage.instructions if i.keyword == "RUN" and i.start > inst.start]


def _has_secret_env(run: Instruction, name: str) -> bool:
    return any(f.name.lower() == "mount" and f"env={name}" in (f.value or "") for f in run.flags)


def _mentions(doc: DockerfileDoc, inst: Instruction, name: str) -> bool:
    text = inst.logical + "".join(h.body(doc.text) for h in inst.heredocs)
    return bool(re.search(rf"\$\{{?{re.escape(name)}\b", text))


def _frontend_problem(doc: DockerfileDoc) -> str | None:
    syntax = next((d.value.strip() for d in doc.directives if d.name == "syntax"), None)
    if syntax is None or _SYNTAX_OK.match(syntax):
        return None
    if _OLD_FRONTEND.match(syntax):
        return f"the syntax directive pins {syntax}; secret mounts with env= need docker/dockerfile:1.10"
    return f"the syntax directive names {syntax}; cannot tell whether it supports secret env mounts"
