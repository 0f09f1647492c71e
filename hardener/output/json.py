"""``--format json``: a stable, versioned document for bots and CI.

Its shape is published as ``hardener/data/report.schema.json`` (``SCHEMA_VERSION``).
"""
from __future__ import annotations

import json
from typing import Any

from hardener import __version__
from hardener.engine import FileResult
from hardener.model import Change, Refusal
from hardener.patch import unified_diff
from hardener.report import CompanionResult, Report

SCHEMA_VERSION = 1


def render(report: Report) -> str:
    doc = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "hardener", "version": __version__},
        "mode": report.mode.value,
        "summary": report.summary(),
        "exit_code": report.exit_code(),
        "files": [_file(r) for r in report.results],
        "companions": [_companion(c) for c in report.companions],
        "errors": [{"path": e.path, "line": e.line, "message": e.message} for e in report.errors],
    }
    if report.skipped:
        doc["skipped"] = dict(report.skipped)
    if report.campaign is not None:
        doc["campaign"] = report.campaign.as_json()
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _file(result: FileResult) -> dict[str, Any]:
    status = (
        "error" if result.error else "failed" if result.failure else "changed" if result.changed else "unchanged"
    )
    out: dict[str, Any] = {"path": result.path, "kind": result.kind, "status": status}
    if result.error:
        out["error"] = {"line": result.error.line, "message": result.error.message}
    if result.failure:
        out["failure"] = result.failure
    out["changes"] = [_change(c, applied=True) for c in result.changes]
    out["changes"] += [_change(c, applied=False) for c in result.skipped]
    out["refusals"] = [_refusal(r) for r in result.refusals]
    if result.changed and result.output is not None:
        out["diff"] = unified_diff(result.path, result.original.decode("utf-8"), result.output.decode("utf-8"))
    return out


def _companion(companion: CompanionResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": companion.path,
        "status": "created" if companion.original is None else "changed",
        "diff": companion.patch(),
    }
    if companion.error is not None:
        out["error"] = companion.error.message
    return out


def _change(change: Change, applied: bool) -> dict[str, Any]:
    return {
        "id": change.transform_id,
        "name": change.name,
        "applicability": change.applicability.label,
        "applied": applied,
        "line": change.line,
        "end_line": change.last_line,
        "reason": change.reason,
        "references": list(change.references),
    }


def _refusal(refusal: Refusal) -> dict[str, Any]:
    out = {
        "id": refusal.transform_id,
        "name": refusal.name,
        "line": refusal.line,
        "reason": refusal.reason,
        "references": list(refusal.references),
    }
    if refusal.incomplete:
        out["incomplete"] = True
    return out
