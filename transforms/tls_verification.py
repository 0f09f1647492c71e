"""HD102 tls-verification."""
from __future__ import annotations

import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile import removal as rm
from hardener.dockerfile.doc import DockerfileDoc, Instruction
from hardener.dockerfile.shell import Command, Word, commands
from hardener.edits import Edit
from hardener.model import Applicability, Finding, Transform
from hardener.why import Why

PROXY = "builds behind a TLS-intercepting proxy need its CA installed instead"
# variable -> the values that switch verification off (None: any non-empty value)
_ENV: dict[str, tuple[str, ...] | None] = {
    "PYTHONHTTPSVERIFY": ("0",), "NODE_TLS_REJECT_UNAUTHORIZED": ("0",),
    "NPM_CONFIG_STRICT_SSL": ("false",), "GIT_SSL_NO_VERIFY": None, "PIP_TRUSTED_HOST": None,
}
# tool -> flags that switch signature or certificate checks off
_FLAGS: dict[str, tuple[str, ...]] = {
    "curl": ("--insecure",), "wget": ("--no-check-certificate",),
    "apt-get": ("--allow-unauthenticated", "--force-yes"),
    "apt": ("--allow-unauthenticated", "--force-yes"),
    "aptitude": ("--allow-untrusted",), "apk": ("--allow-untrusted",),
    "yum": ("--nogpgcheck",), "dnf": ("--nogpgcheck",), "tdnf": ("--nogpgcheck",),
    "microdnf": ("--nogpgcheck",),
    "rpm": ("--nosignature", "--nodigest", "--nofiledigest", "--noverify"),
}
_SSLVERIFY_OFF = re.compile(
    r"^--setopt=['\"]?([^=\s]+\.)?sslverify['\"]?=['\"]?(0|false|no)['\"]?$", re.I)
_CURL_SHORT_WITH_VALUE = set("AbcCdDeEFHKmoPQrtTuUwxXyYz")
_CURL_LONG_WITH_VALUE = {"--header", "--output", "--data", "--user", "--request", "--url", "--cacert",
                         "--user-agent", "--referer", "--cookie", "--form", "--write-out", "--proxy"}
_WRAPPERS = {"sudo", "env", "xargs", "exec", "command", "time", "nice", "nohup", "timeout", "stdbuf"}
_PLAIN_HTTP_INDEX = re.compile(r"(index-url|INDEX_URL)[\s=]+[\"']?http://", re.I)


