"""HD601 leaves alone services that rely on setuid privilege gains (hardener/compose/setuid_use.py):
no-new-privileges would make their sudo fail."""
from __future__ import annotations

import pytest
from compose_helpers import run_compose

from hardener.transforms.no_new_privileges import NoNewPrivileges

DEVCONTAINER = """{
  // JSONC, as editors write it
  "name": "dev",
  "dockerComposeFile": ["../compose.yaml"],
  "service": "app",
  "remoteUser": "dev",
}
"""


@pytest.mark.parametrize(("service", "files", "why"), [
    ("{image: 'wodby/drupal-php:8.3', command: sudo -E crond -f -d 0}", {}, "its command runs sudo"),
    ("{image: 'alpine:3.20', entrypoint: [su, -c, 'exec app', app]}", {}, "its command runs su"),
    ("{build: ./dev}", {"dev/Dockerfile": "FROM debian:12\nRUN useradd dev \\\\\n"
                                          " && echo 'dev ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers\n"},
     "the image it builds grants sudo (Dockerfile line 3)"),
    ("{build: {context: ., dockerfile: dev.Dockerfile}}",
     {"dev.Dockerfile": "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends git sudo\n"},
     "grants sudo"),
    ("{image: 'mcr.microsoft.com/devcontainers/python:3.12'}", {".devcontainer/devcontainer.json": DEVCONTAINER},
     "dev container of .devcontainer/devcontainer.json"),
])
def test_setuid_users_are_refused(tmp_path, service, files, why):
    text = f"services:\n  app: {service}\n"
    out, reasons = run_compose(tmp_path, NoNewPrivileges(), text, files=files)
    assert out == text
    assert len(reasons) == 1 and why in reasons[0], reasons


@pytest.mark.parametrize(("service", "files"), [
    ("{image: 'alpine:3.20', command: gosu app sleep 1}", {}),  # gosu/su-exec do not need setuid
    ("{build: ./app}", {"app/Dockerfile": "FROM debian:12\nRUN apt-get install -y --no-install-recommends git\n"}),
    ("{image: 'python:3.12'}", {".devcontainer/devcontainer.json": DEVCONTAINER.replace('"app"', '"other"')}),
])
def test_others_get_the_option(tmp_path, service, files):
    out, reasons = run_compose(tmp_path, NoNewPrivileges(), f"services:\n  app: {service}\n", files=files)
    assert "no-new-privileges:true" in out and reasons == []
