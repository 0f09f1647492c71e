"""The lab's layer scan: which image paths are tests, docs, VCS data, secrets or dev files (no buildah needed)."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from hardener.lab.buildengine import layers_of_archive
from hardener.lab.leftovers import DEV, DOC, SECRET, TEST, VCS, Leftover, classify, scan, summary


@pytest.mark.parametrize(("path", "kind"), [
    pytest.param("app/tests/test_cli.py", TEST, id="tests-dir"),
    pytest.param("src/internal/greet/greet_test.go", TEST, id="go-test-file"),
    pytest.param("src/internal/greet/testdata", TEST, id="go-testdata"),
    pytest.param("usr/src/app/src/App.test.js", TEST, id="jest-file-under-usr-src"),
    pytest.param("app/conftest.py", TEST, id="conftest"),
    pytest.param("app/docs/index.md", DOC, id="docs-dir"),
    pytest.param("app/CHANGELOG.md", DOC, id="changelog"),
    pytest.param("app/.git/HEAD", VCS, id="git"),
    pytest.param("app/.env", SECRET, id="dotenv"),
    pytest.param("app/certs/server.key", SECRET, id="key"),
    pytest.param("root/.ssh/config", SECRET, id="ssh-dir"),
    pytest.param("app/requirements-dev.txt", DEV, id="dev-requirements"),
    pytest.param("app/Makefile", DEV, id="makefile"),
    pytest.param("app/Dockerfile", DEV, id="dockerfile"),
    pytest.param("app/.github/workflows/ci.yml", DEV, id="github"),
    pytest.param("usr/local/lib/python3.11/site-packages/tests/__init__.py", TEST, id="packaged-tests-package"),
    pytest.param("app/.env.example", None, id="env-template"),
    pytest.param("app/README.md", None, id="readme-is-not-judged"),
    pytest.param("app/main.py", None, id="code"),
    pytest.param("app/testing_utils.py", None, id="name-with-test-prefix-only"),
    pytest.param("usr/lib/python3.11/test/test_os.py", None, id="stdlib-tests"),
    pytest.param("usr/share/doc/bash/copyright", None, id="system-docs"),
    pytest.param("usr/local/lib/python3.11/site-packages/numpy/tests/test_a.py", None, id="third-party-tests"),
    pytest.param("app/node_modules/x/test/a.js", None, id="node-modules"),
    pytest.param("usr/local/go/src/fmt/fmt_test.go", None, id="go-toolchain"),
    pytest.param("etc/ssl/private/ssl-cert-snakeoil.key", None, id="system-key"),
])
def test_classify(path: str, kind: str | None) -> None:
    assert classify(path) == kind


def test_scan_reads_every_layer_and_lists_a_directory_once() -> None:
    layers = [{"app", "app/main.py", "app/tests", "app/tests/test_a.py", "app/tests/test_b.py"},
              {"app/tests/.wh..wh..opq", "app/.wh.tests"}]  # a later layer deletes it: still shipped
    assert scan(layers) == [Leftover(0, "app/tests", TEST)]
    assert scan([{"app/main.py"}]) == []


def test_summary() -> None:
    assert summary([]) == "no test, doc, VCS, secret or dev file in any layer"
    assert summary([Leftover(2, "app/tests", TEST)]) == "1 test/doc/VCS/secret/dev paths in the layers: /app/tests (test, layer 3)"


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_layers_of_a_docker_archive(tmp_path: Path) -> None:
    """The archive `docker save` and `buildah push docker-archive:` write, built by hand here."""
    one, two = _tar({"app/main.py": b"x"}), _tar({"app/tests/test_a.py": b"", "./app/.wh.old": b""})
    archive = tmp_path / "image.tar"
    archive.write_bytes(_tar({"l1/layer.tar": one, "l2/layer.tar": two,
                              "manifest.json": json.dumps([{"Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode()}))
    layers = layers_of_archive(archive)
    assert layers == [frozenset({"app/main.py"}), frozenset({"app/tests/test_a.py", "app/.wh.old"})]
    assert scan(layers) == [Leftover(1, "app/tests/test_a.py", TEST)]
