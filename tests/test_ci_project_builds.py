"""The CI gate's Compose builds read as the project builds them (hardener/ci/project_builds.py).

A ``build:`` that another file of the project completes (a ``target:`` in a ``-f`` overlay, an
overlay adding ``build:`` to a base image service, an override changing it, an include) is
built with the merged service's context, dockerfile, target and image; a file's own build is
left out only when that file is never run alone.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from ci_helpers import make_repo
from ci_helpers import run_gate as _run
from ruamel.yaml import YAML

from hardener.ci.images import repo_images
from hardener.context import Context
from hardener.model import Change

STAGES = "FROM scratch AS dev\nCOPY app.txt /app/\nFROM scratch AS prod\nCOPY app.txt /app/\n"
MAKE = "up:\n\tdocker compose -f compose.yaml -f {overlay} up -d\n"


def _builds(root: Path) -> set[tuple[str, str | None, str | None, str | None]]:
    """(dockerfile, context, target, image) of every build, relative to the root."""
    def rel(p: Path | None) -> str | None:
        return p.relative_to(root).as_posix() if p is not None else None

    found = repo_images(Context(root, {}).for_file(root / "compose.yaml")).builds
    return {(rel(b.dockerfile) or "", rel(b.context), b.target, b.image) for b in found}


@pytest.mark.parametrize("files, expect", [
    pytest.param({"compose.yaml": "services:\n  api:\n    build: ./api\n",
                  "compose.prod.yaml": "services:\n  api:\n    build:\n      target: prod\n",
                  "Makefile": MAKE.format(overlay="compose.prod.yaml")},
                 # the base alone is `docker compose up`; the overlay's target goes with the base's context
                 {("api/Dockerfile", "api", None, None), ("api/Dockerfile", "api", "prod", None)},
                 id="overlay-sets-the-target"),
    pytest.param({"compose.yaml": "services:\n  web:\n    image: ghcr.io/acme/web:1\n",
                  "deploy/compose.build.yaml": "services:\n  web:\n    build: ./web\n",
                  "Makefile": MAKE.format(overlay="deploy/compose.build.yaml")},
                 # a -f file's relative paths are the project's (the first file's folder), and the
                 # build is tagged with the base's image
                 {("web/Dockerfile", "web", None, "ghcr.io/acme/web:1")},
                 id="overlay-adds-build-to-an-image-service"),
    pytest.param({"compose.yaml": "services:\n  api:\n    build: ./api\n",
                  "compose.override.yaml": "services:\n  api:\n    build:\n      target: dev\n"},
                 # the base never runs without its override
                 {("api/Dockerfile", "api", "dev", None)},
                 id="override-pair"),
    pytest.param({"compose.yaml": "include:\n  - svc/compose.yaml\nservices:\n  web:\n    image: nginx:1.27\n",
                  "svc/compose.yaml": "services:\n  api:\n    build: .\n"},
                 # an included file's relative paths are its own
                 {("svc/Dockerfile", "svc", None, None)},
                 id="include"),
    pytest.param({".env": "CTX=./api\nTARGET=prod\n",
                  "compose.yaml": "services:\n  api:\n    build: ${CTX}\n",
                  "compose.prod.yaml": "services:\n  api:\n    build:\n      target: ${TARGET}\n",
                  "Makefile": MAKE.format(overlay="compose.prod.yaml")},
                 {("api/Dockerfile", "api", None, None), ("api/Dockerfile", "api", "prod", None)},
                 id="values-from-dotenv"),
    pytest.param({"compose.yaml": "services:\n  api:\n    build: ./api\n",
                  "compose.dev.yaml": "services:\n  api:\n    build:\n      target: dev\n"},
                 # no command names the overlay: each file is read alone, as before
                 {("api/Dockerfile", "api", None, None), ("Dockerfile", ".", "dev", None)},
                 id="unplaced-overlay-read-alone"),
])
def test_builds_are_the_projects(tmp_path, files, expect):
    layout = {"api/Dockerfile": STAGES, "svc/Dockerfile": STAGES, "web/Dockerfile": STAGES, **files}
    assert _builds(make_repo(tmp_path, layout)) == expect


def test_gate_builds_the_overlays_target(tmp_path):
    root = make_repo(tmp_path, {
        "api/Dockerfile": STAGES, "api/app.txt": "x\n",
        "compose.yaml": "services:\n  api:\n    build: ./api\n",
        "compose.prod.yaml": "services:\n  api:\n    build:\n      target: prod\n",
        "Makefile": MAKE.format(overlay="compose.prod.yaml"),
    })
    [change] = [f for f in _run(root, "api/Dockerfile") if isinstance(f, Change)]
    workflow = next(w for w in change.files if w.path.name.endswith((".yml", ".yaml")))
    matrix = YAML(typ="safe").load(workflow.content)["jobs"]["images"]["strategy"]["matrix"]["include"]
    assert [(e["dockerfile"], e["context"], e["target"]) for e in matrix] == [
        ("api/Dockerfile", "api", ""), ("api/Dockerfile", "api", "prod")]
