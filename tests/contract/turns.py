"""What the paid turns carry: bodies with every optional field, inputs, and `Accept` values.

Each paid turn is shared by many promises: its operation and answer form, an `Accept` value,
the document's candidates for every optional field (turn 1 sends none of them, so their
defaults hold; turns 2 and on take the next candidate each), and an input that has broken
servers before (non-ASCII, multi-line, long).
"""

from __future__ import annotations

from typing import Any

from somia._document import Document, Operation
from tests.contract.values import candidates

NON_ASCII_INPUT = "Grüße aus Köln — 你好 世界 — こんにちは — Ünïcödé ✓ 🚀"
MULTI_LINE_INPUT = (
    "First line.\nSecond line,\r\nthird line after CRLF.\n\n  Indented, after a blank line.\n"
)
LONG_INPUT_CHARS = 10_000
"""About 10,000 characters: long, yet far below the body limit."""
INPUT_FIELD = "input_data"
"""The field a turn's input goes in (any JSON value, so no schema gives it a value)."""


def long_input(size: int = LONG_INPUT_CHARS) -> str:
    """A deterministic text of `size` characters, words and non-ASCII mixed."""
    words = "Somia contract run: a long turn, mit Umlauten äöü, 長い入力, end. "
    return (words * (size // len(words) + 1))[:size]


def optional_fields(doc: Document, op: Operation) -> dict[str, dict[str, Any]]:
    """The documented optional fields of an operation's request body, with their schemas."""
    schema = doc.request_schema(op)
    if schema is None:
        return {}
    required = set(doc.merged(schema).get("required", []))
    return {n: s for n, s in doc.properties(schema).items() if n not in required}


def turn_body(
    doc: Document,
    op: Operation,
    number: int,
    when: dict[str, Any],
    pipeline_version: str | int | None,
) -> dict[str, Any]:
    """The body of the run's paid turn `number` (from 0) of `op`, choosing the answer form
    `when` says (a field equal to its default is left out of turn 0)."""
    fields = optional_fields(doc, op)
    body: dict[str, Any] = {}
    if number:
        for name, schema in fields.items():
            values = candidates(name, schema)
            body[name] = values[(number - 1) % len(values)]
    if INPUT_FIELD in fields:
        examples = candidates(INPUT_FIELD, fields[INPUT_FIELD])
        inputs = [NON_ASCII_INPUT, MULTI_LINE_INPUT, long_input(), examples[-1]]
        body[INPUT_FIELD] = inputs[number % len(inputs)]
    for name, value in when.items():
        default = fields.get(name, {}).get("default", object())
        if number == 0 and type(default) is type(value) and default == value:
            body.pop(name, None)
        else:
            body[name] = value
    if pipeline_version is not None and "pipeline_version" in fields:
        body["pipeline_version"] = pipeline_version
    return body


def another_body(doc: Document, op: Operation, body: Any) -> Any:
    """`body` with one field changed: the same Idempotency-Key with it is another request."""
    if not isinstance(body, dict):
        return {"somia_contract": "another body"}
    for name, schema in optional_fields(doc, op).items():
        text = "string" in doc.types(schema) or not doc.types(schema)
        if text and "pattern" not in schema and "enum" not in schema:
            return {**body, name: f"{body.get(name, '')} (another body)"}
    return {**body, "somia_contract": "another body"}


class AcceptPool:
    """The `Accept` values a client may send, handed out so that each is tried: every
    documented media type (another form's first), all of them, `*/*`, and none at all."""

    def __init__(self, media: list[str]) -> None:
        documented = list(dict.fromkeys(media))
        self.values: list[str | None] = [*documented]
        if len(documented) > 1:
            self.values.append(", ".join(documented))
        self.values += ["*/*", None]
        self._left = list(self.values)

    def take(self, media: str) -> str | None:
        """The next untried value, naming another form than `media` where one is left."""
        if not self._left:
            self._left = list(self.values)
        other = next(
            (v for v in self._left if v is not None and "," not in v and v != media and v != "*/*"),
            None,
        )
        pick = (
            other
            if other is not None
            else next((v for v in self._left if v != media), self._left[0])
        )
        self._left.remove(pick)
        return pick
