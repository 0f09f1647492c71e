"""Ports a start command binds with its own flags (hardener/knowledge/start_ports.py), and
run-as-non-root's privileged-port refusal reading them."""
from __future__ import annotations

import pytest

from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge.start_ports import command_ports, start_words


@pytest.mark.parametrize(("dockerfile", "ports"), [
    ('FROM python:3.12\nCMD ["gunicorn", "app:app", "-b", "0.0.0.0:80"]\n', [80]),
    ('FROM python:3.12\nCMD gunicorn app:app --bind=:8000\n', [8000]),
    ('FROM python:3.12\nENTRYPOINT ["uvicorn", "main:app"]\nCMD ["--host", "0.0.0.0", "--port", "443"]\n', [443]),
    ('FROM python:3.12\nCMD ["python", "-m", "http.server", "80"]\n', [80]),
    ('FROM php:8.3-cli\nCMD ["php", "-S", "0.0.0.0:80", "-t", "public"]\n', [80]),
    ('FROM python:3.12\nCMD ["gunicorn", "--bind", "$BIND", "app:app"]\n', []),  # a variable says nothing
    ('FROM python:3.12\nCMD ["gunicorn", "-b", "unix:/run/app.sock", "app:app"]\n', []),
    ('FROM mongo:7\nCMD ["mongod", "--bind_ip_all"]\n', []),
])
def test_command_ports(dockerfile, ports):
    doc = DockerfileDoc.load(dockerfile.encode())
    stage = doc.final_stage()
    assert stage is not None
    assert [p for p, _flag in command_ports(start_words(list(stage.instructions)))] == ports
