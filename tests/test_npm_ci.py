"""HD406 npm-ci: uses real lock files in a temporary build context."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.transforms.npm_ci import NpmCi

F = "FROM node:20-slim\nWORKDIR /app\n"


def _context(tmp_path: Path, lock: str | None = "package-lock.json", ignore: str | None = None) -> None:
    (tmp_path / "package.json").write_text('{"name": "a"}')
    if lock:
        (tmp_path / lock).write_text('{"lockfileVersion": 3}')
    if ignore is not None:
        (tmp_path / ".dockerignore").write_text(ignore)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("COPY package*.json ./\nRUN npm install\n", "COPY package*.json ./\nRUN npm ci\n", id="glob"),
        pytest.param("COPY package.json package-lock.json ./\nRUN npm i --omit=dev\n",
                     "COPY package.json package-lock.json ./\nRUN npm ci --omit=dev\n", id="i-alias"),
        pytest.param("COPY . .\nRUN npm install --production && npm run build\n",
                     "COPY . .\nRUN npm ci --production && npm run build\n", id="copy-all"),
        pytest.param("COPY . .\nRUN npm install express\n", None, id="named-package"),
        pytest.param("COPY . .\nRUN npm install -g npm@10\n", None, id="global"),
        pytest.param("COPY . .\nRUN npm install --no-package-lock\n", None, id="no-package-lock"),
        pytest.param("COPY . .\nRUN npm ci\n", None, id="already-ci"),
        pytest.param("COPY . .\nRUN yarn install\n", None, id="yarn"),
    ],
)
def test_npm(before: str, after: str | None, tmp_path: Path) -> None:
    _context(tmp_path)
    output, _ = fix(NpmCi(), F + before, tmp_path)
    assert output == F + (before if after is None else after)


def test_shrinkwrap_counts(tmp_path: Path) -> None:
    _context(tmp_path, lock="npm-shrinkwrap.json")
    output, _ = fix(NpmCi(), F + "COPY . .\nRUN npm install\n", tmp_path)
    assert output.endswith("RUN npm ci\n")


@pytest.mark.parametrize(
    ("lock", "ignore", "body", "reason"),
    [
        pytest.param(None, None, "COPY . .\nRUN npm install\n", "no package-lock.json", id="no-lock"),
        pytest.param("package-lock.json", "node_modules\npackage-lock.json\n", "COPY . .\nRUN npm install\n",
                     ".dockerignore excludes", id="ignored"),
        pytest.param("package-lock.json", None, "COPY package.json ./\nRUN npm install\n", "no COPY",
                     id="lock-not-copied"),
        pytest.param("package-lock.json", None, "COPY --from=deps /app/package-lock.json ./\nRUN npm install\n",
                     "no COPY", id="copied-from-other-stage"),
    ],
)
def test_refusals(lock: str | None, ignore: str | None, body: str, reason: str, tmp_path: Path) -> None:
    _context(tmp_path, lock, ignore)
    output, refusals = fix(NpmCi(), F + body, tmp_path)
    assert output == F + body
    assert any(reason in r for r in refusals), refusals


def test_no_context_no_findings(tmp_path: Path) -> None:
    output, refusals = fix(NpmCi(), F + "COPY . .\nRUN npm install\n", tmp_path)
    assert refusals == [] and "npm install" in output


def test_reads_the_dockerignore_as_staged_in_the_run(tmp_path: Path) -> None:
    """A .dockerignore written earlier in the run (not yet on disk) counts, as a second run would see it."""
    from hardener.context import Context
    from hardener.engine import Options, process
    from hardener.model import FileWrite

    _context(tmp_path)
    ctx = Context(tmp_path)
    ctx.files.stage(FileWrite(tmp_path / ".dockerignore", b"package-lock.json\n"))
    path = tmp_path / "Dockerfile"
    text = F + "COPY . .\nRUN npm install\n"
    result = process(str(path), "dockerfile", text.encode(), [NpmCi()], ctx.for_file(path), Options())
    assert not result.changed and any(".dockerignore excludes" in r.reason for r in result.refusals), result
