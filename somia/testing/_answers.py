"""The fake server's answers, shaped by the document's answer schemas.

An answer holds only documented fields, at every level where the document lists
properties (those schemas are treated as closed); a field the fake does not compute and the
agent did not set is produced from its schema (`default`, else `example`, else a simple
value per type; an object with properties gets each of them, recursively). What was sent is
recorded per media type, so a run can check that every documented field appeared.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Collection, Mapping
from typing import Any

import somia.testing._schema as _schema
from somia._document import Document, Fields
from somia.testing._schema import Operation, SchemaCheck

__all__ = ["AnswerShape", "documented_paths", "example_value", "shape_of"]

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


def example_value(schema: Any, doc: Document | None = None) -> Any:
    """A valid value for `schema` (of `doc`, the shipped document by default): its default,
    else its example, else a simple one."""
    doc = doc or _schema.document()
    schema = doc.merged(schema)
    for key in ("default", "const", "example"):
        if key in schema:
            return copy.deepcopy(schema[key])
    for key in ("examples", "enum"):
        if schema.get(key):
            return copy.deepcopy(schema[key][0])
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return example_value(schema[key][0], doc)
    types = [name for name in doc.types(schema) if name != "null"] or doc.types(schema)
    kind = types[0] if types else ("object" if "properties" in schema else None)
    if kind == "object":
        return {name: example_value(value, doc) for name, value in doc.properties(schema).items()}
    if kind == "array":
        return [
            example_value(schema.get("items", {}), doc) for _ in range(schema.get("minItems", 0))
        ]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1) - 1)
        value = max(low, 0) if low <= 0 <= high or low > 0 else high
        return int(value) if kind == "integer" else float(value)
    if kind == "string":
        return "x" * int(schema.get("minLength", 0))
    if kind == "boolean":
        return False
    return None


def documented_paths(schema: Any, doc: Document | None = None) -> list[str]:
    """Every documented field of an answer schema, nested ones as `a.b` (`a[].b` in arrays)."""
    return (doc or _schema.document()).fields(schema).paths


class AnswerShape:
    """How the answers of one operation are built and checked."""

    def __init__(self, operation: Operation) -> None:
        self.doc = doc = operation.document
        self.json_schema = operation.answers.get(JSON, {})
        self.chunk_schema = operation.chunk_schema
        self.schemas = {JSON: self.json_schema, EVENT_STREAM: self.chunk_schema}
        self._checks = {
            media: SchemaCheck(schema, close=True, doc=doc)
            for media, schema in self.schemas.items()
        }
        self._names = {
            media: list(doc.properties(schema)) for media, schema in self.schemas.items()
        }
        self._required = frozenset(
            name
            for schema in self.schemas.values()
            for name in doc.merged(schema).get("required", [])
        )
        self._fill = {media: self._defaults(schema) for media, schema in self.schemas.items()}
        self._fields: dict[str, Fields] = {
            media: doc.fields(schema) for media, schema in self.schemas.items()
        }
        self._documented = frozenset(self._names[JSON]) | frozenset(self._names[EVENT_STREAM])

    def _defaults(self, schema: Any) -> dict[str, Any]:
        """The value each field takes when the agent leaves it to the fake. An optional field
        for which no valid value can be made up (a pattern without an example) is left out
        unless the agent sets it: an answer never breaks the document."""
        defaults = {}
        for name, sub in self.doc.properties(schema).items():
            value = example_value(sub, self.doc)
            if name in self._required or SchemaCheck(sub, doc=self.doc).is_valid(value):
                defaults[name] = value
        return defaults

    def check_agent_fields(self, fields: Mapping[str, Any], omit: Collection[str]) -> None:
        """Refuse fields an agent may not set or leave out (TypeError naming them)."""
        if not fields and not omit:
            return
        documented = self._documented
        unknown = sorted(set(fields) - documented) + sorted(set(omit) - documented)
        if unknown:
            raise TypeError(
                f"the agent's answer names {', '.join(map(repr, unknown))}, not documented"
                f" answer fields ({', '.join(sorted(documented))})"
            )
        fixed = sorted({"session_id"} & set(fields) | self._required & set(omit))
        if fixed:
            raise TypeError(f"an agent may not set or leave out {', '.join(fixed)}")

    def present(self, media: str, answer: Any) -> set[str]:
        """The documented fields an answer of this media type carries."""
        return self._fields[media].present(answer)

    def build(
        self,
        media: str,
        computed: Mapping[str, Any],
        fields: Mapping[str, Any],
        omit: Collection[str],
        *,
        fill: bool,
    ) -> dict[str, Any]:
        """The answer (or chunk): documented fields only, from `fields`, then `computed`, then
        (with `fill`) the schema's example values; raises TypeError when it breaks the schema.
        """
        out: dict[str, Any] = {}
        defaults = self._fill[media]
        for name in self._names[media]:
            if name in omit:
                continue
            if name in fields:
                out[name] = fields[name]
            elif name in computed:
                out[name] = computed[name]
            elif fill and name in defaults:
                out[name] = copy.deepcopy(defaults[name])
        problems = self._checks[media].problems(out, [])
        if problems:
            raise TypeError(f"the answer breaks the document's {media} schema: {problems}")
        return out


@functools.cache
def shape_of(operation: Operation) -> AnswerShape:
    """The answer shape of an operation (built once)."""
    return AnswerShape(operation)
