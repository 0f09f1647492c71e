"""HD404 rpm-hygiene."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.transforms.rpm_hygiene import RpmHygiene

F = "FROM fedora:40\n"
W = "--setopt=install_weak_deps=0"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("RUN yum install httpd\n", "RUN yum -y install httpd && yum clean all\n", id="yum"),
        pytest.param("RUN dnf install httpd\n", f"RUN dnf -y install {W} httpd && dnf clean all\n", id="dnf"),
        pytest.param("RUN microdnf install -y httpd\n",
                     f"RUN microdnf install {W} -y httpd && microdnf clean all\n", id="microdnf"),
        pytest.param("RUN zypper install curl\n", "RUN zypper install -y curl && zypper clean --all\n",
                     id="zypper"),
        pytest.param("RUN zypper -n in curl && zypper cc\n", "RUN zypper -n in -y curl && zypper cc\n",
                     id="zypper-global-n-still-gets-y"),
        pytest.param("RUN yum -y update && \\\n    # app\n    yum -y install httpd\n",
                     "RUN yum -y update && \\\n    # app\n    yum -y install httpd && \\\n    yum clean all\n",
                     id="trailing-style-with-comment"),
        pytest.param("RUN dnf --assumeyes install {W} httpd && dnf clean all\n".replace("{W}", W), None,
                     id="already-clean"),
        pytest.param("RUN yum -y install httpd && yum clean all\n", None, id="yum-clean"),
        pytest.param("RUN --mount=type=cache,target=/var/cache/dnf dnf install -y {W} x\n".replace("{W}", W),
                     None, id="cache-mount"),
        pytest.param("RUN sed -i s/keepcache=0/keepcache=1/ /etc/yum.conf && yum -y install x\n", None,
                     id="keepcache-on-purpose"),
        pytest.param("RUN dnf -y makecache\n", None, id="makecache-only"),
        pytest.param("RUN yum -y install x && exit 0\n", None, id="ends-with-exit"),
        pytest.param("RUN rpm -qa | sort\n", None, id="rpm-query"),
        pytest.param("RUN if true; then yum install x; fi\n", "RUN if true; then yum -y install x; fi\n",
                     id="inside-if-flags-only"),
    ],
)
def test_rpm(before: str, after: str | None, tmp_path: Path) -> None:
    output, _ = fix(RpmHygiene(), F + before, tmp_path)
    assert output == F + (before if after is None else after)


def test_safe_only_skips_weak_deps(tmp_path: Path) -> None:
    output, _ = fix(RpmHygiene(), F + "RUN dnf install x\n", tmp_path, safe_only=True)
    assert output == F + "RUN dnf -y install x && dnf clean all\n"
