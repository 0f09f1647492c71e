"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One rule per registered transform (its docstring is the rule's help), one result per
change with the fix as ``artifactChanges`` (one replacement per changed block of lines,
taken from the file's original and hardened text), and one result per refusal with
``kind: review`` and ``level: none``: something a human should look at, not a defect
hardener could fix. Columns count code points (``columnKind: unicodeCodePoints``).
"""
from __future__ import annotations

import inspect
import json
from typing import Any

from hardener import __version__
from hardener.engine import FileResult
from hardener.model import Applicability, Change, Refusal
from hardener.output.hunks import Replacement, change_lines, hunks
from hardener.patch import split_lines
from hardener.report import Report

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/hardener/"
_LEVELS = {Applicability.SAFE: "note", Applicability.REVIEW: "warning", Applicability.UNSAFE: "warning"}


def render(report: Report) -> str:
    rules, index = _rules()
    results: list[dict[str, Any]] = []
    for result in report.results:
        results.extend(_file_results(result, index))
    run = {
        "tool": {"driver": {
            "name": "hardener", "version": __version__, "semanticVersion": __version__,
            "informationUri": INFORMATION_URI, "rules": rules,
        }},
        "invocations": [_invocation(report)],
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the directory hardener ran in"}}},
        "results": results,
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _rules() -> tuple[list[dict[str, Any]], dict[str, int]]:
    from hardener.transforms import REGISTRY

    rules: list[dict[str, Any]] = []
    for cls in REGISTRY:
        doc = inspect.cleandoc(cls.__doc__ or cls.name)
        summary = doc.splitlines()[0]
        rules.append({
            "id": cls.id,
            "name": cls.name,
            "shortDescription": {"text": summary},
            "fullDescription": {"text": summary},
            "help": {"text": doc, "markdown": doc},
            "defaultConfiguration": {"level": _LEVELS[cls.applicability]},
            "properties": {
                "tags": ["security", *cls.targets],
                "applicability": cls.applicability.label,
                "references": list(cls.references),
            },
        })
    return rules, {r["id"]: i for i, r in enumerate(rules)}


def _file_results(result: FileResult, index: dict[str, int]) -> list[dict[str, Any]]:
    out = []
    fixes = _fixes_by_change(result)
    for change in result.changes:
        out.append(_change(result.path, change, index, applied=True, fix=fixes.get(id(change))))
    for change in result.skipped:
        out.append(_change(result.path, change, index, applied=False, fix=None))
    for refusal in result.refusals:
        out.append(_refusal(result.path, refusal, index))
    return out


def _change(path: str, change: Change, index: dict[str, int], *, applied: bool,
            fix: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        **_rule_ref(change.transform_id, index),
        "kind": "fail",
        "level": _LEVELS[change.applicability],
        "message": {"text": f"{change.name}: {change.reason}"},
        "locations": [_location(path, change.line, change.last_line)],
        "properties": {
            "applicability": change.applicability.label,
            "applied": applied,
            "references": list(change.references),
        },
    }
    if fix is not None:
        out["fixes"] = [fix]
    return out


def _refusal(path: str, refusal: Refusal, index: dict[str, int]) -> dict[str, Any]:
    return {
        **_rule_ref(refusal.transform_id, index),
        # an incomplete run is a tool problem the user must see, not a review item
        "kind": "fail" if refusal.incomplete else "review",
        "level": "warning" if refusal.incomplete else "none",
        "message": {"text": f"{refusal.name} could not finish: {refusal.reason}" if refusal.incomplete
                    else f"{refusal.name} left this for a human: {refusal.reason}"},
        "locations": [_location(path, refusal.line, refusal.line)],
        "properties": {"refused": True, "incomplete": refusal.incomplete, "references": list(refusal.references)},
    }


def _rule_ref(transform_id: str, index: dict[str, int]) -> dict[str, Any]:
    ref: dict[str, Any] = {"ruleId": transform_id}
    if transform_id in index:
        ref["ruleIndex"] = index[transform_id]
    return ref


def _location(path: str, line: int, last: int) -> dict[str, Any]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": max(line, 1), "endLine": max(last, line, 1)},
    }}


def _fixes_by_change(result: FileResult) -> dict[int, dict[str, Any]]:
    """Each applied change gets the replacements of the hunks that touch its lines.

    Changes found in a later engine round may carry line numbers of an intermediate
    text; a change no hunk touches gets no fix rather than a wrong one.
    """
    if not result.changed or result.output is None:
        return {}
    before = result.original.decode("utf-8")
    lines = split_lines(before)
    all_hunks = hunks(before, result.output.decode("utf-8"), context=0)
    fixes: dict[int, dict[str, Any]] = {}
    for change in result.changes:
        span = change_lines(change, before)
        reps = [r for h in all_hunks if h.touches(*span) for r in h.replacements]
        if reps:
            fixes[id(change)] = {
                "description": {"text": change.reason},
                "artifactChanges": [{
                    "artifactLocation": {"uri": result.path, "uriBaseId": "%SRCROOT%"},
                    "replacements": [_replacement(lines, r) for r in reps],
                }],
            }
    return fixes


def _replacement(lines: list[str], rep: Replacement) -> dict[str, Any]:
    start_line, start_col, offset = _position(lines, rep.old_start)
    end_line, end_col, end_offset = _position(lines, rep.old_end)
    region = {
        "startLine": start_line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col,
        "charOffset": offset, "charLength": end_offset - offset,
    }
    return {"deletedRegion": region, "insertedContent": {"text": rep.inserted}}


def _position(lines: list[str], index: int) -> tuple[int, int, int]:
    """(line, column, char offset) of the start of 0-based line ``index``; past the end: EOF."""
    offset = sum(len(line) for line in lines[:index])
    if index < len(lines):
        return index + 1, 1, offset
    if not lines:
        return 1, 1, 0
    return len(lines), len(lines[-1]) + 1, offset


def _invocation(report: Report) -> dict[str, Any]:
    """Bad input and hardener's own failures become notifications; exit 3 means it did not finish."""
    notes = [_notification("error", str(e.message), e.path, e.line) for e in report.errors]
    for r in report.results:
        if r.error is not None:
            notes.append(_notification("error", r.error.message, r.path, r.error.line))
        if r.failure is not None:
            notes.append(_notification("error", f"hardener failed, file left unchanged: {r.failure}", r.path, None))
    out: dict[str, Any] = {"executionSuccessful": report.exit_code() != 3, "exitCode": report.exit_code()}
    if notes:
        out["toolExecutionNotifications"] = notes
    return out


def _notification(level: str, message: str, path: str | None, line: int | None) -> dict[str, Any]:
    note: dict[str, Any] = {"level": level, "message": {"text": message}}
    if path:
        location: dict[str, Any] = {"artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"}}
        if line:
            location["region"] = {"startLine": line}
        note["locations"] = [{"physicalLocation": location}]
    return note
