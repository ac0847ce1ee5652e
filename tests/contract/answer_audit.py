"""Strict answers: an audit that holds a run's answers to closed answer schemas and coverage.

The document's answer schemas are treated as closed (an object schema that lists properties
takes no other), and each documented answer field must appear at least once over the run.
`AnswerAudit` checks that from the wire, independently of the fake's own bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import jsonschema_rs

from somia._bridge import openapi_document
from somia._errors import StreamParseError
from somia._events import classify
from somia._sse import SSEDecoder

JSON = "application/json"
EVENT_STREAM = "text/event-stream"


def closed(node: Any) -> Any:
    """A copy of a schema where each object schema listing properties takes no other."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {key: closed(value) for key, value in node.items()}
    if isinstance(node.get("properties"), Mapping):
        out["additionalProperties"] = False
    return out


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def answer_schemas(document: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a 200 answer per media type (for a stream: of one chunk)."""
    found: dict[str, Any] = {}
    for path_item in document["paths"].values():
        for operation in path_item.values():
            answer = _resolve(document, operation["responses"]["200"])
            for media, content in answer["content"].items():
                found[media] = content["schema"]
    event = _resolve(document, found[EVENT_STREAM])
    data = _resolve(document, event["then"]["properties"]["data"])  # an event of the answer
    required = set(_resolve(document, found[JSON]).get("required", []))
    for option in data["contentSchema"].get("anyOf", []):
        if required <= set(_resolve(document, option).get("required", [])):
            found[EVENT_STREAM] = option
    return found


def documented_fields(document: Mapping[str, Any], schema: Any, prefix: str = "") -> list[str]:
    """Every documented field of a schema, nested ones as `a.b` (`a[].b` in arrays)."""
    schema = _resolve(document, schema)
    fields: list[str] = []
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve(document, sub)
        fields.append(prefix + name)
        fields += documented_fields(document, sub, f"{prefix}{name}.")
        if "items" in sub:
            fields += documented_fields(document, sub["items"], f"{prefix}{name}[].")
    return fields


def _present(document: Mapping[str, Any], schema: Any, value: Any, prefix: str = "") -> set[str]:
    schema = _resolve(document, schema)
    seen: set[str] = set()
    if not isinstance(value, dict):
        return seen
    for name, sub in schema.get("properties", {}).items():
        if name in value:
            sub = _resolve(document, sub)
            seen.add(prefix + name)
            seen |= _present(document, sub, value[name], f"{prefix}{name}.")
            for item in value[name] if isinstance(value[name], list) else []:
                seen |= _present(document, sub.get("items", {}), item, f"{prefix}{name}[].")
    return seen


class AnswerAudit:
    """The answers of a run, held to closed answer schemas and to field coverage."""

    def __init__(self, document: Mapping[str, Any] | None = None) -> None:
        self.document = openapi_document() if document is None else document
        self.schemas = answer_schemas(self.document)
        components = closed(self.document["components"])
        self._validators = {
            media: jsonschema_rs.Draft202012Validator(
                {"components": components, "allOf": [closed(schema)]}
            )
            for media, schema in self.schemas.items()
        }
        self.problems: list[str] = []
        self._seen: dict[str, set[str]] = {media: set() for media in self.schemas}

    def add(self, media: str, answer: Any) -> None:
        """Check one answer (a stream: one chunk) and note its fields."""
        for error in self._validators[media].iter_errors(answer):
            self.problems.append(f"{media} answer {error.instance_path}: {error.message}")
        self._seen[media] |= _present(self.document, self.schemas[media], answer)

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
            for media, schema in self.schemas.items()
            for field in documented_fields(self.document, schema)
            if field not in self._seen[media]
        )
