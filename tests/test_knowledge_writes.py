"""knowledge.writes: what the app writes, with its source; unknowns stay unknown."""
from __future__ import annotations

import posixpath
from pathlib import Path

import pytest

from hardener.dockerfile.doc import DockerfileDoc
from hardener.knowledge import images, writes, writes_python, writes_scan
from hardener.knowledge import writable as writable_plan
from hardener.why import Why


def facts(tmp_path: Path, dockerfile: str, files: dict[str, str]) -> writes.AppWrites:
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    doc = DockerfileDoc.load(dockerfile.encode())
    stage = doc.final_stage()
    assert stage is not None
    return writes.app_writes(doc, images.resolve_stage(doc, stage), tmp_path)


def py_paths(code: str) -> list[tuple[str, str] | str]:
    sites = writes_python.write_sites(code.encode())
    assert not isinstance(sites, str)
    return [(s.path.base, s.path.rel) if s.path else s.why for s in sites]


@pytest.mark.parametrize(
    "code, expected",
    [
        pytest.param('open("out.txt", "w")', [("cwd", "out.txt")], id="open-w"),
        pytest.param('open("in.txt")', [], id="open-read-is-not-a-write"),
        pytest.param('open("in.txt", "rb")', [], id="open-rb"),
        pytest.param('open("log.txt", mode="a")', [("cwd", "log.txt")], id="open-mode-kw"),
        pytest.param('import sqlite3\nsqlite3.connect("/var/lib/app/db.sqlite")', [("abs", "/var/lib/app/db.sqlite")],
                     id="sqlite-abs"),
        pytest.param('import sqlite3\nsqlite3.connect(":memory:")', [], id="sqlite-memory"),
        pytest.param('import os\nD = os.environ.get("DATA_DIR", "data")\nos.makedirs(D, exist_ok=True)',
                     [("cwd", "data")], id="env-default"),
        pytest.param('import os\nos.makedirs(os.environ["DATA_DIR"])',
                     ["os.makedirs(os.environ[\"DATA_DIR\"]) writes a path not known before run time"], id="env-no-default"),
        pytest.param('import os\nos.makedirs(os.getenv("X"))', ["os.makedirs(os.getenv(\"X\")) writes a path not known before run time"],
                     id="getenv-no-default"),
        pytest.param('from pathlib import Path\nBASE = Path(__file__).resolve().parent\n(BASE / "data").mkdir()',
                     [("here", "data")], id="path-file-parent"),
        pytest.param('import os\nB = os.path.dirname(os.path.abspath(__file__))\nopen(os.path.join(B, "x.db"), "w")',
                     [("here", "x.db")], id="dirname-file"),
        pytest.param('from pathlib import Path\nP = Path(__file__).parent.parent / "logs"\nP.mkdir()',
                     [("here", "../logs")], id="parent-parent"),
        pytest.param('import logging\nlogging.FileHandler("logs/app.log")', [("cwd", "logs/app.log")], id="filehandler"),
        pytest.param('from logging.handlers import RotatingFileHandler\nRotatingFileHandler("a.log")', [("cwd", "a.log")],
                     id="rotating"),
        pytest.param('import logging\nlogging.basicConfig(filename="/srv/x.log")', [("abs", "/srv/x.log")], id="basicconfig"),
        pytest.param('import shelve\nshelve.open("state")', [("cwd", "state")], id="shelve"),
        pytest.param('import tempfile\ntempfile.mkstemp(dir="scratch")', [("cwd", "scratch")], id="tempfile-dir"),
        pytest.param('import tempfile\ntempfile.mkstemp()', [], id="tempfile-default"),
        pytest.param('from pathlib import Path\nPath("out/r.json").write_text("{}")', [("cwd", "out/r.json")], id="write-text"),
        pytest.param('x = 1\nx = 2\nopen(x, "w")', ["open(x) writes a path not known before run time"], id="bound-twice"),
        pytest.param('def save(name):\n    open(name, "w")', ["open(name) writes a path not known before run time"],
                     id="parameter"),
        pytest.param('open(f"{d}/x", "w")', ['open(f"{d}/x") writes a path not known before run time'], id="f-string"),
        pytest.param('something.mkdir()', [], id="mkdir-of-unknown-object"),
    ],
)
def test_python_write_sites(code, expected):
    assert py_paths(code) == expected


