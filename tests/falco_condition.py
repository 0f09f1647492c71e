"""A small checker for Falco rules files: the YAML shape Falco requires and its condition grammar.

Falco itself cannot run here (it needs a kernel driver or a plugin host), so this follows
libsinsp's grammar (``userspace/libsinsp/filter/parser.h``) for the subset hardener emits:

    Expr     ::= OrExpr;  OrExpr ::= AndExpr ('or' AndExpr)*;  AndExpr ::= NotExpr ('and' NotExpr)*
    NotExpr  ::= 'not' NotExpr | '(' Expr ')' | Field Condition | Identifier (a macro)
    Condition::= 'exists' | NumOp Number | StrOp StrValue | ListOp ListValue
    NumOp    ::= '<=' | '<' | '>=' | '>'
    StrOp    ::= '==' | '=' | '!=' | glob | iglob | contains | icontains | bcontains
                 | startswith | bstartswith | endswith
    ListOp   ::= in | intersects | pmatch;   ListValue ::= '(' StrValue (',' StrValue)* ')' | Identifier
    Field    ::= [a-zA-Z]+[a-zA-Z0-9_]*(\\.[a-zA-Z]+[a-zA-Z0-9_]*)+ ('[' arg ']')?
    StrValue ::= QuotedStr | [^ \\b\\t\\n\\r(),="']+

Stricter than Falco where a typo would otherwise pass silently: a field must be one of
``FIELDS`` (real Falco fields), a bare identifier must be a macro defined earlier in the
file, and a list item shaped like a list name (``a_b``) must be a list defined earlier.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

# Real Falco fields (libsinsp / the container plugin) that the generated rules may use.
FIELDS = frozenset({
    "container.id", "container.name", "container.image", "container.image.repository",
    "container.image.tag", "evt.type", "evt.dir", "evt.is_open_write", "evt.rawres", "evt.res",
    "fd.name", "fd.directory", "fd.typechar", "fd.num", "fd.sip", "fd.snet", "fd.net", "fd.ip",
    "fd.l4proto", "fd.connected", "fd.name_changed", "fd.sport", "proc.name", "proc.pname",
    "proc.cmdline", "proc.exepath", "proc.tty", "user.name", "user.uid",
})
PRIORITIES = frozenset({"emergency", "alert", "critical", "error", "warning", "notice",
                        "informational", "info", "debug"})
RULE_KEYS = frozenset({"rule", "desc", "condition", "output", "priority", "tags", "enabled",
                       "source", "exceptions", "override", "append", "warn_evttypes"})
REQUIRED_RULE_KEYS = ("rule", "desc", "condition", "output", "priority")

_FIELD = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+")
_FIELD_ARG = re.compile(r"\[(?:\"[^\"]*\"|'[^']*'|[^ \t\n\r\[\]\"']+)\]")
_IDENT = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9a-zA-Z]+|[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?")
_QUOTED = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")
_BARE = re.compile(r"[^ \b\t\n\r(),=\"']+")
_BLANK = re.compile(r"[ \t\n\r\b]*")
_NUM_OPS = ("<=", ">=", "<", ">")
_SYM_STR_OPS = ("==", "=", "!=")
_WORD_STR_OPS = ("glob", "iglob", "contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith")
_LIST_OPS = ("intersects", "in", "pmatch")
_KEYWORDS = {"and", "or", "not"}
_OUTPUT_FIELD = re.compile(r"%([a-zA-Z][a-zA-Z0-9_.]*(?:\[[^\]]*\])?)")


class FalcoError(ValueError):
    """A condition or rules file Falco would reject (or that uses what it does not define)."""


@dataclass
class Parsed:
    fields: set[str] = field(default_factory=set)
    macros: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)


class _Parser:
    def __init__(self, text: str, macros: Collection[str], lists: Collection[str]) -> None:
        self.text, self.pos = text, 0
        self.macros, self.lists = macros, lists
        self.out = Parsed()

    def fail(self, message: str) -> FalcoError:
        return FalcoError(f"{message} at column {self.pos + 1}: {self.text!r}")

    def blank(self) -> None:
        self.pos = _BLANK.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def word(self, word: str) -> bool:
        """A keyword/operator word followed by a blank or '(' (never a prefix of a longer name)."""
        self.blank()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (end == len(self.text) or self.text[end] in " \t\n\r("):
            self.pos = end
            return True
        return False

    def symbol(self, sym: str) -> bool:
        self.blank()
        if self.text.startswith(sym, self.pos):
            self.pos += len(sym)
            return True
        return False

    def parse(self) -> Parsed:
        self.expr(0)
        self.blank()
        if self.pos != len(self.text):
            raise self.fail("unexpected text")
        return self.out

    def expr(self, depth: int) -> None:
        if depth > 100:
            raise self.fail("nested too deeply")
        self.and_expr(depth)
        while self.word("or"):
            self.and_expr(depth)

    def and_expr(self, depth: int) -> None:
        self.not_expr(depth)
        while self.word("and"):
            self.not_expr(depth)

    def not_expr(self, depth: int) -> None:
        while self.word("not"):
            pass
        if self.symbol("("):
            self.expr(depth + 1)
            if not self.symbol(")"):
                raise self.fail("missing ')'")
            return
        self.blank()
        match = _FIELD.match(self.text, self.pos)
        if match:
            self.check(match)
            return
        match = _IDENT.match(self.text, self.pos)
        if match is None or match.group() in _KEYWORDS:
            raise self.fail("expected a field, a macro or '('")
        if match.group() not in self.macros:
            raise self.fail(f"unknown macro {match.group()!r}")
        self.out.macros.add(match.group())
        self.pos = match.end()

    def check(self, match: re.Match[str]) -> None:
        name = match.group()
        if name not in FIELDS:
            raise self.fail(f"unknown field {name!r}")
        self.out.fields.add(name)
        self.pos = match.end()
        arg = _FIELD_ARG.match(self.text, self.pos)
        self.pos = arg.end() if arg else self.pos
        if self.word("exists"):
            return
        if any(self.symbol(op) for op in _NUM_OPS):  # "<=" is tried before "<"
            self.value(_NUMBER, "a number")
        elif any(self.symbol(op) for op in _SYM_STR_OPS) or any(self.word(op) for op in _WORD_STR_OPS):
            self.str_value()
        elif any(self.word(op) for op in _LIST_OPS):
            self.list_value()
        else:
            raise self.fail(f"expected an operator after {name!r}")

    def value(self, pattern: re.Pattern[str], what: str) -> str:
        self.blank()
        match = pattern.match(self.text, self.pos)
        if match is None or not match.group():
            raise self.fail(f"expected {what}")
        self.pos = match.end()
        return match.group()

    def str_value(self) -> str:
        self.blank()
        quoted = _QUOTED.match(self.text, self.pos)
        if quoted:
            self.pos = quoted.end()
            return quoted.group()[1:-1]
        if self.text.startswith(("\"", "'"), self.pos):
            raise self.fail("unterminated string")
        return self.value(_BARE, "a value")

    def list_value(self) -> None:
        if not self.symbol("("):
            self.list_item(self.value(_IDENT, "'(' or a list name"))
            return
        if self.symbol(")"):
            return
        self.list_item(self.bare_or_quoted())
        while self.symbol(","):
            self.list_item(self.bare_or_quoted())
        if not self.symbol(")"):
            raise self.fail("missing ')' after the list")

    def bare_or_quoted(self) -> str | None:
        """A list item; None when quoted (a quoted item is a value, never a list name)."""
        self.blank()
        quoted = self.text.startswith(("\"", "'"), self.pos)
        value = self.str_value()
        return None if quoted else value

    def list_item(self, item: str | None) -> None:
        if item is None:
            return
        if item in self.lists:
            self.out.lists.add(item)
        elif _IDENT.fullmatch(item) and "_" in item:
            raise self.fail(f"unknown list {item!r}")


def parse_condition(text: str, macros: Collection[str] = (), lists: Collection[str] = ()) -> Parsed:
    """Parse a condition; raises FalcoError for syntax errors, unknown fields/macros/lists."""
    return _Parser(text, macros, lists).parse()


def check_rules_file(text: str) -> dict[str, Any]:
    """Load a rules file as Falco does and check every entry; returns lists, macros and rules."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(text)
    if not isinstance(data, list):
        raise FalcoError("a rules file is a YAML sequence")
    lists: dict[str, list[str]] = {}
    macros: dict[str, str] = {}
    rules: dict[str, dict[str, Any]] = {}
    for entry in data:
        if not isinstance(entry, dict):
            raise FalcoError(f"entry is not a mapping: {entry!r}")
        if "list" in entry:
            _check_list(entry, lists)
        elif "macro" in entry:
            if set(entry) - {"macro", "condition"} or not isinstance(entry.get("condition"), str):
                raise FalcoError(f"macro {entry.get('macro')!r}: needs `condition` (a string) only")
            parse_condition(entry["condition"], macros, lists)
            macros[entry["macro"]] = entry["condition"]
        elif "rule" in entry:
            _check_rule(entry, macros, lists)
            rules[entry["rule"]] = entry
        else:
            raise FalcoError(f"unknown entry {sorted(entry)}")
    return {"lists": lists, "macros": macros, "rules": rules}


