"""Prepare the cache of real repositories that tests/test_real_repos.py runs apply + check on.

    python tests/real_repos/prepare.py [--mirror DIR] [--cache DIR]

Each repository of REPOS is taken from a bare git mirror (``DIR/<owner>+<name>/repo``, the
layout the agent tooling's fetch writes; any bare clone works) or, with ``--clone``, cloned from
GitHub; its HEAD tree is exported to ``CACHE/<owner>+<name>/`` and the commit is written
to ``CACHE/<owner>+<name>.commit``. The cache defaults to $HARDENER_REAL_REPOS, else
``~/.cache/hardener/real-repos`` (the test's default too). CI has no network: the test
skips when the cache is absent.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPOS = (
    "docker/awesome-compose",
    "dockersamples/example-voting-app",
    "getsentry/self-hosted",
    "netbox-community/netbox-docker",
    "paperless-ngx/paperless-ngx",
    "goharbor/harbor",
    "discourse/discourse_docker",
    "temporalio/docker-compose",
)
DEFAULT_CACHE = Path("~/.cache/hardener/real-repos").expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("HARDENER_REAL_REPOS") or DEFAULT_CACHE)


def _git(git_dir: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True, text=True,
                          input=stdin).stdout


def missing_blobs(git_dir: Path) -> list[str]:
    """Paths whose blob the mirror lacks (a snapshot may leave its largest files out)."""
    entries = [line.split("\t", 1) for line in _git(git_dir, "ls-tree", "-r", "HEAD").splitlines()]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    checked = _git(git_dir, "cat-file", "--batch-check", stdin="".join(sha + "\n" for sha, _ in blobs))
    return [path for (_, path), line in zip(blobs, checked.splitlines(), strict=True) if line.endswith(" missing")]


def export(git_dir: Path, target: Path) -> str:
    """Export HEAD's tree of a (bare) repository into target, without blobs the mirror lacks
    (none of them is a Dockerfile or Compose file in the repositories above); returns the commit."""
    commit = _git(git_dir, "rev-parse", "HEAD").strip()
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    excluded = [f":(exclude,literal){path}" for path in missing_blobs(git_dir)]
    archive = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", "HEAD", "--", ".", *excluded],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive failed in {git_dir}")
    return commit


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"), help="bare mirrors: DIR/<owner>+<name>/repo")
    parser.add_argument("--cache", type=Path, default=None, help="default: $HARDENER_REAL_REPOS or " + str(DEFAULT_CACHE))
    parser.add_argument("--clone", action="store_true", help="clone missing mirrors from github.com")
    args = parser.parse_args(argv)
    cache = args.cache or cache_dir()
    missing = 0
    for repo in REPOS:
        slug = repo.replace("/", "+")
        git_dir = args.mirror / slug / "repo"
        with tempfile.TemporaryDirectory() as tmp:
            if not git_dir.is_dir() and args.clone:
                git_dir = Path(tmp) / "repo"
                subprocess.run(["git", "clone", "-q", "--bare", "--depth", "1", f"https://github.com/{repo}",
                                str(git_dir)], check=True)
            if not git_dir.is_dir():
                print(f"{repo}: no mirror at {git_dir}; skipped", file=sys.stderr)
                missing += 1
                continue
            commit = export(git_dir, cache / slug)
        (cache / f"{slug}.commit").write_text(commit + "\n", encoding="utf-8")
        print(f"{repo}: {commit[:12]} -> {cache / slug}", flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
