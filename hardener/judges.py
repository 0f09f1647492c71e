"""Judges: independent validity checks every output must pass before it is shown or written.

Dockerfiles: BuildKit's own parser (PyPI ``dockerfile``). Compose files: the YAML loads
and validates against the compose-spec JSON schema that check-jsonschema ships. Both are
imported lazily: start-up time matters and most runs judge only a few files.
"""
from __future__ import annotations

import functools
import json
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
        for err in sorted(validator.iter_errors(_plain(data)), key=lambda e: list(map(str, e.path))):
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
    return jsonschema.validators.validator_for(schema)(schema)


def _plain(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data
