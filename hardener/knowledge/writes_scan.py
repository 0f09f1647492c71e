"""Write sites in Node and Go sources and in shell scripts, at token level.

Only literal paths are resolved: a call whose path argument is a string literal (or a
``const NAME = "…"`` bound once in the same file) gives a path; any other argument gives an
unknown with its line, never a guess. Shell scripts (entrypoints) are read command by command
with the same rules as a Compose ``entrypoint:`` (redirections, ``tee``, ``sed -i``,
``cp``/``mv`` targets, ``mkdir``/``touch``/``chown``).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Site:
    line: int
    call: str
    is_dir: bool
    path: str | None  # as written (relative to the working directory unless absolute)
    why: str = ""


_STR = r"""(?:"([^"\\\n]*)"|'([^'\\\n]*)'|`([^`$\\\n]*)`)"""
_NODE_CALLS = re.compile(
    r"\b(?:fs(?:\.promises)?|fsp|fse|promises)\.(writeFileSync|writeFile|appendFileSync|appendFile|mkdirSync|mkdir|"
    r"createWriteStream|mkdirp|ensureDirSync|ensureDir|outputFile|outputFileSync)\s*\(")
_NODE_SQLITE = re.compile(r"\bnew\s+(?:Database|sqlite3\.Database|sqlite3\.cached\.Database)\s*\(")
_MULTER = re.compile(r"\bmulter\s*\(\s*\{[^}]*?\bdest\s*:\s*")
_GO_CALLS = re.compile(r"\bos\.(Create|WriteFile|MkdirAll|Mkdir|OpenFile)\s*\(")
_GO_SQLITE = re.compile(r"\bsql\.Open\s*\(\s*\"sqlite3?\"\s*,\s*")
_JOIN = re.compile(r"^(?:path\.(?:join|resolve)|filepath\.Join|path\.Join)\s*\((.*)\)$", re.DOTALL)
_CONST = re.compile(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*\w+\s*)?=\s*")
_GO_CONST = re.compile(r"\b([A-Za-z_]\w*)\s*(?:=|:=)\s*\"([^\"\\\n]*)\"")
_DIR_CALLS = frozenset({"mkdirSync", "mkdir", "mkdirp", "ensureDirSync", "ensureDir", "MkdirAll", "Mkdir", "multer"})


def node_sites(text: str) -> list[Site]:
    consts, dirs = _node_constants(text)
    sites = [_site(text, m.start(), m.group(1), _args(text, m.end()), consts, dirs=dirs)
             for m in _NODE_CALLS.finditer(text)]
    sites += [_site(text, m.start(), "sqlite Database", _args(text, m.end()), consts, memory=True)
              for m in _NODE_SQLITE.finditer(text)]
    sites += [_site(text, m.start(), "multer", _args(text, m.end(), "}"), consts) for m in _MULTER.finditer(text)]
    return sites


def go_sites(text: str) -> list[Site]:
    consts = _constants(_GO_CONST, text)
    sites = []
    for m in _GO_CALLS.finditer(text):
        args = _args(text, m.end())
        if m.group(1) == "OpenFile" and not re.search(r"O_(WRONLY|RDWR|CREATE|APPEND|TRUNC)", " ".join(args[1:])):
            continue
        sites.append(_site(text, m.start(), f"os.{m.group(1)}", args, consts))
    sites += [_site(text, m.start(), "sql.Open(sqlite3)", _args(text, m.end()), consts, memory=True)
              for m in _GO_SQLITE.finditer(text)]
    return sites


