"""The fake server's reading of the OpenAPI document: operations, parameters and schemas.

Everything the fake validates or answers comes from a document read through
`somia._document`: the normalised one `make generate` ships, or the one a `FakeSomia` was
given (`document=`). Schemas are checked with
`jsonschema-rs` (JSON Schema draft 2020-12, what OpenAPI 3.1 uses); the document's
`components` are embedded in each compiled schema, so `#/components/...` references resolve.
A `pattern` is checked by `somia._patterns`, with ECMA-262's meaning, as the SDK checks it.
Problems are reported the way FastAPI does (`{"loc": [...], "msg": ..., "type": ...}`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from somia._document import Document, closed, shipped
from somia._patterns import compile_pattern

__all__ = [
    "Operation",
    "Parameter",
    "Problem",
    "SchemaCheck",
    "body_properties",
    "document",
    "operations",
    "problem",
    "validator",
]

Problem = dict[str, Any]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_TYPE_NAMES = {
    "boolean": ("bool_type", "a valid boolean"),
    "string": ("string_type", "a valid string"),
    "integer": ("int_type", "a valid integer"),
    "number": ("float_type", "a valid number"),
    "array": ("list_type", "a valid list"),
    "object": ("dict_type", "a valid dictionary"),
    "null": ("none_required", "None"),
}


def problem(loc: list[str | int], msg: str, type_: str) -> Problem:
    """One problem of a refused request, as the document's `ValidationProblem`."""
    return {"loc": loc, "msg": msg, "type": type_}


class _EcmaPattern:
    """The `pattern` keyword, compiled as the SDK compiles it (a jsonschema-rs keyword)."""

    def __init__(self, parent: Any, value: str, path: Any) -> None:
        self._regex = compile_pattern(value)
        self._pattern = value

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and self._regex.search(instance) is None:
            raise ValueError(f"{instance!r} does not match {self._pattern!r}")


def validator(schema: dict[str, Any]) -> Any:
    """A jsonschema-rs validator of a 2020-12 schema whose patterns follow ECMA-262."""
    return jsonschema_rs.Draft202012Validator(schema, keywords={"pattern": _EcmaPattern})


def document() -> Document:
    """The document a fake follows when it is given none: the shipped one."""
    return shipped()


class SchemaCheck:
    """One compiled schema of a document, reporting problems the FastAPI way."""

    def __init__(self, schema: Any, *, close: bool = False, doc: Document | None = None) -> None:
        self.doc = doc or document()
        components = self.doc.data.get("components", {})
        root: dict[str, Any] = {"$schema": _DRAFT, "components": components}
        root.update(schema if isinstance(schema, Mapping) else {"allOf": [schema]})
        if close:
            root = closed(root)
        self.root = root
        self._validator = validator(root)

    def is_valid(self, instance: Any) -> bool:
        """Whether `instance` follows the schema."""
        return bool(self._validator.is_valid(instance))

    def problems(self, instance: Any, loc: list[str | int]) -> list[Problem]:
        """Every problem of `instance`, in the order its values appear; [] when valid."""
        found = [
            item
            for error in self._validator.iter_errors(instance)
            for item in _problems_of(self.doc, error, self.root, instance, loc)
        ]
        # One problem per value, as FastAPI reports it: its type first, then its size or
        # range, then the rest (an empty key breaks minLength and pattern: minLength wins).
        first: dict[str, Problem] = {}
        for item in sorted(found, key=_rank):
            first.setdefault(repr(item["loc"]), item)
        # Order by where the value sits in the instance, not by the library's walk.
        return sorted(first.values(), key=lambda item: _position(instance, item["loc"][len(loc) :]))


_SIZES = {"string_too_short", "string_too_long", "too_short", "too_long", "greater_than_equal"}
_SIZES |= {"less_than_equal", "greater_than", "less_than"}


def _rank(item: Problem) -> int:
    code = item["type"]
    return 0 if code.endswith("_type") else 1 if code in _SIZES else 2


def _position(instance: Any, path: list[str | int]) -> tuple[int, ...]:
    out: list[int] = []
    for part in path:
        if isinstance(instance, dict) and part in instance:
            out.append(list(instance).index(part))
            instance = instance[part]
        elif isinstance(instance, list) and isinstance(part, int) and part < len(instance):
            out.append(part)
            instance = instance[part]
        else:  # a missing property sorts after those that are there
            out.append(1 << 30)
            break
    return tuple(out)


def _keyword_value(root: Mapping[str, Any], schema_path: list[str | int]) -> Any:
    node: Any = root
    try:
        for part in schema_path:
            if part == "$ref":  # followed by resolve() at the next step
                continue
            if not (isinstance(node, Mapping) and part in node):
                node = Document(root).resolve(node)  # the path went through this $ref
            node = node[part] if isinstance(node, Mapping) else node[int(part)]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return node


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _types_phrase(types: list[str]) -> str:
    names = [_TYPE_NAMES.get(name, ("", f"a valid {name}"))[1] for name in types]
    names = [name.removeprefix("a valid ") for name in names]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _union_types(doc: Document, branches: Any) -> list[str]:
    types: list[str] = []
    for branch in branches if isinstance(branches, list) else []:
        for name in doc.types(branch):
            if name not in types:
                types.append(name)
    return types


