"""Benchmark (not a test): pin-base-image / pin-compose-image against a local registry.

200 files (150 Dockerfiles, 50 Compose files) reference 50 distinct images seeded with
skopeo into ``docker-registry`` on 127.0.0.1 (docker.io is mirrored to it). Three runs
of ``hardener diff`` in this process, each with a fresh resolver:

- cold: empty cache; ``write-lock = true`` puts hardener.lock in the diff as a companion
  file, which the benchmark then writes (as ``apply`` would) without pinning the files;
- warm: the cache of the cold run;
- offline: ``--offline``, an empty cache, only hardener.lock.

Prints wall time, requests by kind and changes per run. Needs docker-registry, skopeo,
openssl and htpasswd (see .ci/run). Usage: ``.venv/bin/python benchmarks/pin_images.py``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

EXPLICIT = 40  # library/img0..39:1.<i>  (digest added to an explicit tag)
FLOATING = 10  # library/img40..49 untagged (latest -> 2.1, with tags/list + HEADs)


def seed(lab: object) -> list[str]:
    refs = []
    for i in range(EXPLICIT):
        lab.seed(f"library/img{i}", f"img{i}", f"1.{i}")  # type: ignore[attr-defined]
        refs.append(f"img{i}:1.{i}")
    for i in range(EXPLICIT, EXPLICIT + FLOATING):
        lab.seed(f"library/img{i}", f"img{i}", "2.1.0", "2.1", "2", "latest",  # type: ignore[attr-defined]
                 platforms=("linux/amd64", "linux/arm64"))
        refs.append(f"img{i}")
    return refs


def write_repo(repo: Path, refs: list[str], host: str) -> None:
    for n in range(150):
        a, b = refs[n % len(refs)], refs[(n * 7 + 3) % len(refs)]
        folder = repo / f"svc{n:03d}"
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(f"FROM {b} AS tools\nFROM {a}\nCOPY --from=tools /seed.txt /tools.txt\n")
    for n in range(50):
        folder = repo / f"stack{n:02d}"
        folder.mkdir(parents=True)
        services = "".join(f"  s{k}:\n    image: {refs[(n * 3 + k) % len(refs)]}\n" for k in range(3))
        (folder / "compose.yaml").write_text(f"services:\n{services}")
    (repo / ".hardener.toml").write_text(
        f'[pin-base-image]\nmirrors = {{"docker.io" = "{host}"}}\nwrite-lock = true\n')


def run_once(repo: Path, offline: bool) -> tuple[float, dict[str, int], int, int]:
    from hardener.oci.digest_cache import active_resolvers, reset_resolvers
    from hardener.report import Mode
    from hardener.runner import RunRequest, run

    reset_resolvers()
    started = time.perf_counter()
    report = run(RunRequest((repo,), Mode.DIFF, select=("HD101", "HD103"), offline=offline))
    elapsed = time.perf_counter() - started
    for companion in report.companions:  # the lock: written as apply would, files stay unpinned
        Path(companion.path).write_bytes(companion.content)
    resolver = active_resolvers()[0]
    counts = dict(resolver._client.counters.by_kind) if resolver._client is not None else {}
    changes = sum(len(r.changes) for r in report.results)
    refusals = sum(len(r.refusals) for r in report.results)
    return elapsed, counts, changes, refusals


def main() -> int:
    from test_registry_client import Lab, missing_tools

    if missing_tools():
        print(f"needs {', '.join(missing_tools())}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pin-bench-") as tmp:
        work = Path(tmp)
        lab = Lab(work / "registry")
        try:
            started = time.perf_counter()
            refs = seed(lab)
            print(f"seeded {len(refs)} images with skopeo in {time.perf_counter() - started:.1f}s")
            repo = work / "repo"
            write_repo(repo, refs, lab.host)
            os.environ["XDG_CACHE_HOME"] = str(work / "cache")
            rows = [("cold", *run_once(repo, offline=False)), ("warm (cache)", *run_once(repo, offline=False))]
            os.environ["XDG_CACHE_HOME"] = str(work / "empty-cache")
            rows.append(("offline (lock)", *run_once(repo, offline=True)))
        finally:
            lab.stop()
    print(f"{'run':<16}{'wall s':>8}{'requests':>10}  {'changes':>8}{'refusals':>9}  by kind")
    for name, elapsed, counts, changes, refusals in rows:
        print(f"{name:<16}{elapsed:>8.2f}{sum(counts.values()):>10}  {changes:>8}{refusals:>9}  {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
