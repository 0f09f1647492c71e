from __future__ import annotations

import pytest

from hardener.oci.imageref import BadReference, is_local_registry, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        pytest.param("python", "docker.io", "library/python", None, None, id="official"),
        pytest.param("python:3.12-slim", "docker.io", "library/python", "3.12-slim", None, id="tag"),
        pytest.param("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None, id="namespace"),
        pytest.param("docker.io/library/node:20", "docker.io", "library/node", "20", None, id="explicit-hub"),
        pytest.param("index.docker.io/nginx", "docker.io", "library/nginx", None, None, id="index-alias"),
        pytest.param("localhost:5000/app:1.0", "localhost:5000", "app", "1.0", None, id="registry-port"),
        pytest.param("ghcr.io/org/app@" + DIGEST, "ghcr.io", "org/app", None, DIGEST, id="digest"),
        pytest.param("127.0.0.1:5000/library/python:3.11-slim@" + DIGEST, "127.0.0.1:5000",
                     "library/python", "3.11-slim", DIGEST, id="tag-and-digest"),
        pytest.param("localhost/app", "localhost", "app", None, None, id="localhost-no-port"),
    ],
)
def test_parse(text, registry, repository, tag, digest):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert ref.with_tag_and_digest(ref.tag, ref.digest) == text


@pytest.mark.parametrize("text", ["", "Python", "python:", "a b", "python@sha256:xyz", "python:-bad"])
def test_invalid(text):
    with pytest.raises(BadReference):
        parse(text)


def test_family_and_local():
    assert parse("docker.io/library/python:3").family == "python"
    assert parse("python").is_official and not parse("bitnami/redis").is_official
    assert is_local_registry("127.0.0.1:5000") and is_local_registry("localhost")
    assert not is_local_registry("ghcr.io") and not is_local_registry("registry.local:5000")