@pytest.mark.parametrize(
    "code, expected",
    [
        pytest.param('fs.writeFileSync("data/out.json", x)', ["data/out.json"], id="write-file-sync"),
        pytest.param('const DIR = "uploads";\nfs.mkdirSync(DIR, {recursive: true})', ["uploads"], id="const"),
        pytest.param("fs.promises.appendFile('./log.txt', x)", ["log.txt"], id="promises"),
        pytest.param('fs.createWriteStream(path.join(__dirname, "x"))', ["__dirname/x"], id="dirname-join"),
        pytest.param('fs.createWriteStream(path.join(dir, "x"))', [None], id="dynamic"),
        pytest.param('function save(dirname) { fs.mkdirSync(path.join(dirname, "x")) }', [None], id="dirname-parameter"),
        pytest.param('const UP = path.join(__dirname, "uploads");\nfs.writeFile(path.join(UP, name), b, cb)',
                     ["__dirname/uploads"], id="dirname-const-file-name-at-run-time"),
        pytest.param("const D = path.resolve(__dirname, '/srv/data')\nfs.mkdirSync(D)", ["/srv/data"],
                     id="resolve-absolute-restarts"),
        pytest.param("const UP = path.join(__dirname, 'up')\nconst t = path.join(UP, req.url)\nfs.createWriteStream(t)",
                     ["__dirname/up"], id="const-file-in-known-dir"),
        pytest.param('const D = "a";\nconst D = "b";\nfs.mkdirSync(D)', [None], id="const-bound-twice"),
        pytest.param("const D = path.join(__dirname, x)\nfs.mkdirSync(D)", ["__dirname"], id="entry-named-at-run-time"),
        pytest.param('const db = new Database("app.db")', ["app.db"], id="better-sqlite3"),
        pytest.param('const db = new sqlite3.Database(":memory:")', [None], id="sqlite-memory"),
        pytest.param('const upload = multer({ dest: "uploads/" })', ["uploads/"], id="multer"),
        pytest.param('fs.readFileSync("a.json")', [], id="read"),
    ],
)
def test_node_write_sites(code, expected):
    assert [s.path for s in writes_scan.node_sites(code)] == expected


@pytest.mark.parametrize(
    "code, expected",
    [
        pytest.param('os.MkdirAll("/var/lib/svc", 0o755)', ["/var/lib/svc"], id="mkdirall"),
        pytest.param('f, _ := os.Create("out.txt")', ["out.txt"], id="create"),
        pytest.param('os.OpenFile("a.log", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644)', ["a.log"], id="openfile-write"),
        pytest.param('os.OpenFile("a.log", os.O_RDONLY, 0)', [], id="openfile-read"),
        pytest.param('db, _ := sql.Open("sqlite3", "./data/app.db")', ["data/app.db"], id="sqlite"),
        pytest.param('os.WriteFile(cfg.Path, b, 0600)', [None], id="dynamic"),
    ],
)
def test_go_write_sites(code, expected):
    assert [s.path for s in writes_scan.go_sites(code)] == expected


def test_script_sites():
    script = ("#!/bin/sh\nset -e\nenvsubst < /tpl > /etc/nginx/nginx.conf\nmkdir -p run\n"
              "echo hi 2>&1 >/dev/null\nsed -i s/a/b/ /etc/app.conf\ncp a $TARGET\nexec nginx\n")
    sites = writes_scan.script_sites(script)
    assert [(s.line, s.path) for s in sites] == [(3, "/etc/nginx/nginx.conf"), (4, "run"), (6, "/etc/app.conf"), (7, None)]