class TlsVerification(Transform):
    """Remove the switches that turn off TLS certificate and package signature checks.

    ## What it fixes
    `curl -k/--insecure`, `wget --no-check-certificate`, `pip --trusted-host`,
    `npm|yarn config set strict-ssl false`, `git -c http.sslVerify=false`,
    `apt-get --allow-unauthenticated/--force-yes`, `yum|dnf --nogpgcheck`,
    `rpm --nosignature/--nodigest`, `apk --allow-untrusted`, `sslverify=0` options, and
    `PYTHONHTTPSVERIFY=0`, `NODE_TLS_REJECT_UNAUTHORIZED=0`, `NPM_CONFIG_STRICT_SSL=false`,
    `GIT_SSL_NO_VERIFY`, `PIP_TRUSTED_HOST` in ENV, ARG or a RUN.

    ## Why
    Without certificate or signature checks anyone on the network path can swap the
    download: the image then runs code nobody reviewed.

    ## Example
        RUN curl -fsSLk https://example.com/install.sh -o /tmp/i.sh
        ->  RUN curl -fsSL https://example.com/install.sh -o /tmp/i.sh

    ## Applicability
    review: a build that only worked without the checks fails until the cause is
    fixed (builds behind a TLS-intercepting proxy need its CA installed instead).
    `--force-yes` becomes `-y` when nothing else answers apt's prompt.

    ## Refuses when
    pip uses a plain-http index (`--trusted-host` is what lets it in), apk installs a
    local unsigned `.apk`, the switch sits in shell code that cannot be split safely
    or its removal would swallow a comment or join `||`/`|` operators.

    ## References
    checkov CKV2_DOCKER_2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    """

    id = "HD102"
    name = "tls-verification"
    targets = ("dockerfile",)
    references = tuple(f"checkov:CKV2_DOCKER_{n}" for n in range(2, 17))
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        for inst in doc.walk():
            if inst.keyword in ("ENV", "ARG"):
                yield from self._variables(doc, inst)
            elif inst.keyword == "RUN":
                yield from self._run(doc, inst)

    def _variables(self, doc: DockerfileDoc, inst: Instruction) -> Iterator[Finding]:
        pairs = rm.env_pairs(doc, inst)
        bad = [p for p in pairs if _disables(p.name, p.value)]
        if not bad:
            return
        if any(p.name == "PIP_TRUSTED_HOST" for p in bad) and _PLAIN_HTTP_INDEX.search(doc.text):
            yield self.refuse("pip uses a plain-http index, which PIP_TRUSTED_HOST lets in; "
                              "serve the index over https first", inst.line)
            return
        edits = rm.remove_pairs(doc, inst, pairs, bad)
        names = ", ".join(p.name for p in bad)
        if edits is None:
            yield self.refuse(f"{inst.keyword} {names} turns off certificate checks, but comments "
                              "inside the instruction would be lost; remove it by hand", inst.line)
            return
        yield self._result(edits, f"{inst.keyword} {names} turns off certificate checks", inst)

    def _run(self, doc: DockerfileDoc, inst: Instruction) -> Iterator[Finding]:
        cmds = commands(inst, doc.escape)
        if not cmds:
            if _mentions_switch(inst.args):
                yield self.refuse("the RUN turns off certificate or signature checks in shell "
                                  "code that cannot be split safely; remove it by hand", inst.line)
            return
        spans: list[tuple[int, int]] = []
        edits: list[Edit] = []
        dropped: list[int] = []
        found: list[str] = []
        for i, cmd in enumerate(cmds):
            verdict = _scan(cmd)
            if isinstance(verdict, Why):
                yield self.refuse(verdict, inst.line)
                return
            whole, cmd_spans, cmd_edits, what = verdict
            found += what
            if whole:
                dropped.append(i)
            else:
                spans += cmd_spans
                edits += cmd_edits
        if not found:
            return
        removal = rm.remove_commands(doc, inst, cmds, dropped) if dropped else []
        if removal is None:
            yield self.refuse(f"removing {found[0]} would join `||`/`|` operators or swallow a "
                              "comment; remove it by hand", inst.line)
            return
        word_edits = rm.remove_spans(doc, inst, spans)
        if word_edits is None:
            yield self.refuse(f"removing {found[0]} would swallow a comment or a line break; "
                              "remove it by hand", inst.line)
            return
        message = ", ".join(dict.fromkeys(found)) + " turns off certificate or signature checks"
        yield self._result([*removal, *word_edits, *edits], message, inst)

    def _result(self, edits: list[Edit], what: str, inst: Instruction) -> Finding:
        if rm.overlapping(edits):
            return self.refuse(f"{what}, but the removals overlap; remove them by hand", inst.line)
        return self.change(edits, f"{what}; {PROXY}", inst.line, end_line=inst.end_line)


def _disables(name: str, value: str) -> bool:
    key = "NPM_CONFIG_STRICT_SSL" if name.upper() == "NPM_CONFIG_STRICT_SSL" else name
    if key not in _ENV or not value:
        return False
    allowed = _ENV[key]
    return allowed is None or value.strip("'\"").lower() in allowed


def _mentions_switch(code: str) -> bool:
    return bool(re.search(r"--insecure|--no-check-certificate|--trusted-host|--nogpgcheck|"
                          r"--allow-untrusted|--allow-unauthenticated|--force-yes|strict-ssl|"
                          r"curl[^|&;]*\s-[a-zA-Z]*k", code))


Scan = tuple[bool, list[tuple[int, int]], list[Edit], list[str]]


def _scan(cmd: Command) -> Scan | Why:
    """(remove the whole command, word spans to delete, other edits, what was found) or a refusal."""
    words = cmd.words
    spans: list[tuple[int, int]] = []
    found: list[str] = []
    prog = cmd.program_index()
    for w in words[:prog]:
        name, _, value = w.value.partition("=")
        if _disables(name, value):
            spans.append((w.start, w.end))
            found.append(name)
    if prog == len(words):
        return (bool(spans) and len(spans) == len(words)), spans, [], found
    head = words[prog].value.rsplit("/", 1)[-1]
    if head == "export":
        bad = [w for w in words[prog + 1 :] if _disables(*w.value.partition("=")[::2])]
        found += [w.value.partition("=")[0] for w in bad]
        spans += [(w.start, w.end) for w in bad]
        return (bool(bad) and len(bad) == len(words) - prog - 1 and prog == 0), spans, [], found
    if _strict_ssl_off(words[prog:]):
        return True, [], [], found + [f"{head} config set strict-ssl false"]
    j = _tool_index(words, prog)
    tool = _base(words[j].value) if j is not None else ""
    tool = "pip" if re.fullmatch(r"pip[0-9.]*", tool) else tool
    if j is None or not (tool in _FLAGS or tool in ("pip", "git", "yum-config-manager")):
        return False, spans, [], found
    result = _tool(tool, cmd, j)
    if isinstance(result, Why):
        return result
    return False, spans + result[0], result[1], found + result[2]


