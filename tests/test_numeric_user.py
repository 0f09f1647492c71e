"""Which uid a Dockerfile gives a user (knowledge/dockerfile_users) and numeric-user (HD205)
on the cases the golden fixtures do not show."""
from __future__ import annotations

import pytest

from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge.dockerfile_users import created_users


def _users(runs: str) -> dict[str, tuple[int | None, int | None]]:
    doc = DockerfileDoc.load(f"FROM debian:12\n{runs}".encode())
    return {k: (v.uid, v.gid) for k, v in created_users(doc.instructions).items()}


@pytest.mark.parametrize("runs, expected", [
    pytest.param("RUN useradd -u 1001 app\n", {"app": (1001, None)}, id="useradd-uid"),
    pytest.param("RUN useradd --uid=1001 --gid=1002 -m app\n", {"app": (1001, 1002)}, id="long-equals"),
    pytest.param("RUN groupadd -g 50 grp && useradd -u 10 -g grp app\n", {"app": (10, 50)}, id="group-by-name"),
    pytest.param("RUN groupadd --gid 70 app; useradd -u 70 app\n", {"app": (70, 70)}, id="own-group-fixed"),
    pytest.param("RUN addgroup -S web && adduser -S -u 101 -G web -g 'Web user' web\n", {"web": (101, None)},
                 id="busybox-g-is-gecos"),
    pytest.param("RUN adduser --system --uid 999 --gid 999 --disabled-password svc\n", {"svc": (999, 999)},
                 id="debian-adduser"),
    pytest.param("RUN useradd -m app\n", {"app": (None, None)}, id="no-fixed-uid"),
    pytest.param("RUN useradd -u $UID app\n", {"app": (None, None)}, id="uid-from-variable"),
    pytest.param("RUN useradd -u 5 $NAME\n", {}, id="name-from-variable"),
    pytest.param("RUN addgroup app wheel\n", {}, id="busybox-membership-is-not-a-user"),
    pytest.param("RUN echo 'x:x:7:8::/:/bin/false' >> /etc/passwd\n", {"x": (7, 8)}, id="passwd-line"),
    pytest.param("RUN grep 'x:x:7:8:' /etc/passwd\n", {}, id="passwd-read-not-written"),
    pytest.param("RUN useradd -u 1 a\nRUN userdel a && useradd -u 2 a\n", {"a": (2, None)}, id="last-wins"),
])
def test_created_users(runs: str, expected: dict[str, tuple[int | None, int | None]]) -> None:
    assert _users(runs) == expected


@pytest.mark.parametrize("dockerfile, new", [
    pytest.param("FROM debian:12\nRUN useradd -u 9 app\nUSER app:1234\n", "USER 9:1234", id="numeric-group-kept"),
    pytest.param("FROM debian:12\nRUN useradd -u 9 app\nUSER app\nUSER $U\n", None, id="variable-last"),
    pytest.param("FROM debian:12\nRUN useradd -u 9 app\nUSER app:staff\n", None, id="group-gid-unknown"),
    pytest.param("FROM debian:12\nUSER app\nRUN useradd -u 9 app\n", None, id="created-after-the-user-line"),
    pytest.param("FROM debian:12 AS b\nRUN useradd -u 9 app\nUSER app\nFROM b\nCMD x\n", None,
                 id="user-of-the-parent-stage-left"),
])
def test_numeric_user_edge_cases(dockerfile: str, new: str | None, tmp_path) -> None:
    from hardener.context import Context
    from hardener.model import Change
    from hardener.transforms.numeric_user import NumericUser

    doc = DockerfileDoc.load(dockerfile.encode())
    found = list(NumericUser().run(doc, Context(tmp_path, offline=True)))
    changes = [f for f in found if isinstance(f, Change)]
    if new is None:
        assert not changes
    else:
        assert len(changes) == 1 and new in changes[0].reason
