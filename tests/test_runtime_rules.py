"""HD505 add-runtime-rules: opt-in Falco rules per Compose service.

Falco cannot run here (it needs a kernel driver), so the generated files are judged by
tests/falco_condition.py: the YAML shape Falco requires and libsinsp's condition grammar,
with every field, macro and list checked against real Falco fields and the file's own
definitions. The parser itself is tested on valid and invalid conditions below.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from falco_condition import FalcoError, check_rules_file, parse_condition

from hardener.compose.falco import HEADER, README_HEADER
from hardener.context import Context
from hardener.engine import Options, process
from hardener.knowledge import images
from hardener.model import Change, Refusal
from hardener.transforms.read_only_root import ReadOnlyRoot
from hardener.transforms.runtime_rules import AddRuntimeRules
from hardener.transforms.segment_networks import SegmentNetworks

ON = {"add-runtime-rules": {"enabled": True}}
STACK = """\
name: shop
services:
  proxy:
    image: nginx:1.27
    ports:
      - "8080:80"
    networks: [frontend]
  api:
    build: ./api
    networks: [frontend, backend]
  db:
    image: postgres:16
    volumes:
      - db-data:/var/lib/postgresql/data
    networks: [backend]
networks:
  frontend: {}
  backend:
    internal: true
volumes:
  db-data:
