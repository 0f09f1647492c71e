"""The static-site plan of split-build-stage: a Node build served by nginx-unprivileged.

A stage that builds a site (``npm run build``) and serves it with ``serve`` or ``http-server``
(directly, by npx or an npm script) keeps node and its dependencies only to send files: it becomes
the builder (CMD kept) and nginx-unprivileged (port 8080, user 101, own CMD) gets the directory,
when the server listens on 8080 with no option nginx's default config lacks. From their sources:
serve listens on $PORT or 3000 and reads serve.json; http-server on -p, $PORT or 8080 (minimist).
"""
from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Stage
from hardener.dockerfile.workdir import join_workdir
from hardener.edits import Edit
from hardener.plans.split.common import data, final_workdir, read_steps
from hardener.plans.split.node import is_build, npm_lock_problem
from hardener.plans.split.render import builder_name, keyword_case, relabel
from hardener.repo_facts import read_text
from hardener.why import Why

PORT = "8080"  # nginx-unprivileged's default listen port
MOVED = frozenset({"LABEL", "EXPOSE", "HEALTHCHECK"})  # describe the running container: to the runtime
SERVERS = ("serve", "http-server")
_SERVE_OK = {"-n", "--no-clipboard", "-u", "--no-compression", "-d", "--debug", "-L", "--no-request-logging",
             "--no-port-switching"}
_HTTP_OK = {"-s", "--silent", "-U", "--utc", "--log-ip"}  # flags with nothing nginx would serve differently
_OPS = set(";&|()<>")
_LOST = {"serve": "clean URLs (/about serves about.html), directory listings and gzip",
         "http-server": ".html default extension, 404.html fallback, directory listings and Cache-Control max-age"}

Served = tuple[str, str, str]  # (server, directory as written, port)


def split(doc: DockerfileDoc, stage: Stage, ctx: Context,
          shape_problem: Callable[[DockerfileDoc, Stage], str | None]) -> tuple[Edit, str] | Why | None:
    """(edit, reason), why not, or None: the stage does not serve a static build."""
    found = served(stage, context := ctx.build_context)
    if found is None:
        return None
    problem = shape_problem(doc, stage)
    steps = Why(problem) if problem else read_steps(doc, stage, is_build)
    if isinstance(steps, Why):
        return steps
    if not any(c.argv[c.program_index() :][:2] in (["npm", "run"], ["npm", "run-script"]) for _, c in steps.build):
        return None  # nothing is built: not a static-site build (the Node plan decides)
    if isinstance(found, Why):
        return found
    server, directory, port = found
    app = final_workdir(stage)
    source = join_workdir(app, directory)
    odd = next((i for i in stage.instructions if i.keyword in ("VOLUME", "STOPSIGNAL")), None)
    why = (_project_problem(context) or _health_problem(stage)
           or (odd and f"the {odd.keyword} at line {odd.line} was set for the Node server, not for nginx")
           or (port != PORT and f"{server} listens on port {port}; nginx-unprivileged listens on {PORT} "
               "and changing it needs an nginx config")
           or (source is None and f"cannot resolve the served directory {directory!r} (no literal WORKDIR)")
           or (source is not None and f"{app or ''}/".startswith(f"{source.rstrip('/')}/")
               and f"{server} serves {source}, the app's sources included"))
    if why or source is None:
        return Why(why) if why else None
    return _render(doc, stage, source), (
        f"split into a build stage ({stage.base}) and an nginx-unprivileged runtime stage that serves only "
        f"{source} instead of {server}; nginx's default config does not reproduce {server}'s {_LOST[server]}")


def served(stage: Stage, context: Path | None) -> Served | Why | None:
    """What the start command serves: (server, directory, port), why it cannot move, or None."""
    words, scripts, env = _start_words(stage), _scripts(context), _env(stage)
    for _ in range(3):  # npm run x -> script -> npx serve …
        if not words:
            return None
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        name = words[0].rsplit("/", 1)[-1] if words else ""
        if name == "npx":  # npx [-y] serve@14 …
            words = [w for w in words[1:] if w not in ("-y", "--yes", "--no-install", "-q", "--quiet")]
            name = re.sub(r"(?<=.)@.*$", "", words[0]) if words else ""
        if name in SERVERS:
            return (_parse_serve if name == "serve" else _parse_http_server)(words[1:], env)
        run = name == "npm" and words[1:2] in (["run"], ["run-script"])
        script = words[2] if run and len(words) > 2 else "start" if name == "npm" and words[1:2] == ["start"] else ""
        extra = words[3 if run else 2 :]
        if not isinstance(scripts.get(script), str):
            return None
        words = (_split_shell(str(scripts[script])) or []) + extra[1 if extra[:1] == ["--"] else 0 :]
    return None


