"""Third-party service images in the knowledge base, looked up by the names Compose files use."""
from __future__ import annotations

import pytest

from hardener import images


@pytest.mark.parametrize(
    "image, family, runs_as, cap_add",
    [
        pytest.param("temporalio/ui:2.30.0", "temporal-ui", "0", ["DAC_OVERRIDE"], id="temporal-ui-old-root"),
        pytest.param("temporalio/ui:2.44.1", "temporal-ui", "1000:1000", ["DAC_OVERRIDE"], id="temporal-ui-new-nonroot"),
        pytest.param("docker.io/temporalio/ui:v2.51.0", "temporal-ui", "1000:1000", ["DAC_OVERRIDE"], id="temporal-ui-prefixed"),
        pytest.param("temporalio/ui", "temporal-ui", "0", ["DAC_OVERRIDE"], id="temporal-ui-untagged-root"),
        pytest.param("axllent/mailpit", "mailpit", "0", [], id="mailpit"),
        pytest.param("docker.io/axllent/mailpit:v1.21", "mailpit", "0", [], id="mailpit-prefixed"),
        pytest.param("hello-world", "hello-world", "0", [], id="hello-world"),
        pytest.param("docker.io/library/hello-world:latest", "hello-world", "0", [], id="hello-world-full"),
    ],
)
def test_thirdparty_lookup(image: str, family: str, runs_as: str, cap_add: list[str]) -> None:
    info = images.lookup(image)
    assert info is not None
    assert (info.name, info.runs_as, info.get("cap_add")) == (family, runs_as, cap_add)
    assert info.get("tier") == "app"


@pytest.mark.parametrize(
    "image",
    [
        pytest.param("temporalio/server:1.25", id="temporal-server-not-ui"),
        pytest.param("temporalio/admin-tools", id="temporal-admin-tools"),
        pytest.param("someone/mailpit", id="other-owner-mailpit"),
        pytest.param("ghcr.io/axllent/mailpit", id="other-registry-mailpit"),
    ],
)
def test_thirdparty_unknown_neighbours(image: str) -> None:
    assert images.lookup(image) is None


def test_temporal_ui_writable_paths_unknown() -> None:
    """Old tags render their config next to the template: no tmpfs can be proposed."""
    assert images.lookup("temporalio/ui:2.30.0").get("writable_paths") is None  # type: ignore[union-attr]


def test_mailpit_facts() -> None:
    info = images.lookup("axllent/mailpit:latest")
    assert info is not None
    assert info.get("writable_paths") == ["/tmp"]
    assert info.get("healthcheck") == ["CMD", "/mailpit", "readyz"]
    assert info.compose_user is None


def test_hello_world_writes_nothing() -> None:
    info = images.lookup("hello-world")
    assert info is not None and info.distro == "scratch"
    assert info.get("writable_paths") == [] and info.get("healthcheck") is None