"""
DISTROLESS = "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM gcr.io/distroless/static-debian12\nCOPY --from=build /app /app\nENTRYPOINT [\"/app\"]\n"
TARGET = "deploy/falco/shop-rules.yaml"


def _repo(tmp_path: Path, compose: str, files: dict[str, str] | None = None, name: str = "compose.yaml") -> Path:
    for rel, body in {name: compose, **(files or {})}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(body)
    return tmp_path / name


def _findings(path: Path, root: Path, options: dict | None = None) -> list[Change | Refusal]:
    from hardener.compose.doc import ComposeDoc

    ctx = Context(root, ON if options is None else options).for_file(path)
    return list(AddRuntimeRules().run(ComposeDoc.load(path.read_bytes(), str(path)), ctx))


def _rules_text(findings: list[Change | Refusal]) -> str:
    [change] = [f for f in findings if isinstance(f, Change)]
    assert not change.edits
    return next(w for w in change.files if w.path.name.endswith("-rules.yaml")).content.decode()


def _process(path: Path, root: Path, transforms=None, options=ON):
    ctx = Context(root, options).for_file(path)
    return process(str(path), "compose", path.read_bytes(), transforms or [AddRuntimeRules()], ctx, Options())


def _apply(result) -> None:
    for write in result.companions:
        write.path.parent.mkdir(parents=True, exist_ok=True)
        write.path.write_bytes(write.content)
    if result.output is not None:
        Path(result.path).write_bytes(result.output)


# ------------------------------------------------------------------ opt-in


@pytest.mark.parametrize("options", [
    pytest.param({}, id="leaves-alone-without-config"),
    pytest.param({"add-runtime-rules": {"enabled": False}}, id="leaves-alone-when-disabled"),
    pytest.param({"add-runtime-rules": {}}, id="leaves-alone-with-empty-section"),
])
def test_does_nothing_unless_enabled(tmp_path, options):
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS})
    assert _findings(path, tmp_path, options) == []
    result = _process(path, tmp_path, options=options)
    assert not result.changed and result.companions == ()


def test_enabled_writes_rules_and_readme(tmp_path):
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS})
    result = _process(path, tmp_path)
    assert result.output == path.read_bytes()  # the Compose file itself is untouched
    written = {w.path.relative_to(tmp_path).as_posix(): w.content.decode() for w in result.companions}
    assert sorted(written) == ["deploy/falco/README.md", TARGET]
    assert written["deploy/falco/README.md"].startswith(README_HEADER)
    assert "falco -V" in written["deploy/falco/README.md"]
    [change] = result.changes
    assert change.transform_id == "HD505" and change.applicability.label == "review"


# ------------------------------------------------------------------ the rules for a sample stack


@pytest.fixture
def stack_rules(tmp_path) -> dict:
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS})
    text = _rules_text(_findings(path, tmp_path))
    assert text.startswith(HEADER + "\n# source: compose.yaml\n# project: shop\n")
    return check_rules_file(text)


def test_rule_names(stack_rules):
    assert sorted(stack_rules["rules"]) == sorted([
        "shop/proxy: write outside its writable paths",
        "shop/proxy: package manager at runtime",
        "shop/api: shell in a service without one",
        "shop/api: package manager at runtime",
        "shop/db: write outside its writable paths",
        "shop/db: outbound connection from an internal network",
        "shop/db: package manager at runtime",
    ])


def test_every_rule_has_the_fields_falco_requires(stack_rules):
    for rule in stack_rules["rules"].values():
        assert {"rule", "desc", "condition", "output", "priority", "tags"} <= set(rule)
        assert rule["priority"] in ("CRITICAL", "ERROR")
        assert "hardener" in rule["tags"] and "shop" in rule["tags"]
        assert "%container.name" in rule["output"]


def test_everything_used_is_defined_in_the_file(stack_rules):
    """Self-contained: every macro and list it uses is its own (prefixed with the project)."""
    assert all(name.startswith("shop_") for name in [*stack_rules["macros"], *stack_rules["lists"]])
    for rule in stack_rules["rules"].values():
        parsed = parse_condition(rule["condition"], stack_rules["macros"], stack_rules["lists"])
        assert parsed.macros and all(m in stack_rules["macros"] for m in parsed.macros)


def test_writable_paths_are_read_only_roots(stack_rules):
    """The same list read-only-root turns into tmpfs (plus the volume), /var/run also as /run."""
    kb = set(images.lookup("postgres:16").facts.writable_paths or ())
    items = set(stack_rules["lists"]["shop_db_writable_paths"])
    assert kb <= items and items - kb == {"/run/postgresql"}
    nginx = set(images.lookup("nginx:1.27").facts.writable_paths or ())
    assert set(stack_rules["lists"]["shop_proxy_writable_paths"]) == nginx | {"/run"}


def test_containers_are_matched_by_project_service_and_image(stack_rules):
    macros = stack_rules["macros"]
    assert 'container.name startswith "shop-db-"' in macros["shop_db_container"]
    assert 'container.image.repository = "postgres"' in macros["shop_db_container"]
    assert 'container.image.repository in ("shop-api", "shop_api")' in macros["shop_api_container"]


# ------------------------------------------------------------------ per-rule decisions


def _one(tmp_path, compose, files=None, options=None, name="compose.yaml"):
    path = _repo(tmp_path, compose, files, name)
    findings = _findings(path, tmp_path, options)
    refusals = [f.reason for f in findings if isinstance(f, Refusal)]
    changes = [f for f in findings if isinstance(f, Change)]
    rules = check_rules_file(_rules_text(changes))["rules"] if changes else {}
    return sorted(r.split(": ", 1)[1] for r in rules), refusals


@pytest.mark.parametrize("compose, files, options, expect_rules, expect_refusal", [
    pytest.param("services:\n  db:\n    image: postgres:16\n", None, None,
                 ["package manager at runtime", "write outside its writable paths"],
                 "shell (postgres has a shell its entrypoint may use", id="skips-shell-for-image-with-shell"),
    pytest.param("services:\n  db:\n    image: postgres:16\n", None,
                 {"add-runtime-rules": {"enabled": True, "no-shell": ["db"]}},
                 ["package manager at runtime", "shell in a service without one", "write outside its writable paths"],
                 None, id="adds-shell-rule-when-configured"),
    pytest.param("services:\n  app:\n    image: gcr.io/distroless/static:nonroot\n", None, None,
                 ["package manager at runtime", "shell in a service without one"],
                 "writes (distroless is a base image", id="adds-shell-rule-for-distroless"),
    pytest.param("services:\n  app:\n    image: gcr.io/distroless/base:debug\n", None, None,
                 ["package manager at runtime"], "shell (distroless has a shell", id="skips-shell-for-distroless-debug"),
    pytest.param("services:\n  app:\n    build: .\n", {"Dockerfile": DISTROLESS}, None,
                 ["package manager at runtime", "shell in a service without one"],
                 "writes (it is built here", id="adds-shell-rule-for-built-distroless"),
    pytest.param("services:\n  app:\n    build: .\n    read_only: true\n    tmpfs: [/tmp]\n",
                 {"Dockerfile": "FROM python:3.12-slim\nCMD [\"python\", \"app.py\"]\n"}, None,
                 ["package manager at runtime", "write outside its writable paths"],
                 "shell (python has a shell", id="adds-write-rule-for-built-read-only"),
    pytest.param("services:\n  db:\n    image: postgres:16\n    networks: [back]\nnetworks:\n  back:\n    internal: true\n",
                 None, None,
                 ["outbound connection from an internal network", "package manager at runtime",
                  "write outside its writable paths"], None, id="adds-outbound-on-internal-network"),
    pytest.param("services:\n  db:\n    image: postgres:16\n    networks: [back, out]\n"
                 "networks:\n  back:\n    internal: true\n  out: {}\n", None, None,
                 ["package manager at runtime", "write outside its writable paths"], None,
                 id="leaves-outbound-when-one-network-routes-out"),
    pytest.param("services:\n  db:\n    image: postgres:16\n", None, None,
                 ["package manager at runtime", "write outside its writable paths"], None,
                 id="leaves-outbound-on-default-network"),
    pytest.param("services:\n  app:\n    image: mystery/app:1\n", None, None,
                 ["package manager at runtime"], "its image is not known", id="skips-unknown-image"),
    pytest.param("name: ${PROJECT}\nservices:\n  db:\n    image: postgres:16\n", None, None,
                 [], "the project name comes from a variable", id="refuses-variable-project-name"),
    pytest.param("web:\n  image: nginx\n", None, None, [], "legacy v1", id="refuses-legacy-v1"),
])
def test_rule_decisions(tmp_path, compose, files, options, expect_rules, expect_refusal):
    rules, refusals = _one(tmp_path, compose, files, options)
    assert rules == expect_rules
    if expect_refusal:
        assert any(expect_refusal in r for r in refusals), refusals


@pytest.mark.parametrize("command, left_out", [
    pytest.param("npm start", "npm", id="leaves-npm-for-npm-start"),
    pytest.param("[\"pip\", \"--version\"]", "pip", id="leaves-pip-for-exec-form"),
    pytest.param("node server.js", None, id="keeps-every-manager-for-node"),
])
def test_start_command_package_manager_is_left_out(tmp_path, command, left_out):
    path = _repo(tmp_path, f"services:\n  web:\n    image: node:20\n    command: {command}\n")
    rule = check_rules_file(_rules_text(_findings(path, tmp_path)))["rules"]
    condition = rule[f"{tmp_path.name.lower()}/web: package manager at runtime"]["condition"]
    assert (f"not proc.name in ({left_out})" in condition) == (left_out is not None)


def test_container_name_is_matched_exactly(tmp_path):
    path = _repo(tmp_path, "name: shop\nservices:\n  db:\n    image: postgres:16\n    container_name: shop-db\n")
    macros = check_rules_file(_rules_text(_findings(path, tmp_path)))["macros"]
    assert macros["shop_db_container"] == '(container.id != host and container.name = "shop-db")'


@pytest.mark.parametrize("name, target", [
    pytest.param("compose.yaml", "deploy/falco/shop-rules.yaml", id="base-file"),
    pytest.param("docker-compose.prod.yml", "deploy/falco/shop-prod-rules.yaml", id="variant-gets-suffix"),
])
def test_target_per_compose_file(tmp_path, name, target):
    path = _repo(tmp_path, "name: shop\nservices:\n  db:\n    image: postgres:16\n", name=name)
    [change] = [f for f in _findings(path, tmp_path) if isinstance(f, Change)]
    assert change.files[0].path == tmp_path / target


def test_project_is_the_directory_name_normalised(tmp_path):
    path = _repo(tmp_path, "services:\n  db:\n    image: postgres:16\n", name="My.Stack/compose.yaml")
    [change] = [f for f in _findings(path, tmp_path) if isinstance(f, Change)]
    assert change.files[0].path == tmp_path / "deploy/falco/mystack-rules.yaml"


def test_override_file_is_refused(tmp_path):
    path = _repo(tmp_path, "services:\n  db:\n    image: postgres:16\n", name="compose.override.yaml")
    [refusal] = _findings(path, tmp_path)
    assert isinstance(refusal, Refusal) and "override file" in refusal.reason


# ------------------------------------------------------------------ existing files, idempotence


def test_second_run_is_a_no_op(tmp_path):
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS})
    first = _process(path, tmp_path)
    assert first.changed
    _apply(first)
    second = _process(path, tmp_path)
    assert not second.changed and second.changes == ()


def test_identical_existing_file_is_no_change(tmp_path):
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS})
    text = _rules_text(_findings(path, tmp_path))
    _repo(tmp_path, STACK, {TARGET: text, "deploy/falco/README.md": "# my own notes\n"})
    result = _process(path, tmp_path)
    assert not result.changed  # and the foreign README is left alone
    assert (tmp_path / "deploy/falco/README.md").read_text() == "# my own notes\n"


def test_changed_compose_updates_the_file_in_place(tmp_path):
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS})
    _apply(_process(path, tmp_path))
    before = (tmp_path / TARGET).read_text()
    path.write_text(STACK.replace("postgres:16", "mysql:8.4"))
    result = _process(path, tmp_path)
    [write] = [w for w in result.companions if w.path.name.endswith("-rules.yaml")]
    after = write.content.decode()
    assert after != before and '"mysql"' in after and '"postgres"' not in after
    check_rules_file(after)


@pytest.mark.parametrize("existing, reason", [
    pytest.param("- rule: mine\n", "exists and was not written by hardener", id="refuses-foreign-file"),
    pytest.param(HEADER + "\n# source: other/compose.yaml\n", "already generated from other/compose.yaml",
                 id="refuses-file-of-another-compose-file"),
])
def test_existing_file_it_must_not_replace(tmp_path, existing, reason):
    path = _repo(tmp_path, STACK, {"api/Dockerfile": DISTROLESS, TARGET: existing})
    findings = _findings(path, tmp_path)
    assert not any(isinstance(f, Change) for f in findings)
    assert any(reason in f.reason for f in findings)


def test_with_segmentation_and_read_only_it_converges(tmp_path):
    """Run with the transforms whose output it reads: the rules follow the final file."""
    compose = ("name: shop\nservices:\n  proxy:\n    image: nginx:1.27\n    depends_on: [web]\n"
               "  web:\n    image: node:20\n    environment:\n      - DB_HOST=db\n"
               "  db:\n    image: postgres:16\n    volumes:\n      - db-data:/var/lib/postgresql/data\n"
               "volumes:\n  db-data:\n")
    path = _repo(tmp_path, compose)
    result = _process(path, tmp_path, [SegmentNetworks(), AddRuntimeRules(), ReadOnlyRoot()])
    assert result.failure is None and result.output != path.read_bytes()
    [write] = [w for w in result.companions if w.path.name.endswith("-rules.yaml")]
    parsed = check_rules_file(write.content.decode())
    assert "shop/db: outbound connection from an internal network" in parsed["rules"]
    assert "/var/run/postgresql" in parsed["lists"]["shop_db_writable_paths"]
    _apply(result)
    assert not _process(path, tmp_path, [SegmentNetworks(), AddRuntimeRules(), ReadOnlyRoot()]).changed


# ------------------------------------------------------------------ the condition checker itself

MACROS = {"shop_spawned_process", "shop_db_container"}
LISTS = {"shop_shell_binaries"}


@pytest.mark.parametrize("condition", [
    pytest.param("shop_spawned_process and shop_db_container", id="macros"),
    pytest.param("proc.name in (shop_shell_binaries)", id="list-reference"),
    pytest.param("evt.type in (execve, execveat) and evt.dir = <", id="bare-less-than-value"),
    pytest.param("fd.num >= 0 and fd.typechar = 'f'", id="number-and-quoted-char"),
    pytest.param("not fd.name pmatch (/proc, /sys) and fd.sip exists", id="pmatch-and-exists"),
    pytest.param('container.name startswith "shop-db-" or container.name glob "shop_*"', id="startswith-glob"),
    pytest.param("not(proc.cmdline contains \"curl\") and ((proc.name = sh))", id="not-paren-nested"),
    pytest.param('container.image.repository in ("shop-api", "shop_api")', id="quoted-list-items"),
    pytest.param("fd.snet in (10.0.0.0/8, 172.16.0.0/12) and fd.sip != \"0.0.0.0\"", id="cidrs"),
])
def test_condition_parser_accepts(condition):
    parse_condition(condition, MACROS, LISTS)


@pytest.mark.parametrize("condition, message", [
    pytest.param("(proc.name = sh", "missing ')'", id="unbalanced-open"),
    pytest.param("proc.name = sh)", "unexpected text", id="unbalanced-close"),
    pytest.param("proc.nmae = sh", "unknown field 'proc.nmae'", id="unknown-field"),
    pytest.param("spawned_process and proc.name = sh", "unknown macro 'spawned_process'", id="unknown-macro"),
    pytest.param("proc.name in (shell_binaries)", "unknown list 'shell_binaries'", id="unknown-list"),
    pytest.param("proc.name in (sh, bash", "missing ')' after the list", id="unclosed-list"),
    pytest.param("proc.name", "expected an operator", id="no-operator"),
    pytest.param("proc.name matches sh", "expected an operator", id="unknown-operator"),
    pytest.param("proc.name = sh and", "expected a field", id="dangling-and"),
    pytest.param("and proc.name = sh", "expected a field", id="leading-and"),
    pytest.param('proc.name = "sh', "unterminated string", id="unterminated-string"),
    pytest.param("fd.num >= zero", "expected a number", id="number-operator-with-word"),
    pytest.param("", "expected a field", id="empty"),
])
def test_condition_parser_rejects(condition, message):
    with pytest.raises(FalcoError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(condition, MACROS, LISTS)


@pytest.mark.parametrize("text, message", [
    pytest.param("- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n", "missing \\['priority'\\]",
                 id="rule-without-priority"),
    pytest.param("- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: LOUD\n", "priority",
                 id="bad-priority"),
    pytest.param("- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: ERROR\n- macro: m\n"
                 "  condition: evt.type = execve\n", "unknown macro 'm'", id="macro-used-before-definition"),
    pytest.param("- list: l\n  items: sh\n", "needs `items`", id="list-items-not-a-list"),
    pytest.param("- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: '%proc.nme'\n  priority: ERROR\n",
                 "unknown output fields", id="unknown-output-field"),
])
def test_rules_file_checker_rejects(text, message):
    with pytest.raises(FalcoError, match=message):
        check_rules_file(text)


GOLDEN_RULES = sorted((Path(__file__).parent.parent / "fixtures").glob("HD505-*/*/expected/deploy/falco/*-rules.yaml"))


@pytest.mark.parametrize("path", GOLDEN_RULES, ids=lambda p: p.parts[-6])
def test_golden_rules_files_are_valid_falco(path):
    parsed = check_rules_file(path.read_text())
    assert parsed["rules"] and all(r["condition"] for r in parsed["rules"].values())


@pytest.mark.parametrize("compose, expect", [
    pytest.param("x-db: &db\n  image: postgres:16\nservices:\n  a: *db\n  b:\n    <<: *db\n    networks: [n]\n"
                 "networks:\n  n:\n    internal: true\n", {"a": 2, "b": 3}, id="reads-anchors-aliases-and-merges"),
    pytest.param("services:\n  a:\n    image: postgres:16\n    container_name: ${NAME}\n", {}, id="skips-variable-container-name"),
])
def test_services_read_through_yaml_features(tmp_path, compose, expect):
    path = _repo(tmp_path, compose)
    findings = _findings(path, tmp_path)
    changes = [f for f in findings if isinstance(f, Change)]
    rules = check_rules_file(_rules_text(changes))["rules"] if changes else {}
    project = tmp_path.name.lower()
    counts = {s: sum(1 for r in rules if r.startswith(f"{project}/{s}:")) for s in ("a", "b")}
    assert {k: v for k, v in counts.items() if v} == expect
    if not expect:
        assert any("container_name comes from a variable" in f.reason for f in findings)


# ------------------------------------------------------------------ multi-file projects

BASE = """\
name: shop
services:
  db:
    image: postgres:16
    volumes:
      - db-data:/var/lib/postgresql/data
    networks: [backend]