def _parse_serve(args: list[str], env: dict[str, str]) -> Served | Why:
    if {"-s", "--single"} & set(args):
        return Why("serve -s (--single) rewrites unknown paths to index.html; nginx needs a try_files config for that")
    found = _options("serve", args, {"-l": "listen", "--listen": "listen", "-p": "listen"}, _SERVE_OK, greedy=False)
    if isinstance(found, Why):
        return found
    listen = found[0].get("listen", [])
    if len(listen) > 1:
        return Why("serve listens on several endpoints")
    port = env.get("PORT", "3000") if not listen else listen[0] if listen[0].isdigit() else \
        next(iter(re.findall(r"^tcp://(?:0\.0\.0\.0|\[::\]|::)?:(\w+)$", listen[0])), None)
    return _finish("serve", found[1], port) if port else Why(f"serve listens on {listen[0]}, " + (
        "not a literal port" if "$" in listen[0] else "not on every interface"))


def _parse_http_server(args: list[str], env: dict[str, str]) -> Served | Why:
    if {"NODE_HTTP_SERVER_USERNAME", "NODE_HTTP_SERVER_PASSWORD"} & set(env):
        return Why("http-server takes basic-auth credentials from the environment; nginx's default config has none")
    found = _options("http-server", args, {"-p": "port", "--port": "port", "-a": "address"}, _HTTP_OK, greedy=True)
    if isinstance(found, Why):
        return found
    if found[0].get("address", ["0.0.0.0"])[-1] != "0.0.0.0":
        return Why(f"http-server listens on address {found[0]['address'][-1]}, not on every interface")
    return _finish("http-server", found[1], found[0].get("port", [env.get("PORT", PORT)])[-1])


def _options(server: str, args: list[str], valued: dict[str, str], harmless: set[str], greedy: bool
             ) -> tuple[dict[str, list[str]], list[str]] | Why:
    """Option values and positionals; ``greedy``: a flag takes the next word, as minimist does."""
    values: dict[str, list[str]] = {}
    dirs: list[str] = []
    i = 0
    while i < len(args):
        word, nxt = args[i], (args[i + 1] if i + 1 < len(args) else None)
        flag, eq, value = (word[:2], "=", word[2:]) if re.fullmatch(r"-\w\d+", word) else word.partition("=")
        if flag in valued and (eq or nxt is not None):
            values.setdefault(valued[flag], []).append(value if eq else str(nxt))
            i += 1 if eq else 2
            continue
        if word in harmless and greedy and nxt is not None and not nxt.startswith("-"):
            return Why(f"{server} reads the word after {word} as its value: which directory it serves is unclear")
        if word.startswith("-") and word not in harmless:
            return Why(f"the {server} option {word} changes how files are served; nginx's default config lacks it")
        dirs += [] if word.startswith("-") else [word]
        i += 1
    return values, dirs


def _finish(server: str, dirs: list[str], port: str) -> Served | Why:
    if not dirs:
        return Why(f"{server} names no directory: it serves the working directory (or ./public), sources included")
    if len(dirs) > 1 or not re.fullmatch(r"[\w./@+-]+", dirs[0]):
        return Why(f"{server} serves {' '.join(dirs)}, not one literal directory")
    return (server, dirs[0], port) if port.isdigit() else Why(f"{server}'s port {port} is not a literal number")


def _start_words(stage: Stage) -> list[str] | None:
    """The command the container runs (ENTRYPOINT + CMD), as words; None when not simple."""
    last = {i.keyword: i for i in stage.instructions if i.keyword in ("CMD", "ENTRYPOINT")}
    entry, cmd = last.get("ENTRYPOINT"), last.get("CMD")
    if entry is not None and (entry.json is None or (cmd is not None and cmd.json is None)):
        return _split_shell(entry.args) if entry.json is None else None  # shell CMD after an exec ENTRYPOINT: sh -c
    words: list[str] | None = [*(entry.json or () if entry else ()), *(cmd.json or () if cmd else ())]
    if entry is None and cmd is not None and cmd.json is None:
        words = _split_shell(cmd.args) or []
    if words and len(words) == 3 and words[0].rsplit("/", 1)[-1] in ("sh", "bash") and words[1] == "-c":
        words = _split_shell(words[2])
    return words[1:] if words and words[0] == "exec" else words


