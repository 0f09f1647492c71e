"""HD302 build-secrets."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.model import Applicability
from hardener.transforms.build_secrets import BuildSecrets, secret_name

SYNTAX = "# syntax=docker/dockerfile:1\n"


def _fix(text: str, tmp_path: Path) -> tuple[str, list[str], list[str]]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    ctx = Context(tmp_path).for_file(path)
    opts = Options(Applicability.UNSAFE)
    result = process(str(path), "dockerfile", text.encode(), [BuildSecrets()], ctx, opts)
    assert result.failure is None and result.error is None, result.failure or result.error
    output = (result.output or text.encode()).decode()
    again = process(str(path), "dockerfile", output.encode(), [BuildSecrets()], ctx, opts)
    assert not again.changes, "a second run must change nothing"
    return output, [c.reason for c in result.changes], [r.reason for r in result.refusals]


@pytest.mark.parametrize(("name", "secret"), [
    pytest.param("NPM_TOKEN", True, id="token"),
    pytest.param("DB_PASSWORD", True, id="password"),
    pytest.param("AWS_SECRET_ACCESS_KEY", True, id="aws"),
    pytest.param("api_key", True, id="lowercase-api-key"),
    pytest.param("GITHUB_AUTH", True, id="auth"),
    pytest.param("GPG_KEY", False, id="gpg-key-is-public"),
    pytest.param("PASSWORD_FILE", False, id="file-path"),
    pytest.param("PUBLIC_TOKEN", False, id="public"),
    pytest.param("TOKENIZER", False, id="not-a-token-word"),
    pytest.param("AUTH_TYPE", False, id="auth-type"),
])
def test_secret_name(name: str, secret: bool) -> None:
    assert secret_name(name) is secret


@pytest.mark.parametrize(("before", "after"), [
    pytest.param("FROM a\nARG NPM_TOKEN\nRUN npm ci\n",
                 SYNTAX + "FROM a\nRUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci\n", id="basic"),
    pytest.param("# syntax=docker/dockerfile:1.10\nFROM a\nARG X=1 DB_PASSWORD\nRUN a\nRUN b\n",
                 "# syntax=docker/dockerfile:1.10\nFROM a\nARG X=1\n"
                 "RUN --mount=type=secret,id=db_password,env=DB_PASSWORD a\n"
                 "RUN --mount=type=secret,id=db_password,env=DB_PASSWORD b\n", id="every-later-run"),
    pytest.param("FROM a\nRUN early\nARG TOKEN=\nrun --network=none late\n",
                 SYNTAX + "FROM a\nRUN early\nrun --mount=type=secret,id=token,env=TOKEN --network=none late\n",
                 id="only-runs-after-empty-default"),
    pytest.param("FROM a\nARG A_TOKEN\nARG B_SECRET\nRUN x\n",
                 SYNTAX + "FROM a\nRUN --mount=type=secret,id=a_token,env=A_TOKEN "
                 "--mount=type=secret,id=b_secret,env=B_SECRET x\n", id="two-in-one-change"),
])
def test_arg_becomes_secret_mount(before: str, after: str, tmp_path: Path) -> None:
    out, reasons, refusals = _fix(before, tmp_path)
    assert out == after and refusals == []
    assert "--secret id=" in reasons[0] and "build.secrets" in reasons[0]


@pytest.mark.parametrize(("text", "refusal"), [
    pytest.param("FROM a\nARG DB_PASSWORD=hunter2\nRUN x\n", "rotate it", id="literal-default"),
    pytest.param("FROM a\nENV GH=ghp_" + "a" * 36 + "\n", "literal secret", id="secret-looking-value"),
    pytest.param("FROM a\nENV API_TOKEN=$API_TOKEN\n", "running container", id="env"),
    pytest.param("FROM a\nARG TOKEN\nENV T=$TOKEN\nRUN x\n", "used by ENV", id="used-by-env"),
    pytest.param("FROM a\nARG TOKEN\nARG TOKEN\nRUN x\n", "declared twice", id="twice"),
    pytest.param("FROM a\nARG TOKEN=${OTHER}\nRUN x\n", "another variable", id="default-from-variable"),
    pytest.param("# syntax=docker/dockerfile:1.4\nFROM a\nARG TOKEN\nRUN x\n", "1.10", id="old-frontend"),
])
def test_refused(text: str, refusal: str, tmp_path: Path) -> None:
    out, _, refusals = _fix(text, tmp_path)
    assert out == text and refusal in refusals[0]
    assert "hunter2" not in " ".join(refusals) and "ghp_" not in " ".join(refusals)


@pytest.mark.parametrize("text", [
    pytest.param("FROM a\nARG VERSION=1\nRUN x\n", id="not-a-secret"),
    pytest.param("FROM a\nARG TOKEN\nCOPY . .\n", id="no-run-after"),
    pytest.param("ARG TOKEN\nFROM a\nRUN x\n", id="global-arg"),
    pytest.param("FROM a\nENV GOOGLE_APPLICATION_CREDENTIALS=/run/key.json\n", id="path-value"),
    pytest.param("FROM a\nENV GPG_KEY 0D96DF4D4110E5C43FBFB17F2D347EA6AA65421D\n", id="gpg-fingerprint"),
])
def test_left_alone(text: str, tmp_path: Path) -> None:
    assert _fix(text, tmp_path) == (text, [], [])


def test_unsafe_is_not_applied_by_default(tmp_path: Path) -> None:
    text = "FROM a\nARG NPM_TOKEN\nRUN npm ci\n"
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = process(str(path), "dockerfile", text.encode(), [BuildSecrets()],
                     Context(tmp_path).for_file(path), Options())
    assert result.output == text.encode() and len(result.skipped) == 1