def test_app_writes_map_code_into_the_image(tmp_path):
    found = facts(tmp_path, "FROM python:3.12-slim\nWORKDIR /srv\nCOPY . /srv/\nCMD [\"python\", \"pkg/main.py\"]\n", {
        "pkg/main.py": 'import os, sqlite3\nfrom pathlib import Path\nHERE = Path(__file__).parent\n'
                       'sqlite3.connect(str(HERE / "inv.db"))\nos.makedirs("logs", exist_ok=True)\n',
        "tests/test_x.py": 'open("nope", "w")\n',
        "media/.gitkeep": "",
    })
    assert [(w.path, w.source, w.where) for w in found.writes] == [
        ("/srv/media", "repo", "media/.gitkeep"),
        ("/srv/pkg/inv.db", "code", "pkg/main.py:4"),
        ("/srv/logs", "code", "pkg/main.py:5"),
    ]
    assert found.unknown == ()
    assert found.app_dir == "/srv"
    assert list(found.directories()) == ["/srv/media", "/srv/pkg", "/srv/logs"]


def test_node_dirname_is_where_the_file_lands(tmp_path):
    found = facts(tmp_path, "FROM node:20-slim\nWORKDIR /srv\nCOPY src/ ./lib/\nCMD [\"node\", \"lib/server.js\"]\n", {
        "src/server.js": "const UP = path.join(__dirname, '..', 'uploads');\nfs.writeFileSync(path.join(UP, n), b);\n",
        "src/cache.js": "fs.mkdirSync(path.join(__dirname, 'cache'));\n",
    })
    assert sorted((w.path, w.where) for w in found.writes) == [
        ("/srv/lib/cache", "src/cache.js:1"), ("/srv/uploads", "src/server.js:2")]
    assert found.unknown == ()


def test_relative_write_without_workdir_is_unknown(tmp_path):
    found = facts(tmp_path, "FROM python:3.12\nCOPY app.py /app.py\nCMD [\"python\", \"/app.py\"]\n",
                  {"app.py": 'open("out.txt", "w")\n'})
    assert found.writes == ()
    assert "relative to a WORKDIR the Dockerfile does not set" in found.unknown[0].why


def test_files_not_copied_into_the_final_stage_are_not_the_app(tmp_path):
    found = facts(tmp_path, "FROM python:3.12\nWORKDIR /app\nCOPY app.py .\nCMD [\"python\", \"app.py\"]\n",
                  {"app.py": "print(1)\n", "tool.py": 'open("x", "w")\n'})
    assert found.writes == () and found.unknown == ()


def test_conventions_and_env_and_entrypoint(tmp_path):
    found = facts(tmp_path, "FROM ruby:3.3\nWORKDIR /rails\nENV LOG_DIR=/var/log/app PYTHONPATH=/x\nCOPY . .\n"
                  "ENTRYPOINT [\"/rails/bin/entry.sh\"]\n", {
                      "Gemfile": 'gem "rails", "~> 7.1"\n', "config/application.rb": "module App; end\n",
                      "config/storage.yml": "local:\n  service: Disk\n",
                      "bin/entry.sh": "#!/bin/sh\necho ok > /rails/tmp/ready\nexec \"$@\"\n"})
    got = {(w.path, w.source) for w in found.writes}
    assert {("/var/log/app", "repo"), ("/rails/tmp", "convention"), ("/rails/log", "convention"),
            ("/rails/storage", "convention"), ("/rails/tmp/ready", "entrypoint")} <= got
    assert not any(w.path == "/x" for w in found.writes)


def test_django_static_root_only_when_collected_at_start(tmp_path):
    settings = ('from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n'
                'STATIC_ROOT = BASE_DIR / "staticfiles"\nMEDIA_ROOT = BASE_DIR / "media"\n')
    files = {"manage.py": "", "site/settings.py": settings}
    plain = facts(tmp_path, "FROM python:3.12\nWORKDIR /app\nCOPY . .\nCMD gunicorn site.wsgi\n", files)
    assert {w.path for w in plain.writes if w.source == "convention"} == {"/app/media"}
    collected = facts(tmp_path, "FROM python:3.12\nWORKDIR /app\nCOPY . .\n"
                      "CMD python manage.py collectstatic --noinput && gunicorn site.wsgi\n", files)
    assert {w.path for w in collected.writes if w.source == "convention"} == {"/app/media", "/app/staticfiles"}


