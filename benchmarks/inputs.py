"""Generated inputs for the scaling benchmarks: large Dockerfiles and Compose files.

Each generator is deterministic and returns bytes, so two runs (and two branches) time
the same input. The shapes are the ones that used to cost more than linear time: many RUN
lines, one very long continuation, many Compose services (some sharing an anchor), and
tabs before YAML comments.
"""
from __future__ import annotations

_RUN_BLOCK = (
    "# stage {i}\n"
    "FROM debian:bookworm AS s{i}\n"
    "ENV APP_HOME=/srv/app{i} \\\n    PATH=/srv/app{i}/bin:$PATH\n"
    "RUN apt-get update && apt-get install curl ca-certificates \\\n"
    "    && curl -fsSL https://example.com/{i}.sh | sh\n"
    "WORKDIR /srv/app{i}\n"
    "COPY . /srv/app{i}\n"
    "RUN pip install flask==3.0.{i} && cd /srv/app{i} && make build-{i}\n"
    "USER root\n"
    "EXPOSE {port}\n"
    'CMD python app.py --port {port}\n'
)


def dockerfile_many_runs(size: int) -> bytes:
    """About ``size`` bytes of Dockerfile: repeated multi-stage blocks with RUN lines."""
    parts: list[str] = []
    total = i = 0
    while total < size:
        block = _RUN_BLOCK.format(i=i, port=1024 + i % 60000)
        parts.append(block)
        total += len(block)
        i += 1
    return "".join(parts).encode()


def dockerfile_long_continuation(lines: int) -> bytes:
    """One RUN whose continuation spans ``lines`` lines (a comment line every 50)."""
    body = []
    for i in range(lines):
        if i % 50 == 25:
            body.append(f"    # group {i}\n")
        body.append(f"    pkg{i} \\\n")
    return ("FROM debian:bookworm\nRUN apt-get update && apt-get install -y \\\n"
            + "".join(body) + "    last\nUSER nobody\n").encode()


def compose_services(count: int, *, anchors: bool = True) -> bytes:
    """A Compose file with ``count`` services; with ``anchors``, every tenth merges a shared anchor."""
    out = ["x-common: &common\n  restart: unless-stopped\n  environment:\n    TZ: UTC\n\nservices:\n"]
    for i in range(count):
        out.append(f"  svc{i}:\n")
        if anchors and i % 10 == 0:
            out.append("    <<: *common\n")
        out.append(f"    image: example/app{i}:1.{i % 7}\n"
                   f"    ports:\n      - \"{8000 + i % 1000}:80\"\n"
                   f"    environment:\n      - APP_ID={i}\n"
                   f"    volumes:\n      - ./data{i}:/data\n")
    return "".join(out).encode()


def compose_tabs_before_comments(count: int) -> bytes:
    """``count`` services whose image line ends in ``<TAB># comment`` (go-yaml accepts it)."""
    out = ["services:\n"]
    for i in range(count):
        out.append(f"  svc{i}:\n    image: example/app{i}:1.0\t# pinned by hand\n")
    return "".join(out).encode()


def small_repository() -> dict[str, bytes]:
    """The everyday case: one Python app with a Dockerfile and a Compose file (path -> bytes)."""
    return {
        "Dockerfile": b"FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                      b"RUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n",
        "compose.yaml": b"services:\n  web:\n    build: .\n    ports:\n      - \"8000:8000\"\n"
                        b"  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: example\n",
        "requirements.txt": b"flask\n",
        "app.py": b"from flask import Flask\n\napp = Flask(__name__)\n",
    }
