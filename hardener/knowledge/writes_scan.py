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
    r"createWriteStream|mkdirp|ensureDirSync|ensureDir|outputFile|outputFileSync)\s*\(\s*([^,)]*)")
_NODE_SQLITE = re.compile(r"\bnew\s+(?:Database|sqlite3\.Database|sqlite3\.cached\.Database)\s*\(\s*([^,)]*)")
_MULTER = re.compile(r"\bmulter\s*\(\s*\{[^}]*?\bdest\s*:\s*([^,}]*)")
_GO_CALLS = re.compile(r"\bos\.(Create|WriteFile|MkdirAll|Mkdir|OpenFile)\s*\(\s*([^,)]*)((?:,[^)]*)?)\)")
_GO_SQLITE = re.compile(r"\bsql\.Open\s*\(\s*\"sqlite3?\"\s*,\s*([^,)]*)")
_CONST = re.compile(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*\w+\s*)?=\s*" + _STR + r"\s*[;\n]")
_GO_CONST = re.compile(r"\b([A-Za-z_]\w*)\s*(?:=|:=)\s*\"([^\"\\\n]*)\"")
_DIR_CALLS = frozenset({"mkdirSync", "mkdir", "mkdirp", "ensureDirSync", "ensureDir", "MkdirAll", "Mkdir", "multer"})


def node_sites(text: str) -> list[Site]:
    consts = _constants(_CONST, text)
    sites = [_site(text, m.start(), m.group(1), m.group(2), consts) for m in _NODE_CALLS.finditer(text)]
    sites += [_site(text, m.start(), "sqlite Database", m.group(1), consts, memory=True)
              for m in _NODE_SQLITE.finditer(text)]
    sites += [_site(text, m.start(), "multer", m.group(1), consts) for m in _MULTER.finditer(text)]
    return sites


def go_sites(text: str) -> list[Site]:
    consts = _constants(_GO_CONST, text)
    sites = []
    for m in _GO_CALLS.finditer(text):
        if m.group(1) == "OpenFile" and not re.search(r"O_(WRONLY|RDWR|CREATE|APPEND|TRUNC)", m.group(3)):
            continue
        sites.append(_site(text, m.start(), f"os.{m.group(1)}", m.group(2), consts))
    sites += [_site(text, m.start(), "sql.Open(sqlite3)", m.group(1), consts, memory=True)
              for m in _GO_SQLITE.finditer(text)]
    return sites


def _constants(pattern: re.Pattern[str], text: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for m in pattern.finditer(text):
        value = next((g for g in m.groups()[1:] if g is not None), None)
        found[m.group(1)] = value if m.group(1) not in found else None  # bound twice: unknown
    return found


def _site(text: str, at: int, call: str, arg: str, consts: dict[str, str | None], memory: bool = False) -> Site:
    line = text.count("\n", 0, at) + 1
    name = call.rsplit(".", 1)[-1].split("(")[0]
    is_dir = name in _DIR_CALLS
    arg = arg.strip()
    m = re.fullmatch(_STR, arg)
    value = next((g for g in m.groups() if g is not None), None) if m else consts.get(arg)
    if value is not None and memory and value.startswith((":memory:", "file::memory:")):
        return Site(line, call, is_dir, None, "in memory")
    if value is None or not value or "://" in value:
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
    program, args = argv[0].rsplit("/", 1)[-1], [w for w in argv[1:] if not w.startswith("-")]
    if program == "tee":
        found += args
    elif program == "sed" and any(w == "-i" or w.startswith(("-i", "--in-place")) for w in argv[1:]):
        found += args[-1:]
    elif program in _LAST_ARG_WRITERS:
        found += args[-1:]
    elif program in _ALL_ARG_WRITERS:
        found += args
    elif program in _MODE_FIRST:
        found += args[1:]
    return [p for p in found if not p.startswith(_IGNORED) and not p.startswith("&")]


def script_sites(text: str) -> list[Site]:
    """Writes of a shell script, command by command; a write to a ``$VAR`` path is unknown."""
    sites: list[Site] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        spaced = re.sub(r"(\d?>>?\|?|&>>?)(?=\S)", r"\1 ", line)
        for part in re.split(r"&&|\|\||[;|]", spaced):
            try:
                argv = unwrapped(shlex.split(part, comments=True))
            except ValueError:
                continue
            argv = [re.sub(r"^\d(?=>)", "", w) for w in argv]
            if not argv:
                continue
            for path in written(argv):
                if "$" in path or "`" in path:
                    sites.append(Site(number, argv[0], False, None, f"writes {path}, a path set at run time"))
                else:
                    sites.append(Site(number, argv[0], argv[0] == "mkdir", path.removeprefix("./")))
    return sites
