"""One run over many files: discover, configure, transform, judge, then show or write.

Reads top to bottom like the data flow in DESIGN.md. A file's trouble never stops the
others: bad input becomes an error entry, a hardener bug a failure entry.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hardener.config import Config, load_config, selected
from hardener.context import Context
from hardener.discover import Found, discover
from hardener.engine import FileResult, Options, internal_error, process
from hardener.errors import BadInput
from hardener.limits import ReadRefused, read_bounded
from hardener.model import Applicability, FileWrite, Transform
from hardener.report import CompanionResult, Mode, Report


@dataclass(frozen=True)
class RunRequest:
    paths: tuple[Path, ...]
    mode: Mode
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unsafe: bool = False
    safe_only: bool = False
    config_path: Path | None = None
    exit_on_change: bool = False
    offline: bool = False
    lock: bool = False  # --lock: record resolved digests in the repo's hardener.lock


def active_transforms(config: Config) -> list[Transform]:
    from hardener.transforms import REGISTRY

    return [cls() for cls in REGISTRY if selected(config, cls.id, cls.name)]


def threshold(config: Config) -> Applicability:
    if config.safe_only:
        return Applicability.SAFE
    return Applicability.UNSAFE if config.unsafe else Applicability.REVIEW


def run(request: RunRequest, on_result: Callable[[FileResult], None] | None = None,
        on_total: Callable[[int], None] | None = None) -> Report:
    report = Report(request.mode, exit_on_change=request.exit_on_change)
    start = request.paths[0] if request.paths else Path.cwd()
    try:
        config = _config(request, start)
    except BadInput as exc:
        report.errors.append(exc)
        return report
    found, errors = discover(list(request.paths), exclude=config.exclude)
    report.errors.extend(errors)
    if on_total is not None:
        on_total(len(found))
    transforms = active_transforms(config)
    options = Options(threshold(config), dict(config.applicability))
    contexts: dict[Path, Context] = {}
    for item in found:
        ctx = contexts.setdefault(item.root, Context(item.root, config.options, offline=request.offline))
        try:
            result = _one(item, transforms, ctx.for_file(item.path), options, request.mode, config.max_file_size)
        except Exception as exc:  # whatever one file does, the others are still processed and reported
            result = FileResult(display_path(item.path), item.kind, failure=internal_error(exc))
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    for ctx in contexts.values():
        report.companions.extend(_companion(write, request.mode) for write in ctx.files.writes())
    return report


def _companion(write: FileWrite, mode: Mode) -> CompanionResult:
    """Companion files are written after every file was processed (their final content)."""
    shown = display_path(write.path)
    try:
        original: bytes | None = read_bounded(write.path)
    except FileNotFoundError:
        original = None
    except OSError as exc:
        return CompanionResult(shown, None, write.content, BadInput(f"cannot read: {exc.strerror}", None, shown),
                               write.sensitive)
    if mode is Mode.APPLY and original != write.content:
        from hardener.writer import atomic_write

        try:
            atomic_write(write.path, write.content, write.mode)
        except OSError as exc:
            return CompanionResult(shown, original, write.content,
                                   BadInput(f"cannot write: {exc.strerror or exc}", None, shown), write.sensitive)
    return CompanionResult(shown, original, write.content, sensitive=write.sensitive)


def _config(request: RunRequest, start: Path) -> Config:
    config = load_config(start, request.config_path)
    overrides: dict[str, object] = {}
    if request.select:
        overrides["select"] = request.select
    if request.ignore:
        overrides["ignore"] = tuple(config.ignore) + request.ignore
    if request.unsafe:
        overrides["unsafe"] = True
    if request.safe_only:
        overrides["safe_only"] = True
    if request.lock:
        options = dict(config.options)
        options["pin-base-image"] = {**dict(options.get("pin-base-image") or {}), "write-lock": True}
        overrides["options"] = options
    return config.merged(**overrides) if overrides else config


def _one(item: Found, transforms: Sequence[Transform], ctx: Context, options: Options, mode: Mode,
         max_size: int) -> FileResult:
    shown = display_path(item.path)
    try:
        raw = read_bounded(item.path, max_size)  # the size is checked before a byte is read or parsed
    except ReadRefused as exc:
        return FileResult(shown, item.kind, error=BadInput(str(exc.strerror), None, shown))
    except OSError as exc:
        return FileResult(shown, item.kind, error=BadInput(f"cannot read: {exc.strerror or exc}", None, shown))
    result = process(shown, item.kind, raw, transforms, ctx, options)
    if mode is Mode.APPLY and result.changed and result.output is not None:
        from hardener.writer import atomic_write

        try:
            atomic_write(item.path, result.output)
        except OSError as exc:
            from dataclasses import replace

            err = BadInput(f"cannot write: {exc.strerror or exc}", None, shown)
            return replace(result, output=None, error=err)
    return result


def display_path(path: Path) -> str:
    """Relative to the working directory when below it (what git apply expects), else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel.replace(os.sep, "/")
