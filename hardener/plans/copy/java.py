"""What a Maven or Gradle build needs from its build context (narrow-copy, HD305).

Rules (each is tested in tests/test_narrow_copy.py):

- Maven: ``pom.xml``; ``.mvn/`` when present (``maven.config``/``jvm.config`` change every
  ``mvn`` run, not only the wrapper's); ``mvnw`` when a command runs it; ``src/`` whole (``mvn
  package`` compiles and runs ``src/test`` unless ``-DskipTests``, and resources sit beside
  the code); the top-level directory of every ``<module>`` of pom.xml (the module dir holds
  its own pom.xml, src/ and nested modules). A ``<module>`` or ``<relativePath>`` that leaves
  the context (``../``) is refused: that parent pom is not in the build context.
- Gradle: ``build.gradle(.kts)``, ``settings.gradle(.kts)``, ``gradle.properties``,
  ``gradle.lockfile``, ``gradle/`` (wrapper jar/properties, ``libs.versions.toml``),
  ``gradlew`` when a command runs it, ``buildSrc/``, ``src/``, and the top-level directory of
  every project ``include``d (``include("a", ":b:c")`` -> ``a/``, ``b/``) and of every
  ``includeBuild``. Settings that compute their projects (``file(``, ``listFiles``,
  ``fileTree``, ``forEach``/``each``, ``projectDir =``, a non-literal include) are refused.
- Both: every top-level entry a build file names in a literal (an element text such as
  ``<configLocation>checkstyle.xml</configLocation>``, ``${project.basedir}/config/x``, or a
  Gradle string ``"config/detekt.yml"``) is kept.
- Commands (RUNs of this stage and the command a container runs): ``mvn``/``mvnw``/
  ``gradle``/``gradlew`` are the build; ``mvn -f``/``gradle -p``/``-b`` naming another build
  file or directory than the root's (``-f pom.xml`` and ``-p .`` are fine) are refused;
  make and friends, a script from the context, and ``.``/``*`` arguments of other programs
  are refused (what they read cannot be known); a RUN that cannot be split into commands
  is refused; no build-tool run at all is refused. ``-DskipTests`` changes nothing: ``src/``
  is copied whole either way (tests and resources live there).
- ``target/`` and ``build/`` (outputs) are never kept because a build file names them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.plans.copy.common import WRAPPERS, build_commands, foreign_command_problem
from hardener.repo_facts import read_text
from hardener.why import Why

if TYPE_CHECKING:
    from hardener.plans.copy.step import Step

MAVEN_MANIFESTS = ("pom.xml", ".mvn", "mvnw")
GRADLE_FILES = ("settings.gradle.kts", "settings.gradle", "build.gradle.kts", "build.gradle", "gradle.properties",
                "gradle.lockfile", "gradle", "gradlew")
JAVA_MANIFESTS = MAVEN_MANIFESTS + GRADLE_FILES
_TOOLS = frozenset({"mvn", "mvnw", "gradle", "gradlew"})
_DEFAULT_TARGETS = frozenset({"pom.xml", "build.gradle", "build.gradle.kts", ".", ""})  # -f/-p naming the default
_DYNAMIC = re.compile(r"\bfile\s*\(|listFiles|fileTree|\.forEach\b|\.each\b|projectDir\s*=|\brootDir\b|walk")


def is_java_build(argv: list[str]) -> bool:
    """True when a command runs Maven or Gradle (directly or through its wrapper)."""
    while argv and (re.match(r"[A-Za-z_]\w*=", argv[0]) or argv[0] in WRAPPERS):
        argv = argv[1:]
    return bool(argv) and argv[0].rsplit("/", 1)[-1] in _TOOLS


def java_needs(directory: Path, paths: frozenset[str], steps: list[Step]) -> set[str] | Why:
    """Top-level entries a Maven or Gradle build needs, or why they cannot be known."""
    tops = {p for p in paths if "/" not in p}
    dirs = {p.split("/")[0] for p in paths if "/" in p}
    used: set[str] = set()
    for found in build_commands(steps):
        if isinstance(found, Why):
            return found
        step, cwd, argv, _assigned = found
        why = _command(argv, step, cwd, used, tops | dirs) if argv else None
        if why:
            return Why(why)
    if not used & _TOOLS:
        return Why("no mvn/gradle build in this stage: what it compiles is unknown")
    maven = "pom.xml" in tops and used & {"mvn", "mvnw"}
    needed = _maven(directory, tops | dirs) if maven else _gradle(directory, tops | dirs)
    if isinstance(needed, Why):
        return needed
    needed |= {w for w in ("mvnw", "gradlew") if w in used and w in tops}
    if "mvnw" in needed and ".mvn" in dirs:
        needed.add(".mvn")
    return needed


def _command(argv: list[str], step: Step, cwd: str | None, used: set[str], tops: set[str]) -> str | None:
    where = "the command" if step.keyword == "CMD" else f"the RUN at line {step.line}"
    name = argv[0].rsplit("/", 1)[-1]
    if name in _TOOLS:
        used.add(name)
        for i, arg in enumerate(argv[1:], 1):
            flag, eq, value = arg.partition("=")
            if flag not in ("-f", "--file", "-p", "--project-dir", "-b", "--build-file"):
                continue
            value = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            if cwd != "" or value.removeprefix("./") not in _DEFAULT_TARGETS:
                return f"{where} runs {name} {flag} {value}: another build file or directory is not followed"
        return None
    if step.keyword == "CMD":
        return None  # java -jar, a shell, …: they do not build anything
    return foreign_command_problem(argv, step, cwd, tops, where, ("make", "gmake", "just", "task", "ant"))


def _maven(directory: Path, tops: set[str]) -> set[str] | Why:
    text = read_text(directory / "pom.xml")
    if not text.strip():
        return Why("pom.xml is empty or cannot be read")
    need = {"pom.xml"} | {d for d in (".mvn", "src") if d in tops}
    for rel in re.findall(r"<relativePath>\s*([^<\s]+)\s*</relativePath>", text):
        if rel.startswith(".."):
            return Why(f"pom.xml's parent ({rel}) is outside the build context")
    for module in re.findall(r"<module>\s*([^<]+?)\s*</module>", text):
        top = module.strip("./").split("/")[0] if not module.startswith("..") else ""
        if not top or top not in tops:
            return Why(f"the module {module!r} of pom.xml is not in the build context")
        need.add(top)
    words = re.findall(r">\s*([^<>\s]+)\s*<", text)
    return need | _named(words, tops)


def _gradle(directory: Path, tops: set[str]) -> set[str] | Why:
    need = {f for f in GRADLE_FILES if f in tops and f != "gradlew"} | {d for d in ("buildSrc", "src") if d in tops}
    if not need & {"build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"}:
        return Why("no build.gradle or settings.gradle at the context root")
    settings = next((n for n in ("settings.gradle.kts", "settings.gradle") if n in tops), None)
    text = _strip_comments(read_text(directory / settings)) if settings else ""
    if _DYNAMIC.search(text):
        return Why(f"{settings} computes its projects (file trees, loops): they cannot be known")
    for call in re.findall(r"\binclude(?:Build)?\b\s*\(?([^\n)]*)", text):
        words = re.findall(r"\"([^\"$]*)\"|'([^']*)'", call)
        rest = re.sub(r"\"[^\"$]*\"|'[^']*'|[\s,]", "", call)
        if rest or not words:
            return Why(f"{settings} includes projects by a computed name ({call.strip()!r})")
        for word in (a or b for a, b in words):
            top = word.lstrip(":").replace(":", "/").removeprefix("./").split("/")[0]
            if word.startswith("..") or top not in tops:
                return Why(f"{settings} includes {word!r}, which is not in the build context")
            need.add(top)
    literals: list[str] = []
    for name in ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"):
        source = _strip_comments(read_text(directory / name))
        literals += [a or b for a, b in re.findall(r"\"([^\"$]*)\"|'([^']*)'", source)]
    return need | _named(literals, tops)


def _named(words: list[str], tops: set[str]) -> set[str]:
    """Top-level entries that build-file literals name by relative path."""
    found = set()
    for word in words:
        word = re.sub(r"^\$\{(project\.basedir|basedir|maven\.multiModuleProjectDirectory)\}/", "", word)
        top = word.removeprefix("./").split("/")[0]
        if top in tops and top not in ("target", "build"):
            found.add(top)
    return found


def _strip_comments(source: str) -> str:
    return re.sub(r"(?m)^\s*//[^\n]*", "", re.sub(r"(?s)/\*.*?\*/", "", source))
