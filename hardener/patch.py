"""Unified diffs that ``git apply`` and ``patch -p1`` accept.

difflib's own unified_diff cannot mark a missing final newline; git needs the
``\\ No newline at end of file`` line, so hunks are written here from difflib's opcodes.
"""
from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(path: str, before: str | None, after: str, context: int = 3) -> str:
    """A git-style patch turning ``before`` into ``after`` (``before`` None: a new file)."""
    old = (before or "").splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    header = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        header += ["new file mode 100644\n", "--- /dev/null\n", f"+++ b/{path}\n"]
    else:
        header += [f"--- a/{path}\n", f"+++ b/{path}\n"]
    hunks = [
        format_hunk(old, new, group)
        for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(context)
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
