"""Unified diffs that ``git apply`` and ``patch -p1`` accept.

difflib's own unified_diff cannot mark a missing final newline; git needs the
``\\ No newline at end of file`` line, so hunks are written here from difflib's opcodes (``LineMatcher``: the same, faster).
Lines are split on ``\\n`` only, as git and patch split them: ``str.splitlines`` also breaks
on ``\\f``, ``\\v``, a lone ``\\r``, NEL and U+2028, which would write a corrupt hunk. Paths
are quoted the way git quotes them, so ``git apply`` finds the file.
"""
from __future__ import annotations

from hardener.output.linediff import LineMatcher

NO_NEWLINE = "\\ No newline at end of file\n"

# git's quote_c_style (core.quotePath=true): these get a letter escape, other bytes that need
# quoting (control bytes, DEL, non-ASCII) an octal one.
_LETTER_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}


def split_lines(text: str) -> list[str]:
    """``text`` in lines as git sees them: each ends with ``\\n`` except perhaps the last."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    return out + [last] if last else out


def quote_path(path: str) -> str:
    """``path`` as git writes it in a patch header: C-quoted when it holds a byte git escapes."""
    raw = path.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b >= 0x7F or b in (34, 92) for b in raw):
        return path
    out = []
    for b in raw:
        if b in _LETTER_ESCAPES:
            out.append(_LETTER_ESCAPES[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def _label(marker: str, path: str, name: str) -> str:
    # git ends a ---/+++ line with a tab when the path holds a space (quoted or not), so
    # that the name is not read as ending at the first space
    tab = "\t" if " " in path else ""
    return f"{marker} {name}{tab}\n"


def unified_diff(path: str, before: str | None, after: str, context: int = 3) -> str:
    """A git-style patch turning ``before`` into ``after`` (``before`` None: a new file)."""
    old = split_lines(before or "")
    new = split_lines(after)
    a, b = quote_path("a/" + path), quote_path("b/" + path)
    header = [f"diff --git {a} {b}\n"]
    if before is None:
        header += ["new file mode 100644\n", "--- /dev/null\n", _label("+++", path, b)]
    else:
        header += [_label("---", path, a), _label("+++", path, b)]
    hunks = [
        format_hunk(old, new, group)
        for group in LineMatcher(old, new).get_grouped_opcodes(context)
    ]
    return "".join(header + hunks) if hunks else ""


def format_hunk(old: list[str], new: list[str], group: list[tuple[str, int, int, int, int]]) -> str:
    a_start, a_end = group[0][1], group[-1][2]
    b_start, b_end = group[0][3], group[-1][4]
    out = [f"@@ -{_range(a_start, a_end)} +{_range(b_start, b_end)} @@\n"]
    for tag, i1, i2, j1, j2 in group:
        if tag == "equal":
            out += [_line(" ", line) for line in old[i1:i2]]
            continue
        out += [_line("-", line) for line in old[i1:i2]]
        out += [_line("+", line) for line in new[j1:j2]]
    return "".join(out)


def _line(prefix: str, line: str) -> str:
    if line.endswith("\n"):
        return prefix + line
    return prefix + line + "\n" + NO_NEWLINE


def _range(start: int, end: int) -> str:
    length = end - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"