def _args(text: str, at: int, closer: str = ")") -> list[str]:
    """The comma-separated arguments from ``at`` to the closing bracket (quotes and nesting kept)."""
    args, depth, quote, start = [], 0, "", at
    for i in range(at, min(len(text), at + 2000)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
        elif depth == 0 and (ch == "," or ch in closer + ")"):
            args.append(text[start:i].strip())
            if ch != ",":
                return args
            start = i + 1
    return args


def _constants(pattern: re.Pattern[str], text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for m in pattern.finditer(text):
        value = next((g for g in m.groups()[1:] if g is not None), None)
        found[m.group(1)] = value if m.group(1) not in found else None  # bound twice: unknown
    return found


def _node_constants(text: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """``const NAME = "…"`` and ``const NAME = path.join(__dirname, "…")`` bound once, in file
    order (a join may use a constant bound above it); any other value is unknown. Also the
    names bound to a file whose directory is known and whose name is set at run time
    (``const target = path.join(UPLOADS, req.params.name)``)."""
    found: dict[str, str | None] = {}
    dirs: dict[str, str] = {}
    for m in _CONST.finditer(text):
        name = m.group(1)
        args = _args(text, m.end(), ";\n")
        value = _literal(args[0], found) if len(args) == 1 else None
        directory = _directory(args[0], found) if len(args) == 1 and value is None else None
        if name in found:  # bound twice: unknown
            found[name] = None
            dirs.pop(name, None)
            continue
        found[name] = value
        if directory:
            dirs[name] = directory
    return found, dirs


def _literal(arg: str, consts: dict[str, str | None]) -> str | None:
    """The value of a string literal, a constant, ``__dirname`` (kept as that word: the caller
    knows where the file lands) or a ``path.join``/``path.resolve`` of those."""
    m = re.fullmatch(_STR, arg)
    if m:
        return next((g for g in m.groups() if g is not None), None)
    if arg == "__dirname":  # not a bare `dirname`: that may be any parameter or variable
        return "__dirname"
    join = _JOIN.match(arg)
    if join and not arg.startswith(("filepath.", "path.Join")):
        values = [_literal(p.strip(), consts) for p in join.group(1).split(",")]
        parts = [v for v in values if v]
        if len(parts) != len(values):
            return None
        if arg.startswith("path.resolve"):  # an absolute part restarts the path
            parts = parts[max(i for i, p in enumerate(parts) if i == 0 or p.startswith("/")):]
        return re.sub(r"/+", "/", "/".join(parts))
    return consts.get(arg)


def _directory(arg: str, consts: dict[str, str | None]) -> str | None:
    """The known directory of a path whose file name is set at run time: ``path.join(DIR, name)``,
    `` `uploads/${name}` ``, ``DIR + "/" + name``."""
    join = _JOIN.match(arg)
    if join:
        parts = [p.strip() for p in join.group(1).split(",")]
        known = []
        for part in parts:
            value = _literal(part, consts)
            if value is None:
                break
            known.append(value)
        return "/".join(known) if known and len(known) < len(parts) else None
    template = re.fullmatch(r"`([^`$]*)/\$\{[^}]*\}[^`/]*`", arg)
    if template:
        return template.group(1)
    concat = re.fullmatch(r"([A-Za-z_$][\w$]*|" + _STR + r")\s*\+\s*['\"]/['\"]\s*\+\s*[\w$.]+", arg)
    return _literal(concat.group(1), consts) if concat else None


def _site(text: str, at: int, call: str, args: list[str], consts: dict[str, str | None], memory: bool = False,
          dirs: dict[str, str] | None = None) -> Site:
    line = text.count("\n", 0, at) + 1
    name = call.rsplit(".", 1)[-1].split("(")[0]
    is_dir = name in _DIR_CALLS
    arg = args[0] if args else ""
    value = _literal(arg, consts)
    if value is not None and memory and value.startswith((":memory:", "file::memory:")):
        return Site(line, call, is_dir, None, "in memory")
    if value is None:
        directory = (dirs or {}).get(arg) or _directory(arg, consts)
        if directory:
            return Site(line, call, True, directory.removeprefix("./"), "file name set at run time")
    if value is None or not value or "://" in value or value == "__dirname":
        return Site(line, call, is_dir, None, f"{call}({arg[:40]}) writes a path not known before run time")
    value = value.removeprefix("file:").split("?")[0] if memory else value
    return Site(line, call, is_dir, value.removeprefix("./"))


SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>"})
_LAST_ARG_WRITERS = frozenset({"cp", "mv", "install", "ln", "rsync"})  # write their last argument
_ALL_ARG_WRITERS = frozenset({"touch", "mkdir", "rm", "rmdir", "truncate"})
_MODE_FIRST = frozenset({"chmod", "chown", "chgrp"})  # their first argument is a mode or an owner
_WRAPPERS = frozenset({"exec", "nohup", "env", "command"})
_IGNORED = ("/dev/null", "/dev/stdout", "/dev/stderr", "/proc/")


def unwrapped(argv: list[str]) -> list[str]:
    """Drop ``exec``, ``nohup``, ``env NAME=value …`` in front of the real program."""
    while argv and argv[0] in _WRAPPERS:
        argv = argv[1:]
        while argv and (argv[0].startswith("-") or ("=" in argv[0] and not argv[0].startswith("/"))):
            argv = argv[1:]
    return argv


def written(argv: list[str]) -> list[str]:
    """The paths one command (its words, redirections as separate words) writes."""
    found = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in _REDIRECTS]
    targets = {i + 1 for i, word in enumerate(argv) if word in _REDIRECTS}
    words = [w for i, w in enumerate(argv) if i not in targets and w not in _REDIRECTS]
    if not words:
        return found
    program, args = words[0].rsplit("/", 1)[-1], [w for w in words[1:] if not w.startswith("-")]
    if program == "tee":
        found += args
    elif program == "sed" and any(w == "-i" or w.startswith(("-i", "--in-place")) for w in words[1:]):
        found += args[-1:]
    elif program in _LAST_ARG_WRITERS:
        found += args[-1:]
    elif program in _ALL_ARG_WRITERS:
        found += args
    elif program in _MODE_FIRST:
        found += args[1:]
    return [p for p in found if not p.startswith(_IGNORED) and not p.startswith("&")]


_SPACE_REDIRECT = re.compile(r"(\d?(?:>>|>\||>&|>)|&>>|&>|\d?<<<|\d?<<-?|\d?<&|\d?<)")
_CONTROL = re.compile(r"&&|\|\||;|(?<![>])\|(?!\|)|(?<![<>&])&(?![>&\d])")
_WRITE_REDIRECT = re.compile(r"^\d*(>>|>\||>)$|^(&>>|&>)$")


_CHUNK = re.compile(r"""'[^']*'|"(?:[^"\\]|\\.)*"|[^'"]+|['"]""")


def _commands(line: str) -> list[str]:
    """A shell line cut at its control operators outside quotes, redirections spaced apart."""
    out = []
    for chunk in _CHUNK.findall(line):
        if chunk[0] in "'\"" and len(chunk) > 1:
            out.append(chunk)
        else:
            out.append(_CONTROL.sub("\0", _SPACE_REDIRECT.sub(r" \1 ", chunk)))
    return "".join(out).split("\0")


def _redirections(words: list[str]) -> list[str]:
    """Normalise ``2>``/``&>>`` to ``>``/``>>`` and drop fd duplications and input redirections
    (``2>&1``, ``< tpl``): their words are not arguments of the command."""
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if re.fullmatch(r"\d*[<>]&\d*-?", word):
            skip = word.endswith("&")  # `>& 1` spelled apart
            continue
        if re.fullmatch(r"\d*<(<<?|<-)?", word):
            skip = True
            continue
        match = _WRITE_REDIRECT.match(word)
        out.append((match.group(1) or match.group(2).lstrip("&")) if match else word)
    return out


def shell_script(argv: list[str] | tuple[str, ...]) -> str | None:
    """The script of ``sh -c SCRIPT`` (any shell), or None."""
    if argv and argv[0].rsplit("/", 1)[-1] in SHELLS:
        flags = [i for i, w in enumerate(argv[1:], 1) if w.startswith("-") and "c" in w[1:]]
        if flags and flags[0] + 1 < len(argv):
            return argv[flags[0] + 1]
    return None


def script_sites(text: str) -> list[Site]:
    """Writes of a shell script, command by command; a write to a ``$VAR`` path is unknown."""
    sites: list[Site] = []
    heredoc: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if heredoc is not None:
            heredoc = None if line == heredoc else heredoc  # a here-document's body is data, not commands
            continue
        if not line or line.startswith("#"):
            continue
        opened = re.search(r"<<-?\s*['\"]?(\w+)", line)
        heredoc = opened.group(1) if opened else None
        for part in _commands(line):
            try:
                argv = unwrapped(_redirections(shlex.split(part, comments=True)))
            except ValueError:
                continue
            if not argv:
                continue
            inner = shell_script(argv)
            if inner is not None:
                sites += [Site(number, s.call, s.is_dir, s.path, s.why) for s in script_sites(inner)]
                continue
            for path in written(argv):
                if "$" in path or "`" in path:
                    sites.append(Site(number, argv[0], False, None, f"writes {path}, a path set at run time"))
                else:
                    sites.append(Site(number, argv[0], argv[0] == "mkdir", path.removeprefix("./")))
    return sites
