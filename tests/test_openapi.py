"""The OpenAPI document: valid, and keeping what the released 0.1 clients rely on.

The released clients (0.1.0a1 and 0.1.0a5, see the shared API facts) are a second source of
truth beside the document: what they send and read must stay documented. Each check is a
subset, so the document may grow (a new field, a new status) without an edit here.
"""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from somia._document import Document, Operation, shipped

# What 0.1.0a5 sends: the fields of 0.1.0a1 with the defaults it always sends, then its own.
RELEASED_DEFAULTS = {
    "stream": False,
    "pipeline_version": "production",
    "trace_enabled": False,
    "test": False,
}
RELEASED_FIELDS = {*RELEASED_DEFAULTS, "input_data", "source", "tags", "environment"}
RELEASED_FIELDS |= {"end_user_id", "metadata"}
RELEASED_FIELDS |= {"caller_pipeline_id", "caller_agent_slug", "caller_run_id", "caller_span_id"}
RELEASED_ANSWER_FIELDS = {"session_id", "message", "history", "metadata", "pending", "finished"}
# The statuses 0.1.0a1's error classes stand for.
RELEASED_STATUSES = {400, 401, 403, 404, 429, 500, 503}


@pytest.fixture(scope="module")
def document() -> Document:
    return shipped()


def _operations(document: Document) -> list[Operation]:
    operations = document.operations()
    assert {op.id for op in operations} == {"createSession", "interactSession"}
    return operations


def test_document_is_valid_openapi_3_1(document: Document) -> None:
    assert document.data["openapi"].startswith("3.1")
    validate(document.data)


def test_both_session_operations_are_post_with_summaries_and_the_released_paths(
    document: Document,
) -> None:
    for op in _operations(document):
        assert op.method == "post"
        assert op.spec["summary"]
        assert op.spec["description"]
        assert op.path.startswith("/api/v1/external/agent/{agent_id}/session")


def test_agent_id_is_an_integer_path_parameter_and_session_id_a_string(
    document: Document,
) -> None:
    continuing = document.operation("interactSession")
    params = {p["name"]: p for p in document.parameters(continuing)}
    assert params["agent_id"]["in"] == "path"
    assert document.types(params["agent_id"]["schema"]) == ["integer"]
    assert params["session_id"]["in"] == "path"
    assert document.types(params["session_id"]["schema"]) == ["string"]


def test_the_request_keeps_every_field_the_released_clients_send(document: Document) -> None:
    for op in _operations(document):
        schema = document.merged(document.request_schema(op))
        props = document.properties(schema)
        assert set(props) >= RELEASED_FIELDS
        assert not schema.get("required"), "the released clients send no field as required"
        for name, default in RELEASED_DEFAULTS.items():
            assert props[name].get("default") == default, name


def test_ok_answer_is_json_first_then_event_stream(document: Document) -> None:
    for op in _operations(document):
        answers = document.answer_schemas(op)
        assert list(answers) == ["application/json", "text/event-stream"]
        schema = document.merged(answers["application/json"])
        assert set(RELEASED_ANSWER_FIELDS) <= set(schema["properties"])
        assert schema["required"] == ["session_id"]
        assert schema["additionalProperties"] is True
        # A chunk is an answer: one definition of the fields, so the two cannot drift.
        assert document.chunk_schema(op) == answers["application/json"]
        event = document.merged(answers["text/event-stream"])
        # Events of the answer are unnamed ("message"); other names may carry anything.
        assert event["if"] == {"properties": {"event": {"const": "message"}}}
        data = document.merged(event["then"]["properties"]["data"])
        kinds = data["contentSchema"]["anyOf"]
        assert document.merged(kinds[-1])["const"] is True  # the end event


def test_every_error_status_has_a_json_body_and_the_released_ones_are_there(
    document: Document,
) -> None:
    for op in _operations(document):
        statuses = set(document.statuses(op))
        assert statuses >= RELEASED_STATUSES
        for status in statuses - {200}:
            answer: dict[str, Any] = document.resolve(op.spec["responses"][str(status)])
            assert "application/json" in answer["content"], status


def test_retryable_statuses_declare_retry_after(document: Document) -> None:
    for op in _operations(document):
        for status in ("429", "503"):
            assert "Retry-After" in document.resolve(op.spec["responses"][status])["headers"]


def test_api_key_scheme_is_the_released_clients_x_api_key_header(document: Document) -> None:
    assert document.api_key_header() == "x-api-key"


def test_unknowns_of_the_facts_page_are_decided_in_the_description(document: Document) -> None:
    text = document.data["info"]["description"]
    for decision in ("cumulative", "Event names", "Idempotency", "X-Somia-Session-Id"):
        assert decision in text
