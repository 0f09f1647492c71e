"""The Java plan of split-build-stage: maven/gradle build in the JDK image, the jar on a JRE.

The runtime is the Eclipse Temurin JRE of the same Java release and distro flavour: the
maven (``3.9-eclipse-temurin-21``), gradle (``8.5-jdk21``) and eclipse-temurin
(``21-jdk-jammy``) tags all name it. It gets exactly the jar the start command runs
(``java … -jar <path>``); a fat jar (Spring Boot, shade) carries its dependencies.
"""
from __future__ import annotations

import re
from pathlib import Path

from hardener.dockerfile.doc import DockerfileDoc, Stage
from hardener.dockerfile.shell import Command
from hardener.dockerfile.shell_edit import program
from hardener.dockerfile.workdir import join_workdir, working_dirs
from hardener.oci.imageref import ImageRef
from hardener.plans.split.common import Plan, Steps, literal_words, write_outside
from hardener.why import Why

_TOOLS = ("mvn", "mvnw", "gradle", "gradlew")
_FLAVOUR = r"(?:-(alpine|jammy|focal|noble))?"
_TAGS = {  # family -> regex of its tag: group 1 the Java version, group 2 the distro flavour
    "maven": re.compile(rf"(?:[\d.]+-)?eclipse-temurin-(\d+){_FLAVOUR}"),
    "gradle": re.compile(rf"(?:[\d.]+-)?jdk(\d+){_FLAVOUR}"),
    "eclipse-temurin": re.compile(rf"(\d+(?:\.[\d.]+(?:_\d+)?)?)(?:-jdk)?{_FLAVOUR}"),
}


def is_build(cmd: Command) -> bool:
    return program(cmd, _TOOLS) is not None


def wants_split(ref: ImageRef, steps: Steps, stage: Stage) -> bool:
    """A JDK image that runs maven or gradle is the toolchain itself."""
    return bool(steps.build)


def plan(doc: DockerfileDoc, stage: Stage, ref: ImageRef, steps: Steps, context: Path | None) -> Plan | Why:
    runtime = _runtime_image(ref)
    if isinstance(runtime, Why):
        return runtime
    cwd = working_dirs(doc)
    jar = _jar(stage, cwd)
    if isinstance(jar, Why):
        return jar
    why = write_outside(steps, cwd, [jar])
    if why:
        return Why(why)
    return Plan("java", runtime, ((jar, jar),), package_manager="apk" if "alpine" in runtime else "apt",
                notes=("the runtime is the JRE of the same Java release",))


def _runtime_image(ref: ImageRef) -> str | Why:
    if ref.digest or not ref.is_official:
        return Why("only the official maven, gradle and eclipse-temurin images, by tag, have a known JRE")
    family = ref.repository.rsplit("/", 1)[-1]
    pattern = _TAGS.get(family)
    match = pattern.fullmatch(ref.tag or "") if pattern else None
    if match is None:
        return Why(f"no Eclipse Temurin JRE is known for {family}:{ref.tag or 'latest'}")
    prefix = ref.name_as_written[: -len(family)]
    flavour = f"-{match.group(2)}" if match.group(2) else ""
    return f"{prefix}eclipse-temurin:{match.group(1)}-jre{flavour}"


def _jar(stage: Stage, cwd: dict[int, str | None]) -> str | Why:
    """The jar the start command runs (absolute), or why it is not known."""
    start = next((i for i in reversed(stage.instructions) if i.keyword == "ENTRYPOINT"), None) or next(
        (i for i in reversed(stage.instructions) if i.keyword == "CMD"), None)
    if start is None:
        return Why("the stage has no CMD or ENTRYPOINT")
    words = literal_words(start)
    if start.json is None and re.search(r"[;&|`()<>]", start.args):
        return Why(f"the {start.keyword} at line {start.line} is shell code; cannot tell which jar it runs")
    if not words or words[0] not in ("java", "/opt/java/openjdk/bin/java") or "-jar" not in words[:-1]:
        return Why(f"the {start.keyword} at line {start.line} does not run `java -jar <file>`")
    name = words[words.index("-jar") + 1]
    if re.search(r"[$*?\[]", name):
        return Why(f"the jar {name!r} is not one literal file")
    path = join_workdir(cwd.get(start.start), name)
    return path or Why(f"the jar {name!r} is relative to an unknown directory")
