"""Values a contract run sends, derived from the document's schemas.

- `edges`: for one parameter or body field, the values at the edges of each keyword of its
  schema (both sides of each bound, pattern witnesses with ECMA-262's verdict, enum members
  and a non-member, each type and a wrong one, ...), each judged valid or not by the whole
  schema (jsonschema-rs, patterns with their ECMA-262 meaning).
- `keywords`: the request keywords of a schema, the inventory the edges must exercise.
- `candidates` and `made_up_value`: the values a paid turn sends for an optional field.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from somia._document import ANNOTATIONS, Document
from somia._patterns import compile_pattern, witnesses
from somia.testing._schema import validator

# Keywords that only hold others: exercised through what they hold.
CONTAINERS = frozenset({"properties", "items", "oneOf", "anyOf", "allOf", "$ref"})
_NOT_KEYWORDS = ANNOTATIONS | CONTAINERS | {"$schema", "$id", "$defs", "contentMediaType"}
_WRONG = {
    "string": 12345,
    "integer": "one",
    "number": "one",
    "boolean": "yes",
    "array": "not-an-array",
    "object": "not-an-object",
}
_EXTRA = "somia_contract_extra"


@dataclass(frozen=True)
class Edge:
    """One value for a parameter or field, with the schema's verdict on it."""

    label: str
    """Where in the field it sits (`tags[]`, `pipeline_version|1`, ...), for the keywords."""
    value: Any
    """The JSON value (a parameter's is sent as text)."""
    valid: bool
    keywords: frozenset[str]
    """The keywords it tries, as `label: keyword`."""
    why: str
    """What it is, in a few words."""


