"""Which test/doc/dev files leave the build context (plans/copy/devfiles.py, pybackend.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.dockerfile.doc import DockerfileDoc
from hardener.plans.copy.devfiles import GO, PIP, dev_plan
from hardener.plans.copy.pybackend import backend_reads
from hardener.why import Why

GO_TREE = {
    "go.mod": "module example.com/svc\n\ngo 1.21\n",
    "main.go": "package main\n\nfunc main() {}\n",
    "pkg/a/a.go": "package a\n",
    "pkg/a/a_test.go": "package a\n",
    "pkg/a/testdata/x.txt": "x\n",
}
SRC_LAYOUT = ('[build-system]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "app"\nversion = "1"\n'
              '[tool.setuptools.packages.find]\nwhere = ["src"]\n')
PY_TREE = {"pyproject.toml": SRC_LAYOUT, "src/app/__init__.py": "", "tests/test_a.py": "", "docs/index.md": "",
           "requirements-dev.txt": "pytest\n"}


def tree(root: Path, files: dict[str, str]) -> list[str]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    return found


def plan(root: Path, files: dict[str, str], dockerfile: str) -> tuple[dict[str, str], list[str]]:
    paths = tree(root, files)
    result = dev_plan({"Dockerfile": DockerfileDoc.load(dockerfile.encode(), "Dockerfile")}, root, paths, {})
    return {e.pattern: e.reason for e in result.exclusions}, [s[0] for s in result.stays]


@pytest.mark.parametrize(("files", "dockerfile", "excluded", "stays"), [
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go build -o /a .\nCMD [\"/a\"]\n",
                 {"**/*_test.go": GO, "**/testdata": GO}, "", id="go-build"),
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go mod download && go install ./...\n",
                 {"**/*_test.go": GO, "**/testdata": GO}, "", id="go-install-after-download"),
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go vet ./... && go build .\n",
                 {}, "runs go vet", id="go-vet-keeps"),
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go generate ./... && go build .\n",
                 {}, "runs go generate", id="go-generate-keeps"),
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go build .\nCMD go test ./...\n",
                 {}, "the command runs go test", id="go-test-in-cmd-keeps"),
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN ./build.sh\n",
                 {}, "no `go build`", id="go-unknown-build-keeps"),
    pytest.param(GO_TREE, "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go build . && cp -r . /out\n",
                 {}, "whole copied tree", id="go-copy-of-tree-keeps"),
    pytest.param(PY_TREE, "FROM python\nWORKDIR /app\nCOPY . /app\nRUN pip install --no-cache-dir .\n",
                 {"tests": PIP, "docs": PIP, "requirements-dev.txt": PIP}, "", id="pip-install-dot"),
    pytest.param(PY_TREE, "FROM python\nCOPY . /app\nRUN python -m pip install /app\n",
                 {"tests": PIP, "docs": PIP, "requirements-dev.txt": PIP}, "", id="pip-install-abs-dest"),
    pytest.param({**PY_TREE, ".github/workflows/ci.yml": "on: push\n"},
                 "FROM python\nWORKDIR /app\nCOPY . /app\nRUN pip install .\n",
                 {"tests": PIP, "docs": PIP, "requirements-dev.txt": PIP, ".github": PIP}, "", id="pip-ci-config"),
    pytest.param(PY_TREE, "FROM python\nWORKDIR /app\nCOPY . .\nRUN pip wheel -w /w .\n",
                 {"tests": PIP, "docs": PIP, "requirements-dev.txt": PIP}, "", id="pip-wheel"),
    pytest.param(PY_TREE, "FROM python\nWORKDIR /app\nCOPY . .\nRUN pip install . && python -m pytest\n",
                 {}, "runs the tests", id="python-m-pytest-keeps"),
    pytest.param(PY_TREE, "FROM python\nWORKDIR /app\nCOPY . .\nRUN pip install . && mkdocs build\n",
                 {}, "builds the docs", id="mkdocs-keeps"),
    pytest.param(PY_TREE, "FROM python\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n",
                 {}, "no `go build` or `pip install .`", id="pip-requirements-only-keeps"),
    pytest.param({"tests/t.py": "", "main.py": ""}, "FROM python\nCOPY . .\nRUN pip install -e .\n",
                 {}, "", id="no-manifest-flat-auto"),
    pytest.param({"a.txt": ""}, "FROM python\nCOPY . .\nRUN pip install .\n", {}, "", id="nothing-to-exclude"),
])
def test_dev_plan(files: dict[str, str], dockerfile: str, excluded: dict[str, str], stays: str, tmp_path: Path) -> None:
    got, why = plan(tmp_path, files, dockerfile)
    if files.get("tests/t.py") is not None:  # setuptools' flat auto-discovery never packages tests/
        assert got == {"tests": PIP} and why == []
        return
    assert got == excluded
    assert (stays in why[0]) if stays else why == []


def test_every_copy_of_the_context_must_agree(tmp_path: Path) -> None:
    paths = tree(tmp_path, GO_TREE)
    docs = {name: DockerfileDoc.load(text.encode(), name) for name, text in {
        "Dockerfile": "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go build .\n",
        "Dockerfile.test": "FROM golang\nWORKDIR /s\nCOPY . .\nRUN go test ./...\n"}.items()}
    result = dev_plan(docs, tmp_path, paths, {})
    assert result.exclusions == () and "go test" in result.stays[0][0] and result.stays[0][1] == "Dockerfile.test"


def test_a_narrowed_copy_that_keeps_none_of_them_constrains_nothing(tmp_path: Path) -> None:
    paths = tree(tmp_path, {**PY_TREE, "server.py": ""})
    doc = DockerfileDoc.load(b"FROM python\nWORKDIR /app\nCOPY . .\nRUN make\nCMD python server.py\n", "Dockerfile")
    assert dev_plan({"Dockerfile": doc}, tmp_path, paths, {("Dockerfile", 3): frozenset({"server.py"})}).stays == ()
    assert dev_plan({"Dockerfile": doc}, tmp_path, paths, {}).stays != ()


HATCH = '[build-system]\nbuild-backend = "hatchling.build"\n[project]\nname = "my-app"\n'


@pytest.mark.parametrize(("files", "reads"), [
    pytest.param({"pyproject.toml": SRC_LAYOUT, "src/app/__init__.py": ""}, {"src"}, id="setuptools-find-where-src"),
    pytest.param({"pyproject.toml": '[build-system]\nbuild-backend = "setuptools.build_meta"\n'
                  '[tool.setuptools.packages.find]\nexclude = ["tests*"]\n', "app/__init__.py": "",
                  "tests/__init__.py": ""}, {"app"}, id="setuptools-find-exclude"),
    pytest.param({"pyproject.toml": '[build-system]\nbuild-backend = "setuptools.build_meta"\n'
                  '[tool.setuptools.packages.find]\n', "app/__init__.py": "", "tests/x.py": ""},
                 {"app", "tests"}, id="setuptools-find-namespaces-takes-tests"),
    pytest.param({"pyproject.toml": '[build-system]\nbuild-backend = "setuptools.build_meta"\n'
                  '[tool.setuptools]\npackages = ["app", "app.sub"]\n', "app/__init__.py": ""}, {"app"},
                 id="setuptools-packages-list"),
    pytest.param({"pyproject.toml": '[build-system]\nbuild-backend = "setuptools.build_meta"\n[project]\n'
                  'readme = "docs/README.md"\n', "app/__init__.py": "", "docs/README.md": ""},
                 {"app", "docs"}, id="readme-under-docs-is-read"),
    pytest.param({"setup.py": "from setuptools import setup, find_packages\nsetup(packages=find_packages("
                  "exclude=['tests']))\n", "app/__init__.py": "", "tests/__init__.py": ""}, {"app"},
                 id="setup-py-literal-find"),
    pytest.param({"setup.py": "from setuptools import setup\nsetup(packages=['app'])\n", "app/__init__.py": ""},
                 {"app"}, id="setup-py-literal-list"),
    pytest.param({"setup.py": "from setuptools import setup\nsetup(**CONFIG)\n"}, None, id="setup-py-kwargs"),
    pytest.param({"setup.cfg": "[options]\npackages = find:\n[options.packages.find]\nwhere = src\n",
                  "src/app/__init__.py": ""}, {"src"}, id="setup-cfg-where"),
    pytest.param({"pyproject.toml": HATCH, "src/my_app/__init__.py": "", "tests/t.py": ""}, {"src"}, id="hatch-default"),
    pytest.param({"pyproject.toml": HATCH + '[tool.hatch.build.targets.wheel]\npackages = ["lib/my"]\n',
                  "lib/my/__init__.py": ""}, {"lib"}, id="hatch-packages"),
    pytest.param({"pyproject.toml": HATCH.replace("my-app", "other")}, None, id="hatch-unknown"),
    pytest.param({"pyproject.toml": '[build-system]\nbuild-backend = "flit_core.buildapi"\n[project]\nname = "fl"\n',
                  "fl.py": ""}, {"fl.py"}, id="flit-module"),
    pytest.param({"pyproject.toml": '[build-system]\nbuild-backend = "maturin"\n'}, None, id="unknown-backend"),
])
def test_backend_reads(files: dict[str, str], reads: set[str] | None, tmp_path: Path) -> None:
    tops = {p.split("/", 1)[0] for p in tree(tmp_path, files)}
    got = backend_reads(tmp_path, tops)
    assert isinstance(got, Why) if reads is None else got == reads