networks:
  backend:
    internal: true
volumes:
  db-data:
"""
READ_ONLY = "services:\n  db:\n    read_only: true\n    tmpfs: [/run/postgresql, /srv/scratch]\n"
MAKEFILE = "up:\n\tdocker compose -f compose.yaml -f compose.prod.yaml up -d\n"


def _db_paths(findings) -> list[str]:
    rules = check_rules_file(_rules_text(findings))
    return rules["lists"]["shop_db_writable_paths"]


def test_overlay_writes_the_rules_of_its_merged_project(tmp_path):
    # the overlay names no image: alone it would be read as a built service; merged, it is postgres
    _repo(tmp_path, BASE, {"compose.prod.yaml": READ_ONLY, "Makefile": MAKEFILE})
    findings = _findings(tmp_path / "compose.prod.yaml", tmp_path)
    [change] = [f for f in findings if isinstance(f, Change)]
    [target] = [w for w in change.files if w.path.name.endswith("-rules.yaml")]
    assert target.path.relative_to(tmp_path).as_posix() == "deploy/falco/shop-prod-rules.yaml"
    text = target.content.decode()
    assert text.startswith(HEADER + "\n# source: compose.prod.yaml\n# project: shop\n"
                           "# merged from: compose.yaml + compose.prod.yaml\n")
    assert 'container.image.repository = "postgres"' in text
    # read_only from the overlay: only its mounts are writable (the base's volume, the overlay's tmpfs)
    assert _db_paths(findings) == ["/run/postgresql", "/srv/scratch", "/var/lib/postgresql/data", "/var/run/postgresql"]


def test_base_of_a_command_keeps_its_own_rules(tmp_path):
    _repo(tmp_path, BASE, {"compose.prod.yaml": READ_ONLY, "Makefile": MAKEFILE})
    findings = _findings(tmp_path / "compose.yaml", tmp_path)
    text = _rules_text(findings)
    assert "# merged from:" not in text  # `docker compose up` runs the base alone
    assert "/srv/scratch" not in _db_paths(findings)


def test_base_of_the_override_pair_reads_the_override(tmp_path):
    _repo(tmp_path, BASE, {"compose.override.yaml": READ_ONLY})
    findings = _findings(tmp_path / "compose.yaml", tmp_path)
    assert "# merged from: compose.yaml + compose.override.yaml\n" in _rules_text(findings)
    assert "/srv/scratch" in _db_paths(findings)
    [refusal] = _findings(tmp_path / "compose.override.yaml", tmp_path)
    assert "override file" in refusal.reason


def test_included_file_is_covered_by_the_includer(tmp_path):
    top = "name: shop\ninclude:\n  - db/compose.db.yaml\nservices:\n  web:\n    image: nginx:1.27\n"
    _repo(tmp_path, top, {"db/compose.db.yaml": BASE.replace("name: shop\n", "")})
    [refusal] = _findings(tmp_path / "db/compose.db.yaml", tmp_path)
    assert isinstance(refusal, Refusal)
    assert "covered by the rules of project compose.yaml" in refusal.reason
    rules = check_rules_file(_rules_text(_findings(tmp_path / "compose.yaml", tmp_path)))["rules"]
    assert {r.split(":")[0] for r in rules} == {"shop/db", "shop/web"}


def test_project_rules_second_run_is_a_no_op(tmp_path):
    _repo(tmp_path, BASE, {"compose.prod.yaml": READ_ONLY, "Makefile": MAKEFILE})
    for name in ("compose.yaml", "compose.prod.yaml"):
        _apply(_process(tmp_path / name, tmp_path))
    for name in ("compose.yaml", "compose.prod.yaml"):
        assert not _process(tmp_path / name, tmp_path).changed


def test_a_commands_project_name_names_the_rules(tmp_path):
    make = "up:\n\tdocker compose -f compose.yaml -f compose.prod.yaml --project-name shop_prod up -d\n"
    _repo(tmp_path, BASE, {"compose.prod.yaml": READ_ONLY, "Makefile": make})
    text = _rules_text(_findings(tmp_path / "compose.prod.yaml", tmp_path))
    assert "# project: shop_prod\n" in text and 'container.name startswith "shop_prod-db-"' in text


@pytest.mark.parametrize("files, image, refused", [
    pytest.param({".env": "DB_IMAGE=postgres:16\n"}, "postgres", None, id="values-from-dotenv"),
    pytest.param({".env.prod": "DB_IMAGE=postgres:16\n",
                  "Makefile": "up:\n\tdocker compose --env-file .env.prod up -d\n"}, "postgres", None,
                 id="values-from-the-commands-env-file"),
    pytest.param({".env": "DB_IMAGE=postgres:16\n", ".env.prod": "DB_IMAGE=mariadb:11\n",
                  "Makefile": "up:\n\tdocker compose --env-file .env.prod up -d\n"}, "postgres",
                 "no runtime rules for project compose.yaml (--env-file from Makefile:2)", id="one-rules-file-per-file"),
])
def test_a_lone_file_is_interpolated_as_compose_runs_it(tmp_path, files, image, refused):
    _repo(tmp_path, BASE.replace("image: postgres:16", "image: ${DB_IMAGE}"), files)
    findings = _findings(tmp_path / "compose.yaml", tmp_path)
    assert f'container.image.repository = "{image}"' in _rules_text(findings)
    said = [f.reason for f in findings if isinstance(f, Refusal) and "no runtime rules" in f.reason]
    assert [r.split(": this file")[0] for r in said] == ([refused] if refused else [])


@pytest.mark.parametrize("files, project", [
    pytest.param({}, "shop", id="name-key"),
    pytest.param({".env": "COMPOSE_PROJECT_NAME=temporal\n"}, "temporal", id="env-wins-over-name"),
    pytest.param({".env": "COMPOSE_PROJECT_NAME=temporal\n", "compose.prod.yaml": READ_ONLY,
                  "Makefile": "up:\n\tdocker compose -f compose.yaml -f compose.prod.yaml -p shop_prod up\n"},
                 "shop_prod", id="a-commands-p-wins-over-env"),
])
def test_project_name_as_compose_picks_it(tmp_path, files, project):
    _repo(tmp_path, BASE, files)
    name = "compose.prod.yaml" if "Makefile" in files else "compose.yaml"
    assert f"# project: {project}\n" in _rules_text(_findings(tmp_path / name, tmp_path))
