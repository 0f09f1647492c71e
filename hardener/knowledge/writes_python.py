"""Where a Python file writes, read from its syntax tree with libcst.

A write site is a call that creates or changes a file or directory: ``open(p, "w"|"a"|"x")``,
``sqlite3.connect``, ``os.makedirs``/``mkdir``, ``Path.write_*``/``mkdir``/``touch``,
logging file handlers, ``shelve``/``dbm``, ``tempfile`` with ``dir=``. Its path argument is
evaluated from literals, module names bound once, ``os.environ.get``/``getenv`` defaults,
``os.path.join``, ``Path /`` and ``__file__``; anything else is unknown and said so, never
guessed. Paths come back relative to a base: "abs", "cwd" (the working directory) or
"here" (the directory of the file itself).

libcst costs a tenth of a second to import and is slow to parse, and most modules have no
write site at all (a Flask app's ``app.py``). The stdlib ``ast`` reads such a module first:
when no call in it could be a write site by the same name and argument tests ``_site``
applies, there are none and libcst is not needed. Any other module, or one ``ast`` cannot
parse, is read with libcst exactly as before.
"""
from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass
from typing import Any

from hardener import pyast
from hardener.why import Why, WhyKind

Base = str  # "abs" | "cwd" | "here"


@dataclass(frozen=True)
class PyPath:
    base: Base
    rel: str  # "/"-joined; absolute when base is "abs"

    def join(self, part: str) -> PyPath:
        if part.startswith("/"):
            return PyPath("abs", part)
        return PyPath(self.base, posixpath.join(self.rel, part) if self.rel else part)

    def parent(self) -> PyPath:
        if self.base == "file":
            return PyPath("here", "")
        if self.rel in ("", ".") or self.rel.endswith(".."):
            return PyPath(self.base, posixpath.join(self.rel, ".."))
        return PyPath(self.base, posixpath.dirname(self.rel.rstrip("/")))


@dataclass(frozen=True)
class PySite:
    """One write site: ``path`` None means its path could not be resolved (``why`` says so)."""

    line: int
    call: str
    is_dir: bool
    path: PyPath | None
    why: str = ""
    env: str = ""  # the variable whose default gave the path: the deployment may set another


_FILE_WRITERS = {"sqlite3.connect": "sqlite3.connect", "shelve.open": "shelve.open", "dbm.open": "dbm.open",
                 "FileHandler": "logging.FileHandler", "RotatingFileHandler": "RotatingFileHandler",
                 "TimedRotatingFileHandler": "TimedRotatingFileHandler", "WatchedFileHandler": "WatchedFileHandler"}
_DIR_MAKERS = ("os.makedirs", "os.mkdir", "makedirs")
_PATH_METHODS_FILE = ("write_text", "write_bytes", "touch")
_TEMPFILE = ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "TemporaryDirectory")
_PASSTHROUGH = ("os.path.abspath", "os.path.realpath", "os.path.normpath", "Path", "pathlib.Path", "PurePath", "str")


