"""HD305 narrow-copy: narrowed beside refused, one reason each."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.transforms.narrow_copy import NarrowCopy

PY = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
APP = {"requirements.txt": "x\n", "app.py": "import helpers\n", "helpers.py": "", "tests/test_a.py": "", "docs/a.md": ""}


def run(root: Path, files: dict[str, str]) -> tuple[str, list[str]]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    raw = (root / "Dockerfile").read_bytes()
    result = process("Dockerfile", "dockerfile", raw, [NarrowCopy()], Context(root).for_file(root / "Dockerfile"), Options())
    return (result.output or raw).decode(), [r.reason for r in result.refusals]


@pytest.mark.parametrize(("dockerfile", "extra", "expected"), [
    pytest.param(PY + 'CMD ["python", "app.py"]\n', {}, "COPY app.py helpers.py requirements.txt ./", id="script"),
    pytest.param(PY + "CMD python -u app.py\n", {}, "COPY app.py helpers.py requirements.txt ./", id="shell-form-with-flag"),
    pytest.param(PY + 'CMD ["python", "-m", "svc"]\n', {"svc/__main__.py": "import helpers\n"}, "COPY svc/ ./svc/", id="module"),
    pytest.param(PY + 'CMD ["uvicorn", "api:app", "--port", "80"]\n', {"api.py": ""}, "COPY api.py requirements.txt ./", id="asgi-server"),
    pytest.param(PY + "RUN ./scripts/setup.sh\nCMD [\"python\", \"app.py\"]\n", {"scripts/setup.sh": ""}, "COPY scripts/ ./scripts/", id="later-run-names-a-path"),
    pytest.param("FROM python:3\nWORKDIR /\nCOPY . /\nCMD python app.py\n", {}, "COPY app.py helpers.py requirements.txt /\n", id="root-destination"),
])
def test_narrows(tmp_path: Path, dockerfile: str, extra: dict[str, str], expected: str) -> None:
    out, refusals = run(tmp_path, {**APP, **extra, "Dockerfile": dockerfile})
    assert expected in out and "tests" not in out and "docs" not in out, (out, refusals)


@pytest.mark.parametrize(("dockerfile", "extra", "reason"), [
    pytest.param(PY + "CMD [\"sh\", \"start.sh\"]\n", {}, "no Python entrypoint", id="no-entrypoint"),
    pytest.param(PY + "RUN pip install -e .\nCMD python app.py\n", {}, "whole copied tree", id="pip-install-project"),
    pytest.param(PY + "RUN poetry install\nCMD python app.py\n", {}, "whole copied tree", id="poetry-install-root"),
    pytest.param(PY + "RUN chmod -R 755 *\nCMD python app.py\n", {}, "whole copied tree", id="glob-run"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "__import__('x')\n"}, "modules loaded by name", id="dunder-import"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "import django\n"}, "modules loaded by name", id="django"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "open('server.key')\n", "server.key": ""}, "looks like a secret", id="secret-needed"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "def (:\n"}, "cannot read app.py", id="syntax-error"),
    pytest.param("FROM node:20\nCOPY . .\nCMD node i.js\n", {"requirements.txt": "", "package.json": "{}"}, "", id="node-with-stray-requirements"),
])
def test_refuses(tmp_path: Path, dockerfile: str, extra: dict[str, str], reason: str) -> None:
    out, refusals = run(tmp_path, {**APP, **extra, "Dockerfile": dockerfile})
    assert out == dockerfile and len(refusals) == 1 and reason in refusals[0]


def test_not_python_and_no_copy_all_left_alone(tmp_path: Path) -> None:
    out, refusals = run(tmp_path, {"package.json": "{}", "Dockerfile": "FROM node:20\nCOPY . .\nCMD node i.js\n"})
    assert "not a Python project" in refusals[0]
    out, refusals = run(tmp_path, {**APP, "Dockerfile": "FROM python:3\nCOPY app.py /app/\nCMD python /app/app.py\n"})
    assert refusals == []


def test_flask_conventional_directories_are_kept(tmp_path: Path) -> None:
    files = {**APP, "app.py": "from flask import Flask, render_template\n", "templates/i.html": "", "static/s.css": "",
             "Dockerfile": PY + 'CMD ["python", "app.py"]\n'}
    out, _ = run(tmp_path, files)
    assert "COPY templates/ ./templates/" in out and "COPY static/ ./static/" in out
