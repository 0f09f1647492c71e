"""The transform contract, enforced: every module registered, ids and names unique,
documented with the fixed headings, and covered by a changing and an unchanged fixture."""
from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from conftest import ROOT

import hardener.transforms as package
from hardener.model import Applicability, Transform
from hardener.transforms import REGISTRY

FAMILIES = {"1": "images", "2": "users", "3": "context", "4": "structure", "5": "labels", "6": "compose runtime", "7": "compose networks"}


def test_every_module_is_registered():
    registered = {cls.__module__ for cls in REGISTRY}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        transforms = [v for v in vars(module).values()
                      if isinstance(v, type) and issubclass(v, Transform) and v is not Transform
                      and v.__module__ == module.__name__]
        assert transforms, f"{info.name} defines no transform"
        assert module.__name__ in registered, f"{info.name} is missing from REGISTRY"


def test_ids_and_names_unique_and_well_formed():
    ids = [c.id for c in REGISTRY]
    names = [c.name for c in REGISTRY]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    for cls in REGISTRY:
        assert re.fullmatch(r"HD[1-7]\d\d", cls.id), cls.id
        assert re.fullmatch(r"[a-z][a-z0-9-]+", cls.name), cls.name
        assert set(cls.targets) <= {"dockerfile", "compose"} and cls.targets
        assert isinstance(cls.applicability, Applicability)


@pytest.mark.parametrize("cls", REGISTRY, ids=lambda c: c.id)
def test_docstring_headings(cls):
    doc = cls.__doc__ or ""
    assert doc.strip().splitlines()[0].strip(), "first line is the summary"
    positions = [doc.find(f"## {h}") for h in Transform.DOC_HEADINGS]
    assert all(p >= 0 for p in positions), f"{cls.id} lacks a heading: {Transform.DOC_HEADINGS}"
    assert positions == sorted(positions), "headings out of order"


@pytest.mark.parametrize("cls", REGISTRY, ids=lambda c: c.id)
def test_fixtures_cover_changing_and_unchanged(cls):
    folder = ROOT / "fixtures" / f"{cls.id}-{cls.name}"
    cases = [p for p in folder.iterdir() if (p / "input").is_dir()] if folder.is_dir() else []
    if not cls.report_only:
        assert any((p / "expected").is_dir() for p in cases), f"{folder.name}: no changing case"
    else:
        assert any("refusals" in (p / "expected.report.json").read_text() for p in cases)
    assert any(not (p / "expected").exists() for p in cases), f"{folder.name}: no unchanged case"


def test_readme_lists_every_transform():
    """The README's transform table is the user's index: one row per registered transform,
    with its name and applicability (report-only transforms say `report`)."""
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| (HD\d{3}) \| `([\w-]+)` \| [^|]+ \| (\w+) \|", (ROOT / "README.md").read_text(), re.M)}
    for cls in REGISTRY:
        assert cls.id in rows, f"README.md has no row for {cls.id} {cls.name}"
        level = "report" if cls.report_only else cls.applicability.label
        assert rows[cls.id] == (cls.name, level), (cls.id, rows[cls.id])
    assert set(rows) == {cls.id for cls in REGISTRY}, set(rows) - {cls.id for cls in REGISTRY}


def test_manifest_rows_agree_with_their_classes():
    """The manifest is what a run reads before importing a transform: its id, name and kinds
    must be the class's own, or a run would skip or mis-select a transform."""
    from hardener.transforms import MANIFEST

    assert [(e.id, e.name, e.targets, e.cls) for e in MANIFEST] == \
        [(c.id, c.name, c.targets, c.__name__) for c in REGISTRY]
    assert [e.module for e in MANIFEST] == [c.__module__.rsplit(".", 1)[1] for c in REGISTRY]


def test_a_run_imports_only_the_transforms_it_needs(tmp_path):
    """Cold start: a run over Dockerfiles alone, or with --select, imports no other transform
    module (checked in a fresh interpreter, where nothing was imported before)."""
    import subprocess
    import sys

    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update\n")
    probe = (
        "import sys\n"
        "from hardener.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('hardener.transforms.')))\n"
    )

    def imported(*args):
        out = subprocess.run([sys.executable, "-c", probe, "diff", "--offline", "--no-color", *args],
                             capture_output=True, text=True, cwd=tmp_path, check=False)
        return eval(out.stdout.strip().splitlines()[-1])  # the list printed last

    from hardener.transforms import MANIFEST

    dockerfile_modules = sorted(e.module for e in MANIFEST if "dockerfile" in e.targets)
    assert imported("Dockerfile") == dockerfile_modules
    assert imported("--select", "HD402", "Dockerfile") == ["apt_hygiene"]
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.27\n")
    assert imported("compose.yaml") == sorted(e.module for e in MANIFEST if "compose" in e.targets)