def write_sites(source: bytes) -> list[PySite] | Why:
    """Every write site of a module, or why the module cannot be read.

    A module ``ast`` parses with no possible write site gives [] without libcst, also in the
    rare case libcst would refuse it (the caller reads [] and a Why alike: no facts)."""
    if not _may_write(source):
        return []
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except (cst.ParserSyntaxError, RecursionError, ValueError) as exc:
        return Why(f"does not parse ({type(exc).__name__})", WhyKind.UNKNOWN)
    names = _bindings(wrapper.module)
    sites: list[PySite] = []
    evaluator = _Evaluator(names)

    class Visitor(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def visit_Call(self, node: cst.Call) -> None:
            evaluator.env = []
            site = _site(node, evaluator)
            if site is not None:
                line = self.get_metadata(PositionProvider, node).start.line
                sites.append(PySite(line, *site, env=",".join(dict.fromkeys(evaluator.env))))

    wrapper.visit(Visitor())
    return sites


def _may_write(source: bytes) -> bool:
    """False only when ``ast`` parses ``source`` and no call in it passes the tests ``_site``
    makes before evaluating a path: then libcst would find no write site either. Names are
    compared the same way (``ast`` normalises non-ASCII identifiers, which can only add
    candidates, as every name tested is ASCII)."""
    tree = pyast.parse(source)
    if tree is None:
        return True  # libcst decides, and says why
    try:
        return any(isinstance(node, ast.Call) and _may_be_site(node) for node in ast.walk(tree))
    except RecursionError:  # a name nested thousands deep: whatever libcst does with it
        return True


def _may_be_site(node: ast.Call) -> bool:
    """``_site`` up to its path evaluation, on an ``ast`` call: True when it might return a site."""
    name = pyast.full_name(node.func) or ""
    short = name.rsplit(".", 1)[-1]
    args = [a for a in node.args if not isinstance(a, ast.Starred)]
    kwargs = {k.arg: k.value for k in node.keywords if k.arg is not None}
    if name in ("open", "io.open", "codecs.open"):
        return _may_write_mode(args[1] if len(args) > 1 else kwargs.get("mode"))
    if name == "logging.basicConfig" and "filename" in kwargs:
        return True
    if name in _FILE_WRITERS or short in _FILE_WRITERS and short.endswith("Handler"):
        return True
    if name in _DIR_MAKERS:
        return True
    if short in _TEMPFILE and "dir" in kwargs:
        return True
    if isinstance(node.func, ast.Attribute) and short in (*_PATH_METHODS_FILE, "mkdir", "open"):
        return short != "open" or _may_write_mode(args[0] if args else kwargs.get("mode"))
    return False


def _may_write_mode(mode: ast.expr | None) -> bool:
    """A mode libcst might read as writing: a string constant with w, a, x or +. (libcst also
    wants it to be one literal, not an implicit concatenation: that only narrows it.)"""
    return isinstance(mode, ast.Constant) and isinstance(mode.value, (str, bytes)) \
        and bool(set(str(mode.value)) & set("wax+"))


def _bindings(module: Any) -> dict[str, Any]:
    """Names assigned exactly once anywhere in the module (``DB = "data/app.db"``)."""
    import libcst as cst

    seen: dict[str, Any] = {}
    twice: set[str] = set()

    class Visitor(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    name = target.target.value
                    (twice.add(name) if name in seen else seen.__setitem__(name, node.value))

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if isinstance(node.target, cst.Name) and node.value is not None:
                name = node.target.value
                (twice.add(name) if name in seen else seen.__setitem__(name, node.value))

    module.visit(Visitor())
    return {k: v for k, v in seen.items() if k not in twice}


def _name(node: Any) -> str:
    from libcst.helpers import get_full_name_for_node

    return get_full_name_for_node(node) or ""


def _site(node: Any, ev: _Evaluator) -> tuple[str, bool, PyPath | None, str] | None:
    import libcst as cst

    name = _name(node.func)
    short = name.rsplit(".", 1)[-1]
    args = [a for a in node.args if a.keyword is None and not a.star]
    kwargs = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    if name in ("open", "io.open", "codecs.open"):
        mode = args[1].value if len(args) > 1 else kwargs.get("mode")
        if mode is None or not isinstance(mode, cst.SimpleString) or not set(str(mode.evaluated_value)) & set("wax+"):
            return None
        return _resolved(name, False, args[0].value if args else kwargs.get("file"), ev)
    if name == "logging.basicConfig" and "filename" in kwargs:
        return _resolved(name, False, kwargs["filename"], ev)
    if name in _FILE_WRITERS or short in _FILE_WRITERS and short.endswith("Handler"):
        target = args[0].value if args else kwargs.get("filename") or kwargs.get("database")
        if isinstance(target, cst.SimpleString) and target.evaluated_value == ":memory:":
            return None
        return _resolved(_FILE_WRITERS.get(name, name), False, target, ev)
    if name in _DIR_MAKERS:
        return _resolved(name, True, args[0].value if args else kwargs.get("name"), ev)
    if short in _TEMPFILE and "dir" in kwargs:
        return _resolved(name, True, kwargs["dir"], ev)
    if isinstance(node.func, cst.Attribute) and short in (*_PATH_METHODS_FILE, "mkdir", "open"):
        receiver = ev.eval(node.func.value)
        if receiver is None:
            return None  # not a path we know is a path: `.mkdir()` of anything else says nothing
        if short == "open":
            mode = args[0].value if args else kwargs.get("mode")
            if not isinstance(mode, cst.SimpleString) or not set(str(mode.evaluated_value)) & set("wax+"):
                return None
        return f"Path.{short}", short == "mkdir", receiver, ""
    return None


def _resolved(call: str, is_dir: bool, node: Any, ev: _Evaluator) -> tuple[str, bool, PyPath | None, str]:
    path = ev.eval(node) if node is not None else None
    if path is None:
        code = _code(node)
        return call, is_dir, None, f"{call}({code}) writes a path not known before run time"
    return call, is_dir, path, ""


def _code(node: Any) -> str:
    import libcst as cst

    if node is None:
        return "…"
    text = cst.Module(body=[]).code_for_node(node)
    return text if len(text) <= 40 else text[:37] + "..."


class _Evaluator:
    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names
        self.depth = 0
        self.env: list[str] = []

    def eval(self, node: Any) -> PyPath | None:
        if self.depth > 20:
            return None
        self.depth += 1
        try:
            return self._eval(node)
        finally:
            self.depth -= 1

    def _eval(self, node: Any) -> PyPath | None:
        import libcst as cst

        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            value = node.evaluated_value
            if not isinstance(value, str) or not value or "\n" in value or "{" in value:
                return None
            return PyPath("abs", value) if value.startswith("/") else PyPath("cwd", value.removeprefix("./"))
        if isinstance(node, cst.Name):
            if node.value == "__file__":
                return PyPath("file", "")
            bound = self.names.get(node.value)
            return self.eval(bound) if bound is not None else None
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
            left, right = self.eval(node.left), self.eval(node.right)
            return left.join(right.rel) if left is not None and right is not None and right.base != "here" else None
        if isinstance(node, cst.Attribute) and node.attr.value == "parent":
            inner = self.eval(node.value)
            return inner.parent() if inner is not None else None
        if isinstance(node, cst.Call):
            return self._call(node)
        return None

    def _call(self, node: Any) -> PyPath | None:
        import libcst as cst

        name = _name(node.func)
        args = [a.value for a in node.args if a.keyword is None and not a.star]
        if name in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
            if args and isinstance(args[0], cst.SimpleString):
                self.env.append(str(args[0].evaluated_value))
            return self.eval(args[1]) if len(args) > 1 else None
        if name in ("os.getcwd", "Path.cwd", "pathlib.Path.cwd"):
            return PyPath("cwd", "")
        if name in ("os.path.dirname", "dirname"):
            inner = self.eval(args[0]) if args else None
            return inner.parent() if inner is not None else None
        if name in ("os.path.join", "join") and args:
            return self._join(args)
        if name in _PASSTHROUGH and len(args) == 1:
            return self.eval(args[0])
        if name in ("Path", "pathlib.Path") and len(args) > 1:
            return self._join(args)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("resolve", "absolute") and not args:
            return self.eval(node.func.value)
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "joinpath" and args:
            return self._join([node.func.value, *args])
        return None

    def _join(self, parts: list[Any]) -> PyPath | None:
        current = self.eval(parts[0])
        for part in parts[1:]:
            value = self.eval(part)
            if current is None or value is None or value.base in ("here", "file"):
                return None
            current = current.join(value.rel)
        return current


def evaluate(source: bytes, name: str) -> PyPath | None:
    """The path a module binds ``name`` to (once), when it can be resolved (Django settings)."""
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    names = _bindings(module)
    return _Evaluator(names).eval(names[name]) if name in names else None


def sqlite_databases(source: bytes) -> list[PyPath]:
    """The files of the SQLite databases a Django settings module configures
    (``DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}``),
    where they can be resolved; SQLite writes the file and its journal beside it."""
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return []
    names = _bindings(module)
    databases = names.get("DATABASES")
    if not isinstance(databases, cst.Dict):
        return []
    found = []
    for element in databases.elements:
        config = element.value if isinstance(element, cst.DictElement) else None
        if not isinstance(config, cst.Dict):
            continue
        keys = {str(e.key.evaluated_value): e.value for e in config.elements
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)}
        engine = keys.get("ENGINE")
        if not isinstance(engine, cst.SimpleString) or not str(engine.evaluated_value).endswith("sqlite3"):
            continue
        name = keys.get("NAME")
        path = _Evaluator(names).eval(name) if name is not None else None
        if path is not None and path.rel not in (":memory:", ""):
            found.append(path)
    return found
