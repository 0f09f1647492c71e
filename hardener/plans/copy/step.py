"""A later Dockerfile instruction as the narrow-copy planners read it (the input every planner shares)."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field


@dataclass
class Step:
    """A later instruction as the Node and Go needs read it: its simple commands and where it runs."""

    line: int
    keyword: str  # RUN, or CMD for the command a container of this stage (or a consumer) runs
    argvs: list[list[str]] | None  # None: a RUN that cannot be split into commands
    base: str | None  # the working directory inside the copied tree ("" its root), None: elsewhere
    app_dir: str | None  # where the context's root lands in the image, if known
    optional: bool = False  # a consumer stage's command: may not run the copied files at all
    env: dict[str, str] = field(default_factory=dict)

    def locate(self, word: str, cwd: str | None = "") -> str | None:
        """The context-relative path of a path word used at ``cwd``; None when outside the copy."""
        if word.startswith("/"):
            if self.app_dir and (word == self.app_dir or word.startswith(self.app_dir.rstrip("/") + "/")):
                rel = posixpath.relpath(word, self.app_dir)
                return "" if rel == "." else rel
            return None
        if cwd is None:
            return None
        rel = posixpath.normpath(posixpath.join(cwd or ".", word))
        return None if rel.startswith("..") else ("" if rel == "." else rel)
