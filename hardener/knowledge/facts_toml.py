"""Writing ``hardener.facts.toml``: what ``hardener verify --learn`` saw a real run do.

One ``[[learned]]`` table per Dockerfile of the directory (its sha256, the image id, the
date, the uids its processes ran as, the TCP ports they listened on) and one ``[[writes]]``
table per path written, tagged with the Dockerfile whose run wrote it. A new recording
replaces that Dockerfile's tables and keeps the others, and ``[[writes]]`` written by hand
(no ``dockerfile`` key). Tables are sorted, so the file is the same for the same facts; when
a run saw exactly what the file already says, the old stamp (image, date) is kept and the
file does not change at all. No environment value, command line or output is recorded:
only paths, port numbers and uids. Comments in a hand-edited file are not kept.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from typing import Any

HEADER = ("# Recorded by `hardener verify --learn`: what the app did in a real run of its image.\n"
          "# hardener reads it as facts with the source \"observed\". Run --learn again to refresh it.\n")


@dataclass(frozen=True)
class Recording:
    dockerfile: str  # file name beside this facts file, e.g. "Dockerfile"
    dockerfile_sha256: str
    image: str  # the image id that was run
    date: str  # YYYY-MM-DD (UTC)
    uids: tuple[int, ...]
    ports: tuple[str, ...]  # "8000/tcp"
    writes: tuple[tuple[str, bool], ...]  # (absolute path, is a directory)


def _same_behaviour(old: dict[str, Any], new: Recording, old_writes: list[dict[str, Any]]) -> bool:
    seen = sorted((w["path"], bool(w.get("dir", False))) for w in old_writes)
    return (old.get("dockerfile_sha256") == new.dockerfile_sha256 and list(old.get("uids", [])) == list(new.uids)
            and list(old.get("ports", [])) == list(new.ports) and seen == sorted(new.writes))


def merge(existing: str | None, new: Recording) -> str:
    """The file's new text: ``new`` replaces what ``existing`` says about the same Dockerfile."""
    data: dict[str, Any] = {}
    if existing:
        try:
            data = tomllib.loads(existing)
        except tomllib.TOMLDecodeError:
            data = {}
    learned = [t for t in data.get("learned", []) if isinstance(t, dict) and isinstance(t.get("dockerfile"), str)]
    writes = [t for t in data.get("writes", []) if isinstance(t, dict) and isinstance(t.get("path"), str)]
    ours_old = next((t for t in learned if t["dockerfile"] == new.dockerfile), None)
    our_writes = [w for w in writes if w.get("dockerfile") == new.dockerfile]
    stamp = (new.image, new.date)
    if ours_old is not None and _same_behaviour(ours_old, new, our_writes):
        stamp = (str(ours_old.get("image", new.image)), str(ours_old.get("date", new.date)))
    runs = [t for t in learned if t["dockerfile"] != new.dockerfile]
    runs.append({"dockerfile": new.dockerfile, "dockerfile_sha256": new.dockerfile_sha256, "image": stamp[0],
                 "date": stamp[1], "uids": list(new.uids), "ports": list(new.ports)})
    kept = [w for w in writes if w.get("dockerfile") != new.dockerfile]
    kept += [{"path": p, "dir": d, "dockerfile": new.dockerfile} for p, d in new.writes]
    return render(runs, kept)


def render(runs: list[dict[str, Any]], writes: list[dict[str, Any]]) -> str:
    parts = [HEADER]
    for run in sorted(runs, key=lambda r: r["dockerfile"]):
        parts.append("\n[[learned]]\n" + "".join(
            f"{key} = {_value(run[key])}\n"
            for key in ("dockerfile", "dockerfile_sha256", "image", "date", "uids", "ports") if key in run))
    for write in sorted(writes, key=lambda w: (w["path"], str(w.get("dockerfile", "")))):
        lines = f"path = {_value(write['path'])}\ndir = {_value(bool(write.get('dir', False)))}\n"
        if isinstance(write.get("dockerfile"), str):
            lines += f"dockerfile = {_value(write['dockerfile'])}\n"
        parts.append("\n[[writes]]\n" + lines)
    return "".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    # a JSON string is a valid TOML basic string (\" \\ \n \uXXXX escapes), except that
    # TOML also forbids a raw DEL
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
