"""The build lab: stand-in base images, a loopback registry and pytest fixtures.

There is no Docker Hub here, so the lab builds its own ``debian:bookworm-slim``,
``python:3.11-slim``, ``node:20-slim`` and ``golang:1.19-bookworm`` from Debian packages
(mmdebstrap) into a buildah storage of its own under ``~/.cache/hardener-lab`` and
serves them from a registry on 127.0.0.1 that mirrors docker.io, so pinned
``name:tag@sha256:…`` references resolve too. See ../shared/buildlab/NOTES.md.
"""
