"""Run the hardener CLI in a child process with a memory cap and a time limit.

A hostile input must end in a documented exit code within the time bound and under the
memory bound; in-process runs could neither be stopped nor have their memory capped.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MEMORY = 4 << 30  # RLIMIT_AS: address space, not RSS; the Go runtime of the BuildKit judge reserves arenas up front
_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
from hardener.cli import main
sys.argv = ["hardener", *sys.argv[1:]]
main()
"""


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_bounded(args: list[str], cwd: Path, timeout: float = 60, memory: int = MEMORY) -> Outcome:
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(memory=memory), *args], cwd=cwd,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return Outcome(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
