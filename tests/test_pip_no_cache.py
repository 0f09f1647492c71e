"""HD405 pip-no-cache-dir."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.transforms.pip_no_cache import PipNoCacheDir

F = "FROM python:3.12-slim\n"
N = "--no-cache-dir"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("RUN pip install x\n", f"RUN pip install {N} x\n", id="pip"),
        pytest.param("RUN pip3.12 install -r r.txt\n", f"RUN pip3.12 install {N} -r r.txt\n", id="pip3-12"),
        pytest.param("RUN python -m pip install x\n", f"RUN python -m pip install {N} x\n", id="python-m"),
        pytest.param("RUN /venv/bin/python3 -m pip --proxy http://p:3128 install x\n",
                     f"RUN /venv/bin/python3 -m pip --proxy http://p:3128 install {N} x\n",
                     id="global-option-with-value"),
        pytest.param("RUN pip install \\\n    # deps\n    -r r.txt\n",
                     f"RUN pip install {N} \\\n    # deps\n    -r r.txt\n", id="continuation-comment"),
        pytest.param("RUN pip install x && pip install y\n", f"RUN pip install {N} x && pip install {N} y\n",
                     id="two-calls"),
        pytest.param("RUN for r in a b; do pip install -r $r; done\n",
                     f"RUN for r in a b; do pip install {N} -r $r; done\n", id="inside-for"),
        pytest.param(f"RUN pip install {N} x\n", None, id="already"),
        pytest.param("RUN pip install --cache-dir /tmp/c x\n", None, id="own-cache-dir"),
        pytest.param("RUN PIP_NO_CACHE_DIR=1 pip install x\n", None, id="env-prefix"),
        pytest.param("ENV PIP_NO_CACHE_DIR=1\nRUN pip install x\n", None, id="env-in-stage"),
        pytest.param("ARG PIP_NO_CACHE_DIR=1\nRUN pip install x\n", None, id="arg-in-stage"),
        pytest.param("RUN --mount=type=cache,target=/root/.cache/pip pip install x\n", None, id="cache-mount"),
        pytest.param("RUN pip download x && pip wheel y\n", None, id="not-install"),
        pytest.param("RUN pipenv install\n", None, id="pipenv"),
        pytest.param("RUN python -c 'import pip' install\n", None, id="python-not-m-pip"),
    ],
)
def test_pip(before: str, after: str | None, tmp_path: Path) -> None:
    output, _ = fix(PipNoCacheDir(), F + before, tmp_path)
    assert output == F + (before if after is None else after)


def test_env_inherited_from_parent_stage(tmp_path: Path) -> None:
    text = "FROM python:3.12-slim AS base\nENV PIP_NO_CACHE_DIR=1\nFROM base\nRUN pip install x\n"
    output, _ = fix(PipNoCacheDir(), text, tmp_path)
    assert output == text
