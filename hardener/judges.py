"""Judges: independent validity checks every output must pass before it is shown or written.

Dockerfiles: BuildKit's own parser (PyPI ``dockerfile``). Compose files: the YAML loads
and validates against the compose-spec JSON schema that check-jsonschema ships. Both are
imported lazily: start-up time matters and most runs judge only a few files.
"""
from __future__ import annotations

import functools
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any


def dockerfile_problem(text: str) -> str | None:
    """None when BuildKit parses ``text``; else its message (with line when it has one)."""
    import dockerfile

    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        return str(exc).strip() or "BuildKit parser rejected the file"
    if not any(c.cmd.upper() == "FROM" for c in commands):
        return "no FROM instruction"
    return None


def compose_problems(text: str) -> list[str]:
    """Schema errors of every YAML document in ``text`` ([] when valid)."""
    from ruamel.yaml.error import YAMLError

    try:
        docs = _load_yaml_documents(text, pure=False)
    except YAMLError:
        try:  # libyaml is YAML 1.1; Compose's go-yaml accepts some 1.2 forms ("[a:b]")
            docs = _load_yaml_documents(text, pure=True)
        except YAMLError as exc:
            return [f"invalid YAML: {str(exc).splitlines()[0]}"]
    validator = _compose_validator()
    problems: list[str] = []
    for index, data in enumerate(docs):
        if data is None:
            continue
        instance = _plain(data)
        verdicts = _VALID.set({})  # by ids of this document's values: only while it is validated
        try:
            errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
        finally:
            _VALID.reset(verdicts)
        for err in errors:
            where = ".".join(map(str, err.absolute_path)) or "(top)"
            problems.append(f"document {index}: {where}: {err.message}")
    return problems


def _load_yaml_documents(text: str, pure: bool) -> list[Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    yaml = YAML(typ="safe", pure=pure)  # libyaml (ruamel.yaml.clib) is 5x faster

    class Constructor(yaml.Constructor):  # type: ignore[name-defined,misc]  # the C or the pure one: known at run time
        pass

    def keep_value(loader: Any, node: Any) -> Any:  # Compose's !reset / !override
        if isinstance(node, MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Constructor.add_constructor("!reset", keep_value)
    Constructor.add_constructor("!override", keep_value)
    # timestamps stay strings, as JSON has no datetime (check-jsonschema does the same)
    Constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", Constructor.yaml_constructors["tag:yaml.org,2002:str"]
    )
    yaml.Constructor = Constructor
    if not pure and "%" not in text:  # no %YAML directive: the version, and so each tag, is fixed
        yaml.Resolver = _caching_resolver()
    return list(yaml.load_all(text))


@functools.lru_cache(maxsize=1)
def _caching_resolver() -> type:
    """ruamel's resolver, remembering each scalar's tag for the run (compose/libyaml.py)."""
    from ruamel.yaml.resolver import VersionedResolver

    from hardener.compose.libyaml import with_resolve_cache

    return with_resolve_cache(VersionedResolver)


@functools.lru_cache(maxsize=1)
def _compose_validator() -> Any:
    import importlib.util

    import jsonschema

    # only the schema file check-jsonschema ships: importing the package runs its CLI's
    # imports (requests, urllib3), a tenth of a second on every run that judges a Compose file
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("check_jsonschema")
    path = Path(spec.origin).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    if _context_free(schema):
        cls = jsonschema.validators.extend(
            cls, {"allOf": _all_of, "unevaluatedProperties": _unevaluated_properties_in(schema)})
    return cls(schema)


# Which (instance, subschema) pairs of the document being validated ``allOf`` found valid,
# by the ids of both: set by compose_problems for one document's validation, while the
# document and the schema are alive (None otherwise: nothing is remembered or trusted).
_VALID: ContextVar[dict[tuple[int, int], bool] | None] = ContextVar("_VALID", default=None)


def _context_free(schema: Any) -> bool:
    """Whether a subschema's verdict on a value is the same wherever it is reached: every
    reference points into this schema's own ``$defs`` and nothing sets a new base or a
    dynamic scope (the compose-spec schema today). Only then is ``_VALID`` trusted."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node is not schema and any(k in node for k in ("$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor")):
                return False
            if any(k in node for k in ("$dynamicRef", "$recursiveRef")):
                return False
            ref = node.get("$ref")
            if ref is not None and not (isinstance(ref, str) and ref.startswith("#/$defs/")
                                        and isinstance(schema.get("$defs"), dict) and ref[8:] in schema["$defs"]):
                return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _all_of(validator: Any, all_of: Any, instance: Any, schema: Any) -> Any:
    """jsonschema's ``allOf``, remembering which subschemas the instance passed."""
    verdicts = _VALID.get()
    for index, subschema in enumerate(all_of):
        valid = True
        for error in validator.descend(instance, subschema, schema_path=index):
            valid = False
            yield error
        if verdicts is not None:  # reached only when every error was drawn
            verdicts[(id(instance), id(subschema))] = valid


def _unevaluated_properties_in(root: dict[str, Any]) -> Any:
    """jsonschema's ``unevaluatedProperties`` for schema ``root``, without its work when no
    key can be unevaluated.

    jsonschema collects the keys the schema evaluated by validating every ``allOf`` branch
    again (a compose service against the whole container spec, once more per service). Keys
    in the schema's own ``properties``/``patternProperties``, or in those of an ``allOf``
    branch (and of the ``$defs`` entry its ``$ref`` names) that ``_all_of`` saw the instance
    pass, are among the keys jsonschema collects; when they are all of the instance's keys
    it finds none unevaluated and yields nothing, so nothing is yielded here either.
    Otherwise jsonschema decides, as before."""
    import re

    from jsonschema import _keywords

    def evaluated(source: Any, key: str) -> bool:
        properties = source.get("properties")
        if isinstance(properties, dict) and key in properties:
            return True
        return any(re.search(pattern, key) for pattern in source.get("patternProperties", ()))

    def unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: Any) -> Any:
        verdicts = _VALID.get()
        if verdicts is not None and isinstance(instance, dict) and isinstance(schema, dict):
            sources = [schema]
            for branch in schema.get("allOf", ()):
                if isinstance(branch, dict) and verdicts.get((id(instance), id(branch))) is True:
                    sources.append(branch)
                    ref = branch.get("$ref")
                    if ref is not None:  # _context_free: "#/$defs/<name>" of root
                        sources.append(root["$defs"][ref[len("#/$defs/"):]])
            if all(isinstance(key, str) and any(evaluated(source, key) for source in sources if isinstance(source, dict))
                   for key in instance):
                return
        yield from _keywords.unevaluatedProperties(validator, unevaluated, instance, schema)

    return unevaluated_properties


def _plain(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data
