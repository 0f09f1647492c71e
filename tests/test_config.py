from __future__ import annotations

from pathlib import Path

import pytest

from hardener.config import Config, load_config, selected
from hardener.errors import BadInput
from hardener.model import Applicability


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_config_gives_defaults(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert load_config(tmp_path) == Config()


def test_hardener_toml_is_the_whole_file(tmp_path: Path) -> None:
    source = write(tmp_path / ".hardener.toml", 'select = ["HD1"]\nunsafe = true\n')
    assert load_config(tmp_path) == Config(select=("HD1",), unsafe=True, source=source)


def test_pyproject_tool_hardener_table(tmp_path: Path) -> None:
    source = write(tmp_path / "pyproject.toml", '[tool.ruff]\nselect = ["E"]\n\n[tool.hardener]\nignore = ["HD5"]\n')
    assert load_config(tmp_path) == Config(ignore=("HD5",), source=source)


def test_hardener_toml_beats_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.hardener]\nselect = ["HD2"]\n')
    write(tmp_path / ".hardener.toml", 'select = ["HD1"]\n')
    assert load_config(tmp_path).select == ("HD1",)


def test_nearest_directory_wins(tmp_path: Path) -> None:
    write(tmp_path / ".hardener.toml", 'select = ["HD1"]\n')
    write(tmp_path / "svc" / "pyproject.toml", '[tool.hardener]\nselect = ["HD2"]\n')
    (tmp_path / "svc" / "api").mkdir()
    assert load_config(tmp_path / "svc" / "api").select == ("HD2",)


def test_pyproject_without_our_table_is_passed_over(tmp_path: Path) -> None:
    write(tmp_path / ".hardener.toml", 'select = ["HD1"]\n')
    write(tmp_path / "svc" / "pyproject.toml", '[project]\nname = "svc"\n')
    write(tmp_path / "lib" / "pyproject.toml", '[project]\nname = "lib"\ndependencies = ["hardener"]\n')
    assert load_config(tmp_path / "svc").select == ("HD1",)
    assert load_config(tmp_path / "lib").select == ("HD1",)


def test_a_broken_foreign_pyproject_does_not_stop_the_search(tmp_path: Path) -> None:
    write(tmp_path / ".hardener.toml", 'select = ["HD1"]\n')
    write(tmp_path / "svc" / "pyproject.toml", "[project\n")
    assert load_config(tmp_path / "svc").select == ("HD1",)


def test_search_starts_at_a_files_directory(tmp_path: Path) -> None:
    write(tmp_path / "svc" / ".hardener.toml", "unsafe = true\n")
    dockerfile = write(tmp_path / "svc" / "Dockerfile", "FROM scratch\n")
    assert load_config(dockerfile).unsafe is True


def test_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    write(tmp_path / ".hardener.toml", "unsafe = true\n")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "svc").mkdir()
    assert load_config(tmp_path / "repo" / "svc") == Config()


def test_config_in_the_repository_root_itself_is_found(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".hardener.toml", "unsafe = true\n")
    (tmp_path / "svc").mkdir()
    assert load_config(tmp_path / "svc").unsafe is True


def test_explicit_file_wins_over_the_search(tmp_path: Path) -> None:
    write(tmp_path / ".hardener.toml", "unsafe = true\n")
    other = write(tmp_path / "ci" / "strict.toml", "safe-only = true\n")
    assert load_config(tmp_path, other) == Config(safe_only=True, source=other)


def test_explicit_pyproject_reads_only_tool_hardener(tmp_path: Path) -> None:
    explicit = write(tmp_path / "ci" / "pyproject.toml", '[tool.hardener]\nselect = ["HD4"]\n[project]\nname = "x"\n')
    assert load_config(tmp_path, explicit).select == ("HD4",)
    bare = write(tmp_path / "bare" / "pyproject.toml", '[project]\nname = "x"\n')
    assert load_config(tmp_path, bare) == Config(source=bare)


def test_explicit_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        load_config(tmp_path, tmp_path / "nope.toml")
    assert (info.value.message, info.value.path) == ("no such file or directory", str(tmp_path / "nope.toml"))


@pytest.mark.parametrize("style", ["kebab", "snake"])
def test_every_key_in_kebab_or_snake_case(tmp_path: Path, style: str) -> None:
    text = """\
select = ["HD1", "pin-base-image"]
ignore = ["HD301"]
safe-only = true
exclude = ["vendor/"]

[applicability]
pin-base-image = "safe"
HD401 = "unsafe"
add_to_copy = "Review"

[run-as-non-root]
uid = 10001
name = "app"
"""
    if style == "snake":
        text = text.replace("safe-only", "safe_only").replace("[run-as-non-root]", "[run_as_non_root]")
    config = load_config(tmp_path, write(tmp_path / ".hardener.toml", text))
    assert config.select == ("HD1", "pin-base-image")
    assert config.ignore == ("HD301",)
    assert config.safe_only is True and config.unsafe is False
    assert config.exclude == ("vendor/",)
    assert config.applicability == {
        "pin-base-image": Applicability.SAFE, "HD401": Applicability.UNSAFE, "add-to-copy": Applicability.REVIEW,
    }
    assert config.options == {"run-as-non-root": {"uid": 10001, "name": "app"}}


