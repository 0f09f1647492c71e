"""Declared options: what a config section may hold, checked on load and shown by ``explain``.

A type is a small TOML vocabulary: ``bool``, ``false``, ``int``, ``number``, ``string``,
``table``, ``list[T]`` and ``table[T]``, joined with ``|`` for alternatives
(``string|number|false``). Declaring the type, default and doc in one place lets the
loader reject a typo or a wrong value with its line instead of hardening differently from
what the user wrote, and keeps ``hardener explain`` honest about what can be set.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One key of a section. ``choices`` limits string values (of a list or table too),
    ``keys`` the keys of a table, and ``fields`` declares the keys of each sub-table of a
    ``table[table]`` (resource-limits' per-tier and per-service limits). ``path``: a string
    value names a file that hardener writes, relative to the repository root; the loader
    refuses one that could point outside it (absolute, ``..``, ``~``)."""

    name: str
    type: str
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None
    keys: tuple[str, ...] | None = None
    fields: tuple[Option, ...] = ()
    path: bool = False


def named(options: Iterable[Option], name: str) -> Option:
    """The declaration of ``name``; KeyError when nobody declared it (a bug to catch early)."""
    for option in options:
        if option.name == name:
            return option
    raise KeyError(f"option {name!r} is not declared")


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to ``word`` (as typed, lower- or upper-cased: ids are upper)."""
    pool = list(dict.fromkeys(candidates))
    for form in (word, word.lower(), word.upper()):
        close = difflib.get_close_matches(form, pool, n=1)
        if close:
            return close[0]
    return None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest candidate, else ``""``."""
    close = closest(word, candidates)
    return f"; did you mean {close}?" if close else ""


# Non-transform sections: `hardener pr` and `hardener verify` read these tables.
PR_OPTIONS = (
    Option("remote", "string", "origin", "The git remote to push to (--remote wins)."),
    Option("base", "string", "", "The branch to harden and target; empty: the repository's default branch."),
    Option("repository", "string", "", "OWNER/NAME on GitHub; empty: read from the remote URL."),
    Option("api-url", "string", "https://api.github.com", "GitHub API base URL (GitHub Enterprise); for GitLab "
           "the default is https://<remote host>/api/v4."),
    Option("forge", "string", "", "github or gitlab; empty: gitlab when the remote's host name says so.",
           choices=("", "github", "gitlab")),
    Option("groups", "table[table]", {}, "Pull-request groups by name (branch hardener/<name>): adds a group or "
           "replaces the default one; its transforms leave the default groups; `transforms = []` drops it; "
           "naming an opt-in group (ci-gate) turns it on.", fields=(
               Option("transforms", "list[string]", [], "Transform ids or names in this group."),
               Option("title", "string", "", "The PR title's words (default: the group name)."),
               Option("level", "string", "review", "safe: only safe changes; review: up to the run's level.",
                      choices=("safe", "review")),
               Option("per", "string", "repo", "repo: one PR; file: one PR per changed file.",
                      choices=("repo", "file")),
               Option("opt-in", "bool", False, "Opened only when ticked on the dashboard issue."),
           )),
)
VERIFY_OPTIONS = (
    Option("smoke", "string", "", "Shell command run in both images; empty: each image's ENTRYPOINT + CMD."),
    Option("expect", "string", "", "Output the smoke command must print in both images."),
    Option("timeout", "number", 30.0, "Seconds the smoke command may run."),
)
ENGINE_SECTIONS: Mapping[str, tuple[Option, ...]] = {"pr": PR_OPTIONS, "verify": VERIFY_OPTIONS}


def problem(option: Option, value: Any) -> str | None:
    """Why ``value`` does not fit ``option`` (type, then choices), else ``None``."""
    if not accepts(option.type, value):
        return f"expected {describe(option.type)}, not {show(value)}"
    if option.path and isinstance(value, str):
        return path_problem(value)
    bad = _bad_choice(option, value)
    if bad is not None:
        return f"expected one of {', '.join(option.choices or ())}, not {show(bad)}{did_you_mean(bad, option.choices or ())}"
    return None


def path_problem(value: str) -> str | None:
    """Why a repository-relative path could name a file outside the repository, else ``None``.

    The repository's own config chooses it, and hardener runs on repositories it did not
    write: ``/home/u/.bashrc`` or ``../../x`` would make ``apply`` overwrite a user's file.
    (Symlinks inside the tree are checked when the file is written.)
    """
    import posixpath

    normal = value.replace("\\", "/")
    if not normal.strip() or normal.startswith(("/", "~")) or (len(normal) > 1 and normal[1] == ":"):
        return f"expected a path inside the repository, not {show(value)}"
    if ".." in normal.split("/") or posixpath.normpath(normal) in (".", ""):
        return f"expected a path inside the repository, not {show(value)}"
    return None


def _bad_choice(option: Option, value: Any) -> str | None:
    if option.choices is None:
        return None
    values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
    return next((v for v in values if isinstance(v, str) and v not in option.choices), None)


def accepts(type_: str, value: Any) -> bool:
    return any(_accepts_one(alternative, value) for alternative in alternatives(type_))


def _accepts_one(type_: str, value: Any) -> bool:
    if type_.startswith(("list[", "table[")):
        outer, inner = type_[:-1].split("[", 1)
        if outer == "list":
            return isinstance(value, list) and all(accepts(inner, v) for v in value)
        return isinstance(value, dict) and all(accepts(inner, v) for v in value.values())
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    checks = {
        "bool": isinstance(value, bool), "false": value is False, "string": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool), "number": number,
        "table": isinstance(value, dict),
    }
    if type_ not in checks:
        raise ValueError(f"unknown option type {type_!r}")
    return checks[type_]


def alternatives(type_: str) -> list[str]:
    """``a|list[b|c]`` -> ``["a", "list[b|c]"]``: split on the ``|`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(type_):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(type_[start:i].strip())
            start = i + 1
    return [*parts, type_[start:].strip()]


_WORDS = {"bool": ("true or false", "booleans"), "false": ("false", "false"), "int": ("an integer", "integers"),
          "number": ("a number", "numbers"), "string": ("a string", "strings"), "table": ("a table", "tables")}


def describe(type_: str, plural: bool = False) -> str:
    """The type in words: ``list[string]|false`` -> "a list of strings or false"."""
    words = []
    for alternative in alternatives(type_):
        if alternative.startswith(("list[", "table[")):
            outer, inner = alternative[:-1].split("[", 1)
            words.append(f"{'lists' if plural else 'a list'} of {describe(inner, True)}" if outer == "list"
                         else f"{'tables' if plural else 'a table'} of {describe(inner, True)}")
        else:
            words.append(_WORDS[alternative][plural])
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]


def show(value: Any) -> str:
    """A value as TOML would write it (for messages and ``explain``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    return "unset" if value is None else str(value)


def explain_lines(section: str, options: tuple[Option, ...]) -> list[str]:
    """The ``## Options`` part of ``hardener explain``: one entry per option, then its doc."""
    lines = ["## Options", f"In `[tool.hardener.{section}]` of pyproject.toml, or `[{section}]` in .hardener.toml:", ""]
    for option in options:
        lines += _entry(option, "    ")
    return lines


def _entry(option: Option, indent: str) -> list[str]:
    extra = f"; one of {', '.join(option.choices)}" if option.choices else ""
    extra += f"; keys {', '.join(option.keys)}" if option.keys else ""
    extra += f"; each with {', '.join(f.name for f in option.fields)}" if option.fields else ""
    return [f"{indent}{option.name} ({option.type}{extra}; default {show(option.default)})", f"{indent}    {option.doc}"]