def nodes(
    doc: Document, schema: Any, label: str, depth: int = 16
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each schema within `schema` (itself first), merged, with its label."""
    merged = doc.merged(schema)
    yield label, merged
    if depth <= 0:
        return
    for name, sub in merged.get("properties", {}).items():
        yield from nodes(doc, sub, f"{label}.{name}" if label else name, depth - 1)
    if isinstance(merged.get("items"), Mapping):
        yield from nodes(doc, merged["items"], f"{label}[]", depth - 1)
    for key in ("oneOf", "anyOf"):
        for index, alternative in enumerate(merged.get(key, [])):
            yield from nodes(doc, alternative, f"{label}|{index}", depth - 1)


def keywords(doc: Document, schema: Any, label: str) -> set[str]:
    """The request keywords of `schema` and the schemas within it, as `label: keyword`."""
    return {
        f"{where}: {key}"
        for where, node in nodes(doc, schema, label)
        for key in node
        if key not in _NOT_KEYWORDS and not key.startswith("x-")
    }


class Judge:
    """The schema's verdict on values: jsonschema-rs, patterns with their ECMA-262 meaning."""

    def __init__(self, doc: Document, schema: Any) -> None:
        components = doc.data.get("components", {})
        self._validator = validator({"components": components, "allOf": [schema]})

    def __call__(self, value: Any) -> bool:
        return bool(self._validator.is_valid(value))


def edges(doc: Document, schema: Any, label: str) -> list[Edge]:
    """The edge values of a parameter's or field's schema, deduplicated, in a stable order."""
    judge = Judge(doc, schema)
    found: dict[str, Edge] = {}
    for value, node_label, keyword, why in _raw_edges(doc, schema, label):
        key = repr((type(value).__name__, value))
        mark = f"{node_label}: {keyword}"
        if key in found:
            old = found[key]
            found[key] = Edge(old.label, old.value, old.valid, old.keywords | {mark}, old.why)
        else:
            found[key] = Edge(node_label, value, judge(value), frozenset({mark}), why)
    return list(found.values())


def _raw_edges(
    doc: Document, schema: Any, label: str, depth: int = 8
) -> Iterator[tuple[Any, str, str, str]]:
    """(value of the whole field, the node's label, keyword, what it is) per edge."""
    node = doc.merged(schema)
    types = doc.types(node)
    if depth <= 0:
        return
    yield from _scalar_edges(node, types, label)
    if "enum" in node:
        for member in node["enum"]:
            yield member, label, "enum", f"the enum member {member!r}"
        yield "somia-contract-not-listed", label, "enum", "a value not in the enum"
    if "const" in node:
        yield node["const"], label, "const", "the const value"
        yield "somia-contract-not-the-const", label, "const", "another value than the const"
    for key in ("oneOf", "anyOf"):
        for index, alternative in enumerate(node.get(key, [])):
            yield from _raw_edges(doc, alternative, f"{label}|{index}", depth - 1)
    if "object" in types or "properties" in node:
        yield from _object_edges(doc, node, label, depth)
    if "array" in types or "items" in node:
        yield from _array_edges(doc, node, label, depth)


def _scalar_edges(
    node: dict[str, Any], types: list[str], label: str
) -> Iterator[tuple[Any, str, str, str]]:
    if types:
        yield None, label, "type", "null"
    for kind in types:
        if kind in _WRONG:
            wrong = _WRONG[kind]
            yield wrong, label, "type", f"a {type(wrong).__name__} where {kind} is documented"
        if kind == "boolean":
            yield True, label, "type", "true"
            yield False, label, "type", "false"
    if "integer" in types or "number" in types:
        yield from _number_edges(node, "integer" in types, label)
    if "string" in types:
        yield from _string_edges(node, label)


def _number_edges(
    node: dict[str, Any], integer: bool, label: str
) -> Iterator[tuple[Any, str, str, str]]:
    step = 1 if integer else 0.5
    if "minimum" in node:
        low = node["minimum"]
        yield low, label, "minimum", f"the minimum {low}"
        yield low - step, label, "minimum", f"{low - step}, below the minimum"
    if "maximum" in node:
        high = node["maximum"]
        yield high, label, "maximum", f"the maximum {high}"
        yield high + step, label, "maximum", f"{high + step}, above the maximum"
    if "exclusiveMinimum" in node:
        low = node["exclusiveMinimum"]
        yield low, label, "exclusiveMinimum", f"{low}, the exclusive minimum"
        yield low + step, label, "exclusiveMinimum", f"{low + step}, just above it"
    if "exclusiveMaximum" in node:
        high = node["exclusiveMaximum"]
        yield high, label, "exclusiveMaximum", f"{high}, the exclusive maximum"
        yield high - step, label, "exclusiveMaximum", f"{high - step}, just below it"
    if "multipleOf" in node:
        factor = node["multipleOf"]
        yield factor * 2, label, "multipleOf", f"{factor * 2}, a multiple of {factor}"
        off = factor * 2 + (1 if integer and factor > 1 else factor / 2)
        yield off, label, "multipleOf", f"{off}, not a multiple of {factor}"
    bits = {"int32": 31, "int64": 63}.get(node.get("format", ""))
    if integer and bits is not None:
        yield 2**bits - 1, label, "format", f"the largest {node['format']}"
        yield 2**bits, label, "format", f"{2**bits}, beyond {node['format']}"
        yield -(2**bits) - 1, label, "format", f"{-(2**bits) - 1}, below {node['format']}"
    if integer and not any(key in node for key in ("minimum", "maximum", "format")):
        yield 1, label, "type", "an integer"
    if not integer:
        yield 0.5, label, "type", "a number"
        yield math.pi, label, "type", "a number"


def _string_edges(node: dict[str, Any], label: str) -> Iterator[tuple[Any, str, str, str]]:
    pattern = node.get("pattern")
    fill = _filler(pattern)
    if pattern is not None:
        for text, _ in witnesses(pattern):
            yield text, label, "pattern", f"{text!r} ({'matches' if _ else 'breaks'} {pattern!r})"
    if "minLength" in node:
        low = int(node["minLength"])
        yield fill * low, label, "minLength", f"{low} characters, the minimum"
        if low:
            yield fill * (low - 1), label, "minLength", f"{low - 1} characters, below the minimum"
    if "maxLength" in node:
        high = int(node["maxLength"])
        yield fill * high, label, "maxLength", f"{high} characters, the maximum"
        yield fill * (high + 1), label, "maxLength", f"{high + 1} characters, above the maximum"
    if pattern is None and not any(k in node for k in ("minLength", "maxLength", "enum")):
        yield "somia-contract-text", label, "type", "a string"
        yield "Grüße 🚀", label, "type", "a non-ASCII string"


def _filler(pattern: str | None) -> str:
    """A character that keeps a string of any length matching `pattern`, where one does."""
    if pattern is None:
        return "x"
    regex = compile_pattern(pattern)
    for text, ok in witnesses(pattern):
        if ok and text and all(regex.search(text[0] * n) for n in (1, 2, 7)):
            return text[0]
    return "x"


def _object_edges(
    doc: Document, node: dict[str, Any], label: str, depth: int
) -> Iterator[tuple[Any, str, str, str]]:
    properties = node.get("properties", {})
    required = list(node.get("required", []))
    base = {name: made_up_value(name, doc.merged(properties.get(name, {}))) for name in required}
    yield dict(base), label, "type", "an object with only its required fields"
    for name in required:
        missing = {key: value for key, value in base.items() if key != name}
        yield missing, label, "required", f"without the required {name}"
    extra = node.get("additionalProperties", True)
    value = made_up_value(_EXTRA, doc.merged(extra)) if isinstance(extra, Mapping) else 1
    yield {**base, _EXTRA: value}, label, "additionalProperties", "with an undocumented field"
    for name, sub in properties.items():
        child = f"{label}.{name}" if label else name
        for inner, where, keyword, why in _raw_edges(doc, sub, child, depth - 1):
            yield {**base, name: inner}, where, keyword, f"{name}: {why}"


def _array_edges(
    doc: Document, node: dict[str, Any], label: str, depth: int
) -> Iterator[tuple[Any, str, str, str]]:
    items = node.get("items", {})
    item = made_up_value(label, doc.merged(items))
    yield [], label, "type", "an empty array"
    if "minItems" in node:
        low = int(node["minItems"])
        yield [item] * low, label, "minItems", f"{low} items, the minimum"
        if low:
            yield [item] * (low - 1), label, "minItems", f"{low - 1} items, below the minimum"
    if "maxItems" in node:
        high = int(node["maxItems"])
        yield [item] * high, label, "maxItems", f"{high} items, the maximum"
        yield [item] * (high + 1), label, "maxItems", f"{high + 1} items, above the maximum"
    if "uniqueItems" in node:
        yield [item, item], label, "uniqueItems", "the same item twice"
    for inner, where, keyword, why in _raw_edges(doc, items, f"{label}[]", depth - 1):
        yield [inner], where, keyword, f"one item: {why}"


def candidates(name: str, schema: Mapping[str, Any]) -> list[Any]:
    """Values for an optional field: default, examples and enum first, else one made up.

    A boolean's values are both booleans, its default first.
    """
    found: list[Any] = []

    def add(value: Any) -> None:
        # By type too: 1 and True are equal in Python, not in JSON.
        if not any(type(v) is type(value) and v == value for v in found):
            found.append(value)

    if "default" in schema:
        add(schema["default"])
    if "example" in schema:
        add(schema["example"])
    for value in schema.get("examples", []):
        add(value)
    if "const" in schema:
        add(schema["const"])
    for value in schema.get("enum", []):
        add(value)
    if schema.get("type") == "boolean":
        for value in (False, True):
            add(value)
    if not found:
        found.append(made_up_value(name, schema))
    return found


def made_up_value(name: str, schema: Mapping[str, Any]) -> Any:
    """One deterministic value valid for `schema` (the keywords this document uses)."""
    kind = schema.get("type")
    if kind is None and "oneOf" in schema:
        return made_up_value(name, schema["oneOf"][0])
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "string":
        if "pattern" in schema:
            found = [text for text, ok in witnesses(schema["pattern"]) if ok and text.isprintable()]
            if found:
                return found[0]
        text = f"somia-contract-{name}"
        low, high = schema.get("minLength", 0), schema.get("maxLength", len(text))
        return (text * (low // len(text) + 1))[: max(low, min(high, len(text)))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1) if "maximum" not in schema else schema["maximum"]
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        item = made_up_value(name, schema.get("items", {"type": "string"}))
        return [item] * max(schema.get("minItems", 1), 1)
    if kind == "object":
        props = schema.get("properties", {})
        value = {key: made_up_value(key, props[key]) for key in schema.get("required", [])}
        if not value and schema.get("additionalProperties", True) is not False:
            value = {"somia_contract": name}
        return value
    if kind == "null":
        return None
    return f"somia-contract-{name}"  # no type: any JSON value


def wrong_type(schema: Mapping[str, Any]) -> Any | None:
    """A value of a type the schema does not allow, if one can be named."""
    kind = schema.get("type")
    return _WRONG.get(kind) if isinstance(kind, str) else None