def test_options_in_pyproject_sub_tables(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.hardener]\nunsafe = true\n[tool.hardener.run-as-non-root]\nuid = 10001\n")
    config = load_config(tmp_path)
    assert config.options == {"run-as-non-root": {"uid": 10001}}
    assert config.unsafe is True


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / ".hardener.toml", 'select = ["HD1"]\n\nunsafe = yes\n')
    with pytest.raises(BadInput) as info:
        load_config(tmp_path)
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert info.value.message.startswith("invalid TOML: Invalid value")
    assert str(info.value).startswith(f"{path}:3: invalid TOML")


def test_invalid_toml_in_pyproject_with_our_table_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.hardener]\nselect = [\n")
    with pytest.raises(BadInput) as info:
        load_config(tmp_path)
    assert info.value.message.startswith("invalid TOML")


@pytest.mark.parametrize(("text", "message", "line"), [
    pytest.param('select = "HD1"\n', "'select' must be a list of strings", 1, id="select-string"),
    pytest.param("\nignore = [1]\n", "'ignore' must be a list of strings", 2, id="ignore-ints"),
    pytest.param("exclude = {}\n", "'exclude' must be a list of strings", 1, id="exclude-table"),
    pytest.param('unsafe = "yes"\n', "'unsafe' must be true or false", 1, id="unsafe-string"),
    pytest.param("# x\nsafe_only = 1\n", "'safe_only' must be true or false", 2, id="safe-only-int"),
    pytest.param('applicability = "safe"\n', "'applicability' must be a table of transform = level", 1,
                 id="applicability-string"),
    pytest.param('[applicability]\n\nHD101 = "risky"\n',
                 "applicability.HD101: level must be safe, review or unsafe, not 'risky'", 3, id="bad-level"),
    pytest.param("[applicability]\nHD101 = 2\n",
                 "applicability.HD101: level must be safe, review or unsafe, not 2", 2, id="level-int"),
    pytest.param("selct = []\n", "unknown key 'selct'; did you mean select?", 1, id="typo"),
    pytest.param("unsafe = true\nsafe-only = true\n", "'unsafe' and 'safe-only' exclude each other", 2,
                 id="both-levels"),
])
def test_wrong_types_are_bad_input_with_line(tmp_path: Path, text: str, message: str, line: int) -> None:
    path = write(tmp_path / ".hardener.toml", text)
    with pytest.raises(BadInput) as info:
        load_config(tmp_path)
    assert (info.value.message, info.value.line, info.value.path) == (message, line, str(path))


def test_wrong_type_line_is_found_inside_tool_hardener_not_another_tool(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.ruff]\nselect = ["E"]\n\n[tool.hardener]\nselect = "HD1"\n')
    with pytest.raises(BadInput) as info:
        load_config(tmp_path)
    assert info.value.line == 5


def test_tool_hardener_must_be_a_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool]\nhardener = "on"\n')
    with pytest.raises(BadInput) as info:
        load_config(tmp_path)
    assert (info.value.message, info.value.line) == ("[tool.hardener] must be a table", 2)


def test_merged_cli_flags_replace_the_file() -> None:
    config = Config(select=("HD1",), ignore=("HD2",), unsafe=True, exclude=("x/",))
    merged = config.merged(select=["HD3"], ignore=None, safe_only=True)
    assert merged == Config(select=("HD3",), ignore=("HD2",), safe_only=True, exclude=("x/",))
    assert Config(safe_only=True).merged(unsafe=True) == Config(unsafe=True)
    assert config.merged() == config


@pytest.mark.parametrize(("select", "ignore", "expected"), [
    pytest.param((), (), True, id="default-all"),
    pytest.param(("HD301",), (), True, id="exact-id"),
    pytest.param(("hd301",), (), True, id="id-any-case"),
    pytest.param(("HD3",), (), True, id="prefix"),
    pytest.param(("HD",), (), True, id="family-prefix"),
    pytest.param(("HD30",), (), True, id="longer-prefix"),
    pytest.param(("HD4",), (), False, id="other-prefix"),
    pytest.param(("HD3011",), (), False, id="longer-than-id"),
    pytest.param(("add-to-copy",), (), True, id="name"),
    pytest.param(("add-to",), (), False, id="name-is-not-a-prefix"),
    pytest.param(("ALL",), (), True, id="all"),
    pytest.param(("HD4", "add-to-copy"), (), True, id="any-of"),
    pytest.param((), ("HD3",), False, id="ignore-prefix"),
    pytest.param((), ("add-to-copy",), False, id="ignore-name"),
    pytest.param(("HD301",), ("HD3",), False, id="ignore-wins-over-exact-select"),
    pytest.param(("ALL",), ("HD301",), False, id="ignore-wins-over-all"),
    pytest.param((), ("ALL",), False, id="ignore-all"),
])
def test_selected(select: tuple[str, ...], ignore: tuple[str, ...], expected: bool) -> None:
    assert selected(Config(select=select, ignore=ignore), "HD301", "add-to-copy") is expected
