"""HD305 narrow-copy: narrowed beside refused, one reason each."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardener.context import Context
from hardener.engine import Options, process
from hardener.transforms.narrow_copy import NarrowCopy

PY = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
APP = {"requirements.txt": "x\n", "app.py": "import helpers\n", "helpers.py": "", "tests/test_a.py": "", "docs/a.md": ""}


def run(root: Path, files: dict[str, str]) -> tuple[str, list[str]]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    raw = (root / "Dockerfile").read_bytes()
    result = process("Dockerfile", "dockerfile", raw, [NarrowCopy()], Context(root).for_file(root / "Dockerfile"), Options())
    return (result.output or raw).decode(), [r.reason for r in result.refusals]


KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(("dockerfile", "extra", "expected"), [
    pytest.param(PY + 'CMD ["python", "app.py"]\n', {}, "COPY app.py helpers.py requirements.txt ./", id="script"),
    pytest.param(PY + "CMD python -u app.py\n", {}, "COPY app.py helpers.py requirements.txt ./", id="shell-form-with-flag"),
    pytest.param(PY + 'CMD ["python", "-m", "svc"]\n', {"svc/__main__.py": "import helpers\n"}, "COPY svc/ ./svc/", id="module"),
    pytest.param(PY + 'CMD ["uvicorn", "api:app", "--port", "80"]\n', {"api.py": ""}, "COPY api.py requirements.txt ./", id="asgi-server"),
    pytest.param(PY + "RUN ./scripts/setup.sh\nCMD [\"python\", \"app.py\"]\n", {"scripts/setup.sh": ""}, "COPY scripts/ ./scripts/", id="later-run-names-a-path"),
    pytest.param("FROM python:3\nWORKDIR /\nCOPY . /\nCMD python app.py\n", {}, "COPY app.py helpers.py requirements.txt /\n", id="root-destination"),
    # named like secrets, but their content holds none: part of the app (generate-dockerignore keeps them too)
    pytest.param(PY + "CMD python app.py\n", {"app.py": "open('ca.pem')\n", "ca.pem": CERT}, "COPY app.py ca.pem requirements.txt ./", id="ca-bundle-needed"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "open('.env')\n", ".env": "API_URL=https://x\n"}, "COPY .env app.py requirements.txt ./", id="public-dotenv-needed"),
])
def test_narrows(tmp_path: Path, dockerfile: str, extra: dict[str, str], expected: str) -> None:
    out, refusals = run(tmp_path, {**APP, **extra, "Dockerfile": dockerfile})
    assert expected in out and "tests" not in out and "docs" not in out, (out, refusals)


@pytest.mark.parametrize(("dockerfile", "extra", "reason"), [
    pytest.param(PY + "CMD [\"sh\", \"start.sh\"]\n", {}, "no Python entrypoint", id="no-entrypoint"),
    pytest.param(PY + "RUN pip install -e .\nCMD python app.py\n", {}, "whole copied tree", id="pip-install-project"),
    pytest.param(PY + "RUN poetry install\nCMD python app.py\n", {}, "whole copied tree", id="poetry-install-root"),
    pytest.param(PY + "RUN chmod -R 755 *\nCMD python app.py\n", {}, "whole copied tree", id="glob-run"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "__import__('x')\n"}, "modules loaded by name", id="dunder-import"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "import django\n"}, "modules loaded by name", id="django"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "open('server.key')\n", "server.key": KEY}, "looks like a secret", id="secret-needed"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "open('.env')\n", ".env": "DB_PASSWORD=hunter2\n"}, "looks like a secret",
                 id="dotenv-with-a-credential-needed"),
    pytest.param(PY + "CMD python app.py\n", {"app.py": "def (:\n"}, "cannot read app.py", id="syntax-error"),
    pytest.param("FROM node:20\nCOPY . .\nCMD node i.js\n", {"requirements.txt": "", "package.json": "{}"}, "", id="node-with-stray-requirements"),
])
def test_refuses(tmp_path: Path, dockerfile: str, extra: dict[str, str], reason: str) -> None:
    out, refusals = run(tmp_path, {**APP, **extra, "Dockerfile": dockerfile})
    assert out == dockerfile and len(refusals) == 1 and reason in refusals[0]


def test_not_python_and_no_copy_all_left_alone(tmp_path: Path) -> None:
    out, refusals = run(tmp_path, {"Cargo.toml": "", "Dockerfile": "FROM rust:1\nCOPY . .\nCMD [\"app\"]\n"})
    assert "not a Python, Node, Go or Java project" in refusals[0]
    out, refusals = run(tmp_path, {**APP, "Dockerfile": "FROM python:3\nCOPY app.py /app/\nCMD python /app/app.py\n"})
    assert refusals == []


def test_flask_conventional_directories_are_kept(tmp_path: Path) -> None:
    files = {**APP, "app.py": "from flask import Flask, render_template\n", "templates/i.html": "", "static/s.css": "",
             "Dockerfile": PY + 'CMD ["python", "app.py"]\n'}
    out, _ = run(tmp_path, files)
    assert "COPY templates/ ./templates/" in out and "COPY static/ ./static/" in out


# --- Node and Go (opt-in: [tool.hardener.narrow-copy] ecosystems = [...]) ---

ALL = {"narrow-copy": {"ecosystems": ["python", "node", "go"]}}
NODE = "FROM node:20\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\n"
NODE_APP = {"package.json": '{"name": "x"}', "package-lock.json": "{}", "server.js": "const lib = require('./lib')\n",
            "lib/index.js": "module.exports = require('./util.js')\n", "lib/util.js": "", "test/a.test.js": "",
            "docs/a.md": "", "README.md": ""}
GO = "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\n"
GO_TAIL = "FROM scratch\nCOPY --from=build /out/app /app\nCMD [\"/app\"]\n"
GO_APP = {"go.mod": "module example.com/svc\n\ngo 1.22\n", "go.sum": "",
          "cmd/app/main.go": 'package main\n\nimport (\n\t"fmt"\n\t"example.com/svc/internal/web"\n)\n\nfunc main() {}\n',
          "internal/web/web.go": 'package web\n\nimport "embed"\n\n//go:embed static\nvar S embed.FS\n',
          "internal/web/static/i.html": "", "pkg/unused/u.go": "package unused\n", "docs/a.md": "", "testdata/x": "",
          "README.md": ""}


def run_all(root: Path, files: dict[str, str]) -> tuple[str, list[str]]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    raw = (root / "Dockerfile").read_bytes()
    ctx = Context(root, options=ALL).for_file(root / "Dockerfile")
    result = process("Dockerfile", "dockerfile", raw, [NarrowCopy()], ctx, Options())
    return (result.output or raw).decode(), [r.reason for r in result.refusals]


def pkg(**fields: object) -> str:
    return json.dumps({"name": "x", **fields})


@pytest.mark.parametrize(("dockerfile", "extra", "expected", "absent"), [
    pytest.param(NODE + 'CMD ["node", "server.js"]\n', {}, ["COPY package.json package-lock.json server.js ./",
                 "COPY lib/ ./lib/"], ["test", "docs", "README"], id="node-require-graph"),
    pytest.param(NODE + 'CMD ["npm", "start"]\n', {"package.json": pkg(scripts={"start": "node src/main.js"}),
                 "src/main.js": "import {a} from '../lib/util.js'\nexport * from './b'\n", "src/b.mjs": ""},
                 ["COPY src/ ./src/", "COPY lib/ ./lib/"], ["server.js", "test"], id="npm-start-script-esm"),
    pytest.param(NODE + "CMD npm start\n", {}, ["server.js", "COPY lib/ ./lib/"], ["test"], id="npm-start-default-server-js"),
    pytest.param(NODE + 'CMD ["node", "."]\n', {"package.json": pkg(main="app/main.js"), "app/main.js": ""},
                 ["COPY app/ ./app/"], ["server.js", "lib"], id="node-dot-is-main"),
    pytest.param(NODE + "CMD node server.js\n", {"server.js": "app.use(express.static('public'))\n", "public/a.css": ""},
                 ["COPY public/ ./public/"], ["lib", "test"], id="literal-directory"),
    pytest.param(NODE + "RUN node scripts/seed.js\nCMD node server.js\n", {"scripts/seed.js": ""},
                 ["COPY scripts/ ./scripts/"], ["test"], id="later-run-entry"),
    pytest.param(NODE + 'CMD ["node", "server.js"]\n', {"package.json": pkg(files=["bin", "lib"]), "bin/cli.js": ""},
                 ["COPY bin/ ./bin/"], ["test"], id="package-files-field"),
    pytest.param(NODE + 'CMD ["node", "server.js"]\n', {".npmrc": "registry=https://r.example/\n"},
                 [".npmrc server.js ./"], ["test"], id="npmrc-without-token"),
    pytest.param(NODE + 'CMD ["node", "server.js"]\n', {".yarnrc.yml": "yarnPath: .yarn/releases/y.cjs\n",
                 ".yarn/releases/y.cjs": "", "yarn.lock": ""}, ["COPY .yarn/ ./.yarn/", ".yarnrc.yml"], ["test"],
                 id="yarn-berry"),
    pytest.param("FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD node server.js\n",
                 {"package.json": pkg(scripts={"postinstall": "patch-package"}), "patches/a.patch": ""},
                 ["COPY patches/ ./patches/"], ["test"], id="install-lifecycle-script"),
    pytest.param(NODE + "RUN npm run build\nFROM nginx:1.27\nCOPY --from=0 /app/dist /usr/share/nginx/html\n",
                 {"package.json": pkg(scripts={"build": "tsc && vite build"}), "index.html": "", "vite.config.ts":
                  "import x from './plugins/p'\n", "plugins/p.ts": "", "src/main.ts": "import './style.css'\n",
                  "src/style.css": "", "tsconfig.json": '{"include": ["src"], // comment\n}', ".env.example": ""},
                 ["index.html", "tsconfig.json", "vite.config.ts", "COPY plugins/ ./plugins/", "COPY src/ ./src/"],
                 ["lib", "server.js", "test"], id="vite-build-stage"),
    pytest.param(NODE + "RUN npx tsc\nCMD node dist/index.js\n", {"tsconfig.json": '{"compilerOptions": {}}',
                 "src/index.ts": "", "types/a.d.ts": ""}, ["COPY src/ ./src/", "COPY types/ ./types/"],
                 ["docs"], id="tsc-without-include-takes-every-ts-dir"),
    pytest.param(NODE + "RUN npm run build\nCMD node dist/index.js\n",
                 {"package.json": pkg(scripts={"build": "tsc"}), "tsconfig.json": '{"compilerOptions": {"baseUrl": ".",'
                  ' "paths": {"@/*": ["./*"]}}, "include": ["src"]}', "src/index.ts": "import c from '@/shared/c'\n",
                  "shared/c.ts": ""}, ["COPY shared/ ./shared/", "COPY src/ ./src/"], ["lib", "test"], id="tsconfig-paths-alias"),
])
def test_node_narrows(tmp_path: Path, dockerfile: str, extra: dict[str, str], expected: list[str], absent: list[str]) -> None:
    out, refusals = run_all(tmp_path, {**NODE_APP, **extra, "Dockerfile": dockerfile})
    assert all(e in out for e in expected) and not any(f" {a}" in out.split("COPY . .")[0] for a in absent), (out, refusals)
    assert "COPY . ." not in out, (out, refusals)


@pytest.mark.parametrize(("dockerfile", "extra", "reason"), [
    pytest.param(NODE + "CMD node server.js\n", {"lib/index.js": "require(`./locales/${x}`)\n"}, "dynamic require",
                 id="dynamic-require"),
    pytest.param(NODE + "CMD node server.js\n", {"lib/index.js": "require(path.join(__dirname, 'x'))\n"},
                 "dynamic require", id="computed-require"),
    pytest.param(NODE + "RUN npm run build\nCMD node dist/a.js\n", {"package.json": pkg(scripts={"build": "gulp"})},
                 "gulp, whose inputs", id="unknown-build-tool-known-to-be-opaque"),
    pytest.param(NODE + "RUN npm run build\nCMD node dist/a.js\n", {"package.json": pkg(scripts={"build": "mybundler -o dist"})},
                 "mybundler, a tool narrow-copy does not know", id="unknown-build-tool"),
    pytest.param(NODE + "CMD node server.js\n", {".npmrc": "//registry.npmjs.org/:_authToken=abc\n"}, "registry credential",
                 id="npmrc-with-token"),
    pytest.param(NODE + "RUN npm test\nCMD node server.js\n", {}, "runs the tests", id="npm-test"),
    pytest.param(NODE + "CMD node server.js\n", {"package.json": pkg(workspaces=["packages/*"])}, "workspace", id="workspaces"),
    pytest.param(NODE, {}, "no Node entrypoint", id="no-entrypoint"),
    pytest.param(NODE + 'CMD ["./start.sh"]\n', {"start.sh": ""}, "from the build context", id="context-script"),
    pytest.param(NODE + "CMD node -e 'x'\n", {}, "inline code", id="node-eval"),
    pytest.param(NODE + "RUN cp -r . /backup\nCMD node server.js\n", {}, "whole copied tree", id="whole-tree-run"),
    pytest.param(NODE + "CMD node server.js\n", {"node_modules/a/index.js": ""}, "node_modules", id="context-node-modules"),
    pytest.param(NODE + "CMD node dist/server.js\n", {}, "not in the build context", id="missing-entry-no-build"),
])
def test_node_refuses(tmp_path: Path, dockerfile: str, extra: dict[str, str], reason: str) -> None:
    out, refusals = run_all(tmp_path, {**NODE_APP, **extra, "Dockerfile": dockerfile})
    assert out == dockerfile and len(refusals) == 1 and reason in refusals[0], refusals


def test_node_left_alone(tmp_path: Path) -> None:
    dockerfile = "FROM node:20\nCOPY package.json server.js ./\nCMD node server.js\n"
    out, refusals = run_all(tmp_path, {**NODE_APP, "Dockerfile": dockerfile})
    assert out == dockerfile and refusals == []
    ctx = Context(tmp_path, options={"narrow-copy": {"ecosystems": ["python"]}}).for_file(tmp_path / "Dockerfile")
    (tmp_path / "Dockerfile").write_text(NODE + "CMD node server.js\n")
    raw = (tmp_path / "Dockerfile").read_bytes()
    result = process("Dockerfile", "dockerfile", raw, [NarrowCopy()], ctx, Options())  # limited to Python
    assert "not a Python project" in result.refusals[0].reason


@pytest.mark.parametrize(("dockerfile", "extra", "expected", "absent"), [
    pytest.param(GO + "RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app\n" + GO_TAIL, {},
                 ["COPY go.mod go.sum ./", "COPY cmd/ ./cmd/", "COPY internal/ ./internal/"],
                 ["pkg/", "docs", "testdata", "README"], id="go-cmd-internal"),
    pytest.param(GO + "RUN go build -o /out/app .\n" + GO_TAIL, {"main.go": 'package main\n\nimport _ "embed"\n\n'
                 '//go:embed templates/*.html\nvar t string\nfunc main() {}\n', "main_test.go": "", "templates/a.html": ""},
                 ["COPY go.mod go.sum main.go ./", "COPY templates/ ./templates/"],
                 ["main_test", "cmd", "internal", "docs"], id="go-root-package-embed"),
    pytest.param(GO + "RUN go build ./...\n" + GO_TAIL, {}, ["COPY cmd/ ./cmd/", "COPY internal/ ./internal/",
                 "COPY pkg/ ./pkg/"], ["docs", "testdata"], id="go-dot-dot-dot"),
    pytest.param(GO + "RUN go install example.com/svc/cmd/app\n" + GO_TAIL, {"vendor/modules.txt": ""},
                 ["COPY cmd/ ./cmd/", "COPY vendor/ ./vendor/"], ["pkg/", "docs"], id="go-module-path-and-vendor"),
])
def test_go_narrows(tmp_path: Path, dockerfile: str, extra: dict[str, str], expected: list[str], absent: list[str]) -> None:
    out, refusals = run_all(tmp_path, {**GO_APP, **extra, "Dockerfile": dockerfile})
    copies = out.split("RUN go")[0].split("COPY --from")[0]
    assert all(e in out for e in expected) and not any(a in copies for a in absent), (out, refusals)


@pytest.mark.parametrize(("dockerfile", "extra", "reason"), [
    pytest.param(GO + "RUN go generate ./... && go build ./cmd/app\n" + GO_TAIL, {}, "go generate", id="go-generate"),
    pytest.param(GO + "RUN CGO_ENABLED=1 go build ./cmd/app\n" + GO_TAIL, {}, "cgo", id="cgo-enabled"),
    pytest.param(GO + "RUN go build ./cmd/app\n" + GO_TAIL, {"internal/web/c.go": 'package web\n\nimport "C"\n'}, "cgo",
                 id="cgo-import-c"),
    pytest.param(GO + "RUN go test ./... && go build ./cmd/app\n" + GO_TAIL, {}, "runs the tests", id="go-test"),
    pytest.param(GO + "RUN make build\n" + GO_TAIL, {"Makefile": ""}, "runs make", id="make"),
    pytest.param(GO + "RUN go mod tidy && go build ./cmd/app\n" + GO_TAIL, {}, "go mod tidy", id="go-mod-tidy"),
    pytest.param(GO + GO_TAIL, {}, "no `go build`", id="no-go-build"),
])
def test_go_refuses(tmp_path: Path, dockerfile: str, extra: dict[str, str], reason: str) -> None:
    out, refusals = run_all(tmp_path, {**GO_APP, **extra, "Dockerfile": dockerfile})
    assert out == dockerfile and len(refusals) == 1 and reason in refusals[0], refusals


def test_go_left_alone(tmp_path: Path) -> None:
    dockerfile = "FROM golang:1.22\nCOPY go.mod go.sum ./\nCOPY cmd/ ./cmd/\nRUN go build ./cmd/app\n"
    out, refusals = run_all(tmp_path, {**GO_APP, "Dockerfile": dockerfile})
    assert out == dockerfile and refusals == []


def test_node_healthcheck_before_the_copy_is_kept(tmp_path: Path) -> None:
    dockerfile = ("FROM node:20\nWORKDIR /app\nHEALTHCHECK --interval=30s \\\n  CMD node healthcheck.js\nCOPY . .\n"
                  "RUN npm ci\nCMD node server.js\n")
    out, refusals = run_all(tmp_path, {**NODE_APP, "healthcheck.js": "require('./probe')\n", "probe.js": "",
                                       "Dockerfile": dockerfile})
    assert "COPY package.json package-lock.json healthcheck.js probe.js server.js ./" in out, (out, refusals)


def test_express_views_directory_is_kept(tmp_path: Path) -> None:
    files = {**NODE_APP, "server.js": "const express = require('express')\nres.render('index')\n", "views/index.ejs": "",
             "Dockerfile": NODE + "CMD node server.js\n"}
    out, _ = run_all(tmp_path, files)
    assert "COPY views/ ./views/" in out and "lib" not in out.split("COPY . .")[0]


@pytest.mark.parametrize(("extra", "expected"), [
    pytest.param({"tsconfig.json": '{"files": [], "references": [{"path": "./tsconfig.app.json"}]}',
                  "tsconfig.app.json": '{"include": ["web"]}', "web/a.ts": ""}, "COPY web/ ./web/", id="references"),
    pytest.param({"tsconfig.json": '{"include": ["**/*.ts"]}', "tools/a.ts": ""}, "COPY tools/ ./tools/", id="glob-include"),
])
def test_tsc_inputs(tmp_path: Path, extra: dict[str, str], expected: str) -> None:
    files = {**NODE_APP, **extra, "Dockerfile": NODE + "RUN npx tsc -b\nCMD node dist/index.js\n"}
    out, refusals = run_all(tmp_path, files)
    assert expected in out and "docs" not in out, (out, refusals)


def test_bun_install_is_an_install(tmp_path: Path) -> None:
    files = {**NODE_APP, "Dockerfile": "FROM oven/bun:1\nWORKDIR /app\nCOPY . .\nRUN bun install\nCMD bun server.js\n"}
    out, refusals = run_all(tmp_path, files)
    assert "COPY lib/ ./lib/" in out, (out, refusals)


def test_consumer_of_a_descendant_stage_keeps_what_it_copies(tmp_path: Path) -> None:
    dockerfile = ("FROM node:20 AS base\nWORKDIR /app\nCOPY . .\nRUN npm ci\n"
                  "FROM base AS build\nRUN npm run build\n"
                  "FROM node:20-slim\nCOPY --from=build /app/dist /app/dist\nCOPY --from=build /app/config.json /app/\n"
                  "CMD [\"node\", \"/app/dist/main.js\"]\n")
    files = {**NODE_APP, "package.json": pkg(scripts={"build": "tsc"}), "config.json": "{}", "src/main.ts": "",
             "tsconfig.json": '{"include": ["src"]}', "Dockerfile": dockerfile}
    out, refusals = run_all(tmp_path, files)
    assert "COPY package.json package-lock.json config.json tsconfig.json ./" in out, (out, refusals)
    assert "COPY src/ ./src/" in out and "lib" not in out and refusals == []


# --- Java: Maven and Gradle (opt-in: ecosystems = [..., "java"]) ---

JAVA = {"narrow-copy": {"ecosystems": ["python", "node", "go", "java"]}}
MVN = "FROM maven:3-eclipse-temurin-21 AS build\nWORKDIR /src\nCOPY . .\n"
JAVA_TAIL = "FROM eclipse-temurin:21-jre\nCOPY --from=build /src/target/app.jar /app.jar\nCMD [\"java\", \"-jar\", \"/app.jar\"]\n"
POM = "<project><build><plugins><plugin><configuration><configLocation>checkstyle.xml</configLocation>" \
      "</configuration></plugin></plugins></build></project>\n"
MVN_APP = {"pom.xml": POM, "checkstyle.xml": "", "src/main/java/A.java": "", "src/test/java/ATest.java": "",
           "docs/a.md": "", "README.md": "", "mvnw": "", ".mvn/wrapper/maven-wrapper.properties": "", "notes/x": ""}
MULTI_POM = "<project><parent><relativePath/></parent><modules><module>core</module><module>web</module></modules></project>\n"
GRADLE = "FROM gradle:8-jdk21 AS build\nWORKDIR /src\nCOPY . .\n"
GRADLE_APP = {"settings.gradle.kts": 'rootProject.name = "x"\ninclude("app", ":lib:util")\n',
              "build.gradle.kts": 'plugins { java }\ndetekt { config = files("config/detekt.yml") }\n',
              "gradle.properties": "", "gradle/libs.versions.toml": "", "gradle/wrapper/gradle-wrapper.properties": "",
              "gradlew": "", "app/build.gradle.kts": "", "app/src/main/java/A.java": "", "lib/util/build.gradle.kts": "",
              "buildSrc/build.gradle.kts": "", "config/detekt.yml": "", "docs/a.md": "", "scripts/x.sh": ""}


def run_java(root: Path, files: dict[str, str]) -> tuple[str, list[str]]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    raw = (root / "Dockerfile").read_bytes()
    ctx = Context(root, options=JAVA).for_file(root / "Dockerfile")
    result = process("Dockerfile", "dockerfile", raw, [NarrowCopy()], ctx, Options())
    return (result.output or raw).decode(), [r.reason for r in result.refusals]


@pytest.mark.parametrize(("dockerfile", "extra", "expected", "absent"), [
    pytest.param(MVN + "RUN mvn -B package\n" + JAVA_TAIL, {},
                 ["COPY pom.xml checkstyle.xml ./\nCOPY .mvn/ ./.mvn/\nCOPY src/ ./src/\n"],
                 ["mvnw", "docs", "README", "notes"], id="maven-single-module"),
    pytest.param(MVN + "RUN ./mvnw -B -DskipTests package\n" + JAVA_TAIL, {},
                 ["COPY pom.xml mvnw checkstyle.xml ./\nCOPY .mvn/ ./.mvn/\nCOPY src/ ./src/\n"],
                 ["docs", "notes"], id="maven-wrapper"),
    pytest.param(MVN + "RUN mvn package\n" + JAVA_TAIL, {"pom.xml": MULTI_POM, "core/pom.xml": "", "web/pom.xml": "",
                 "web/src/main/java/W.java": ""}, ["COPY pom.xml ./\nCOPY .mvn/ ./.mvn/\nCOPY core/ ./core/\n"
                 "COPY src/ ./src/\nCOPY web/ ./web/\n"], ["docs", "notes", "checkstyle"], id="maven-multi-module"),
    pytest.param(GRADLE + "RUN ./gradlew --no-daemon build -x test\n" + JAVA_TAIL.replace("target", "app/build/libs"),
                 {}, ["COPY settings.gradle.kts build.gradle.kts gradle.properties gradlew ./\nCOPY gradle/ ./gradle/\n"
                 "COPY app/ ./app/\nCOPY buildSrc/ ./buildSrc/\nCOPY config/ ./config/\nCOPY lib/ ./lib/\n"],
                 ["docs", "scripts"], id="gradle-kts-subprojects-wrapper"),
    pytest.param(GRADLE + "RUN gradle build\n" + JAVA_TAIL, {"settings.gradle.kts": "", "settings.gradle":
                 "include 'app'\n"}, ["COPY settings.gradle build.gradle.kts gradle.properties ./"],
                 ["gradlew", "lib/", "docs"], id="gradle-groovy-include-no-wrapper"),
    pytest.param(MVN + "RUN mvn -B -f pom.xml package\n" + JAVA_TAIL, {}, ["COPY pom.xml checkstyle.xml ./"],
                 ["docs"], id="maven-f-names-the-root-pom"),
    pytest.param(MVN + "RUN mvn package\nCMD [\"sh\", \"notes/run.sh\"]\n", {"notes/run.sh": ""},
                 ["COPY notes/ ./notes/"], ["docs"], id="maven-later-cmd-names-a-path"),
])
def test_java_narrows(tmp_path: Path, dockerfile: str, extra: dict[str, str], expected: list[str],
                      absent: list[str]) -> None:
    base = GRADLE_APP if dockerfile.startswith("FROM gradle") else MVN_APP
    files = {**base, **extra, "Dockerfile": dockerfile}
    if "settings.gradle" in extra:
        files = {k: v for k, v in files.items() if k != "settings.gradle.kts"}
    out, refusals = run_java(tmp_path, files)
    copies = out.split("RUN ")[0]
    assert all(e in out for e in expected) and not any(a in copies for a in absent), (out, refusals)


@pytest.mark.parametrize(("dockerfile", "extra", "reason"), [
    pytest.param(MVN + "RUN mvn package\n" + JAVA_TAIL, {"pom.xml": "<project><parent><relativePath>../pom.xml"
                 "</relativePath></parent></project>"}, "outside the build context", id="maven-parent-outside"),
    pytest.param(MVN + "RUN mvn package\n" + JAVA_TAIL, {"pom.xml": "<project><modules><module>../shared</module>"
                 "</modules></project>"}, "not in the build context", id="maven-module-outside"),
    pytest.param(MVN + "RUN mvn -f other/pom.xml package\n" + JAVA_TAIL, {}, "another build file", id="maven-f"),
    pytest.param(MVN + "RUN make jar\n" + JAVA_TAIL, {}, "runs make", id="maven-make"),
    pytest.param(MVN + "RUN ./notes/build.sh && mvn package\n" + JAVA_TAIL, {"notes/build.sh": ""},
                 "from the build context", id="maven-script-from-context"),
    pytest.param(MVN + JAVA_TAIL, {}, "no mvn/gradle build", id="maven-no-build"),
    pytest.param(GRADLE + "RUN gradle build\n" + JAVA_TAIL, {"settings.gradle.kts": 'file("modules").listFiles()'
                 '.forEach { include(it.name) }\n'}, "computes its projects", id="gradle-dynamic-settings"),
    pytest.param(GRADLE + "RUN gradle build\n" + JAVA_TAIL, {"settings.gradle.kts": "include(names)\n"},
                 "computed name", id="gradle-computed-include"),
    pytest.param(GRADLE + "RUN gradle build\n" + JAVA_TAIL, {"settings.gradle.kts": 'include("missing")\n'},
                 "not in the build context", id="gradle-include-missing"),
])
def test_java_refuses(tmp_path: Path, dockerfile: str, extra: dict[str, str], reason: str) -> None:
    base = GRADLE_APP if dockerfile.startswith("FROM gradle") else MVN_APP
    out, refusals = run_java(tmp_path, {**base, **extra, "Dockerfile": dockerfile})
    assert out == dockerfile and len(refusals) == 1 and reason in refusals[0], refusals


def test_java_left_alone(tmp_path: Path) -> None:
    narrowed = "FROM maven:3\nWORKDIR /src\nCOPY pom.xml ./\nCOPY src/ ./src/\nRUN mvn package\n"
    out, refusals = run_java(tmp_path, {**MVN_APP, "Dockerfile": narrowed})
    assert out == narrowed and refusals == []
    out, refusals = run(tmp_path, {**MVN_APP, "Dockerfile": MVN + "RUN mvn package\n"})  # on by default
    assert refusals == [] and "COPY . " not in out
    ctx = Context(tmp_path, options={"narrow-copy": {"ecosystems": ["python", "node", "go"]}}).for_file(tmp_path / "Dockerfile")
    result = process("Dockerfile", "dockerfile", (tmp_path / "Dockerfile").read_bytes(), [NarrowCopy()], ctx, Options())
    assert "not a Python, Node or Go project" in result.refusals[0].reason  # limited by config


@pytest.mark.parametrize(("dockerfile", "expected"), [
    pytest.param("FROM python:3.12-slim\nWORKDIR /app\nHEALTHCHECK CMD python probe.py\nCOPY . .\nCMD [\"python\", \"app.py\"]\n",
                 "COPY app.py checks.py helpers.py probe.py requirements.txt ./", id="python-probe-before-the-copy"),
    pytest.param("FROM python:3.12-slim AS base\nWORKDIR /app\nCOPY . .\nCMD [\"python\", \"app.py\"]\n"
                 "FROM base\nHEALTHCHECK CMD [\"python\", \"probe.py\"]\n",
                 "COPY app.py checks.py helpers.py probe.py requirements.txt ./", id="probe-in-a-stage-built-on-it"),
    pytest.param("FROM python:3.12-slim\nWORKDIR /app\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\nCOPY . .\n"
                 "CMD [\"python\", \"app.py\"]\n",
                 "COPY app.py helpers.py requirements.txt ./", id="non-python-probe-adds-nothing"),
])
def test_python_healthcheck_probe_is_kept(tmp_path: Path, dockerfile: str, expected: str) -> None:
    """A HEALTHCHECK runs in the container wherever it stands: the Python file it runs and what
    that file imports are copied too (Node, Go and Java already did this)."""
    out, refusals = run(tmp_path, {**APP, "probe.py": "import checks\n", "checks.py": "", "Dockerfile": dockerfile})
    assert expected in out, (out, refusals)


def test_python_probe_with_dynamic_import_refuses(tmp_path: Path) -> None:
    dockerfile = "FROM python:3.12-slim\nWORKDIR /app\nHEALTHCHECK CMD python probe.py\nCOPY . .\nCMD [\"python\", \"app.py\"]\n"
    out, refusals = run(tmp_path, {**APP, "probe.py": "import importlib\nimportlib.import_module(name)\n", "Dockerfile": dockerfile})
    assert out == dockerfile and any("HEALTHCHECK at line 3" in r for r in refusals), refusals
