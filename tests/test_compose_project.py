"""The Compose project model: interpolation, -f sets from commands, merge rules, include/extends."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.compose import project_find
from hardener.compose.interpolate import interpolate, read_dotenv
from hardener.compose.merge import Merged, merge_service
from hardener.compose.project import Project, find_projects, load

ENV = {"SET": "x", "EMPTY": ""}


@pytest.mark.parametrize(("text", "want"), [
    pytest.param("${SET}", "x", id="braced"),
    pytest.param("$SET/y", "x/y", id="bare"),
    pytest.param("${UNSET:-d}", "d", id="colon-dash-unset"),
    pytest.param("${EMPTY:-d}", "d", id="colon-dash-empty"),
    pytest.param("${EMPTY-d}", "", id="dash-empty-kept"),
    pytest.param("${UNSET-d}", "d", id="dash-unset"),
    pytest.param("$$SET", "$SET", id="escaped-dollar"),
    pytest.param("${SET:+r}", "r", id="plus-set"),
    pytest.param("${UNSET:+r}", "", id="plus-unset"),
    pytest.param("${UNSET:-${SET}}", "x", id="nested-default"),
    pytest.param("${UNSET}", "${UNSET}", id="unset-kept-as-written"),
])
def test_interpolate(text: str, want: str) -> None:
    assert interpolate(text, ENV).text == want


def test_interpolate_reports_unset_and_errors() -> None:
    result = interpolate("${A}:${B:?needs B}", {})
    assert result.unset == ("A",)
    assert result.errors == ("B: needs B",)


def test_dotenv_quotes_comments_and_references() -> None:
    env = read_dotenv("A=1\nexport B='lit ${A}' # c\nC=${A}2 # c\n# D=1\nE=\"${C}\"\n")
    assert env == {"A": "1", "B": "lit ${A}", "C": "12", "E": "12"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    project_find._commands.cache_clear()
    project_find.command_lines.cache_clear()
    project_find.compose_defaults.cache_clear()
    project_find._walk.cache_clear()
    return root


@pytest.mark.parametrize(("name", "text", "where"), [
    pytest.param("Makefile", "up:\n\tdocker compose -f compose.yaml \\\n\t\t-f compose.full.yaml up\n", "Makefile:2",
                 id="makefile-continued"),
    pytest.param("run.sh", "#!/bin/sh\ndocker-compose --file=compose.yaml --file compose.full.yaml up -d\n",
                 "run.sh:2", id="shell-long-options"),
    pytest.param("README.md", "Start:\n\n```sh\n$ docker compose -f compose.yaml -f compose.full.yaml up\n```\n",
                 "README.md:4", id="readme-fence"),
    pytest.param(".github/workflows/ci.yml", "jobs:\n  t:\n    steps:\n      - run: docker compose "
                 "-f compose.yaml -f compose.full.yaml config\n", ".github/workflows/ci.yml:4", id="workflow"),
    pytest.param(".env", "COMPOSE_FILE=compose.yaml:compose.full.yaml\n", ".env:1 COMPOSE_FILE", id="compose-file"),
    pytest.param("test.sh", '#!/bin/bash\ndoco="docker compose --file compose.yaml --file compose.full.yaml '
                 '--project-name t"\n$doco up -d\n', "test.sh:2", id="command-in-a-variable"),
])
def test_commands_find_f_sets(tmp_path: Path, name: str, text: str, where: str) -> None:
    root = _write(tmp_path, {"compose.yaml": "services: {}\n", "compose.full.yaml": "services: {}\n", name: text})
    found = project_find.commands(root)
    assert [(c.where, [f.name for f in c.files]) for c in found] == [(where, ["compose.yaml", "compose.full.yaml"])]


@pytest.mark.parametrize("text", [
    pytest.param("up:\n\tdocker compose -f $(FILE) up\n", id="make-variable"),
    pytest.param("up:\n\tdocker compose -f missing.yaml up\n", id="missing-file"),
    pytest.param("README:\n\techo docker compose is nice -f\n", id="not-an-option-of-compose"),
    pytest.param("up:\n\tdocker compose up\n", id="no-f"),
])
def test_commands_ignore_what_cannot_be_placed(tmp_path: Path, text: str) -> None:
    root = _write(tmp_path, {"compose.yaml": "services: {}\n", "Makefile": text})
    assert project_find.commands(root) == ()


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def test_merge_rules_and_origins(tmp_path: Path) -> None:
    merged = Merged("web")
    one, two = tmp_path / "a.yaml", tmp_path / "b.yaml"
    merge_service(merged, {"image": "a", "ports": ["80:80", "5432:5432"], "environment": ["A=1"],
                           "command": ["x"], "networks": ["front"]}, {"image": 2, "ports": 3}, one)
    merge_service(merged, {"image": "b", "ports": ["80:80", "9000:9000"], "environment": {"B": "2"},
                           "command": ["y"], "networks": {"back": None}}, {"image": 5, "ports": 6}, two)
    assert merged.value["image"] == "b"
    assert merged.value["ports"] == ["80:80", "5432:5432", "9000:9000"]  # unique by value, appended
    assert merged.value["environment"] == {"A": "1", "B": "2"}
    assert merged.value["command"] == ["y"]  # replaced, not appended
    assert set(merged.value["networks"]) == {"front", "back"}
    assert [str(o) for o in merged.origins["ports"]] == ["a.yaml:3", "b.yaml:6"]
    assert [str(o) for o in merged.origins["image"]] == ["b.yaml:5"]
    assert merged.owner() == two


def test_reset_and_override_tags(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "compose.yaml": "services:\n  web:\n    image: a\n    ports: ['1:1']\n    dns: [1.1.1.1]\n",
        "compose.override.yaml": "services:\n  web:\n    ports: !reset []\n    dns: !override [8.8.8.8]\n",
    })
    loaded = load(Project((root / "compose.yaml", root / "compose.override.yaml"), "test"), _read)
    assert "ports" not in loaded.services["web"].value
    assert loaded.services["web"].value["dns"] == ["8.8.8.8"]


def test_include_extends_env_and_merge_keys(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "compose.yaml": ("include:\n  - infra/compose.db.yaml\n  - path: [more.yaml]\n"
                         "x-env: &env\n  DATABASE_URL: postgres://db/app\n"
                         "services:\n  web:\n    image: ${WEB_IMAGE:-web}\n    environment:\n      <<: *env\n"
                         "  worker:\n    extends: {file: common.yaml, service: base}\n"),
        "infra/compose.db.yaml": "services:\n  db:\n    image: postgres:16\n    env_file: db.env\n",
        "more.yaml": "services:\n  cache:\n    image: redis:7\n",
        "common.yaml": "services:\n  base:\n    image: app:1\n",
        ".env": "WEB_IMAGE=ghcr.io/x/web:1\n",
    })
    loaded = load(Project((root / "compose.yaml",), "test"), _read)
    assert sorted(loaded.services) == ["cache", "db", "web", "worker"]
    assert loaded.services["web"].value["image"] == "ghcr.io/x/web:1"
    assert loaded.services["web"].value["environment"] == {"DATABASE_URL": "postgres://db/app"}
    assert loaded.services["worker"].value["image"] == "app:1"
    assert loaded.services["worker"].owner() == root / "compose.yaml"
    assert loaded.services["db"].owner() == (root / "infra/compose.db.yaml").resolve()
    # an included file's relative env_file is its own folder's
    assert loaded.services["db"].value["env_file"] == [str((root / "infra/db.env").resolve())]
    assert {p.name for p in loaded.members} == {"compose.yaml", "compose.db.yaml", "more.yaml", "common.yaml"}


def test_find_projects_by_source(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "compose.yaml": "services: {}\n", "compose.override.yaml": "services: {}\n",
        "compose.full.yaml": "services: {}\n",
        "Makefile": "up:\n\tdocker compose -f compose.yaml -f compose.full.yaml up\n",
        "sub/docker-compose.yml": "services: {}\n",
    })
    found = find_projects(root, [["compose.yaml", "compose.full.yaml", "compose.override.yaml"]])
    assert [p.describe(root) for p in found] == [
        "compose.yaml + compose.full.yaml + compose.override.yaml (config [tool.hardener] compose-projects)",
        "compose.yaml + compose.full.yaml (-f from Makefile:2)",
        "compose.yaml + compose.override.yaml (override pair)",
        "sub/docker-compose.yml (default file)",
    ]


def test_config_declares_projects(tmp_path: Path) -> None:
    from hardener.config import load_config
    from hardener.errors import BadInput

    (tmp_path / "pyproject.toml").write_text('[tool.hardener]\ncompose-projects = [["compose.yaml", "c.full.yaml"]]\n')
    assert load_config(tmp_path).compose_projects == (("compose.yaml", "c.full.yaml"),)
    (tmp_path / "pyproject.toml").write_text('[tool.hardener]\ncompose-projects = ["compose.yaml"]\n')
    with pytest.raises(BadInput, match="list of non-empty lists"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.hardener]\ncompose-projects = [["../x.yaml"]]\n')
    with pytest.raises(BadInput, match="inside the repository"):
        load_config(tmp_path)


@pytest.mark.parametrize(("dotenv", "want"), [
    pytest.param(False, ["compose.yaml (--env-file from Makefile:2)"], id="no-dotenv-only-the-command"),
    pytest.param(True, ["compose.yaml (--env-file from Makefile:2)", "compose.yaml (default file)"],
                 id="dotenv-keeps-the-bare-project"),
])
def test_env_file_command_is_its_own_project(tmp_path: Path, dotenv: bool, want: list[str]) -> None:
    files = {"compose.yaml": "services:\n  app:\n    image: ${IMAGE}\n",
             ".env.prod": "IMAGE=nginx:1.27\n",
             "Makefile": "up:\n\tdocker compose --env-file .env.prod up -d\n"}
    root = _write(tmp_path, {**files, **({".env": "IMAGE=busybox\n"} if dotenv else {})})
    found = find_projects(root)
    assert [p.describe(root) for p in found] == want
    # values come from the command's env file, not from .env
    assert load(found[0], lambda p: p.read_bytes() if p.is_file() else None).services["app"].value["image"] == "nginx:1.27"


def test_env_file_and_bare_f_sets_are_two_projects(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "compose.yaml": "services: {}\n", "compose.full.yaml": "services: {}\n", ".env.prod": "X=1\n",
        "Makefile": "a:\n\tdocker compose -f compose.yaml -f compose.full.yaml up\n"
                    "b:\n\tdocker compose -f compose.yaml -f compose.full.yaml --env-file .env.prod up\n",
    })
    found = [p for p in find_projects(root) if len(p.files) == 2]
    assert [(p.source, p.env_file) for p in found] == [
        ("-f from Makefile:2", None), ("-f from Makefile:4", (root / ".env.prod").resolve())]


def test_configs_are_merged_and_read_as_proxy_configuration(tmp_path: Path) -> None:
    from hardener.compose.graph import build_graph
    from hardener.compose.project_view import merged_doc
    from hardener.context import Context

    root = _write(tmp_path, {
        "compose.yaml": "services:\n  app:\n    image: ghcr.io/acme/app:1\n"
                        "configs:\n  caddyfile:\n    file: ./caddy/Caddyfile\n",
        "deploy/compose.proxy.yaml": "services:\n  caddy:\n    image: caddy:2.8\n    configs:\n"
                                     "      - source: caddyfile\n        target: /etc/caddy/Caddyfile\n",
        "caddy/Caddyfile": ":80 {\n\treverse_proxy app:8000\n}\n",
    })
    project = Project((root / "compose.yaml", (root / "deploy/compose.proxy.yaml").resolve()), "test")
    loaded = load(project, lambda p: p.read_bytes() if p.is_file() else None)
    # a -f file's relative paths are the project folder's
    assert loaded.configs == {"caddyfile": {"file": str((root / "caddy/Caddyfile").resolve())}}
    graph = build_graph(merged_doc(loaded), Context(root, {}).for_file(root / "compose.yaml"))
    assert [(e.client, e.server, e.source, e.detail) for e in graph.edges] == [("caddy", "app", "proxy", "Caddyfile")]


@pytest.mark.parametrize(("command", "name"), [
    pytest.param("docker compose -f compose.yaml -f compose.full.yaml -p shop_test up", "shop_test", id="short"),
    pytest.param("docker compose --project-name=shop -f compose.yaml -f compose.full.yaml up", "shop", id="long"),
    pytest.param("docker compose -f compose.yaml -f compose.full.yaml run -p 8080:80 web", None,
                 id="run-publish-is-not-a-name"),
    pytest.param("docker compose -f compose.yaml -f compose.full.yaml run -p 8080 web", None,
                 id="a-bare-port-is-not-a-name"),
    pytest.param("docker compose -f compose.yaml -f compose.full.yaml run -p $PORT:80 web", None,
                 id="a-variable-port-is-not-a-name"),
    pytest.param("docker compose -f compose.yaml -f compose.full.yaml -p ${PROJECT} up", "${PROJECT}",
                 id="a-variable-name-is-kept-unknown"),
])
def test_commands_keep_the_project_name(tmp_path: Path, command: str, name: str | None) -> None:
    root = _write(tmp_path, {"compose.yaml": "services: {}\n", "compose.full.yaml": "services: {}\n",
                             "Makefile": f"up:\n\t{command}\n"})
    [found] = [p for p in find_projects(root) if len(p.files) == 2]
    assert found.name == name


def test_an_env_file_command_stands_for_the_bare_pair(tmp_path: Path) -> None:
    from hardener.compose.project_view import projects_of
    from hardener.context import Context

    root = _write(tmp_path, {"compose.yaml": "services:\n  app:\n    image: ${IMAGE}\n",
                             "compose.override.yaml": "services:\n  app:\n    ports: ['80:80']\n",
                             ".env.prod": "IMAGE=nginx:1.27\n",
                             "Makefile": "up:\n\tdocker compose --env-file .env.prod up -d\n"})
    found = projects_of(Context(root, {}).for_file(root / "compose.yaml"))
    assert [(p.project.source, p.services["app"].value["image"]) for p in found] == [
        ("--env-file from Makefile:2", "nginx:1.27")]


def test_merged_doc_renders_the_same_data_once_and_tells_types_apart(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Every round of every whole-stack transform loads the project anew; one rendering serves
    them all. Different data (another value, or null where a string was) is rendered anew."""
    from ruamel.yaml import YAML

    from hardener.compose.project_view import merged_doc

    dumps: list[object] = []
    real_dump = YAML.dump
    monkeypatch.setattr(YAML, "dump", lambda self, data, stream=None, **kw: (dumps.append(data), real_dump(self, data, stream, **kw))[1])

    def doc(value: str):  # type: ignore[no-untyped-def]
        root = _write(tmp_path / value.strip("'\""), {"compose.yaml": f"services:\n  app:\n    image: app:1\n    x-v: {value}\n"})
        project = Project((root / "compose.yaml",), "test")
        return merged_doc(load(project, lambda p: p.read_bytes() if p.is_file() else None)).text

    first, again = doc("1"), doc("1")
    assert first == again and len(dumps) == 1
    texts = [doc(v) for v in ("2", "null", "'null'")]
    assert len(dumps) == 4 and len({first, *texts}) == 4
