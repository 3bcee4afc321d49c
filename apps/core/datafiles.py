"""Reading Keel's YAML data files (framework files, assessment templates): safe YAML, JSON Schema problems as
`file: path: message` lines a person can act on.

YAML dates stay text (schemas check them as strings) and a key written twice is an error, not a silent override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

# A failing keyword whose subschema carries "x-error" reads that message instead of jsonschema's own.
FRIENDLY_KEYWORDS = {"pattern", "enum", "const", "format", "minimum", "maximum", "minLength"}
TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "array": "a list",
    "object": "a mapping",
    "number": "a number",
}


@dataclass(frozen=True)
class Problem:
    file: str
    path: str  # requirements[12].parent; "" for the file as a whole
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        return f"{where}{'warning: ' if self.warning else ''}{self.message}"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present: 5x faster
    """Safe YAML where dates stay text (the schema checks them) and a key written twice is an error."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class DuplicateKey(yaml.MarkedYAMLError):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults`: the keys written next to it override the merged ones, as YAML says
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it
        if duplicate:
            raise DuplicateKey(None, None, f"the key {key!r} is written twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml_text(text: str, file: str) -> tuple[object, list[Problem]]:
    """The YAML document in `text`, or the problem that stops it from being read."""
    try:
        return yaml.load(text, Loader=_Loader), []  # noqa: S506 — _Loader is a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(file, "", f"is not valid YAML: {reason}{where}")]


def read_document(path: Path, *, max_bytes: int) -> tuple[object, list[Problem]]:
    """The YAML document of a file, or the problem that stops it from being read."""
    file = path.name
    try:
        if path.stat().st_size > max_bytes:
            return None, [Problem(file, "", f"larger than {max_bytes // (1024 * 1024)} MB")]
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(file, "", f"cannot be read: {exc.strerror or exc}")]
    except UnicodeDecodeError:
        return None, [Problem(file, "", "is not UTF-8 text")]
    return load_yaml_text(text, file)


def json_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem_sort_key(path: str) -> tuple[int, int]:
    """The file's own keys first, then by list item in file order (items[2] before items[10])."""
    match = re.match(r"\w+\[(\d+)\]", path)
    return (1, int(match.group(1))) if match else (0, 0)


def schema_problems(validator: Draft202012Validator, document, file: str) -> list[Problem]:
    """Every JSON Schema error of `document` as a Problem with its path, in file order."""
    problems = []
    for error in validator.iter_errors(document):
        path = json_path(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - allowed, key=str):
                problems.append(Problem(file, json_path([*error.absolute_path, key]), "unknown key"))
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            problems.append(Problem(file, json_path([*error.absolute_path, missing]), "missing"))
            continue
        if error.validator == "type":
            wanted = error.validator_value if isinstance(error.validator_value, str) else error.validator_value[0]
            hint = " (quote it in YAML)" if wanted == "string" and isinstance(error.instance, int | float) else ""
            problems.append(Problem(file, path, f"{error.instance!r} must be {TYPE_NAMES.get(wanted, wanted)}{hint}"))
            continue
        friendly = error.schema.get("x-error") if isinstance(error.schema, dict) else None
        if friendly and error.validator in FRIENDLY_KEYWORDS:
            problems.append(Problem(file, path, f"{error.instance!r} {friendly}"))
        else:
            problems.append(Problem(file, path, error.message))
    return sorted(problems, key=lambda p: problem_sort_key(p.path))
