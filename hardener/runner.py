"""One run over many files: discover, configure, transform, judge, then show or write.

Reads top to bottom like the data flow in DESIGN.md. A file's trouble never stops the
others: bad input becomes an error entry, a hardener bug a failure entry.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hardener.config import Config, load_config, selected
from hardener.context import Context
from hardener.discover import Found, discovery
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
    jobs: int = 1  # worker processes for the repositories discovery finds (1: this process)


def batch_kinds(found: Sequence[Found], batch: Sequence[int]) -> set[str]:
    """The document kinds among a repository's files: only their transforms are loaded."""
    return {found[index].kind for index in batch}


def active_transforms(config: Config, kinds: Collection[str] | None = None) -> list[Transform]:
    """The selected transforms that work on one of ``kinds`` (every kind when None): the
    others are not even imported (cold start: a hook run on one Dockerfile)."""
    from hardener.transforms import load

    return [cls() for cls in load(kinds, lambda id_, name: selected(config, id_, name))]


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
    discovered = discovery(list(request.paths), exclude=config.exclude, include=config.include)
    found = discovered.found
    report.errors.extend(discovered.errors)
    report.skipped.update(discovered.skipped)
    if on_total is not None:
        on_total(len(found))
    done: dict[int, FileResult] = {}
    companions: dict[Path, list[CompanionResult]] = {}
    for root, indices, results, writes in _batches(request, config, found):
        if writes is not None:
            companions[root] = writes
        done.update(zip(indices, results))
        while len(report.results) in done:  # shown in discovery order, as soon as the ones before are done
            report.results.append(done.pop(len(report.results)))
            if on_result is not None:
                on_result(report.results[-1])
    for root in dict.fromkeys(found[i].root for i in run_order(found)):
        report.companions.extend(companions.get(root, ()))
    return report


# Fewer files than this are not worth starting worker processes for.
POOL_MIN_FILES = 8

# (repository root, indices into found, their results, the repository's companions once it is done)
_Done = tuple[Path, list[int], list[FileResult], "list[CompanionResult] | None"]


def _batches(request: RunRequest, config: Config, found: Sequence[Found]) -> Iterator[_Done]:
    """Each repository's files (indices into ``found``, in run order) with their results.

    A repository is the unit of work: its files share a context (a Compose file reads the
    Dockerfile as this run hardened it, a .dockerignore or CI file accumulates what several
    files need), so they run in order in one process; repositories are independent, so with
    ``jobs`` > 1 and enough files they run in worker processes, in any order.
    """
    groups: dict[Path, list[int]] = {}
    for index in run_order(found):
        groups.setdefault(found[index].root, []).append(index)
    batches = list(groups.values())
    if len(batches) == 1 and request.jobs > 1 and request.mode is not Mode.APPLY:
        split = _split(request, config, found, batches[0])
        if split is not None:
            yield from split
            return
    if request.jobs <= 1 or len(batches) <= 1 or len(found) < POOL_MIN_FILES:
        for batch in batches:  # here each file's result as soon as it is done, for the progress display
            yield from _repository(request, config, batch, found)
        return
    yield from _pooled(request, config, found, batches)


def _pooled(request: RunRequest, config: Config, found: Sequence[Found], batches: list[list[int]]
            ) -> Iterator[_Done]:
    import multiprocessing

    # forkserver, not fork: see pr/campaign.parallel_map (a lock held by another thread)
    context = multiprocessing.get_context("forkserver")
    pool = context.Pool(min(request.jobs, len(batches)), initializer=_worker_init)
    try:
        pending = [pool.apply_async(_run_batch, (request, config, batch, found)) for batch in batches]
        for future in pending:
            yield from future.get()
        pool.close()
    except BaseException:  # Ctrl-C or a worker's crash: stop the others now, leave no process behind
        pool.terminate()
        raise
    finally:
        pool.join()


def _split(request: RunRequest, config: Config, found: Sequence[Found], batch: list[int]) -> list[_Done] | None:
    """One repository's files in parts across workers (split_run.py), or None: too few files,
    or the parts touched each other's files, so the repository runs in one process."""
    from hardener import split_run

    parts = split_run.parts(found, batch, request.jobs)
    if parts is None:
        return None
    import multiprocessing

    context = multiprocessing.get_context("forkserver")  # as _pooled
    pool = context.Pool(len(parts), initializer=_worker_init)
    try:
        pending = [pool.apply_async(split_run.run_part, (request, config, batch, found, part)) for part in parts]
        done = [future.get() for future in pending]
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    if not split_run.consistent(done):
        return None
    root = found[batch[0]].root
    out: list[_Done] = [(root, [index], [result], None) for part in done for index, result in part.results]
    companions = sorted(((path, companion) for part in done for path, companion in part.companions), key=lambda pc: pc[0])
    return [*out, (root, [], [], [companion for _, companion in companions])]


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it terminates the pool


def _run_batch(request: RunRequest, config: Config, batch: list[int], found: Sequence[Found]) -> list[_Done]:
    return list(_repository(request, config, batch, found))  # a worker's answer: one message


