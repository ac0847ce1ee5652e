"""Strict answers: an audit that holds a run's answers to closed answer schemas and coverage.

The document's answer schemas are treated as closed (an object schema that lists properties
takes no other), and each documented answer field must appear at least once over the run.
`AnswerAudit` checks that from the wire, independently of the fake's own bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from somia._document import Document, Fields, closed, shipped
from somia._errors import StreamParseError
from somia._events import classify
from somia._sse import SSEDecoder
from somia.testing._schema import validator

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


def answer_schemas(document: Document) -> dict[str, Any]:
    """The schema of a 200 answer per media type (for a stream: of one chunk)."""
    found: dict[str, Any] = {}
    for operation in document.operations():
        found.update(document.answer_schemas(operation))
        found[EVENT_STREAM] = document.chunk_schema(operation)
    return found


class AnswerAudit:
    """The answers of a run, held to closed answer schemas and to field coverage."""

    def __init__(self, document: Mapping[str, Any] | None = None) -> None:
        self.document = shipped() if document is None else Document(document)
        self.schemas = answer_schemas(self.document)
        self._fields: dict[str, Fields] = {
            media: self.document.fields(schema) for media, schema in self.schemas.items()
        }
        components = closed(self.document.data["components"])
        self._validators = {
            media: validator({"components": components, "allOf": [closed(schema)]})
            for media, schema in self.schemas.items()
        }
        self.problems: list[str] = []
        self._seen: dict[str, set[str]] = {media: set() for media in self.schemas}

    def add(self, media: str, answer: Any) -> None:
        """Check one answer (a stream: one chunk) and note its fields."""
        for error in self._validators[media].iter_errors(answer):
            self.problems.append(f"{media} answer {error.instance_path}: {error.message}")
        self._seen[media] |= self._fields[media].present(answer)

    def add_response(self, response: httpx.Response) -> None:
        """Check a 200 response's answer, or each chunk of its stream."""
        media = response.headers["content-type"].split(";")[0].strip()
        if media == JSON:
            self.add(JSON, response.json())
            return
        # The document's event rule, as the SDK follows it: only chunks are answers.
        for event in SSEDecoder().feed(response.content):
            try:
                kind, value = classify(event)
            except StreamParseError as exc:
                self.problems.append(f"{EVENT_STREAM} answer: {exc}")
                continue
            if kind == "chunk":
                self.add(EVENT_STREAM, value)

    def unseen(self) -> list[str]:
        """The documented fields no answer carried, as `"<media type>: <field>"`."""
        return sorted(
            f"{media}: {field}"
            for media, fields in self._fields.items()
            for field in fields.paths
            if field not in self._seen[media]
        )