def test_observed_facts_file(tmp_path):
    found = facts(tmp_path, "FROM alpine:3.20\nCOPY app /app\nCMD [\"/app\"]\n",
                  {"app": "", "hardener.facts.toml": '[[writes]]\npath = "/data/inventory.db"\n'})
    assert [(w.path, w.source) for w in found.writes] == [("/data/inventory.db", "observed")]


def test_plan_refuses_system_directories_and_widens_on_unknown(tmp_path):
    system = facts(tmp_path, "FROM alpine:3.20\nCOPY s.sh /s.sh\nCMD sh -c 'echo x > /etc/motd'\n", {"s.sh": ""})
    why = writable_plan.plan(system, [])
    assert isinstance(why, Why) and "directly in /etc" in str(why)
    dynamic = facts(tmp_path / "d", "FROM python:3.12\nWORKDIR /app\nCOPY . .\nCMD [\"python\", \"a.py\"]\n",
                    {"a.py": 'import sys\nopen(sys.argv[1], "w")\n'})
    plan = writable_plan.plan(dynamic, [])
    assert not isinstance(plan, Why) and plan.widen is not None and plan.app_dir == "/app"
    assert "source: code a.py:2" in writable_plan.describe(plan)


def test_scan_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(writes, "MAX_FILES", 2)
    found = facts(tmp_path, "FROM python:3.12\nWORKDIR /app\nCOPY . .\nCMD [\"python\", \"a.py\"]\n",
                  {f"m{i}.py": "print(1)\n" for i in range(4)})
    assert [u.why for u in found.unknown] == ["the scan stopped after 2 files or 8 MiB"]


def test_script_here_document_body_is_not_commands():
    sites = writes_scan.script_sites("cat > /etc/app.conf <<EOF\nrm -rf /x > /y\nEOF\ntouch /run/ok\n")
    assert [s.path for s in sites] == ["/etc/app.conf", "/run/ok"]


@pytest.mark.parametrize(
    "line, expected",
    [
        pytest.param("touch x 2>/dev/null", ["x"], id="stderr-to-null"),
        pytest.param("envsubst < tpl > /etc/a.conf && exec nginx", ["/etc/a.conf"], id="input-redirect"),
        pytest.param("sh -c 'echo a > /b; echo c>>/d'", ["/b", "/d"], id="sh-c"),
        pytest.param("cmd 2>&1 | tee -a log.txt", ["log.txt"], id="tee"),
        pytest.param("a &> /e; b >& 2", ["/e"], id="amp-redirect"),
        pytest.param("x >> /root/.ssh/known_hosts & exec y", ["/root/.ssh/known_hosts"], id="background"),
        pytest.param('echo "a>b" > /q', ["/q"], id="quoted-gt"),
        pytest.param("chown -R app:app /data /logs", ["/data", "/logs"], id="chown-owner-first"),
    ],
)
def test_script_lines(line, expected):
    assert [s.path for s in writes_scan.script_sites(line)] == expected


def test_plan_refuses_writes_under_root_home(tmp_path):
    found = facts(tmp_path, "FROM ubuntu:22.04\nCMD ssh-keyscan h >> /root/.ssh/known_hosts && exec run\n", {})
    why = writable_plan.plan(found, [])
    assert isinstance(why, Why) and "under root's home /root" in str(why)


def test_env_default_is_named_in_the_fact(tmp_path):
    found = facts(tmp_path, "FROM python:3.12\nWORKDIR /app\nCOPY . .\nCMD [\"python\", \"a.py\"]\n",
                  {"a.py": 'import os\nimport sqlite3\nsqlite3.connect(os.getenv("DB_FILE", "state/app.db"))\n'})
    assert [(w.path, w.where) for w in found.writes] == [("/app/state/app.db", "a.py:3 (default of $DB_FILE)")]