def _check_list(entry: dict[str, Any], lists: dict[str, list[str]]) -> None:
    items = entry.get("items")
    if set(entry) != {"list", "items"} or not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise FalcoError(f"list {entry.get('list')!r}: needs `items`, a list of strings")
    if not _IDENT.fullmatch(str(entry["list"])):
        raise FalcoError(f"list name {entry['list']!r} is not an identifier")
    lists[entry["list"]] = items


def _check_rule(entry: dict[str, Any], macros: Collection[str], lists: Collection[str]) -> None:
    name = entry["rule"]
    missing = [k for k in REQUIRED_RULE_KEYS if not isinstance(entry.get(k), str) or not entry[k].strip()]
    if missing or set(entry) - RULE_KEYS:
        raise FalcoError(f"rule {name!r}: missing {missing} or unknown keys {sorted(set(entry) - RULE_KEYS)}")
    if entry["priority"].lower() not in PRIORITIES:
        raise FalcoError(f"rule {name!r}: priority {entry['priority']!r}")
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise FalcoError(f"rule {name!r}: tags must be a list of strings")
    parse_condition(entry["condition"], macros, lists)
    unknown = [f for f in _OUTPUT_FIELD.findall(entry["output"]) if f.split("[")[0] not in FIELDS]
    if unknown:
        raise FalcoError(f"rule {name!r}: unknown output fields {unknown}")
