"""Which top-level context entries `pip install .` (or `pip wheel .`) reads, from the build
backend's own configuration: setuptools (pyproject `[tool.setuptools]`, setup.cfg, a literal
setup.py), hatch, poetry and flit.

The answer is the set of top-level entries the wheel's packages come from plus the files the
configuration names (readme, dynamic dependency files, package data), or a Why when the
backend or its configuration cannot be read as data (an unknown backend, a setup.py that
computes its arguments). Used by devfiles.py to decide whether `tests/` and `docs/` may leave
the build context.
"""
from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path
from typing import Any

from hardener.repo_facts import read_text
from hardener.why import Why

# setuptools' flat-layout auto-discovery never takes these (setuptools.discovery.FlatLayoutPackageFinder)
_FLAT_EXCLUDED = frozenset({"ci", "bin", "debian", "doc", "docs", "documentation", "manpages", "news",
                            "newsfragments", "changelog", "test", "tests", "unit_test", "unit_tests", "example",
                            "examples", "scripts", "tools", "util", "utils", "python", "build", "dist", "venv",
                            "env", "requirements", "tasks", "fabfile", "site_scons", "benchmark", "benchmarks",
                            "exercise", "exercises", "htmlcov"})


def backend_reads(directory: Path, tops: set[str]) -> set[str] | Why:
    """The top-level entries `pip install .` reads (beyond the manifests), or why unknown."""
    project = _toml(directory / "pyproject.toml") if "pyproject.toml" in tops else {}
    if project is None:
        return Why("pyproject.toml cannot be read as TOML")
    backend = str(project.get("build-system", {}).get("build-backend", "setuptools.build_meta:__legacy__"))
    named = _named_files(project)
    tool = project.get("tool", {})
    if backend.startswith("setuptools"):
        found = _setuptools(directory, tops, tool.get("setuptools", {}))
    elif backend.startswith("hatchling"):
        found = _hatch(directory, tops, tool.get("hatch", {}), project)
    elif backend.startswith("poetry"):
        found = _poetry(directory, tops, tool.get("poetry", {}), project)
    elif backend.startswith("flit"):
        found = _flit(directory, tops, tool.get("flit", {}), project)
    else:
        return Why(f"the build backend {backend} is not one whose configuration hardener reads")
    return found if isinstance(found, Why) else found | {n for n in named if n in tops}


def _toml(path: Path) -> dict[str, Any] | None:
    try:
        return tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError:
        return None


def _named_files(project: dict[str, Any]) -> set[str]:
    """Top-level entries of the files pyproject names (readme, license, dynamic file lists)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and ("/" in value or "." in value) and " " not in value:
            found.add(value.removeprefix("./").split("/", 1)[0])
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    meta = project.get("project", {})
    walk(meta.get("readme"))
    walk(meta.get("license"))
    walk(project.get("tool", {}).get("setuptools", {}).get("dynamic"))
    return found


def _matching(tops: set[str], directory: Path, include: list[str], exclude: list[str], namespaces: bool) -> set[str]:
    return {t for t in tops if (directory / t).is_dir() and (namespaces or (directory / t / "__init__.py").is_file())
            and any(fnmatch.fnmatchcase(t, p) for p in include) and not any(fnmatch.fnmatchcase(t, p) for p in exclude)}


def _setuptools(directory: Path, tops: set[str], conf: dict[str, Any]) -> set[str] | Why:
    cfg = _setup_cfg(directory) if "setup.cfg" in tops else None
    if "setup.py" in tops:
        literal = _setup_py(read_text(directory / "setup.py"), directory, tops)
        if literal is not None:
            return literal
    packages = conf.get("packages")
    if isinstance(packages, list):
        return _roots([str(p) for p in packages], conf.get("package-dir", {}), tops)
    if isinstance(packages, dict) and "find" in packages:
        find = packages["find"]
        return _find(directory, tops, find.get("where", ["."]), find.get("include", ["*"]),
                     find.get("exclude", []), bool(find.get("namespaces", True)))
    if cfg is not None:
        return cfg
    return _auto(directory, tops)


def _auto(directory: Path, tops: set[str]) -> set[str]:
    """setuptools' auto-discovery: src-layout, else a flat layout that skips tests, docs, …"""
    if "src" in tops and (directory / "src").is_dir():
        return {"src"}
    return {t for t in tops if (directory / t).is_dir() and t not in _FLAT_EXCLUDED and not t.startswith((".", "_"))}


def _find(directory: Path, tops: set[str], where: list[str], include: list[str], exclude: list[str],
          namespaces: bool) -> set[str]:
    found: set[str] = set()
    for base in where:
        base = base.strip().strip("/") or "."
        if base != ".":
            found.add(base.split("/", 1)[0])  # everything comes from below it
            continue
        patterns = [p.split(".", 1)[0] for p in include]
        found |= _matching(tops, directory, patterns, [p for p in exclude if "." not in p.rstrip(".*")], namespaces)
    return found


