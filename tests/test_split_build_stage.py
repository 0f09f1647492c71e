"""HD411 split-build-stage: split beside refused, one reason each; output judged by BuildKit."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener import judges
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.engine import Options, process
from hardener.transforms.split_build_stage import SplitBuildStage

GO = {"go.mod": "module example.com/app\n\ngo 1.22\n", "main.go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(1) }\n'}
PY = {"requirements.txt": "flask==3.0.0\n", "app.py": "print(1)\n"}
NODE = {"package.json": '{"scripts": {"build": "tsc", "start": "node dist/i.js"}, "devDependencies": {"typescript": "5"}}',
        "package-lock.json": "{}"}
GO_DF = "FROM golang:1.22-bookworm\nWORKDIR /src\nCOPY . .\nRUN go build -o /usr/local/bin/app .\nEXPOSE 8080\nCMD [\"app\"]\n"
PY_DF = ("FROM python:3.12\nWORKDIR /app\nRUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*\n"
         "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nCMD [\"python\", \"app.py\"]\n")
JAVA_DF = ("FROM maven:3.9-eclipse-temurin-21\nWORKDIR /app\nCOPY . .\nRUN mvn -B package\nEXPOSE 8080\n"
           'CMD ["java", "-jar", "target/app.jar"]\n')
NODE_DF = "FROM node:20\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\nCOPY . .\nRUN npm run build\nCMD [\"npm\", \"start\"]\n"


def run(root: Path, files: dict[str, str], newline: str = "\n") -> tuple[str, list[str]]:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content.replace("\n", newline).encode())
    raw = (root / "Dockerfile").read_bytes()
    ctx = Context(root).for_file(root / "Dockerfile")
    result = process("Dockerfile", "dockerfile", raw, [SplitBuildStage()], ctx, Options())
    assert result.failure is None, result.failure
    return (result.output or raw).decode(), [r.reason for r in result.refusals]


def stages(text: str) -> list[list[str]]:
    doc = DockerfileDoc.load(text.encode())
    return [[doc.text[i.start : i.end] for i in s.instructions] for s in doc.stages]


@pytest.mark.parametrize(("files", "runtime", "present", "absent"), [
    pytest.param({**GO, "Dockerfile": GO_DF}, "FROM debian:bookworm-slim",
                 ["COPY --from=build /usr/local/bin/app /usr/local/bin/app", "EXPOSE 8080", 'CMD ["app"]'],
                 ["COPY . ."], id="go-simple"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("1.22-bookworm", "1.22-alpine3.19")}, "FROM alpine:3.19",
                 ["COPY --from=build /usr/local/bin/app"], [], id="go-alpine"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("RUN go", "ENV CGO_ENABLED=0\nRUN go")}, "FROM debian:bookworm-slim",
                 ["ENV CGO_ENABLED=0"], [], id="go-cgo-already-off"),
    pytest.param({**GO, "tz.go": 'package main\n\nimport (\n\t"time"\n\t_ "time/tzdata"\n)\n\nvar l, _ = time.LoadLocation("UTC")\n',
                  "Dockerfile": GO_DF}, "FROM debian:bookworm-slim", [], [], id="go-time-zones-embedded"),
    pytest.param({**PY, "Dockerfile": PY_DF}, "FROM python:3.12-slim",
                 ["COPY --from=build /opt/venv /opt/venv", "COPY --from=build /app /app", 'ENV PATH="/opt/venv/bin:$PATH"'],
                 ["gcc", "pip install"], id="python-pip-gcc"),
    pytest.param({**PY, "requirements.txt": "psycopg2==2.9\n", "Dockerfile": PY_DF.replace(" gcc", " gcc libpq-dev")},
                 "FROM python:3.12-slim", ["apt-get install -y --no-install-recommends libpq5"], ["libpq-dev"],
                 id="python-dev-package-gets-its-library"),
    pytest.param({**NODE, "Dockerfile": NODE_DF}, "FROM node:20-slim",
                 ["COPY --from=build /app /app", 'CMD ["npm", "start"]'], ["npm prune", "npm ci"], id="node-build"),
    pytest.param({"Dockerfile": JAVA_DF}, "FROM eclipse-temurin:21-jre",
                 ["COPY --from=build /app/target/app.jar /app/target/app.jar", 'CMD ["java", "-jar", "target/app.jar"]'],
                 ["mvn"], id="java-maven"),
    pytest.param({"Dockerfile": JAVA_DF.replace("maven:3.9-eclipse-temurin-21", "gradle:8.5-jdk17-alpine").replace(
        "mvn -B package", "chmod +x gradlew && ./gradlew bootJar")}, "FROM eclipse-temurin:17-jre-alpine",
                 ["COPY --from=build /app/target/app.jar"], [], id="java-gradle-alpine"),
    pytest.param({"Dockerfile": JAVA_DF.replace("maven:3.9-eclipse-temurin-21", "eclipse-temurin:21.0.2_13-jdk-jammy")},
                 "FROM eclipse-temurin:21.0.2_13-jre-jammy", [], [], id="java-temurin-jdk"),
    pytest.param({**NODE, "Dockerfile": NODE_DF.replace("WORKDIR /app", 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nWORKDIR /app')},
                 "FROM node:20-slim", ['SHELL ["/bin/bash", "-o", "pipefail", "-c"]'], [], id="shell-in-both-stages"),
    pytest.param({**NODE, "Dockerfile": NODE_DF.replace("FROM node:20\n", 'FROM node:20\nLABEL org.opencontainers.image.base.name="node:20"\n')},
                 "FROM node:20-slim", ['org.opencontainers.image.base.name="node:20-slim"'], [], id="oci-base-label-follows"),
    pytest.param({**NODE, "Dockerfile": NODE_DF.replace("COPY . .", "RUN git clone --depth 1 https://example.com/x.git src")},
                 "FROM node:20-slim", ["COPY --from=build /app /app"], [], id="git-clone-into-app-dir"),
])
def test_splits(tmp_path: Path, files: dict[str, str], runtime: str, present: list[str], absent: list[str]) -> None:
    out, refusals = run(tmp_path, files)
    assert refusals == [] and judges.dockerfile_problem(out) is None, (out, refusals)
    build, final = stages(out)
    assert build[0].endswith(" AS build") and final[0] == runtime, out
    for text in present:
        assert any(text in i for i in final), (text, out)
    for text in absent:
        assert not any(text in i for i in final), (text, out)


@pytest.mark.parametrize(("files", "reason"), [
    pytest.param({**GO, "Dockerfile": "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nCMD [\"go\", \"run\", \".\"]\n"},
                 "runs `go run`: it needs the toolchain at runtime", id="go-run-cmd"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("-o /usr/local/bin/app ", "")}, "has no -o", id="go-no-output"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("/usr/local/bin/app", "$OUT")}, "not one literal file", id="go-output-variable"),
    pytest.param({**GO, "main.go": 'package main\n\nimport "C"\n\nfunc main() {}\n', "Dockerfile": GO_DF}, "imports \"C\"", id="go-cgo"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("RUN go", "RUN CGO_ENABLED=1 go")}, "CGO_ENABLED=1", id="go-cgo-on"),
    pytest.param({**GO, "templates/index.html": "<p>", "Dockerfile": GO_DF}, "templates/index.html", id="go-assets"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace('CMD ["app"]', 'CMD ["./start.sh"]')}, "runs `./start.sh`", id="go-cmd-not-binary"),
    pytest.param({**GO, "tz.go": 'package main\n\nimport "time"\n\nvar l, _ = time.LoadLocation("UTC")\n', "Dockerfile": GO_DF},
                 "time.LoadLocation", id="go-time-zones"),
    pytest.param({**NODE, "Dockerfile": NODE_DF.replace("RUN npm ci", "RUN npm ci && npm install -g pm2")}, "is global",
                 id="node-global-install"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("EXPOSE", "RUN mkdir /data\nEXPOSE")}, "writes outside the copied paths (/data)",
                 id="go-writes-outside"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("golang:1.22-bookworm", "golang:1.22@sha256:" + "a" * 64)}, "pinned by digest",
                 id="go-digest"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("COPY . .", "RUN ./configure && make install\nCOPY . .")},
                 "runs `configure`: hardener cannot tell", id="python-unknown-shape"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("--no-cache-dir", "--user")}, "installs outside the environment", id="python-user"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("RUN pip", "RUN /usr/local/bin/pip")}, "by path, past the venv",
                 id="python-pip-by-path"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("COPY . .", "COPY . .\nRUN chown -R nobody /app")}, "would be lost",
                 id="chown-lost"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("COPY . .", "COPY . .\nRUN echo ok > /etc/motd")}, "(/etc/motd)",
                 id="redirect-outside"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace(" gcc", " gcc libfoo-dev")}, "runtime library of libfoo-dev is unknown",
                 id="python-unknown-dev-package"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("COPY . .", "COPY . /srv/")}, "outside the app directory", id="python-copy-elsewhere"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace("python:3.12", "python")}, "no -slim variant is known for python:latest",
                 id="python-latest"),
    pytest.param({**PY, "requirements.txt": "psycopg2\n", "Dockerfile": PY_DF.replace(
        "RUN apt-get update && apt-get install -y gcc && rm -rf /var/lib/apt/lists/*\n", "")}, "had preinstalled", id="python-native-new-install"),
    pytest.param({**NODE, "yarn.lock": "", "Dockerfile": NODE_DF}, "yarn and pnpm", id="node-yarn"),
    pytest.param({**NODE, "Dockerfile": NODE_DF.replace("COPY . .", "RUN curl -fsSLo /usr/local/bin/tini https://example.com/tini")},
                 "writes outside the copied paths (/usr/local/bin/tini)", id="download-outside-app-dir"),
    pytest.param({**PY, "Dockerfile": PY_DF.replace('CMD ["python", "app.py"]\n', "")}, "looks like a base for other images",
                 id="no-start-command"),
    pytest.param({**GO, "Dockerfile": GO_DF.replace("golang:1.22-bookworm", "golang:1.22-alpine3.19").replace(
        "WORKDIR", 'SHELL ["/bin/bash", "-c"]\nWORKDIR')}, "is bash", id="bash-shell-on-alpine"),
    pytest.param({**NODE, "Dockerfile": NODE_DF.replace("CMD", "HEALTHCHECK CMD curl -f localhost:3000\nCMD")},
                 "HEALTHCHECK uses curl", id="node-healthcheck-curl-from-full-image"),
    pytest.param({**NODE, "package-lock.json": None, "Dockerfile": NODE_DF}, "no package-lock.json", id="node-no-lock"),
    pytest.param({**NODE, "package.json": '{"scripts": {"start": "nodemon i.js", "build": "x"}, "devDependencies": {"nodemon": "3"}}',
                  "Dockerfile": NODE_DF}, "devDependency nodemon", id="node-dev-at-start"),
    pytest.param({**GO, "Dockerfile": "FROM golang:1.22\nADD https://example.com/x.tgz /x\nRUN go build -o /a .\nCMD [\"/a\"]\n"},
                 "ADD of a URL", id="add-url"),
    pytest.param({**GO, "Dockerfile": "FROM golang:1.22\nONBUILD COPY . .\nRUN go build -o /a .\nCMD [\"/a\"]\n"}, "ONBUILD", id="onbuild"),
    pytest.param({**GO, "Dockerfile": "FROM golang:1.22\nUSER 1000\nCOPY . /src\nRUN go build -o /a .\nCMD [\"/a\"]\n"},
                 "comes before the build steps", id="user-before-build"),
    pytest.param({"pom.xml": "", "Dockerfile": "FROM maven:3.9\nCOPY . .\nRUN mvn package\nCMD [\"java\", \"-jar\", \"a.jar\"]\n"},
                 "no Eclipse Temurin JRE is known for maven:3.9", id="java-maven-tag-without-jdk"),
    pytest.param({"Dockerfile": JAVA_DF.replace("maven:3.9-eclipse-temurin-21", "openjdk:17-jdk")},
                 "no Eclipse Temurin JRE is known for openjdk:17-jdk", id="java-openjdk"),
    pytest.param({"Dockerfile": JAVA_DF.replace('"-jar", "target/app.jar"', '"-cp", "target/classes", "Main"')},
                 "does not run `java -jar <file>`", id="java-classpath"),
    pytest.param({"Dockerfile": JAVA_DF.replace("target/app.jar", "target/*.jar")}, "not one literal file", id="java-jar-glob"),
])
def test_refuses(tmp_path: Path, files: dict[str, str | None], reason: str) -> None:
    out, refusals = run(tmp_path, {k: v for k, v in files.items() if v is not None})
    assert out == files["Dockerfile"] and len(refusals) == 1 and reason in refusals[0], refusals


@pytest.mark.parametrize("files", [
    pytest.param({**GO, "Dockerfile": "FROM golang:1.22 AS b\nRUN go build -o /a .\nFROM debian:bookworm-slim\nCOPY --from=b /a /a\n"},
                 id="already-multi-stage"),
    pytest.param({**PY, "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD python app.py\n"},
                 id="python-slim-without-build-tools"),
    pytest.param({**NODE, "Dockerfile": "FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD node i.js\n"}, id="node-slim-no-build"),
    pytest.param({"Dockerfile": "FROM nginx:1.27\nCOPY . /usr/share/nginx/html\n"}, id="other-image"),
    pytest.param({"Dockerfile": "FROM eclipse-temurin:21-jre\nCOPY app.jar /app.jar\nCMD [\"java\", \"-jar\", \"/app.jar\"]\n"},
                 id="java-runtime-image"),
])
def test_leaves_alone(tmp_path: Path, files: dict[str, str]) -> None:
    out, refusals = run(tmp_path, files)
    assert out == files["Dockerfile"] and refusals == []


def test_comments_and_blank_lines_stay_with_their_instruction(tmp_path: Path) -> None:
    dockerfile = ("FROM golang:1.22-bookworm\n# where the code lives\nWORKDIR /src\n\n# build it\nCOPY . .\n"
                  "RUN go build \\\n    # static\n    -o /usr/local/bin/app .\n\n# the port\nEXPOSE 8080\nCMD [\"app\"]\n# end\n")
    out, _ = run(tmp_path, {**GO, "Dockerfile": dockerfile})
    assert "# where the code lives\nWORKDIR /src\n\n# build it\nCOPY . .\n" in out
    assert "RUN CGO_ENABLED=0 go build \\\n    # static\n    -o /usr/local/bin/app .\n" in out
    assert out.endswith("\n\n# the port\nEXPOSE 8080\nCMD [\"app\"]\n# end\n")
    assert out.count("# the port") == 1 and out.count("# where the code lives") == 2  # WORKDIR is in both stages


def test_crlf_kept(tmp_path: Path) -> None:
    out, _ = run(tmp_path, {**PY, "Dockerfile": PY_DF}, newline="\r\n")
    assert "FROM python:3.12-slim\r\n" in out and out.count("\n") == out.count("\r\n")


def test_lowercase_keywords(tmp_path: Path) -> None:
    out, _ = run(tmp_path, {**GO, "Dockerfile": GO_DF.replace("FROM", "from").replace("RUN", "run")})
    assert "from golang:1.22-bookworm as build\n" in out and "\nfrom debian:bookworm-slim\n" in out
    assert "copy --from=build" in out


@pytest.mark.parametrize(("files", "dockerfile"), [pytest.param(GO, GO_DF, id="go"), pytest.param(PY, PY_DF, id="python"),
                                                   pytest.param(NODE, NODE_DF, id="node")])
def test_second_run_is_a_no_op(tmp_path: Path, files: dict[str, str], dockerfile: str) -> None:
    out, _ = run(tmp_path, {**files, "Dockerfile": dockerfile})
    assert out != dockerfile
    again, refusals = run(tmp_path, {"Dockerfile": out})
    assert again == out and refusals == []


@pytest.mark.parametrize(("dockerfile", "expected"), [
    pytest.param(NODE_DF, "RUN npm run build && npm prune --omit=dev\n", id="appended-to-the-build-run"),
    pytest.param(NODE_DF.replace("RUN npm run build\n", ""), "COPY . .\nRUN npm prune --omit=dev\n", id="own-run-after-copy"),
    pytest.param(NODE_DF.replace("node:20", "node:14"), "npm prune --production", id="old-npm"),
])
def test_node_prunes_dev_dependencies_in_the_builder(tmp_path: Path, dockerfile: str, expected: str) -> None:
    out, refusals = run(tmp_path, {**NODE, "Dockerfile": dockerfile})
    assert expected in out, (out, refusals)
    assert "prune" not in "".join(stages(out)[1])


@pytest.mark.parametrize(("alias", "builder"), [pytest.param("app", "build", id="named-app"),
                                                pytest.param("build", "builder", id="named-build")])
def test_a_named_stage_keeps_its_name_on_the_runtime_stage(tmp_path: Path, alias: str, builder: str) -> None:
    """`docker build --target <name>` (or Compose `target:`) must still build the app, not the builder."""
    out, _ = run(tmp_path, {**GO, "Dockerfile": GO_DF.replace("bookworm\n", f"bookworm AS {alias}\n")})
    first, final = stages(out)
    assert first[0] == f"FROM golang:1.22-bookworm AS {builder}" and final[0] == f"FROM debian:bookworm-slim AS {alias}"
    assert f"COPY --from={builder} /usr/local/bin/app /usr/local/bin/app" in final
