"""The start command and ports an image config contributes (hardener.knowledge.config_runtime)."""
from __future__ import annotations

import pytest

from hardener.knowledge.config_runtime import command_ports, config_start, listening_ports
from hardener.oci.imageconfig import ImageConfig

CONFIG = ImageConfig(entrypoint=("/init",), cmd=("--port", "80"), exposed_ports=("443/tcp", "53/udp"))


def test_docker_rules_for_what_the_config_still_starts() -> None:
    assert config_start(CONFIG, entrypoint_written=False, cmd_written=False) == ("/init", "--port", "80")
    assert config_start(CONFIG, entrypoint_written=False, cmd_written=True) == ("/init",)  # CMD keeps Entrypoint
    assert config_start(CONFIG, entrypoint_written=True, cmd_written=False) == ()  # ENTRYPOINT drops both


@pytest.mark.parametrize(("words", "ports"), [
    (("server", "--port", "80"), (80,)),
    (("server", "--port=8080"), (8080,)),
    (("gunicorn", "-b", "0.0.0.0:80", "app:wsgi"), (80,)),
    (("gunicorn", "--bind=[::]:443"), (443,)),
    (("prometheus", "--web.listen-address=:9090"), (9090,)),
    (("caddy", "--listen", ":80"), (80,)),
    (("tool", "-p", "/etc/profile"), ()),  # -p as a path is not a port
    (("tool", "-b", "80"), ()),  # a bind flag needs host:port
    (("server", "--port"), ()),
    (("server", "--port", "99999"), ()),
])
def test_command_ports(words: tuple[str, ...], ports: tuple[int, ...]) -> None:
    assert command_ports(words) == ports


def test_listening_ports_name_their_source_and_skip_udp() -> None:
    start = config_start(CONFIG, False, False)
    assert listening_ports(CONFIG, start) == (
        (80, "its image config's start command '/init --port 80'"),
        (443, "its image config exposes 443/tcp"),
    )