def _split_shell(text: str, tail_ok: bool = False) -> list[str] | None:
    """Words of one simple shell command (``|| exit 1`` allowed with tail_ok); else None."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return None
    words = words[:-3] if tail_ok and words[-3:] == ["||", "exit", "1"] else words
    return None if any(w and set(w) <= _OPS for w in words) or "`" in text else words


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for inst in (i for i in stage.instructions if i.keyword == "ENV"):
        words = _split_shell(inst.args) or []
        legacy = words and "=" not in words[0]  # ENV KEY value
        env.update([(words[0], " ".join(words[1:]))] if legacy else dict(w.split("=", 1) for w in words if "=" in w))
    return env


def _scripts(context: Path | None) -> dict[str, object]:
    try:
        package = json.loads(read_text(context / "package.json") or "{}") if context else {}
    except ValueError:
        package = {}
    scripts = package.get("scripts") if isinstance(package, dict) else None
    return scripts if isinstance(scripts, dict) else {}


def _project_problem(context: Path | None) -> str | None:
    if context is None:
        return "no package-lock.json: the build's dependencies are not pinned"
    why = npm_lock_problem(context, "the build's dependencies")
    if why:
        return why
    for top, subdirs, files in os.walk(context):
        subdirs[:] = [d for d in subdirs if d not in ("node_modules", ".git")]
        for config in sorted({"serve.json", "now.json"} & set(files)):
            return f"{Path(top, config).relative_to(context)} may configure serve; nginx's default config ignores it"
    return None


def _health_problem(stage: Stage) -> str | None:
    """Only an HTTP check of port 8080 by curl or wget (both in the alpine image) moves."""
    for inst in (i for i in stage.instructions if i.keyword == "HEALTHCHECK" and i.args.strip().upper() != "NONE"):
        body = re.sub(r"(?i)^CMD\s+", "", inst.args.strip())
        try:
            words = [str(w) for w in json.loads(body)] if body.startswith("[") else _split_shell(body, True)
        except (ValueError, TypeError):
            words = None
        tool = words[0].rsplit("/", 1)[-1] if words else ""
        flags = {"curl": r"-[fsSLI]+|--(fail|silent|show-error|location|head)|-o|/dev/null|-m|--max-time|\d+",
                 "wget": r"-q|--quiet|--spider|-q?O-?|-|/dev/null|-T|\d+"}.get(tool)
        urls = [w for w in (words or [])[1:] if re.fullmatch(rf"(http://)?(localhost|127\.0\.0\.1):{PORT}(/\S*)?", w)]
        if not (flags and len(urls) == 1 and all(re.fullmatch(flags, w) for w in (words or [])[1:] if w not in urls)):
            return (f"the HEALTHCHECK at line {inst.line} is not a plain curl or wget of "
                    f"http://localhost:{PORT}/ that hardener knows nginx-unprivileged can run")
    return None


def _render(doc: DockerfileDoc, stage: Stage, source: str) -> Edit:
    """The stage as builder (CMD kept, LABEL/EXPOSE/HEALTHCHECK moved), then the nginx stage."""
    text, nl, kw = doc.text, doc.newline, keyword_case(doc, stage.from_)
    insts, name = stage.instructions, builder_name(doc)
    head = text[stage.from_.start : stage.from_.end]
    cut = stage.from_.args_end - stage.from_.start
    alias = head[:cut].split()[-1] if stage.name else ""
    head = head[: cut - len(alias)] + name + head[cut:] if alias else head[:cut] + f" {kw('AS')} {name}" + head[cut:]
    runtime_base = f"nginxinc/nginx-unprivileged:{data()['static']['nginx_unprivileged']}"
    builder = [head]
    runtime = [nl + nl + f"{kw('FROM')} {runtime_base}" + (f" {kw('AS')} {alias}" if alias else ""),
               nl + f"{kw('COPY')} --from={name} {source.rstrip('/')}/ /usr/share/nginx/html/"]
    for prev, inst in zip(insts, insts[1:]):
        piece = text[prev.end : inst.end]
        piece = relabel(piece, inst, stage.base, runtime_base)  # the OCI base.name label names nginx now
        (runtime if inst.keyword in MOVED else builder).append(piece)
    if not any(i.keyword == "EXPOSE" and PORT in re.split(r"[\s/]+", i.args) for i in insts):
        runtime.append(nl + f"{kw('EXPOSE')} {PORT}")
    return Edit(stage.from_.start, insts[-1].end, "".join(builder + runtime))

