"""pyast: the stdlib ``ast`` readers give libcst's answer exactly, or step aside for libcst."""
from __future__ import annotations

import libcst as cst
import pytest

from hardener import pyast, repo_facts
from hardener.knowledge import writes_python
from hardener.why import Why

SNIPPETS = {
    "plain": 'import os\nopen("data/x.json")\n',
    "docstring": '"""Docs."""\nX = "./static/app.css"\n',
    "implicit-concatenation": 'X = ("data/" "x.json")\nY = "a" \\\n    "templates"\n',
    "concatenation-over-lines": 'X = (\n    "uploads"  # a comment\n    \'/y\'\n)\n',
    "escaped-quotes": 'X = "a\\"b"\nY = \'it\\\'s\'\nZ = r"C:\\data"\n',
    "triple-quoted": "X = '''one ' two'''\nY = \"\"\"a \"quoted\" word\"\"\"\n",
    "f-string": 'name = "media"\nX = f"{name}/x"\nY = "static" f"/{name}" "/z"\n',
    "f-string-nested-literal": 'X = f"{d[\'key\']}"\nY = f"{\'a\' \'b\'}"\n',
    "f-string-format-spec": 'X = f"{x:>10}" "templates"\nY = f"{x:{\'>\'}{w}}"\n',
    "bytes": 'X = b"data"\nY = b"a" b"b"\nZ = "str"\n',
    "unicode-escape": 'X = "caf\\u00e9"\nY = u"data"\n',
    "non-ascii-text": 'X = "données/x"\nimport flask\n',
    "non-ascii-name": 'import ｆｌａｓｋ\nx = ｆｌａｓｋ.Flask("app")\n',
    "relative-import": 'from . import views\nfrom .models import User\nfrom app import create\n',
    "dynamic-import": 'import importlib\nm = importlib.import_module("plugins." + name)\n__import__("x")\n',
    "decorator-order": '@app.route(__import__("x"))\ndef f():\n    import django\n',
    "dict-order": 'X = {__import__("a"): 1, "k": __import__("b")}\nimport pkgutil\n',
    "crlf": 'import os\r\nX = ("a"\r\n     "b")\r\n',
    "tabs-and-formfeed": 'if x:\n\tX = "a" "b"\n\x0cY = "c"\n',
    "match": 'match x:\n    case "data":\n        pass\n',
    "python2": 'print "hello"\n',
    "latin-1": '# -*- coding: latin-1 -*-\nX = "caf\xe9"\n',
}


def _libcst(source: bytes) -> tuple[list[str], list[str]] | str:
    try:
        return repo_facts._imports_and_literals(cst.parse_module(source))
    except cst.ParserSyntaxError:
        return "ParserSyntaxError"


@pytest.mark.parametrize("name", list(SNIPPETS))
def test_imports_and_literals_are_libcsts(name):
    source = SNIPPETS[name].encode("latin-1" if name == "latin-1" else "utf-8")
    found = repo_facts._ast_imports_and_literals(source)
    expected = _libcst(source)
    if found is None:  # libcst decides: only when ast cannot be sure
        assert name in ("python2", "non-ascii-name")
        return
    assert not isinstance(expected, str)
    assert found[0] == expected[0]  # names in libcst's order: the first dynamic one is reported
    assert sorted(found[1]) == sorted(expected[1])


def test_concatenated_parts_are_separate_literals():
    found = repo_facts._ast_imports_and_literals(b'X = ("data/" "x.json")\n')
    assert found is not None and sorted(found[1]) == ["data/", "x.json"]


def test_python_needs_reads_the_same_with_ast(tmp_path, monkeypatch):
    (tmp_path / "app.py").write_text('import helpers\nfrom flask import Flask\nX = "data" "/seed.json"\n')
    (tmp_path / "helpers.py").write_text('CONFIG = f"{1}" "config.toml"\n')
    for name in ("data", "templates", "config.toml", "other"):
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_text("")
    tops = {"app.py", "helpers.py", "data", "templates", "config.toml", "other"}
    fast = repo_facts.python_needs(tmp_path, "app.py", tops)
    monkeypatch.setattr(repo_facts, "_ast_imports_and_literals", lambda source: None)
    assert repo_facts.python_needs(tmp_path, "app.py", tops) == fast
    assert fast.entries == {"helpers.py", "data", "templates", "config.toml"}


def test_python_needs_names_libcsts_parse_error(tmp_path):
    (tmp_path / "app.py").write_text('print "python 2"\n')
    found = repo_facts.python_needs(tmp_path, "app.py", {"app.py"})
    assert found.dynamic == "cannot read app.py: ParserSyntaxError"


WRITES = [
    'open("out.txt", "w")', 'open("in.txt")', 'open("x", "r" "w")', 'open("x", mode=("a"))',
    'import sqlite3\nsqlite3.connect(":memory:")', 'logging.basicConfig(level=1)',
    'logging.basicConfig(filename="x.log")', 'x.FileHandler("a")', 'os.makedirs("d")',
    'tempfile.mkstemp()', 'tempfile.mkstemp(dir="s")', 'p.mkdir()', 'Path("x").open("wb")',
    'Path("x").open()', 'os.open("/tmp/x", os.O_RDONLY)', 'open(p, b"w")', 'open[0](p, "w")',
    'open(p)(q, "w")', '"x".touch()', 'True.write_text("x")', 'f"{open(p, \'w\')}"',
    'from flask import Flask\n\napp = Flask(__name__)\n', 'print "python 2"', 'def f(x=open("a", "w")): pass',
]


@pytest.mark.parametrize("code", WRITES)
def test_write_sites_prefilter_never_hides_a_site(code, monkeypatch):
    """ast's "no write site" holds for libcst too; the result is the same with and without it."""
    source = code.encode()
    may = writes_python._may_write(source)
    fast = writes_python.write_sites(source)
    monkeypatch.setattr(writes_python, "_may_write", lambda source: True)
    full = writes_python.write_sites(source)
    assert fast == full or (not may and fast == [] and isinstance(full, Why))
    if not may:
        assert full == [] or isinstance(full, Why)


def test_write_sites_prefilter_skips_libcst_for_a_plain_app():
    assert not writes_python._may_write(b"from flask import Flask\n\napp = Flask(__name__)\n")
    assert writes_python._may_write(b'open("x", "w")')
    assert writes_python._may_write(b'print "python 2"')  # ast cannot parse it: libcst says why


def test_source_segment_counts_lines_as_the_parser_does():
    source = b'a = 1\rb = "x\\u00e9"\r\nc = "\xc3\xa9t\xc3\xa9"\x0c\nd = 2\n'
    tree = pyast.parse(source)
    assert tree is not None
    text = pyast.Source(source)
    values = [text.segment(node.value) for node in tree.body]  # type: ignore[attr-defined]
    assert values == ["1", '"x\\u00e9"', '"été"', "2"]
