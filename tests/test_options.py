"""Checked configuration: each mistake exits 2 at its line with the closest valid name;
every declared option type is accepted; every option the code reads is declared."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT

from hardener.cli import main
from hardener.config import load_config
from hardener.config_check import known_sections
from hardener.context import Context
from hardener.oci.digest_cache import OPTIONS as PIN_OPTIONS
from hardener.oci.digest_cache import Settings
from hardener.options import ENGINE_SECTIONS, PR_OPTIONS, VERIFY_OPTIONS, Option, alternatives, describe, named
from hardener.transforms import REGISTRY


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCMD [\"/app\"]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _diff(*args: str):
    return CliRunner().invoke(main, ["diff", "--offline", *args, "."])


# -- each kind of mistake, through the CLI: exit 2, file:line, what is wrong, did you mean --
@pytest.mark.parametrize(("text", "line", "message"), [
    pytest.param('[tool.hardener]\nunsafe = true\n\n[tool.hardener.cap-dorp]\nunknown = "refuse"\n', 4,
                 "unknown section [tool.hardener.cap-dorp]; did you mean cap-drop?", id="section"),
    pytest.param('[tool.hardener]\ncap-dorp.unknown = "refuse"\n', 2,
                 "unknown section [tool.hardener.cap-dorp]; did you mean cap-drop?", id="section-dotted-key"),
    pytest.param('[tool.hardener.HD603]\nunknown = "refuse"\n', 1,
                 "unknown section [tool.hardener.HD603]: options go under the transform's name; did you mean cap-drop?",
                 id="section-by-id"),
    pytest.param('[tool.hardener.cap-drop]\n# why\nunknwn = "refuse"\n', 3,
                 "unknown option 'unknwn' in [tool.hardener.cap-drop]; did you mean unknown?", id="option"),
    pytest.param("[tool.hardener.exec-form]\nstrict = true\n", 2,
                 "unknown option 'strict' in [tool.hardener.exec-form]; it has no options", id="option-none-declared"),
    pytest.param("[tool.hardener.pr]\nremote = 'up'\nrepositry = 'a/b'\n", 3,
                 "unknown option 'repositry' in [tool.hardener.pr]; did you mean repository?", id="option-of-pr"),
    pytest.param('[tool.hardener.narrow-copy]\necosystems = "python"\n', 2,
                 'narrow-copy.ecosystems: expected a list of strings, not "python"', id="type-list"),
    pytest.param('[tool.hardener.run-as-non-root]\nuid = "1000"\n', 2,
                 'run-as-non-root.uid: expected an integer, not "1000"', id="type-int"),
    pytest.param("[tool.hardener.resource-limits]\nmemory = true\n", 2,
                 "resource-limits.memory: expected a string, a number or false, not true", id="type-union"),
    pytest.param('[tool.hardener.cap-drop]\nunknown = "refus"\n', 2,
                 'cap-drop.unknown: expected one of runtime-default, refuse, not "refus"; did you mean refuse?',
                 id="choice"),
    pytest.param('[tool.hardener.narrow-copy]\necosystems = ["python", "rust"]\n', 2,
                 'narrow-copy.ecosystems: expected one of python, node, go, java, not "rust"', id="choice-in-list"),
    pytest.param('[tool.hardener.segment-networks]\ntiers = {web = "edg"}\n', 2,
                 'segment-networks.tiers: expected one of edge, app, data, not "edg"; did you mean edge?',
                 id="choice-in-table"),
    pytest.param('[tool.hardener.resource-limits.tiers.dta]\nmemory = "2G"\n', 1,
                 "resource-limits.tiers: unknown key 'dta'; did you mean data?", id="nested-key"),
    pytest.param('[tool.hardener.resource-limits.services.web]\nmemroy = "2G"\n', 2,
                 "unknown option 'memroy' in [tool.hardener.resource-limits.services.web]; did you mean memory?",
                 id="nested-field"),
    pytest.param("[tool.hardener.pin-base-image]\nwrite-lock = true\nwrite_lock = false\n", 3,
                 "pin-base-image.write_lock: given twice (as 'write-lock' too)", id="kebab-and-snake"),
    pytest.param('[tool.hardener]\nselect = [\n  "HD1",\n  "cap-dorp",\n]\n', 4,
                 "select: unknown transform 'cap-dorp'; did you mean cap-drop?", id="select-in-file"),
    pytest.param('[tool.hardener]\nignore = ["XY9"]\n', 2,
                 "ignore: unknown transform 'XY9'; see `hardener list`", id="ignore-prefix-of-nothing"),
    pytest.param('[tool.hardener.applicability]\nexec-form = "safe"\nexec-frm = "safe"\n', 3,
                 "applicability.exec-frm: unknown transform; did you mean exec-form?", id="applicability-key"),
    pytest.param('[tool.hardener]\nslect = ["HD1"]\n', 2, "unknown key 'slect'; did you mean select?", id="top-key"),
])
def test_config_mistakes_exit_2_with_line_and_suggestion(repo: Path, text: str, line: int, message: str) -> None:
    (repo / "pyproject.toml").write_text(text)
    result = _diff()
    assert result.exit_code == 2, result.output
    assert f"pyproject.toml:{line}: {message}\n" in result.stderr
    assert result.stdout == ""


def test_dedicated_file_names_sections_without_tool_hardener(repo: Path) -> None:
    (repo / ".hardener.toml").write_text('select = ["HD4"]\n\n[cap-dorp]\nunknown = "refuse"\n')
    result = _diff()
    assert result.exit_code == 2
    assert ".hardener.toml:3: unknown section [cap-dorp]; did you mean cap-drop?" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("--select", "HD3,cap-dorp"), "Invalid value for --select: unknown transform 'cap-dorp'; "
                 "did you mean cap-drop?", id="select-name"),
    pytest.param(("--ignore", "HD7021"), "Invalid value for --ignore: unknown transform 'HD7021'; did you mean HD702?",
                 id="ignore-id"),
    pytest.param(("--select", "Cap-Drop"), "unknown transform 'Cap-Drop'; did you mean cap-drop?", id="name-case"),
    pytest.param(("--select", "HD9"), "unknown transform 'HD9'", id="prefix-of-nothing"),
])
def test_unknown_select_or_ignore_on_the_command_line_exits_2(repo: Path, args: tuple[str, ...], message: str) -> None:
    result = _diff(*args)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize("codes", ["HD3", "ALL", "all", "hd401", "exec-form,HD5", " HD4 , HD6"])
def test_prefixes_all_ids_and_names_are_valid(repo: Path, codes: str) -> None:
    assert _diff("--select", codes, "--ignore", codes.split(",")[0]).exit_code == 0


def test_pr_and_verify_check_their_codes_too(repo: Path) -> None:
    for command in (["pr", "--dry-run"], ["verify"]):
        result = CliRunner().invoke(main, [*command, "--select", "cap-dorp"])
        assert result.exit_code == 2 and "did you mean cap-drop?" in result.stderr, command


# -- valid configs are accepted and read as written ----------------------------------
_SAMPLES: dict[str, Any] = {"bool": True, "false": False, "int": 7, "number": 1.5, "string": "x", "table": {}}


def _sample(option: Option, type_: str) -> Any:
    """A value of one alternative of ``option``'s type that its choices/keys/fields allow."""
    if type_.startswith(("list[", "table[")):
        outer, inner = type_[:-1].split("[", 1)
        item = _sample(dataclasses.replace(option, keys=None), alternatives(inner)[0])
        if outer == "list":
            return [item]
        key = option.keys[0] if option.keys else "a.b"  # a dotted key must round-trip too
        return {key: {f.name: _sample(f, alternatives(f.type)[0]) for f in option.fields} if option.fields else item}
    if type_ == "string" and option.choices:
        return option.choices[-1]
    if type_ == "string" and option.name == "transforms":  # names a transform: config_check rejects others
        return "cap-drop"
    return _SAMPLES[type_]


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


