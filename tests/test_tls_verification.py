"""HD102 tls-verification: each removal beside a case that must stay."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.transforms.tls_verification import PROXY, TlsVerification

F = "FROM alpine\n"


def _fix(text: str, tmp_path: Path) -> tuple[str, list[str], list[str]]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    ctx = Context(tmp_path).for_file(path)
    result = process(str(path), "dockerfile", text.encode(), [TlsVerification()], ctx, Options())
    assert result.failure is None and result.error is None, result.failure or result.error
    output = (result.output or text.encode()).decode()
    again = process(str(path), "dockerfile", output.encode(), [TlsVerification()], ctx, Options())
    assert not again.changes, "a second run must change nothing"
    return output, [c.reason for c in result.changes], [r.reason for r in result.refusals]


@pytest.mark.parametrize(("before", "after"), [
    pytest.param("RUN curl -k https://x -o y\n", "RUN curl https://x -o y\n", id="curl-k"),
    pytest.param("RUN curl -fsSLk https://x\n", "RUN curl -fsSL https://x\n", id="curl-cluster"),
    pytest.param("RUN curl -ko out https://x\n", "RUN curl -o out https://x\n", id="curl-k-before-value-option"),
    pytest.param("RUN curl https://x --insecure\n", "RUN curl https://x\n", id="curl-insecure-last"),
    pytest.param("RUN curl -k --insecure https://x\n", "RUN curl https://x\n", id="two-adjacent"),
    pytest.param("RUN curl \\\n    --insecure \\\n    https://x\n", "RUN curl \\\n    https://x\n",
                 id="own-continuation-line"),
    pytest.param("RUN curl https://x \\\n    --insecure\n", "RUN curl https://x\n", id="last-line-alone"),
    pytest.param("RUN wget --no-check-certificate -q https://x\n", "RUN wget -q https://x\n", id="wget"),
    pytest.param("RUN pip install --trusted-host pypi.org a\n", "RUN pip install a\n", id="pip-trusted-host"),
    pytest.param("RUN python3 -m pip install --trusted-host=pypi.org a\n", "RUN python3 -m pip install a\n",
                 id="python-m-pip"),
    pytest.param("RUN apt-get install -y --allow-unauthenticated a\n", "RUN apt-get install -y a\n",
                 id="apt-unauthenticated"),
    pytest.param("RUN apt-get install -y --force-yes a\n", "RUN apt-get install -y a\n", id="force-yes-with-y"),
    pytest.param("RUN apt-get install --force-yes a\n", "RUN apt-get install -y a\n", id="force-yes-becomes-y"),
    pytest.param("RUN yum install -y --nogpgcheck a\n", "RUN yum install -y a\n", id="yum"),
    pytest.param("RUN rpm -ivh --nosignature a.rpm\n", "RUN rpm -ivh a.rpm\n", id="rpm"),
    pytest.param("RUN yum-config-manager --save --setopt=sslverify=false\n", "RUN yum-config-manager --save\n",
                 id="sslverify"),
    pytest.param("RUN apk add --allow-untrusted a\n", "RUN apk add a\n", id="apk"),
    pytest.param("RUN npm config set strict-ssl false && npm ci\n", "RUN npm ci\n", id="npm-first"),
    pytest.param("RUN npm ci && \\\n    yarn config set strict-ssl false\n", "RUN npm ci\n", id="yarn-last"),
    pytest.param("RUN a && npm set strict-ssl false && b\n", "RUN a && b\n", id="npm-middle"),
    pytest.param("RUN a; npm config set strict-ssl false && b\n", "RUN a; b\n", id="keeps-semicolon"),
    pytest.param("RUN npm config set strict-ssl false\nRUN x\n", "RUN x\n", id="whole-run"),
    pytest.param("RUN NODE_TLS_REJECT_UNAUTHORIZED=0 node a.js\n", "RUN node a.js\n", id="assignment"),
    pytest.param("RUN export GIT_SSL_NO_VERIFY=1 && git clone u\n", "RUN git clone u\n", id="export"),
    pytest.param("RUN git -c http.sslVerify=false clone u\n", "RUN git clone u\n", id="git-c"),
    pytest.param("RUN sudo -E timeout 60 curl -k u\n", "RUN sudo -E timeout 60 curl u\n", id="wrappers"),
    pytest.param("ENV PYTHONHTTPSVERIFY=0 LANG=C\n", "ENV LANG=C\n", id="env-pair"),
    pytest.param("ENV LANG=C PYTHONHTTPSVERIFY=0\n", "ENV LANG=C\n", id="env-pair-last"),
    pytest.param("ENV NODE_TLS_REJECT_UNAUTHORIZED 0\nRUN x\n", "RUN x\n", id="env-legacy-whole"),
    pytest.param("ARG npm_config_strict_ssl=false\n", "", id="arg-lowercase-npm"),
    pytest.param("ENV A=1 \\\n    PIP_TRUSTED_HOST=h \\\n    B=2\n", "ENV A=1 \\\n    B=2\n", id="env-own-line"),
    pytest.param("run curl -k https://x\r\n", "run curl https://x\r\n", id="crlf-lowercase"),
])
def test_switch_removed(before: str, after: str, tmp_path: Path) -> None:
    out, reasons, refusals = _fix(F + before, tmp_path)
    assert out == F + after
    assert reasons and all(PROXY in r for r in reasons) and refusals == []


@pytest.mark.parametrize("text", [
    pytest.param("RUN curl -fsSL https://x/k8s -o k\n", id="curl-without-k"),
    pytest.param("RUN wget -k https://x/site/\n", id="wget-k-converts-links"),
    pytest.param("RUN curl -H -k https://x\n", id="k-is-a-header-value"),
    pytest.param("RUN curl -o -k https://x\n", id="k-is-the-output-file"),
    pytest.param("ENV NODE_TLS_REJECT_UNAUTHORIZED=1 PYTHONHTTPSVERIFY=1\n", id="checks-on"),
    pytest.param("ARG GIT_SSL_NO_VERIFY\n", id="arg-without-value"),
    pytest.param("RUN npm config set strict-ssl true\n", id="strict-ssl-true"),
    pytest.param("RUN echo --insecure\n", id="not-a-tool"),
    pytest.param("RUN echo curl -k x\n", id="tool-name-as-argument"),
])
def test_left_alone(text: str, tmp_path: Path) -> None:
    assert _fix(F + text, tmp_path) == (F + text, [], [])


@pytest.mark.parametrize(("text", "refusal"), [
    pytest.param("RUN pip install -i http://pypi.local/simple --trusted-host pypi.local a\n", "plain-http",
                 id="pip-http-index"),
    pytest.param("ENV PIP_INDEX_URL=http://pypi.local/simple PIP_TRUSTED_HOST=pypi.local\n", "plain-http",
                 id="env-http-index"),
    pytest.param("RUN apk add --allow-untrusted /tmp/x.apk\n", "local unsigned", id="apk-local-file"),
    pytest.param("RUN if true; then curl -k https://x; fi\n", "cannot be split", id="compound"),
    pytest.param("RUN a || npm config set strict-ssl false\n", "operators", id="or-operator"),
    pytest.param("ENV PYTHONHTTPSVERIFY=0 \\\n# why\n    A=1\n", None, id="comment-kept-pair-removed"),
])
def test_refused(text: str, refusal: str | None, tmp_path: Path) -> None:
    out, _, refusals = _fix(F + text, tmp_path)
    if refusal is None:
        assert out == F + "ENV \\\n# why\n    A=1\n" and refusals == []
        return
    assert out == F + text and refusal in refusals[0]