def _roots(packages: list[str], package_dir: dict[str, str], tops: set[str]) -> set[str]:
    root = package_dir.get("", "").strip("/")
    found = set()
    for name in packages:
        first = name.split(".", 1)[0]
        mapped = package_dir.get(first, f"{root}/{first}" if root else first)
        found.add(mapped.strip("/").split("/", 1)[0])
    return found & tops | ({root.split("/", 1)[0]} if root else set())


def _setup_cfg(directory: Path) -> set[str] | Why | None:
    import configparser  # here: only a setup.cfg needs it, and it is a few ms to import

    parser = configparser.ConfigParser()
    try:
        parser.read_string(read_text(directory / "setup.cfg"))
    except configparser.Error:
        return Why("setup.cfg cannot be parsed")
    if not parser.has_option("options", "packages"):
        return None
    value = parser.get("options", "packages").strip()
    tops = {p.name for p in directory.iterdir()}
    if value.startswith("find"):
        def opt(name: str, default: list[str]) -> list[str]:
            raw = parser.get("options.packages.find", name, fallback="")
            return [w.strip() for w in raw.replace(",", "\n").split() if w.strip()] or default
        return _find(directory, tops, opt("where", ["."]), opt("include", ["*"]), opt("exclude", []),
                     value.startswith("find_namespace"))
    package_dir = parser.get("options", "package_dir", fallback="").strip()
    root = {"": package_dir.split("=", 1)[-1].strip()} if package_dir else {}
    return _roots([w.strip() for w in value.replace(",", "\n").split() if w.strip()], root, tops)


def _setup_py(text: str, directory: Path, tops: set[str]) -> set[str] | Why | None:
    """``packages=`` of a literal setup.py (a list, or find_packages with literal arguments);
    None when setup() does not pass it, a Why when it computes it."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return Why("setup.py cannot be parsed")
    call = next((n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == "setup"), None)
    if call is None:
        return Why("setup.py does not call setup() directly")
    if any(k.arg is None for k in call.keywords):
        return Why("setup.py passes setup() computed arguments (**kwargs)")
    packages = next((k.value for k in call.keywords if k.arg == "packages"), None)
    if packages is None:
        return None
    try:
        return _roots([str(p) for p in ast.literal_eval(packages)], _literal_dir(call), tops)
    except ValueError:
        pass
    if isinstance(packages, ast.Call) and _name(packages.func) in ("find_packages", "find_namespace_packages"):
        try:
            args = {k.arg: ast.literal_eval(k.value) for k in packages.keywords}
            if packages.args:
                args["where"] = ast.literal_eval(packages.args[0])
        except ValueError:
            return Why("setup.py calls find_packages() with computed arguments")
        return _find(directory, tops, [str(args.get("where", "."))], list(args.get("include", ["*"])),
                     list(args.get("exclude", [])), _name(packages.func) == "find_namespace_packages")
    return Why("setup.py computes its package list")


def _literal_dir(call: ast.Call) -> dict[str, str]:
    value = next((k.value for k in call.keywords if k.arg == "package_dir"), None)
    try:
        found = ast.literal_eval(value) if value is not None else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _project_dirs(directory: Path, tops: set[str], project: dict[str, Any]) -> set[str]:
    """The directory named like the project (``my-app`` -> ``my_app``), flat or under src/."""
    name = str(project.get("project", {}).get("name") or project.get("tool", {}).get("poetry", {}).get("name", ""))
    module = name.replace("-", "_").replace(".", "_").lower()
    if "src" in tops and (directory / "src" / module).exists():
        return {"src"}
    return {t for t in tops if t.removesuffix(".py").lower() == module}


def _hatch(directory: Path, tops: set[str], conf: dict[str, Any], project: dict[str, Any]) -> set[str] | Why:
    wheel = conf.get("build", {}).get("targets", {}).get("wheel", {})
    named = [*wheel.get("packages", []), *wheel.get("only-include", []), *wheel.get("include", []),
             *conf.get("build", {}).get("packages", []), *conf.get("build", {}).get("include", [])]
    if named:
        return {str(n).removeprefix("/").split("/", 1)[0] for n in named} & tops
    found = _project_dirs(directory, tops, project)
    return found or Why("hatch finds no package named like the project: its wheel's files are unknown")


def _poetry(directory: Path, tops: set[str], conf: dict[str, Any], project: dict[str, Any]) -> set[str] | Why:
    packages = conf.get("packages")
    if packages:
        found = {str(p.get("from") or p.get("include", "")).split("/", 1)[0] for p in packages if isinstance(p, dict)}
        includes = [i if isinstance(i, str) else i.get("path", "") for i in conf.get("include", [])]
        return (found | {str(i).split("/", 1)[0] for i in includes}) & tops
    found = _project_dirs(directory, tops, project)
    return found or Why("poetry finds no package named like the project: its wheel's files are unknown")


def _flit(directory: Path, tops: set[str], conf: dict[str, Any], project: dict[str, Any]) -> set[str] | Why:
    module = conf.get("module", {}).get("name")
    if module:
        name = str(module).split(".", 1)[0]
        return {"src"} if "src" in tops and (directory / "src" / name).exists() else {t for t in tops if t.removesuffix(".py") == name}
    found = _project_dirs(directory, tops, project)
    return found or Why("flit finds no module named like the project")
