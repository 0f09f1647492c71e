"""Ports an nginx service's mounted configuration opens (hardener.compose.listen)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose.doc import ComposeDoc
from hardener.compose.listen import IMAGE_DEFAULT_SITE, nginx_listening


def _listening(tmp_path: Path, volumes: str, files: dict[str, str], env: dict[str, str] | None = None):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    doc = ComposeDoc.load(f"services:\n  web:\n    image: nginx\n    volumes: {volumes}\n".encode(), "compose.yaml")
    return nginx_listening(doc.services()[0].node, tmp_path, env or {})


@pytest.mark.parametrize(("conf", "ports"), [
    ("server { listen 8080; }", (8080,)),
    ("server { listen [::]:8081 default_server; listen 127.0.0.1:8082; }", (8081, 8082)),
    ("server { listen 443 ssl; listen unix:/run/x.sock; listen 8443 http2; }", ()),
    ("server {\n  # listen 80;\n  listen 9000;\n}", (9000,)),
    ("server { listen localhost; }", (80,)),
])
def test_listen_directives(tmp_path: Path, conf: str, ports: tuple[int, ...]) -> None:
    found = _listening(tmp_path, "['./site.conf:/etc/nginx/conf.d/default.conf:ro']", {"site.conf": conf})
    assert found is not None and found.unknown is None and found.ports == ports


def test_a_site_beside_the_default_keeps_port_80(tmp_path: Path) -> None:
    found = _listening(tmp_path, "['./x.conf:/etc/nginx/conf.d/x.conf']", {"x.conf": "server { listen 81; }"})
    assert found is not None and found.ports == (81, 80) and found.source(80) == IMAGE_DEFAULT_SITE


@pytest.mark.parametrize(("main", "ports"), [
    ("http { include /etc/nginx/conf.d/*.conf; server { listen 8000; } }", (8000, 80)),
    ("http { server { listen 8000; } }", (8000,)),
])
def test_own_main_config_uses_the_default_site_only_when_it_includes_conf_d(tmp_path: Path, main: str, ports) -> None:
    found = _listening(tmp_path, "['./nginx.conf:/etc/nginx/nginx.conf']", {"nginx.conf": main})
    assert found is not None and found.ports == ports


def test_templates_take_ports_from_the_environment(tmp_path: Path) -> None:
    files = {"t/default.conf.template": "server { listen ${PORT}; }", "t/notes.conf": "listen 1;"}
    found = _listening(tmp_path, "['./t:/etc/nginx/templates']", files, {"PORT": "3100"})
    assert found is not None and found.ports == (3100,)
    unknown = _listening(tmp_path, "['./t:/etc/nginx/templates']", files)
    assert unknown is not None and "cannot read" in (unknown.unknown or "")


def test_no_mounted_config_means_no_evidence(tmp_path: Path) -> None:
    assert _listening(tmp_path, "['data:/usr/share/nginx/html']", {}) is None


def test_a_config_that_is_not_in_the_repository_is_unknown(tmp_path: Path) -> None:
    found = _listening(tmp_path, "['./missing.conf:/etc/nginx/conf.d/default.conf']", {})
    assert found is not None and "not in the repository" in (found.unknown or "")


def _configs(tmp_path: Path, service: str, top: str, files: dict[str, str]):
    from hardener.compose.listen import top_configs

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    doc = ComposeDoc.load(f"services:\n  web:\n    image: nginx\n{service}configs:\n{top}".encode(), "compose.yaml")
    return nginx_listening(doc.services()[0].node, tmp_path, {}, top_configs(doc))


@pytest.mark.parametrize(("service", "top", "ports", "unknown"), [
    pytest.param("    configs:\n      - source: site\n        target: /etc/nginx/conf.d/default.conf\n",
                 "  site:\n    file: ./site.conf\n", (8080,), None, id="long-syntax-replaces-the-default-site"),
    pytest.param("    configs:\n      - source: site\n        target: /etc/nginx/conf.d/x.conf\n",
                 "  site:\n    file: site.conf\n", (8080, 80), None, id="beside-the-default-site"),
    pytest.param("    configs: [site]\n", "  site:\n    file: ./site.conf\n", None, None,
                 id="short-syntax-mounts-at-the-root"),
    pytest.param("    configs:\n      - source: site\n        target: /etc/nginx/conf.d/default.conf\n",
                 "  site:\n    content: 'server { listen 9000; }'\n", (), "config 'site', which is not a file",
                 id="inline-content-is-unknown"),
])
def test_compose_configs_are_read_as_mounts(tmp_path: Path, service: str, top: str, ports, unknown) -> None:
    found = _configs(tmp_path, service, top, {"site.conf": "server { listen 8080; }"})
    if ports is None:
        assert found is None
    elif unknown:
        assert found is not None and unknown in (found.unknown or "")
    else:
        assert found is not None and found.unknown is None and found.ports == ports
