"""What a Compose service's own start command writes (hardener.compose.start_writes)."""
from __future__ import annotations

import pytest

from hardener.compose.doc import ComposeDoc
from hardener.compose.start_writes import start_writes


def _writes(service: str):
    doc = ComposeDoc.load(f"services:\n  s: {service}\n".encode(), "compose.yaml")
    return start_writes(doc.services()[0].node, "/docker-entrypoint.sh")


@pytest.mark.parametrize(("service", "paths"), [
    ('{image: x, entrypoint: ["sh", "-c", "envsubst < /t > /etc/app.conf && exec app"]}', ("/etc/app.conf",)),
    ("{image: x, command: sh -c 'echo $$HOSTNAME | tee -a /var/log/x.log; exec app'}", None),
    ("{image: x, command: \"sh -c 'sed -i s/a/b/ /etc/hosts && cp /a /srv/b && exec app'\"}", ("/etc/hosts", "/srv/b")),
    ("{image: x, command: [app, --flag]}", ()),
    ("{image: x, entrypoint: [/docker-entrypoint.sh], command: [app]}", ()),
    ("{image: x, command: \"sh -c 'exec env A=1 app > /dev/null 2>&1'\"}", ()),
])
def test_paths_written(service: str, paths) -> None:
    found = _writes(service)
    assert found is not None
    if paths is None:
        assert found.unknown is not None  # `$` makes the code unreadable word by word
    else:
        assert found.unknown is None and found.paths == paths


def test_no_override_is_no_evidence() -> None:
    assert _writes("{image: x}") is None
    assert _writes('{image: x, command: ["--port", "${PORT}"]}') is None  # arguments to the image's start


@pytest.mark.parametrize("service", [
    "{image: x, entrypoint: /start.sh}",
    "{image: x, command: sh -c 'cd /srv && touch ./ready'}",
])
def test_unknown_writes_say_why(service: str) -> None:
    found = _writes(service)
    assert found is not None and found.unknown