def _repository(request: RunRequest, config: Config, batch: list[int], found: Sequence[Found]) -> Iterator[_Done]:
    """One repository's files in order, with one context: what the sequential run did per file."""
    transforms = active_transforms(config, batch_kinds(found, batch))
    options = Options(threshold(config), dict(config.applicability))
    root = found[batch[0]].root
    ctx = Context(root, config.options, offline=request.offline, scope=request.paths,
                  compose_projects=config.compose_projects)
    for index in batch:
        item = found[index]
        result = one_file(item, transforms, ctx, options, request.mode, config.max_file_size, found)
        if result.output is not None:
            ctx.files.record_output(item.path, result.output)
        yield root, [index], [result], None
    yield root, [], [], [companion_result(write, ctx) for write in ctx.files.writes()]


def one_file(item: Found, transforms: Sequence[Transform], ctx: Context, options: Options, mode: Mode,
             max_size: int, found: Sequence[Found]) -> FileResult:
    """One file of a repository with the repository's context; never raises."""
    try:
        return _one(item, transforms, ctx.for_file(item.path), options, mode, max_size, found)
    except Exception as exc:  # whatever one file does, the others are still processed and reported
        return FileResult(display_path(item.path), item.kind, failure=internal_error(exc))


def run_order(found: Sequence[Found]) -> list[int]:
    """Dockerfiles before Compose files (stable otherwise): a Compose transform reads the
    Dockerfile its `build:` uses, and must read it as this run hardens it, or `check` right
    after `apply` finds what the first run refused ("run-as-non-root on that file makes it non-root").
    No Dockerfile transform reads what a Compose transform writes."""
    return sorted(range(len(found)), key=lambda i: found[i].kind != "dockerfile")


def companion_result(write: FileWrite, ctx: Context) -> CompanionResult:
    """A companion file as the report shows it: before the run, and its final content.

    ``apply`` wrote it already, with the group of the file that needed it (``_commit``).
    """
    return CompanionResult(display_path(write.path), ctx.files.original(write.path), write.content,
                           sensitive=write.sensitive)


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
         max_size: int, found: Sequence[Found] = ()) -> FileResult:
    shown = display_path(item.path)
    try:
        raw = read_bounded(item.path, max_size)  # the size is checked before a byte is read or parsed
    except ReadRefused as exc:
        return FileResult(shown, item.kind, error=BadInput(str(exc.strerror), None, shown))
    except OSError as exc:
        return FileResult(shown, item.kind, error=BadInput(f"cannot read: {exc.strerror or exc}", None, shown))
    result = process(shown, item.kind, raw, transforms, ctx, options)
    if mode is Mode.APPLY and result.changed and result.output is not None:
        return _commit(item, raw, result, ctx, found)
    return result


def _commit(item: Found, raw: bytes, result: FileResult, ctx: Context, found: Sequence[Found]) -> FileResult:
    """Write one file's group, all or nothing: companions first, the file that refers to them last.

    Every target is checked by the write gate before anything is written, so a refused
    companion leaves the whole group as it was. Each write is atomic and checks that the
    file still holds what hardener read, so an interruption at any point leaves each file
    old or new, and a secret's value is on disk before the Compose file points at it. A
    companion shared by several files (one ``.dockerignore`` for two Dockerfiles) holds the
    run's content so far (``ctx.files`` accumulates), so it is written with the first group
    that needs it and again, before its referrer, with each group that changes it.
    """
    from hardener.writer import Gate

    # Secret values first: nothing may point at a secrets file before it holds the value.
    writes = sorted((w for w in result.companions if ctx.files.on_disk(w.path) != w.content), key=lambda w: not w.sensitive)
    gate = Gate.at(ctx.root, [f.path for f in found if f.root == item.root] + [w.path for w in ctx.files.writes()])
    try:
        for write in writes:
            _check_companion(gate, write, ctx)
        gate.check(item.path)
        for write in writes:
            gate.write(write.path, write.content, write.mode, expect=ctx.files.on_disk(write.path))
            ctx.files.written(write.path, write.content)
        if result.output != raw and result.output is not None:
            gate.write(item.path, result.output, expect=raw)
    except (BadInput, OSError) as exc:
        ctx.files.discard(w.path for w in result.companions)
        return replace(result, output=None, error=_not_written(exc, result.path))
    return result


def _check_companion(gate: Any, write: FileWrite, ctx: Context) -> None:
    from hardener.oci.digest_cache import is_lock, lock_path
    from hardener.writer import Refused

    gate.check(write.path)
    if write.path == lock_path(ctx) and not is_lock(ctx.files.original(write.path)):
        raise Refused("exists and is not a hardener lock file; not overwritten", None, str(write.path))


def _not_written(exc: BaseException, shown: str) -> BadInput:
    """The group's error on its main file, naming the file that stopped it when it is another."""
    if isinstance(exc, BadInput):
        other = display_path(Path(exc.path)) if exc.path else shown
        return BadInput(exc.message if other == shown else f"not written: {other}: {exc.message}", None, shown)
    if isinstance(exc, OSError):
        other = display_path(Path(exc.filename)) if exc.filename else shown
        return BadInput(f"cannot write{'' if other == shown else ' ' + other}: {exc.strerror or exc}", None, shown)
    raise exc


def display_path(path: Path) -> str:
    """Relative to the working directory when below it (what git apply expects), else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel.replace(os.sep, "/")
