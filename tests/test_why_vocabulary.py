"""One vocabulary for "why not" (issue 16, item 3): the Why value, and a check that keeps
every other spelling out of hardener/ and transforms/:
- no return annotation holds a union of ``str`` with anything but None and Why (``T | str``):
  a reason that shares a return with a value is a ``Why`` (in ``str | Why`` the str is the
  value); a legitimate exception goes in ``ALLOWED`` with why it is not a "why not";
- no ``return``/``yield`` of a string literal starting with ``"!"`` or ``"refuse:"``, no
  ``"refuse:"`` literal at all, and no ``.startswith("!")``/``.removeprefix("!")`` outside
  ``BANG_ALLOWED`` (file formats whose ``!`` means negation): no meaning hidden in a prefix;
- no ``class X(str)``: no meaning hidden in a str subclass.
A pure check that returns "None or its reason" (``-> str | None``) is allowed: there is no
value for the reason to be confused with.
"""
from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from hardener.compose.anchors import own_sequence
from hardener.compose.doc import ComposeDoc, Service
from hardener.compose.override import completed_by
from hardener.context import Context
from hardener.model import Refusal, Transform
from hardener.oci import imageref
from hardener.oci.pinning import plan
from hardener.transforms.cap_drop import needed_caps
from hardener.why import Why, WhyKind

ROOT = Path(__file__).resolve().parent.parent
PREFIXES = ("!", "refuse:")

# "path:function" -> why its `| str` return is not a reason. Keep it short.
ALLOWED: dict[str, str] = {}
# path -> why `!` at the start of a string means something there (not a "why not" marker).
BANG_ALLOWED: dict[str, str] = {
    "hardener/dockerfile/dockerignore.py": "a .dockerignore line starting with ! re-includes paths",
    "hardener/plans/copy/node.py": "a package.json `files` entry starting with ! excludes paths",
    "transforms/generate_dockerignore.py": "it writes .dockerignore lines, whose ! re-includes paths",
    "hardener/discover_rules.py": "a gitignore-style include pattern starting with ! is a negation",
}


# --- the Why value ---------------------------------------------------------------


def test_str_is_the_reason_alone_so_messages_stay_byte_identical():
    why = Why("the image is not in the knowledge base", WhyKind.UNKNOWN)
    assert str(why) == "the image is not in the knowledge base"
    assert f"service 'web': {why}" == "service 'web': the image is not in the knowledge base"


def test_default_kind_is_a_plain_refusal():
    assert Why("no").kind is WhyKind.REFUSE
    assert not Why("no").incomplete


@pytest.mark.parametrize(("kind", "incomplete", "completed"), [
    (WhyKind.REFUSE, False, False),
    (WhyKind.UNKNOWN, False, False),
    (WhyKind.COMPLETED, False, True),
    (WhyKind.HARDENED_THERE, False, True),
    (WhyKind.INCOMPLETE, True, False),
])
def test_kinds(kind: WhyKind, incomplete: bool, completed: bool):
    assert Why("r", kind).incomplete is incomplete
    assert kind.completed is completed


def test_about_prefixes_the_subject_and_keeps_the_kind():
    why = Why("registry down", WhyKind.INCOMPLETE).about("nginx:latest")
    assert why == Why("nginx:latest: registry down", WhyKind.INCOMPLETE)


def test_a_why_is_a_frozen_picklable_value():
    why = Why("r", WhyKind.COMPLETED)
    assert pickle.loads(pickle.dumps(why)) == why
    assert hash(why) == hash(Why("r", WhyKind.COMPLETED))
    with pytest.raises(AttributeError):
        why.reason = "other"  # type: ignore[misc]  # assigning to a frozen field is what is tested


class _Demo(Transform):
    id = "HD999"
    name = "demo"
    targets = ("dockerfile",)


@pytest.mark.parametrize(("reason", "flag", "incomplete"), [
    ("plain text", False, False),
    ("plain text", True, True),
    (Why("decided"), False, False),
    (Why("unknown", WhyKind.UNKNOWN), False, False),
    (Why("registry down", WhyKind.INCOMPLETE), False, True),
    (Why("decided"), True, True),
])
def test_refuse_takes_a_why_and_its_kind_decides_incomplete(reason: str | Why, flag: bool, incomplete: bool):
    refusal = _Demo().refuse(reason, 3, incomplete=flag)
    assert refusal == Refusal("HD999", "demo", str(reason), 3, (), incomplete)
    assert type(refusal.reason) is str


# --- the kinds where the code gives them ------------------------------------------


def _services(text: str) -> dict[str, Service]:
    return {s.name: s for s in ComposeDoc.load(text.encode()).services()}


@pytest.mark.parametrize(("override", "kind"), [
    pytest.param("services:\n  web:\n    ports: ['80:80']\n", WhyKind.HARDENED_THERE, id="partial-service"),
    pytest.param("services:\n  web:\n    user: '1000'\n", WhyKind.COMPLETED, id="sets-a-key-it-reads"),
])
def test_the_override_pair_says_which_file_completes_the_service(override: str, kind: WhyKind):
    base = _services("services:\n  web:\n    image: nginx:1.27\n")["web"]
    why = completed_by(_services(override)["web"], base, ("image", "build", "user"), "compose.yaml")
    assert why is not None and why.kind is kind and why.kind.completed
    assert str(why).startswith("completed by compose.yaml")


def test_a_complete_override_service_is_not_completed_elsewhere():
    base = _services("services:\n  web:\n    image: nginx:1.27\n")["web"]
    assert completed_by(_services("services:\n  web:\n    image: nginx:1.28\n")["web"], base, ("image",), "x") is None