_EVERY_TYPE = [pytest.param(section, option, type_, id=f"{section}.{option.name}:{type_}")
               for section, options in known_sections().items() for option in options
               for type_ in alternatives(option.type)]


@pytest.mark.parametrize(("section", "option", "type_"), _EVERY_TYPE)
def test_every_declared_option_type_is_accepted(tmp_path: Path, section: str, option: Option, type_: str) -> None:
    value = _sample(option, type_)
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.hardener.{section}]\n{option.name} = {_toml(value)}\n")
    assert load_config(tmp_path, path).options == {section: {option.name: value}}


def test_snake_case_option_keys_are_read_as_kebab_case(tmp_path: Path) -> None:
    path = tmp_path / ".hardener.toml"
    path.write_text("[bind_ports_localhost]\nuser_ports = [8443]\n[pr]\napi_url = 'https://ghe/api/v3'\n")
    options = load_config(tmp_path, path).options
    assert options == {"bind-ports-localhost": {"user-ports": [8443]}, "pr": {"api-url": "https://ghe/api/v3"}}


def test_the_golden_fixture_configs_are_all_valid() -> None:
    configs = [p for p in (ROOT / "fixtures").glob("*/*/input/*") if p.name in (".hardener.toml", "pyproject.toml")]
    assert len(configs) > 20
    for path in configs:
        load_config(path.parent, path)


# -- every option read is declared, with the default the code uses -------------------
_READ = re.compile(r"""(?:ctx\.option\(\s*([\w.]+|"[\w-]+")\s*,\s*|([\w]+)\.option\(\s*ctx\s*,\s*)"([\w-]+)\"""")


