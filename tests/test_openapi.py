"""The OpenAPI document: valid, and naming everything the public facts name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi" / "somia.yaml"
CREATE = "/api/v1/external/agent/{agent_id}/session"
CONTINUE = "/api/v1/external/agent/{agent_id}/session/{session_id}"
REQUEST_FIELDS = {
    "input_data": None,
    "stream": False,
    "pipeline_version": "production",
    "trace_enabled": False,
    "test": False,
    "source": None,
    "tags": None,
    "environment": None,
    "end_user_id": None,
    "metadata": None,
}
RESPONSE_FIELDS = ["session_id", "message", "history", "metadata", "pending", "finished"]
ERROR_STATUSES = ["400", "401", "403", "404", "422", "429", "500", "503"]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operation(spec: dict[str, Any], path: str) -> dict[str, Any]:
    op: dict[str, Any] = spec["paths"][path]["post"]
    return op


def test_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)


@pytest.mark.parametrize(
    ("path", "operation_id"), [(CREATE, "createSession"), (CONTINUE, "interactSession")]
)
def test_both_session_operations_are_post_with_ids_and_summaries(
    spec: dict[str, Any], path: str, operation_id: str
) -> None:
    op = _operation(spec, path)
    assert op["operationId"] == operation_id
    assert op["summary"]
    assert op["description"]


def test_agent_id_is_a_positive_integer_and_session_id_a_string(spec: dict[str, Any]) -> None:
    params = {
        p["name"]: p for p in (_resolve(spec, p) for p in _operation(spec, CONTINUE)["parameters"])
    }
    assert params["agent_id"]["in"] == "path"
    assert params["agent_id"]["schema"]["type"] == "integer"
    assert params["agent_id"]["schema"]["minimum"] == 1
    assert params["session_id"]["in"] == "path"
    assert params["session_id"]["schema"]["type"] == "string"


@pytest.mark.parametrize("path", [CREATE, CONTINUE])
def test_request_body_has_every_field_with_its_default(spec: dict[str, Any], path: str) -> None:
    body = _resolve(spec, _operation(spec, path)["requestBody"])
    schema = _resolve(spec, body["content"]["application/json"]["schema"])
    props = schema["properties"]
    assert set(props) == set(REQUEST_FIELDS)
    for name, default in REQUEST_FIELDS.items():
        assert props[name].get("default") == default, name
    assert {s["type"] for s in props["pipeline_version"]["oneOf"]} == {"integer", "string"}
    assert props["tags"]["items"]["type"] == "string"
    assert props["metadata"]["type"] == "object"


@pytest.mark.parametrize("path", [CREATE, CONTINUE])
def test_ok_answer_is_json_first_then_event_stream(spec: dict[str, Any], path: str) -> None:
    ok = _resolve(spec, _operation(spec, path)["responses"]["200"])
    assert list(ok["content"]) == ["application/json", "text/event-stream"]
    schema = _resolve(spec, ok["content"]["application/json"]["schema"])
    assert set(RESPONSE_FIELDS) <= set(schema["properties"])
    assert schema["required"] == ["session_id"]
    assert schema["additionalProperties"] is True
    event = _resolve(spec, ok["content"]["text/event-stream"]["schema"])
    # Events of the answer are unnamed ("message"); other names may carry anything.
    assert event["if"] == {"properties": {"event": {"const": "message"}}}
    kinds = event["then"]["properties"]["data"]["contentSchema"]["anyOf"]
    names = [k["$ref"].rsplit("/", 1)[-1] for k in kinds]
    # A chunk is an answer: one definition of the fields, so the two cannot drift.
    answer = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert names == [answer, "StreamError", "StreamEnd"]
    assert _resolve(spec, kinds[2])["const"] is True


@pytest.mark.parametrize("path", [CREATE, CONTINUE])
@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_every_error_status_is_documented_with_a_body(
    spec: dict[str, Any], path: str, status: str
) -> None:
    answer = _resolve(spec, _operation(spec, path)["responses"][status])
    assert "application/json" in answer["content"]


@pytest.mark.parametrize("status", ["429", "503"])
def test_retryable_statuses_declare_retry_after(spec: dict[str, Any], status: str) -> None:
    answer = _resolve(spec, _operation(spec, CREATE)["responses"][status])
    assert "Retry-After" in answer["headers"]


def test_api_key_scheme_is_the_x_api_key_header(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    assert spec["security"] == [{"ApiKeyAuth": []}]


def test_unknowns_of_the_facts_page_are_decided_in_the_description(spec: dict[str, Any]) -> None:
    text = spec["info"]["description"]
    for decision in ("cumulative", "Event names", "Idempotency", "X-Somia-Session-Id"):
        assert decision in text
