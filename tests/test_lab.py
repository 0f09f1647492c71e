"""The build lab: every fixtures/apps app builds and passes its smoke test before and after hardening.

``pytest -m lab`` runs exactly these (plus the broken-rewrite test in test_verify.py);
``-m 'not lab'`` skips them. Each app is built once before and once after, for the whole
session. Assertions follow the data: uid != 0 is required as soon as the hardened
Dockerfile sets a non-root USER (when run-as-non-root lands), not before.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from lab.plugin import APPS, Lab, app_dirs, lab  # noqa: F401  (the session fixture)

from hardener.lab.buildengine import Buildah
from hardener.lab.verify import Verdict, VerifyOptions, image_size, verify_path

pytestmark = pytest.mark.lab
APP_NAMES = [p.name for p in app_dirs()]
LANDED = {"HD301", "HD401", "HD501"}  # the transforms every lab run must exercise


@pytest.fixture(scope="session")
def verdicts(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Verdict]:
    logs = tmp_path_factory.mktemp("lab-verify")
    found, _ = verify_path(APPS, VerifyOptions(engine="buildah", logs=logs))
    result = {Path(v.path).parent.name: v for v in found}
    _record(lab, result)
    return result


def _record(lab: Lab, verdicts: dict[str, Verdict]) -> None:
    """What the last lab run covered, for the humans reading ~/.cache/hardener-lab/last-run.json."""
    summary = {
        "setup_seconds": round(lab.setup_seconds, 1), "bases": lab.log, "digests": lab.digests,
        "apps": {name: {
            "transforms": list(v.transforms),
            "size_before": image_size(v.original), "size_after": image_size(v.hardened),
            "build_seconds": [round(s.build.seconds, 1) if s.build else None for s in (v.original, v.hardened)],
            "uid_after": v.hardened.uid, "checks": {c.name: c.status for c in v.checks},
        } for name, v in verdicts.items()},
    }
    (lab.dir / "last-run.json").write_text(json.dumps(summary, indent=2) + "\n")


def _check(v: Verdict, name: str) -> str:
    return next((f"{c.status}: {c.detail}" for c in v.checks if c.name == name), "missing")


@pytest.mark.parametrize("app", APP_NAMES)
def test_app_builds_and_passes_smoke_before_and_after(verdicts: dict[str, Verdict], app: str) -> None:
    assert app in verdicts, f"hardening changes nothing in fixtures/apps/{app}: the lab app exercises no transform"
    v = verdicts[app]
    report = "\n".join(f"{c.name}: {c.status}: {c.detail}" for c in v.checks)
    assert not v.regression and not v.unverified, report
    for name in ("build", "smoke", "ports", "entrypoint", "cmd"):
        assert _check(v, name).startswith("ok"), report
    assert v.smoke.expect is not None and v.original.run is not None and v.hardened.run is not None
    assert v.smoke.expect in v.original.run.output and v.smoke.expect in v.hardened.run.output


@pytest.mark.parametrize("app", APP_NAMES)
def test_app_user(verdicts: dict[str, Verdict], app: str) -> None:
    v = verdicts[app]
    assert v.original.uid == 0, "the legacy apps run as root: that is what hardening fixes"
    if v.sets_non_root_user:  # turns on by itself once a transform writes USER
        assert v.hardened.uid not in (0, None), _check(v, "user")


def test_landed_transforms_are_covered(verdicts: dict[str, Verdict]) -> None:
    covered = {t for v in verdicts.values() for t in v.transforms}
    assert LANDED <= covered, f"no lab app exercises {sorted(LANDED - covered)}"


def test_pinned_digest_resolves_through_the_mirror(lab: Lab, tmp_path: Path) -> None:
    """``name:tag@sha256:<registry digest>`` — what image pinning emits — builds offline."""
    digest = lab.digests["docker.io/library/debian:bookworm-slim"]
    (tmp_path / "Dockerfile").write_text(f"FROM debian:bookworm-slim@{digest}\nRUN test -f /etc/debian_version\n")
    tag = "localhost/hardener-lab/pinned:test"
    proc = subprocess.run(["buildah", "bud", "--isolation", "chroot", "-q", "-t", tag, str(tmp_path)],
                          capture_output=True, text=True, env=lab.env)
    subprocess.run(["buildah", "rmi", tag], capture_output=True, env=lab.env)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize(("image", "argv", "expected"), [
    pytest.param("node:20-slim", ["node", "--version"], "v20.", id="node-20"),
    pytest.param("node:20-slim", ["npm", "config", "get", "cafile"], "/etc/ssl/certs/ca-certificates.crt", id="npm-cafile"),
    pytest.param("python:3.11-slim", ["sh", "-c", "ls /usr/lib/python3.11/EXTERNALLY-MANAGED; cat /etc/pip.conf"],
                 "cert = /etc/ssl/certs/ca-certificates.crt", id="python-pip-ready"),
    pytest.param("golang:1.19", ["go", "version"], "go1.19", id="go"),
])
def test_stand_in_bases(lab: Lab, image: str, argv: list[str], expected: str) -> None:
    if not any(image.split(":")[0] in (d / "Dockerfile").read_text() for d in app_dirs()):
        pytest.skip(f"no lab app uses {image}")
    result = Buildah(lab.env).run(f"docker.io/library/{image}", argv, timeout=60)
    assert result.returncode == 0 and expected in result.output, result.output
    assert "EXTERNALLY-MANAGED\n" not in result.output.split("cert =")[0] or "No such file" in result.output