def _base(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _tool_index(words: tuple[Word, ...], prog: int) -> int | None:
    """The program word, looking through ``sudo``/``env``/``timeout 60``… and ``python -m``."""
    j = prog
    while j < len(words) and _base(words[j].value) in _WRAPPERS:
        j += 1
        while j < len(words) and (words[j].value.startswith("-") or "=" in words[j].value
                                  or words[j].value.isdigit()):
            j += 1
    if j + 2 < len(words) and re.fullmatch(r"python[0-9.]*", _base(words[j].value)) \
            and words[j + 1].value == "-m":
        return j + 2
    return j if j < len(words) else None


def _tool(tool: str, cmd: Command, j: int
          ) -> tuple[list[tuple[int, int]], list[Edit], list[str]] | Why:
    args = list(cmd.words[j + 1 :])
    spans: list[tuple[int, int]] = []
    edits: list[Edit] = []
    found: list[str] = []
    if tool == "curl":
        return _curl(args)
    if tool == "pip":
        return _pip(args)
    if tool == "git":
        for a, b in zip(args, args[1:]):
            if a.value == "-c" and re.fullmatch(r"http\.sslverify=(false|0|no|off)", b.value, re.I):
                spans.append((a.start, b.end))
                found.append(f"git -c {b.value}")
        return spans, edits, found
    if tool == "apk" and any(a.value.endswith(".apk") for a in args) and \
            any(a.value == "--allow-untrusted" for a in args):
        return Why("apk installs a local unsigned package, which needs --allow-untrusted; sign it")
    for a in args:
        if a.value in _FLAGS.get(tool, ()) or _SSLVERIFY_OFF.match(a.value):
            found.append(f"{tool} {a.value}")
            if a.value == "--force-yes" and not _answers_yes(args):
                edits.append(Edit(a.start, a.end, "-y"))  # it also answered apt's prompt
            else:
                spans.append((a.start, a.end))
    return spans, edits, found


def _answers_yes(args: list[Word]) -> bool:
    return any(a.value in ("--yes", "--assume-yes", "-qq", "-q=2", "--quiet=2") or
               re.fullmatch(r"-[a-z]*y[a-z]*", a.value) for a in args)


def _curl(args: list[Word]) -> tuple[list[tuple[int, int]], list[Edit], list[str]]:
    spans: list[tuple[int, int]] = []
    edits: list[Edit] = []
    skip = False
    for a in args:
        v = a.value
        if skip or v == "--":
            skip = False
            continue
        if v == "--insecure" or v == "-k":
            spans.append((a.start, a.end))
        elif v in _CURL_LONG_WITH_VALUE:
            skip = True
        elif re.fullmatch(r"-[A-Za-z0-9#]+", v) and a.raw == v:
            letters, skip = _short_cluster(v[1:])
            if "k" in letters:
                edits.append(Edit(a.start, a.end, "-" + _drop_k(v[1:])))
    return spans, edits, ["curl --insecure"] if spans or edits else []


def _short_cluster(cluster: str) -> tuple[str, bool]:
    """The option letters of ``-abc`` (up to one that takes a value) and whether the next
    word is that value."""
    for i, c in enumerate(cluster):
        if c in _CURL_SHORT_WITH_VALUE:
            return cluster[: i + 1], i == len(cluster) - 1
    return cluster, False


def _drop_k(cluster: str) -> str:
    letters, _ = _short_cluster(cluster)
    return letters.replace("k", "") + cluster[len(letters) :]


def _pip(args: list[Word]) -> tuple[list[tuple[int, int]], list[Edit], list[str]] | Why:
    if any("http://" in a.value for a in args) and \
            any(a.value.startswith("--trusted-host") for a in args):
        return Why("pip uses a plain-http index, which --trusted-host lets in; serve it over https")
    spans: list[tuple[int, int]] = []
    for a, b in zip(args, [*args[1:], None]):
        if a.value == "--trusted-host" and b is not None:
            spans.append((a.start, b.end))
        elif a.value.startswith("--trusted-host="):
            spans.append((a.start, a.end))
    return spans, [], ["pip --trusted-host"] if spans else []


def _strict_ssl_off(words: tuple[Word, ...] | list[Word]) -> bool:
    values = [w.value.strip("'\"") for w in words]
    if not values or values[0].rsplit("/", 1)[-1] not in ("npm", "yarn", "pnpm"):
        return False
    text = " ".join(values[1:])
    return bool(re.fullmatch(r"(c |config )?set strict-ssl[ =](false|0)( .*)?", text))