def _reads(path: Path) -> list[tuple[str, str]]:
    """(section, key) of every ``ctx.option(section, "key"`` and ``X.option(ctx, "key"`` in a file."""
    classes = {c.__name__: c.name for c in REGISTRY}
    own = [c.name for c in REGISTRY if c.__module__.rsplit(".", 1)[-1] == path.stem]
    constant = re.search(r'^NAME = "([\w-]+)"', path.read_text(), re.M)
    found = []
    for match in _READ.finditer(path.read_text()):
        section_expr, owner, key = match.groups()
        if owner is not None:
            section = own[0] if owner in ("self", "cls") else classes[owner]
        elif section_expr.startswith('"'):
            section = section_expr.strip('"')
        elif section_expr in ("self.name", "cls.name"):
            section = own[0]
        elif section_expr == "NAME" and constant:
            section = constant.group(1)
        else:
            section = classes[section_expr.removesuffix(".name")]
        found.append((section, key))
    return found


def test_every_option_read_in_the_code_is_declared() -> None:
    sections = known_sections()
    paths = [*(ROOT / "transforms").glob("*.py"), *(ROOT / "hardener").rglob("*.py")]
    reads = [(p.relative_to(ROOT), s, k) for p in paths for s, k in _reads(p)]
    assert len(reads) >= 15, reads
    undeclared = [(p, s, k) for p, s, k in reads if k not in {o.name for o in sections.get(s, ())}]
    assert undeclared == []


def test_the_scan_sees_every_form_of_reading_an_option(tmp_path: Path) -> None:
    module = tmp_path / "cap_drop.py"
    module.write_text('NAME = "x"\nctx.option(self.name, "a")\nctx.option("pr", "b", 1)\nctx.option(NAME, "c")\n'
                      'self.option(ctx, "d")\nCapDrop.option(ctx, "e")\nctx.option(CapDrop.name, "f")\n')
    assert _reads(module) == [("cap-drop", "a"), ("pr", "b"), ("x", "c"), ("cap-drop", "d"), ("cap-drop", "e"),
                              ("cap-drop", "f")]


def test_pin_base_image_declares_every_resolver_setting_and_its_default() -> None:
    fields = {f.name.replace("_", "-") for f in dataclasses.fields(Settings)}
    assert fields == {o.name for o in PIN_OPTIONS}
    assert Settings.from_options({}) == Settings()


def test_pr_and_verify_declare_what_they_read_with_their_defaults() -> None:
    from hardener.lab.verify import DEFAULT_TIMEOUT
    from hardener.pr.github import DEFAULT_API_URL

    for module, options in (("pr/bot.py", PR_OPTIONS), ("lab/verify.py", VERIFY_OPTIONS)):
        read = set(re.findall(r'(?<![.\w])(?:options|local)\.get\("([\w-]+)"', (ROOT / "hardener" / module).read_text()))
        assert read and read <= {o.name for o in options}, module
    assert named(PR_OPTIONS, "api-url").default == DEFAULT_API_URL
    assert named(VERIFY_OPTIONS, "timeout").default == DEFAULT_TIMEOUT


def test_a_transform_reads_its_declared_default_and_refuses_undeclared_keys(tmp_path: Path) -> None:
    cap_drop = next(c for c in REGISTRY if c.name == "cap-drop")
    assert cap_drop.option(Context(tmp_path), "unknown") == "runtime-default"
    assert cap_drop.option(Context(tmp_path, {"cap-drop": {"unknown": "refuse"}}), "unknown") == "refuse"
    with pytest.raises(KeyError):
        cap_drop.option(Context(tmp_path), "unknwn")


# -- where the options are documented ----------------------------------------------------
def test_explain_prints_the_options_after_the_docs() -> None:
    text = CliRunner().invoke(main, ["explain", "HD603"]).stdout
    assert text.index("## References") < text.index("## Options")
    assert "[tool.hardener.cap-drop]" in text
    assert 'unknown (string; one of runtime-default, refuse; default "runtime-default")' in text
    assert "## Options" not in CliRunner().invoke(main, ["explain", "exec-form"]).stdout


def test_explain_documents_the_pr_and_verify_sections_too() -> None:
    for section, options in ENGINE_SECTIONS.items():
        text = CliRunner().invoke(main, ["explain", section]).stdout
        assert all(f"    {o.name} ({o.type}" in text for o in options), section


def test_explain_suggests_the_closest_transform() -> None:
    result = CliRunner().invoke(main, ["explain", "cap-dorp"])
    assert result.exit_code == 2 and "did you mean cap-drop?" in result.stderr


@pytest.mark.parametrize(("type_", "words"), [
    ("list[string]|false", "a list of strings or false"),
    ("table[table]", "a table of tables"),
    ("list[int|string]", "a list of integers or strings"),
])
def test_types_in_words(type_: str, words: str) -> None:
    assert describe(type_) == words


def test_version_does_not_load_the_registry() -> None:
    code = "import sys; from hardener.cli import main; print(any('hardener.transforms' in m for m in sys.modules))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "False"


def test_readme_lists_every_transform_that_has_options() -> None:
    readme = (ROOT / "README.md").read_text()
    where = readme[readme.index("Where the options are documented"):]
    where = where[: where.index("\n\n")]
    assert [c.name for c in REGISTRY if c.options and c.name not in where] == []