def test_narrow_copy_keeps_what_the_app_writes_into(tmp_path):
    from hardener.context import Context
    from hardener.engine import Options, process
    from hardener.transforms.narrow_copy import NarrowCopy

    # uploads/ holds only a placeholder: the repo keeps it for the app to write in (app.config
    # names it at run time); nothing in the import graph names it
    files = {"requirements.txt": "x\n", "app.py": 'import os\nos.makedirs(os.environ["UPLOADS"], exist_ok=True)\n',
             "uploads/.gitkeep": "", "docs/a.md": "",
             "Dockerfile": 'FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD ["python", "app.py"]\n'}
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    ctx = Context(tmp_path).for_file(tmp_path / "Dockerfile")
    result = process("Dockerfile", "dockerfile", files["Dockerfile"].encode(), [NarrowCopy()], ctx, Options())
    out = (result.output or b"").decode()
    assert "COPY uploads/ ./uploads/" in out and "docs" not in out


def test_a_placeholder_is_a_write_only_under_an_output_name(tmp_path):
    # angular's src/assets/.gitkeep keeps a folder the build fills; logs/.gitkeep one the app writes
    found = facts(tmp_path, "FROM node:20\nWORKDIR /app\nCOPY . .\nCMD [\"node\", \"server.js\"]\n", {
        "server.js": "console.log(1)\n", "src/assets/.gitkeep": "", "logs/.gitkeep": "",
    })
    assert [(w.path, w.where) for w in found.writes] == [("/app/logs", "logs/.gitkeep")]


@pytest.mark.parametrize(("start", "angular_json", "expected"), [
    ('CMD ["ng", "serve", "--host", "0.0.0.0"]', "{}", {"/project/.angular/cache"}),
    ('CMD ["npm", "start"]', "{}", {"/project/.angular/cache"}),  # package.json start: ng serve
    ('CMD ["ng", "serve"]', '{"cli": {"cache": {"path": "build/ng-cache"}}}', {"/project/build/ng-cache"}),
    ('CMD ["ng", "serve"]', '{"cli": {"cache": {"enabled": false}}}', set()),
    ('CMD ["node", "dist/server.js"]', "{}", set()),  # a built app: the CLI does not run
])
def test_angular_cli_cache_is_a_convention_write(tmp_path, start, angular_json, expected):
    found = facts(tmp_path, f"FROM node:20\nWORKDIR /project\nCOPY . .\n{start}\n", {
        "angular.json": angular_json, "package.json": '{"scripts": {"start": "ng serve"}}', "src/main.ts": ""})
    assert {w.path for w in found.writes if w.source == "convention"} == expected


@pytest.mark.parametrize(("settings", "expected"), [
    pytest.param("import os\nBASE_DIR = os.path.dirname(os.path.abspath(__file__))\n"
                 "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',"
                 " 'NAME': os.path.join(BASE_DIR, 'db.sqlite3')}}\n", [("here", "db.sqlite3")], id="base-dir-join"),
    pytest.param("from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
                 "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': BASE_DIR / 'db.sqlite3'}}\n",
                 [("here", "../db.sqlite3")], id="pathlib"),
    pytest.param("DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '/data/app.db'}}\n",
                 [("abs", "/data/app.db")], id="absolute"),
    pytest.param("DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'NAME': 'app'}}\n", [],
                 id="postgres"),
    pytest.param("DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}\n", [],
                 id="in-memory"),
    pytest.param("import dj_database_url\nDATABASES = {'default': dj_database_url.config()}\n", [], id="from-env"),
])
def test_django_sqlite_databases(settings: str, expected: list[tuple[str, str]]) -> None:
    from hardener.knowledge.writes_python import sqlite_databases

    found = sqlite_databases(settings.encode())
    assert [(p.base, posixpath.normpath(p.rel)) for p in found] == [(b, posixpath.normpath(r)) for b, r in expected]
