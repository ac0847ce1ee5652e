"""What the live contract run sends, derived from the OpenAPI document.

The paid turns carry every documented optional request field (so a new field is covered
without an edit here); the negative requests break rules the document states (the minimum of
`agent_id`, the type of a body field). Values come from the schema's default, examples or enum
first, then from one deterministic valid value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from somia._document import Document

CREATE = "/api/v1/external/agent/{agent_id}/session"
INTERACT = "/api/v1/external/agent/{agent_id}/session/{session_id}"

NON_ASCII_INPUT = "Grüße aus Köln — 你好 世界 — こんにちは — Ünïcödé ✓ 🚀"
MULTI_LINE_INPUT = (
    "First line.\nSecond line,\r\nthird line after CRLF.\n\n  Indented, after a blank line.\n"
)
LONG_INPUT_CHARS = 10_000
"""About 10,000 characters: long, yet far below the fake's 1 MiB body limit."""


def long_input(size: int = LONG_INPUT_CHARS) -> str:
    """A deterministic text of `size` characters, words and non-ASCII mixed."""
    words = "Somia contract run: a long turn, mit Umlauten äöü, 長い入力, end. "
    return (words * (size // len(words) + 1))[:size]


def request_schema(document: dict[str, Any], path: str = CREATE) -> dict[str, Any]:
    """The JSON schema of an operation's request body."""
    doc = Document(document)
    (operation,) = (op for op in doc.operations() if op.path == path and op.method == "post")
    return doc.merged(doc.request_schema(operation))


def optional_fields(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every documented optional field of the request body, in document order, with its schema.

    Both operations take the same body; a field only one of them documents is included too.
    """
    fields: dict[str, dict[str, Any]] = {}
    for path in (CREATE, INTERACT):
        schema = request_schema(document, path)
        required = set(schema.get("required", []))
        for name, prop in Document(document).properties(schema).items():
            if name not in required:
                fields.setdefault(name, prop)
    return fields


def candidates(name: str, schema: dict[str, Any]) -> list[Any]:
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


def made_up_value(name: str, schema: dict[str, Any]) -> Any:
    """One deterministic value valid for `schema` (the keywords this document uses)."""
    kind = schema.get("type")
    if kind is None and "oneOf" in schema:
        return made_up_value(name, schema["oneOf"][0])
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "string":
        if "pattern" in schema or "format" in schema:
            raise ValueError(
                f"cannot make up a value for request field {name!r} (pattern or format): "
                "give it an example in openapi/somia.yaml"
            )
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


@dataclass(frozen=True)
class PlannedTurn:
    """One paid turn of the run."""

    label: str
    continues: int | None
    """The index of the earlier turn whose session this one continues; None creates."""
    body: dict[str, Any] = field(repr=False)

    @property
    def streams(self) -> bool:
        return self.body.get("stream") is True


def turn_plan(document: dict[str, Any], *, pipeline_version: str | int | None) -> list[PlannedTurn]:
    """The paid turns: both operations, both answer media types, every optional field.

    Turn 1 is the smallest create (a non-ASCII input, every other field omitted); turns 2-4
    carry every optional field: turn 2 each field's first candidate, turn 3 its second, and
    so on. `pipeline_version` (SOMIA_PIPELINE_VERSION) replaces that field in every turn.
    """
    fields = optional_fields(document)
    inputs = candidates("input_data", fields.get("input_data", {}))
    media = {  # (label, continues, input, stream): stream None leaves the field out
        0: ("create, JSON, non-ASCII input", None, NON_ASCII_INPUT, None),
        1: ("continue, stream, multi-line input", 0, MULTI_LINE_INPUT, True),
        2: ("create, stream, long input", None, long_input(), True),
        3: ("continue, JSON, the document's last input example", 2, inputs[-1], False),
    }
    plan = []
    for index, (label, continues, input_data, stream) in media.items():
        body: dict[str, Any] = {}
        if index:
            for name, schema in fields.items():
                values = candidates(name, schema)
                body[name] = values[(index - 1) % len(values)]
        body["input_data"] = input_data
        if stream is None:
            body.pop("stream", None)
        else:
            body["stream"] = stream
        if pipeline_version is not None and "pipeline_version" in fields:
            body["pipeline_version"] = pipeline_version
        plan.append(PlannedTurn(label, continues, body))
    return plan


def agent_id_schema(document: dict[str, Any]) -> dict[str, Any]:
    """The schema of the create operation's `agent_id` parameter."""
    doc = Document(document)
    (operation,) = (op for op in doc.operations() if op.path == CREATE and op.method == "post")
    (parameter,) = (p for p in doc.parameters(operation) if p["name"] == "agent_id")
    return doc.merged(parameter["schema"])


def agent_ids_below_minimum(document: dict[str, Any]) -> list[int]:
    """Agent ids the document's minimum rules out: one below it, and -1."""
    minimum = int(agent_id_schema(document).get("minimum", 1))
    return list(dict.fromkeys([minimum - 1, -1]))


_WRONG_TYPE: dict[str, Any] = {
    "boolean": "yes",
    "string": 12345,
    "integer": "one",
    "number": "one",
    "array": "not-an-array",
    "object": "not-an-object",
}


def schema_breaking_body(document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A body with one field of the wrong type (a boolean first: `"stream": "yes"`), its name."""
    fields = optional_fields(document).items()
    for kind, wrong in _WRONG_TYPE.items():
        for name, schema in fields:
            if schema.get("type") == kind:
                return name, {"input_data": "Hello", name: wrong}
    raise ValueError("the request body has no typed field to break")
