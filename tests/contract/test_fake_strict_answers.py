"""Strict answers against the fake: only documented fields, and every documented field once.

When the contract tests run against `somia.testing`, the document's answer schemas are
treated as closed (an object schema that lists properties takes no other), and each
documented answer field must appear at least once over the run (issue 12). `AnswerAudit`
checks that from the wire, independently of the fake's own bookkeeping, which
`FakeSomia.unsent_answer_fields()` reports; a contract run against the fake feeds every 200
answer (JSON, and each stream chunk) to an audit and asserts both at the end.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import jsonschema_rs
import pytest

from somia._bridge import openapi_document
from somia.testing import Answer, FakeServer, FakeSomia, echo_agent

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
KEY = "sk-strict"


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
    data = _resolve(document, event["properties"]["data"])
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
        for block in response.text.split("\n\n"):
            data = "\n".join(line[6:] for line in block.split("\n") if line.startswith("data: "))
            value = json.loads(data) if data else None
            if isinstance(value, dict) and "error" not in value:
                self.add(EVENT_STREAM, value)

    def unseen(self) -> list[str]:
        """The documented fields no answer carried, as `"<media type>: <field>"`."""
        return sorted(
            f"{media}: {field}"
            for media, schema in self.schemas.items()
            for field in documented_fields(self.document, schema)
            if field not in self._seen[media]
        )


def run_both_operations(server: FakeServer, agent_id: int, audit: AnswerAudit) -> None:
    """Create and continue a session, as JSON and as a stream, auditing every answer."""
    base = f"{server.base_url}/api/v1/external/agent/{agent_id}/session"
    with httpx.Client(headers=server.headers, timeout=5) as client:
        for stream in (False, True):
            created = client.post(base, json={"input_data": "héllo\nwörld", "stream": stream})
            assert created.status_code == 200, created.text
            audit.add_response(created)
            session_id = created.headers["x-somia-session-id"]
            again = client.post(f"{base}/{session_id}", json={"stream": stream})
            assert again.status_code == 200, again.text
            audit.add_response(again)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeSomia(api_key=KEY, default_agent=echo_agent)
    with FakeServer(fake) as server:
        yield server


def test_the_fakes_answers_hold_only_documented_fields_and_carry_each_one(
    server: FakeServer,
) -> None:
    audit = AnswerAudit()

    run_both_operations(server, 1, audit)

    assert audit.problems == []
    assert audit.unseen() == []
    assert server.fake.unsent_answer_fields() == []


def test_a_field_never_sent_is_reported_by_both_the_audit_and_the_fake(
    server: FakeServer,
) -> None:
    server.fake.register_agent(2, lambda turn: Answer("x", omit=("finished",)))
    audit = AnswerAudit()

    run_both_operations(server, 2, audit)

    expected = [f"{JSON}: finished", f"{EVENT_STREAM}: finished"]
    assert audit.problems == []
    assert audit.unseen() == expected
    assert server.fake.unsent_answer_fields() == expected


def test_the_audit_refuses_an_undocumented_field_at_any_documented_level() -> None:
    document = copy.deepcopy(openapi_document())
    usage = {"type": "object", "properties": {"input_tokens": {"type": "integer"}}}
    document["components"]["schemas"]["AgentSessionResponse"]["properties"]["usage"] = usage
    audit = AnswerAudit(document)

    audit.add(JSON, {"session_id": "s", "surprise": 1})
    audit.add(JSON, {"session_id": "s", "usage": {"input_tokens": 1, "extra": 2}})
    audit.add(JSON, {"session_id": "s", "metadata": {"free": "form"}, "history": [{"any": 1}]})

    assert len(audit.problems) == 2
    assert "surprise" in audit.problems[0]
    assert "extra" in audit.problems[1]
    assert f"{JSON}: usage.input_tokens" not in audit.unseen()
    assert f"{JSON}: finished" in audit.unseen()