def _problems_of(
    doc: Document, error: Any, root: Mapping[str, Any], instance: Any, prefix: list[str | int]
) -> list[Problem]:
    kind = type(error.kind).__name__
    detail = error.kind.as_dict()
    if kind == "Custom" and detail.get("keyword") == "pattern":
        kind = "Pattern"
    loc: list[str | int] = [*prefix, *error.instance_path]
    path = list(error.schema_path)
    value = _keyword_value(root, path) if path else None
    if kind == "Type":
        types = [name for name in (detail.get("types") or []) if name != "null"] or ["null"]
        if loc == prefix and types == ["object"] and prefix == ["body"]:
            msg = "Input should be a valid dictionary or object to extract fields from"
            return [problem(loc, msg, "model_attributes_type")]
        if len(types) == 1:
            code, phrase = _TYPE_NAMES.get(types[0], ("type_error", f"a valid {types[0]}"))
            return [problem(loc, f"Input should be {phrase}", code)]
        return [problem(loc, f"Input should be a valid {_types_phrase(types)}", "union_type")]
    if kind in ("OneOfNotValid", "AnyOf"):
        # A value of one alternative's type breaks only that one's rules: report them.
        here = list(error.instance_path)
        matching = [
            branch
            for branch in detail.get("context") or []
            if branch
            and not any(
                type(inner.kind).__name__ == "Type" and list(inner.instance_path) == here
                for inner in branch
            )
        ]
        if len(matching) == 1:
            return [
                item
                for inner in matching[0]
                for item in _problems_of(doc, inner, root, instance, prefix)
            ]
        types = _union_types(doc, value)
        msg = f"Input should be a valid {_types_phrase(types)}" if types else error.message
        return [problem(loc, msg, "union_type")]
    if kind == "OneOfMultipleValid":
        return [problem(loc, "Input should match exactly one allowed schema", "union_type")]
    if kind == "Required":
        return [problem([*loc, detail["property"]], "Field required", "missing")]
    if kind == "AdditionalProperties":
        extra = "Extra inputs are not permitted"
        return [problem([*loc, name], extra, "extra_forbidden") for name in detail["unexpected"]]
    simple = {
        "Minimum": ("greater_than_equal", "Input should be greater than or equal to {}"),
        "Maximum": ("less_than_equal", "Input should be less than or equal to {}"),
        "ExclusiveMinimum": ("greater_than", "Input should be greater than {}"),
        "ExclusiveMaximum": ("less_than", "Input should be less than {}"),
        "MultipleOf": ("multiple_of", "Input should be a multiple of {}"),
        "Pattern": ("string_pattern_mismatch", "String should match pattern '{}'"),
        "Constant": ("literal_error", "Input should be {!r}"),
    }
    if kind in simple:
        code, template = simple[kind]
        return [problem(loc, template.format(value), code)]
    sized = {
        "MinLength": ("string_too_short", "String should have at least {}", "character"),
        "MaxLength": ("string_too_long", "String should have at most {}", "character"),
        "MinItems": ("too_short", "List should have at least {}", "item"),
        "MaxItems": ("too_long", "List should have at most {}", "item"),
        "MinProperties": ("too_short", "Dictionary should have at least {}", "item"),
        "MaxProperties": ("too_long", "Dictionary should have at most {}", "item"),
    }
    if kind in sized:
        code, template, word = sized[kind]
        return [problem(loc, template.format(_plural(value, word)), code)]
    if kind == "Enum":
        options = [repr(option) for option in value or []]
        listed = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
        return [problem(loc, f"Input should be {listed}", "enum")]
    return [problem(loc, error.message, "value_error")]


@dataclass(frozen=True, slots=True, eq=False)
class Parameter:
    """A path, query or header parameter of an operation."""

    name: str
    location: str
    required: bool
    schema: Any
    check: SchemaCheck
    types: tuple[str, ...]
    """The JSON types its schema names."""


@dataclass(frozen=True, slots=True, eq=False)
class Operation:
    """One operation of the document, as the fake serves it."""

    document: Document
    operation_id: str
    method: str
    pattern: re.Pattern[str]
    parameters: tuple[Parameter, ...]
    body_required: bool
    body_media_types: tuple[str, ...]
    body: SchemaCheck | None
    body_schema: Any
    answers: Mapping[str, Any]
    """The schema of each media type of the `200` answer."""
    chunk_schema: Any
    """The schema of one chunk of the streamed `200` answer."""

    def match(self, path: str) -> dict[str, str] | None:
        """The raw (still percent-encoded) path parameters, if `path` is this operation's."""
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{([^}]+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]*)"
        for index, part in enumerate(parts)
    )
    return re.compile(regex)


def _parameters(doc: Document, operation: Any) -> list[Parameter]:
    out: list[Parameter] = []
    for spec in doc.parameters(operation):
        schema = spec.get("schema", {})
        location = spec["in"]
        required = bool(spec.get("required", location == "path"))
        check = SchemaCheck(schema, doc=doc)
        types = tuple(doc.types(schema))
        out.append(Parameter(spec["name"], location, required, schema, check, types))
    return out


def operations(doc: Document | None = None) -> tuple[Operation, ...]:
    """Every operation of a document (the shipped one by default), compiled once."""
    return _operations(doc or document())


@functools.cache
def _operations(doc: Document) -> tuple[Operation, ...]:
    out: list[Operation] = []
    for operation in doc.operations():
        body_spec = doc.request_body(operation)
        content = body_spec.get("content", {})
        media = tuple(content)
        schema = content[media[0]].get("schema", {}) if media else None
        answers = doc.answer_schemas(operation)
        out.append(
            Operation(
                document=doc,
                operation_id=operation.id,
                method=operation.method.upper(),
                pattern=_path_pattern(operation.path),
                parameters=tuple(_parameters(doc, operation)),
                body_required=bool(body_spec.get("required", False)),
                body_media_types=media,
                body=None if schema is None else SchemaCheck(schema, doc=doc),
                body_schema=schema,
                answers=answers,
                chunk_schema=doc.chunk_schema(operation),
            )
        )
    return tuple(out)


def body_properties(operation: Operation) -> Mapping[str, Any]:
    """The documented properties of an operation's request body."""
    return operation.document.properties(operation.body_schema)
