"""Real git through subprocess: the few plumbing commands ``hardener pr`` needs."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitError(Exception):
    """A git command failed; the message carries git's own words."""


class Git:
    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.env = env or {}

    def __call__(self, *args: str, check: bool = True) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **self.env}
        proc = subprocess.run(["git", *args], cwd=self.cwd, env=env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise GitError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
        return proc.stdout.strip()

    def rev(self, ref: str) -> str | None:
        out = self("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return out or None

    def tree(self, commit: str) -> str:
        return self("rev-parse", f"{commit}^{{tree}}")

    def parents(self, commit: str) -> list[str]:
        return self("rev-list", "--parents", "-n", "1", commit).split()[1:]
