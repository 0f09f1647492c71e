"""Build proof of issue 24: apps whose context holds tests, docs and dev files ship none of them.

Each app (a Go service with `_test.go`/`testdata` beside its code, a package installed with
`pip install .` with tests/ and docs/, a Compose-built worker with `COPY . .` and tests/) is
verified like every lab app: built before and after `hardener apply`, smoke-tested on both.
The layer scan (hardener/lab/leftovers.py) must find the files in the original image, so the
test can fail, and none in any layer of the hardened one. Needs the build lab (lab/plugin.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.lab.verify import VerifyOptions, verify_path
from lab.plugin import APPS, Lab, lab  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(("app", "kinds"), [
    pytest.param("go-tested-svc", {"test"}, id="go-test-files"),
    pytest.param("py-pkg-tests-docs", {"test", "doc", "dev"}, id="pip-install-tests-docs"),
    pytest.param("compose-worker", {"test"}, id="compose-worker-tests"),
])
def test_no_test_doc_or_dev_file_in_any_layer(lab: Lab, tmp_path: Path, app: str, kinds: set[str]) -> None:
    found, _ = verify_path(APPS / app / "Dockerfile", VerifyOptions(engine="buildah", logs=tmp_path))
    assert len(found) == 1, found
    v = found[0]
    report = "\n".join(f"{c.name}: {c.status}: {c.detail}" for c in v.checks)
    assert not v.regression and not v.unverified, report
    assert v.smoke.expect and v.hardened.run and v.smoke.expect in v.hardened.run.output, report
    assert v.original.leftovers is not None and v.hardened.leftovers is not None, report
    assert kinds <= {f.kind for f in v.original.leftovers}, report  # the original ships them
    assert v.hardened.leftovers == [], report