def test_own_sequence_says_why_not_for_an_alias_instead_of_raising():
    services = _services("x-caps: &caps [NET_ADMIN]\nservices:\n  a:\n    image: i\n    cap_add: *caps\n"
                         "  b:\n    image: i\n    cap_add: [CHOWN]\n")
    assert own_sequence(services["a"].node, "cap_add") == Why("`cap_add` is an alias of a shared anchor; change it there")
    assert not isinstance(own_sequence(services["b"].node, "cap_add"), Why)


@pytest.mark.parametrize(("body", "kind"), [
    pytest.param("image: example.invalid/unknown-app:1", WhyKind.UNKNOWN, id="not-in-knowledge-base"),
    pytest.param("image: '${IMAGE}'", WhyKind.UNKNOWN, id="from-a-variable"),
    pytest.param("ports: ['80:80']", WhyKind.REFUSE, id="neither-image-nor-build"),
])
def test_cap_drop_tells_a_missing_fact_from_a_refusal(body: str, kind: WhyKind, tmp_path: Path):
    service = _services(f"services:\n  web:\n    {body}\n")["web"]
    why, needed = needed_caps(service, Context(tmp_path))
    assert why is not None and why.kind is kind and needed == []


def test_a_registry_failure_stays_incomplete_when_it_names_the_reference():
    ref = imageref.parse("nginx:1.27")
    got = plan(ref, Why("registry down", WhyKind.INCOMPLETE), (), most_specific=False)
    assert got == Why("nginx:1.27: registry down", WhyKind.INCOMPLETE)
    assert _Demo().refuse(got, 1).incomplete


# --- the check -------------------------------------------------------------------


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "str"


def _members(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _members(node.left) + _members(node.right)
    return [node]


def _value_or_str(annotation: ast.expr) -> bool:
    """A union somewhere in the annotation of ``str`` with something other than None, and no Why."""
    for node in ast.walk(annotation):
        members = _members(node) if isinstance(node, ast.BinOp) else []
        others = [m for m in members if not _is_str(m) and not (isinstance(m, ast.Constant) and m.value is None)]
        has_why = any(isinstance(m, ast.Name) and m.id == "Why" for m in members)
        if any(_is_str(m) for m in members) and others and not has_why:
            return True
    return False


def _prefixed(node: ast.expr | None) -> bool:
    first = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
    return isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.startswith(PREFIXES)


def _bang_test(node: ast.AST) -> bool:
    """``x.startswith("!")`` or ``x.removeprefix("!")`` (or with "refuse:"): reading a prefix."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "removeprefix") and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith(PREFIXES))


def _refuse_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("refuse:")


def violations(source: str, where: str) -> list[str]:
    """Each place in ``source`` that says "why not" in a way other than Why."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if _bang_test(node) and where not in BANG_ALLOWED:
            found.append(f"{where} line {getattr(node, 'lineno', 0)}: reads meaning from a string prefix; use Why")
        if _refuse_literal(node):
            found.append(f"{where} line {getattr(node, 'lineno', 0)}: a 'refuse:' marker in a string; use Why")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            key = f"{where}:{node.name}"
            if _value_or_str(node.returns) and key not in ALLOWED:
                found.append(f"{key} line {node.lineno}: returns `{ast.unparse(node.returns)}`; use Why")
        elif isinstance(node, (ast.Return, ast.Yield)) and _prefixed(node.value):
            found.append(f"{where} line {node.lineno}: a reason marked by a string prefix; use Why")
        elif isinstance(node, ast.ClassDef) and any(_is_str(b) for b in node.bases):
            found.append(f"{where} line {node.lineno}: class {node.name}(str); use a Why kind")
    return found


def _modules() -> list[Path]:
    return sorted([*(ROOT / "hardener").rglob("*.py"), *(ROOT / "transforms").rglob("*.py")])


def test_no_other_spelling_of_why_not():
    found = [v for p in _modules() for v in violations(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == []


def test_the_allow_lists_name_only_what_exists():
    names = {f"{p.relative_to(ROOT)}:{n.name}" for p in _modules()
             for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)}
    assert set(ALLOWED) <= names
    assert all((ROOT / path).is_file() for path in BANG_ALLOWED)


@pytest.mark.parametrize("source", [
    "def f() -> int | str: ...",
    "def f() -> tuple[set[str] | str, int]: ...",
    "def f() -> Iterator[Command | str]: ...",
    "def f() -> Plan | str | None: ...",
    "def f():\n    return '!no runtime image'",
    "def f(x):\n    return f'!the jar {x} is unknown'",
    "def f():\n    return 'refuse: the source is a URL'",
    "def f():\n    yield '!cannot split'",
    "class Unknown(str):\n    pass",
    "def f(x):\n    if x.startswith('!'):\n        return x[1:]",
    "def f(x):\n    return x.removeprefix('refuse: ')",
    "VERDICT = 'refuse: the source is a URL'",
])
def test_the_check_sees_each_spelling(source: str):
    assert violations(source, "m.py")


@pytest.mark.parametrize("source", [
    "def f() -> str | None: ...",
    "def f() -> Plan | Why: ...",
    "def f() -> str | Why: ...",
    "def f() -> tuple[UserSpec, str | None, str]: ...",
    "def f(data: bytes | str) -> list[str]: ...",
    "def f():\n    return 'safe'",
    "def f(x):\n    return x.startswith('#')",
])
def test_the_check_leaves_the_rest_alone(source: str):
    assert violations(source, "m.py") == []
