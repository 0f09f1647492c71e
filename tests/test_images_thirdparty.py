"""Third-party service images in the knowledge base, looked up by the names Compose files use."""
from __future__ import annotations

import pytest

from hardener.knowledge import images


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
    assert (info.name, info.runs_as, info.facts.cap_add) == (family, runs_as, tuple(cap_add))
    assert info.facts.tier == "app"


@pytest.mark.parametrize(
    "image",
    [
        pytest.param("temporalio/web:1.15", id="temporal-old-web-ui"),
        pytest.param("someone/mailpit", id="other-owner-mailpit"),
        pytest.param("ghcr.io/axllent/mailpit", id="other-registry-mailpit"),
    ],
)
def test_thirdparty_unknown_neighbours(image: str) -> None:
    assert images.lookup(image) is None


def test_temporal_ui_writable_paths_unknown() -> None:
    """Old tags render their config next to the template: no tmpfs can be proposed."""
    assert images.lookup("temporalio/ui:2.30.0").facts.writable_paths is None  # type: ignore[union-attr]


def test_mailpit_facts() -> None:
    info = images.lookup("axllent/mailpit:latest")
    assert info is not None
    assert info.facts.writable_paths == ("/tmp",)
    assert info.facts.healthcheck == ("CMD", "/mailpit", "readyz")
    assert info.compose_user is None


def test_hello_world_writes_nothing() -> None:
    info = images.lookup("hello-world")
    assert info is not None and info.distro == "scratch"
    assert info.facts.writable_paths == () and info.facts.healthcheck is None


@pytest.mark.parametrize(
    "image, name, caps",
    [
        pytest.param("temporalio/server:${TEMPORAL_VERSION}", "temporal-server", [], id="server-variable-tag"),
        pytest.param("temporalio/auto-setup:1.22.4", "temporal-server", [], id="auto-setup"),
        pytest.param("temporalio/admin-tools:1.22", "temporal-admin-tools", [], id="admin-tools"),
        pytest.param("temporalio/admin-tools-tls:1.22", "temporal-admin-tools", [], id="admin-tools-tls"),
    ],
)
def test_temporal_images(image, name, caps):
    from hardener.compose.service_image import literal_repository

    info = images.lookup(literal_repository(image) or image)
    assert info is not None and info.name == name and info.facts.cap_add == tuple(caps)


def test_temporal_server_cannot_be_read_only(tmp_path):
    """It renders its config next to the template it reads: a tmpfs there would hide the
    template, so read-only-root refuses instead of offering even the unsafe guess."""
    from compose_helpers import run_compose

    from hardener.transforms.read_only_root import ReadOnlyRoot

    text = "services:\n  temporal:\n    image: temporalio/auto-setup:1.22.4\n"
    out, said = run_compose(tmp_path, ReadOnlyRoot(), text)
    assert out == text and said == ["service 'temporal': temporal-server: it renders its config into "
                                    "/etc/temporal/config, next to the template it reads there"]


def test_pgadmin_keeps_the_file_capability_its_python_carries(tmp_path):
    """python3 in dpage/pgadmin4 carries cap_net_bind_service as a file capability: without it
    in the bounding set the binary cannot be executed at all."""
    from compose_helpers import run_compose

    from hardener.transforms.cap_drop import CapDrop

    text = "services:\n  pgadmin:\n    image: dpage/pgadmin4:8.12\n"
    out, said = run_compose(tmp_path, CapDrop(), text)
    assert out == text + "    cap_drop:\n      - ALL\n    cap_add:\n      - NET_BIND_SERVICE\n" and said == []


def test_opensearch_runs_as_its_own_user_with_no_capability():
    info = images.lookup("opensearchproject/opensearch:2.17.0")
    assert info is not None and info.runs_as == "1000:1000" and info.facts.cap_add == ()
    assert "opensearch.yml" in (info.facts.read_only_blocker or "")
