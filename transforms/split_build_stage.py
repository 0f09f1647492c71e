"""HD411 split-build-stage."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc, Stage
from hardener.knowledge.images import is_root_user
from hardener.model import Applicability, Finding, Transform
from hardener.oci.imageref import BadReference, ImageRef, parse
from hardener.plans.split import planner
from hardener.plans.split import static as stage_split_static
from hardener.plans.split.common import (
    KNOWN,
    Plan,
    creates_user,
    read_steps,
    runtime_gap,
    runtime_packages,
    runtime_text,
)
from hardener.plans.split.render import render
from hardener.why import Why

_JAVA = frozenset({"maven", "gradle", "openjdk", "eclipse-temurin", "amazoncorretto"})
_FAMILIES = {"golang": "go", "python": "python", "node": "node", **dict.fromkeys(_JAVA, "java")}
_SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_JAVA_BUILD = re.compile(r"(^|[\s;&|/])(mvn|mvnw|gradle|gradlew|javac)(\s|$)")


class SplitBuildStage(Transform):
    """Split a single-stage build into a builder stage and a slim runtime stage.

    ## What it fixes
    A one-stage Dockerfile that builds its app in a toolchain image (golang, full python,
    full node, maven/gradle/JDK) or installs compilers and headers (gcc, build-essential,
    *-dev, git): the image that runs the app still carries all of it.

    ## Why
    Compilers, package managers, headers and sources in the runtime image are attack
    surface and megabytes nobody needs at runtime. A builder stage keeps them; the runtime
    stage gets only the artifacts.

    ## Example
        FROM golang:1.22-bookworm                 FROM golang:1.22-bookworm AS build
        WORKDIR /src                              WORKDIR /src
        COPY . .                                  COPY . .
        RUN go build -o /usr/local/bin/app .  ->  RUN CGO_ENABLED=0 go build -o /usr/local/bin/app .
        EXPOSE 8080
        CMD ["app"]                               FROM debian:bookworm-slim
                                                  WORKDIR /src
                                                  COPY --from=build /usr/local/bin/app /usr/local/bin/app
                                                  COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
                                                  EXPOSE 8080
                                                  CMD ["app"]

    Go: a static (`CGO_ENABLED=0`) binary into `debian:<release>-slim` (or `alpine:<x.y>`),
    which keeps `/bin/sh` for shell-form commands, plus the builder's CA bundle. Python:
    the builder installs with pip into `/opt/venv`; the runtime (`python:<tag>-slim`) gets
    the venv and the app directory. Node: the builder runs the build, then
    `npm prune --omit=dev`; the runtime (`node:<tag>-slim`) gets the app directory. Java:
    maven/gradle build in the JDK image; the runtime (`eclipse-temurin:<release>-jre`) gets
    the jar the start command runs (`java -jar <file>`). A Node build served by `serve` or
    `http-server` on port 8080 (directly, by npx or an npm script): the builder keeps the
    stage and its CMD; `nginxinc/nginx-unprivileged` gets the served directory in
    /usr/share/nginx/html and runs nginx as user 101 (hardener/plans/split/static.py).
    LABEL, EXPOSE, VOLUME, HEALTHCHECK, CMD and ENTRYPOINT move to the runtime stage with
    the comments above them; ARG, ENV, WORKDIR, USER, SHELL and user-creating RUNs are in
    both stages (only in the runtime one when they follow the last build step). Build-only
    packages stay in the builder; a `-dev` package's runtime library is installed when
    hardener/data/build_packages.toml knows it (libpq-dev → libpq5). The non-root user of
    the runtime stage comes from run-as-non-root (HD201) when the Dockerfile sets none. A
    stage name (`FROM … AS app`) moves to the runtime stage, so `--target app` still builds
    the app.

    ## Applicability
    review: the runtime stage has only what hardener knows the app needs; a file or a
    system library the app loads that the Dockerfile does not mention would be missing.

    ## Refuses when
    The stage has an instruction it does not model (ADD, ONBUILD, MAINTAINER, COPY --from,
    --chown or --chmod, a RUN with flags, a non-POSIX SHELL) or no CMD/ENTRYPOINT (a base
    image); a RUN runs a command whose runtime effect is unknown, writes outside the copied
    paths, or chowns; a non-root USER comes before the build; the base comes from a build
    argument, is pinned by digest or (Python, Node) names no release (`latest`); the HEALTHCHECK needs
    curl/wget the slim image lacks. Go: no literal `go build -o`, cgo in use (`import "C"`,
    a cgo module, CGO_ENABLED=1), time zones loaded from the system, the start command runs
    `go run` or anything but the binary, files besides the Go code the binary may read.
    Python: pip installs outside the venv (`--user`, `--target`, by absolute path), PATH or
    a virtualenv is set, a COPY lands outside the app directory. Node: no package-lock.json,
    yarn or pnpm, a global npm install, a devDependency in the start command. Java: the
    tag names no Temurin release (openjdk, amazoncorretto, `maven:3.9`), the start command
    is not `java -jar <literal file>`. A `-dev` package with an unknown runtime library.
    Static sites: the server listens on another port than 8080, `serve -s` (SPA fallback)
    or another option nginx's default config does not reproduce, a serve.json, a served
    directory that is not literal or is the whole app, VOLUME/STOPSIGNAL, a HEALTHCHECK
    other than curl/wget of localhost:8080.

    ## References
    Docker docs: multi-stage builds; CIS Docker 4.3 (no unnecessary packages)
    """

    id = "HD411"
    name = "split-build-stage"
    targets = ("dockerfile",)
    references = ("docs.docker.com:multi-stage-builds", "cis-docker:4.3")
    applicability = Applicability.REVIEW

    def run(self, doc: DockerfileDoc, ctx: Context) -> Iterator[Finding]:
        if len(doc.stages) != 1:
            return  # already multi-stage (or no stage): nothing to split
        stage = doc.stages[0]
        family = stage.base.split("@")[0].split(":")[0].rsplit("/", 1)[-1].lower()
        if family in _JAVA and not any(i.keyword == "RUN" and _JAVA_BUILD.search(i.args) for i in stage.instructions):
            return  # a JDK/JRE image that runs a jar built elsewhere: nothing to split
        if family in _FAMILIES:
            found = self._one(doc, stage, _FAMILIES[family], ctx)
            if found is not None:
                yield found

    def _one(self, doc: DockerfileDoc, stage: Stage, eco: str, ctx: Context) -> Finding | None:
        static = stage_split_static.split(doc, stage, ctx, _shape_problem) if eco == "node" else None
        if isinstance(static, tuple):  # a static site served by a Node server: nginx serves it
            return self.change([static[0]], static[1], stage.from_.line, end_line=stage.instructions[-1].end_line)
        found = _plan(doc, stage, eco, ctx)
        if static is not None and not isinstance(found, tuple):  # neither nginx nor node-slim
            return self.refuse(static, stage.from_.line)
        if found is None:
            return None
        if isinstance(found, Why):
            return self.refuse(found, stage.from_.line)
        plan, dropped = found
        # a static site nginx cannot serve as configured still gets the node-slim runtime
        prefix = f"not onto nginx ({static}); " if static is not None else ""
        return self.change([render(doc, stage, plan)], prefix + _reason(stage, plan, dropped), stage.from_.line,
                           end_line=stage.instructions[-1].end_line)


def _plan(doc: DockerfileDoc, stage: Stage, eco: str, ctx: Context) -> tuple[Plan, list[str]] | Why | None:
    """(plan, build-only packages dropped), why not, or None: nothing worth splitting."""
    module = planner(eco)
    ref = _ref(stage.base)
    why = _shape_problem(doc, stage) or (None if ref else f"cannot read the image reference {stage.base!r}")
    steps = read_steps(doc, stage, module.is_build) if why is None else Why(why)
    if isinstance(steps, Why) or ref is None:
        return steps if isinstance(steps, Why) else None
    if not module.wants_split(ref, steps, stage):
        return None  # already a runtime-size image with no build tooling
    plan = module.plan(doc, stage, ref, steps, ctx.build_context)
    if isinstance(plan, Why):
        return plan
    packages = runtime_packages(steps.packages, runtime_text(stage), steps.manager)
    if isinstance(packages, Why):
        return packages
    keep, dropped = packages
    if keep and steps.manager != plan.package_manager:
        return Why(f"the runtime needs {', '.join(keep)} but {plan.runtime_base} uses another package manager")
    plan = dataclasses.replace(plan, runtime_packages=tuple(dict.fromkeys(keep + list(plan.runtime_packages))))
    if plan.runtime_packages and not steps.packages:
        return Why(f"the runtime needs {', '.join(plan.runtime_packages)}, which the full base image had "
                   "preinstalled; install it in the Dockerfile first")
    why = runtime_gap(stage, plan)
    return Why(why) if why else (plan, dropped)


def _ref(base: str) -> ImageRef | None:
    try:
        return parse(base)
    except BadReference:
        return None


def _shape_problem(doc: DockerfileDoc, stage: Stage) -> str | None:
    if doc.escape != "\\":
        return "the escape character is not a backslash (Windows Dockerfile)"
    if "$" in stage.base:
        return "the base image comes from a build argument"
    for inst in stage.instructions[1:]:
        where = f"line {inst.line}"
        if inst.keyword == "ADD":
            words = inst.args.split()
            if any(re.match(r"^[a-z]+://", w) for w in words[:-1]):
                return f"ADD of a URL ({where}): the download would stay in the builder"
            return f"ADD at {where} may extract archives; hardener splits COPY only (add-to-copy, HD301, converts it)"
        if inst.keyword == "ONBUILD":
            return f"ONBUILD at {where}: its triggers would run in the builder of child images"
        if inst.keyword == "COPY" and (inst.flag("from") or inst.flag("chown") or inst.flag("chmod") or inst.heredocs):
            return f"the COPY at {where} uses --from, --chown, --chmod or a heredoc, which the split does not carry over"
        if inst.keyword == "SHELL" and not (inst.json and inst.json[0].rsplit("/", 1)[-1] in _SHELLS):
            return f"the SHELL at {where} is not a POSIX shell"
        if inst.keyword == "MAINTAINER":
            return f"MAINTAINER at {where} is not modelled by the split (maintainer-to-label, HD501, converts it)"
        if inst.keyword not in KNOWN:
            return f"{inst.keyword} at {where} is not modelled by the split"
    if not any(i.keyword in ("CMD", "ENTRYPOINT") for i in stage.instructions):
        return ("the stage sets no CMD or ENTRYPOINT: it looks like a base for other images, which would "
                "lose the build tools they expect")
    return _user_before_build(stage)


def _user_before_build(stage: Stage) -> str | None:
    user = next((i for i in stage.instructions if i.keyword == "USER" and not is_root_user(i.args.strip())), None)
    if user is None:
        return None
    later = next((i for i in stage.instructions if i.line > user.line and i.keyword in ("RUN", "COPY")
                  and not creates_user(i.args)), None)
    if later is not None:
        return (f"USER at line {user.line} comes before the build steps (line {later.line}); "
                "the builder would build as that user")
    return None


def _reason(stage: Stage, plan: Plan, dropped: list[str]) -> str:
    artifacts = ", ".join(src for src, _ in plan.artifacts)
    reason = (f"split into a build stage ({stage.base}) and a runtime stage ({plan.runtime_base}) that gets "
              f"only {artifacts}")
    if dropped:
        reason += f"; build-only packages left in the builder: {', '.join(dropped)}"
    if plan.runtime_packages:
        reason += f"; the runtime installs {', '.join(plan.runtime_packages)}"
    return "; ".join([reason, *plan.notes])

