"""Imports run one way: transforms use the engine; nothing imports a transform but the registry.

The rule (ARCHITECTURE.md): a module under ``transforms/`` may import ``hardener.*`` engine
modules, never another transform module; an engine module never imports a transform module
(it may look the registry up: ``from hardener.transforms import REGISTRY, load``). The test reads
every import statement, lazy ones inside functions included, so a helper one transform
lends another cannot creep back.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRANSFORMS = "hardener.transforms"
MAX_TOP_LEVEL_MODULES = 25


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "transforms":
        parts = ["hardener", *parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every module or name an import statement in ``path`` reaches."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def transform_modules() -> set[str]:
    return {f"{TRANSFORMS}.{p.stem}" for p in (ROOT / "transforms").glob("*.py") if p.stem != "__init__"}


def violations(paths: list[Path]) -> list[str]:
    transforms = transform_modules()
    out = []
    for path in paths:
        me = module_name(path)
        for line, name in imported(path):
            target = next((t for t in transforms if name == t or name.startswith(t + ".")), None)
            found = f"{path.relative_to(ROOT)}:{line}: imports {target}"
            if target is not None and target != me and found not in out:
                out.append(found)
    return out


def test_no_transform_imports_another_transform() -> None:
    paths = [p for p in (ROOT / "transforms").glob("*.py") if p.name != "__init__.py"]
    assert violations(paths) == []


def test_the_engine_never_imports_a_transform_module() -> None:
    paths = list((ROOT / "hardener").rglob("*.py"))
    assert violations(paths) == []


def test_the_registry_is_the_only_importer_of_transforms() -> None:
    """The registry imports them by the names in its manifest, when a run needs them."""
    from hardener.transforms import MANIFEST

    assert transform_modules() <= {f"{TRANSFORMS}.{entry.module}" for entry in MANIFEST}


@pytest.mark.parametrize("source, expected", [
    pytest.param("from hardener.transforms.cap_drop import x\n", ["imports hardener.transforms.cap_drop"], id="from"),
    pytest.param("def f():\n    import hardener.transforms.cap_drop\n", ["imports hardener.transforms.cap_drop"], id="lazy"),
    pytest.param("from hardener.transforms import cap_drop\n", ["imports hardener.transforms.cap_drop"], id="name"),
    pytest.param("from hardener.transforms import REGISTRY\n", [], id="registry-lookup"),
    pytest.param("from hardener.compose.anchors import per_service\n", [], id="engine"),
])
def test_the_check_sees_every_import_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           source: str, expected: list[str]) -> None:
    fake_root = tmp_path
    (fake_root / "transforms").mkdir()
    (fake_root / "transforms" / "cap_drop.py").write_text("")
    (fake_root / "hardener").mkdir()
    module = fake_root / "hardener" / "helper.py"
    module.write_text(source)
    monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
    found = violations([module])
    assert [v.split(": ", 1)[1] for v in found] == expected


def test_few_modules_sit_directly_in_the_package() -> None:
    top = sorted(p.name for p in (ROOT / "hardener").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
