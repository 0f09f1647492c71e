"""HD403 apk-no-cache."""
from __future__ import annotations

from pathlib import Path

import pytest
from hygiene_helpers import fix

from hardener.transforms.apk_hygiene import ApkNoCache

F = "FROM alpine:3.20\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("RUN apk add curl\n", "RUN apk add --no-cache curl\n", id="plain"),
        pytest.param("RUN apk --update add curl\n", "RUN apk --update add --no-cache curl\n", id="update-flag"),
        pytest.param("RUN apk -X https://mirror/v3.20/main add curl\n",
                     "RUN apk -X https://mirror/v3.20/main add --no-cache curl\n", id="option-with-value"),
        pytest.param("RUN apk add \\\n    # tools\n    curl git\n",
                     "RUN apk add --no-cache \\\n    # tools\n    curl git\n", id="continuation-with-comment"),
        pytest.param("RUN apk add --virtual .b gcc && make && apk del .b\n",
                     "RUN apk add --no-cache --virtual .b gcc && make && apk del .b\n", id="virtual"),
        pytest.param("RUN sudo apk add curl\n", "RUN sudo apk add --no-cache curl\n", id="sudo"),
        pytest.param("RUN if [ -n \"$X\" ]; then apk add $X; fi\n",
                     "RUN if [ -n \"$X\" ]; then apk add --no-cache $X; fi\n", id="inside-if"),
        pytest.param("RUN apk add --no-cache curl\n", None, id="already"),
        pytest.param("RUN apk --no-cache add curl\n", None, id="already-before-verb"),
        pytest.param("RUN --mount=type=cache,target=/var/cache/apk apk add curl\n", None, id="cache-mount"),
        pytest.param("RUN --mount=type=cache,target=/etc/apk/cache apk add curl\n", None, id="cache-mount-etc"),
        pytest.param("RUN apk update && apk upgrade\n", None, id="no-add"),
        pytest.param("RUN echo apk add curl\n", None, id="argument-not-program"),
        pytest.param("RUN apk info | grep add\n", None, id="other-subcommand"),
    ],
)
def test_apk(before: str, after: str | None, tmp_path: Path) -> None:
    output, refusals = fix(ApkNoCache(), F + before, tmp_path)
    assert output == F + (before if after is None else after)
    assert refusals == []
