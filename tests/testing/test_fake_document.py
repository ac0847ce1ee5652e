"""The fake server follows the document: change a schema and its checks and answers follow."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from somia._document import shipped
from somia.testing import Answer, FakeServer, FakeSomia, Turn, _answers
from somia.testing._validation import request_problems
from tests.harness import documented_fields
from tests.testing.fake_helpers import continue_url, create_url, http_client, read_events

USAGE = {
    "type": "object",
    "properties": {
        "input_tokens": {"type": "integer", "minimum": 0},
        "output_tokens": {"type": "integer", "minimum": 0, "example": 7},
        "model": {"type": "string", "enum": ["small", "large"]},
    },
}


@pytest.fixture
def document() -> dict[str, Any]:
    """A copy of the document that the fake follows; edit it before the first request."""
    return copy.deepcopy(shipped().data)


@pytest.fixture
def somia_fake(document: dict[str, Any]) -> FakeSomia:
    """The fake of `somia_server`, following the copy (read at its first request)."""
    return FakeSomia(document=document)


def recorder(turns: list[Turn]) -> Callable[[Turn], str]:
    def agent(turn: Turn) -> str:
        turns.append(turn)
        return "ok"

    return agent


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"]
    return found


def answer_schemas(document: dict[str, Any]) -> list[dict[str, Any]]:
    # A stream chunk has the JSON answer's schema, or a schema of its own in older documents.
    names = ("AgentSessionResponse", "StreamChunk")
    return [schemas(document)[name] for name in names if name in schemas(document)]


def codes(response: httpx.Response) -> list[tuple[list[Any], str]]:
    assert response.status_code == 422, response.text
    return [(problem["loc"], problem["type"]) for problem in response.json()["detail"]]


def test_a_new_request_field_is_checked_by_its_schema(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    turns: list[Turn] = []
    somia_server.fake.register_agent(1, recorder(turns))
    properties = schemas(document)["AgentExecutionRequest"]["properties"]
    properties["topP"] = {"type": "number", "minimum": 0, "maximum": 2, "default": 1}

    hot = client.post(create_url(somia_server), json={"topP": "hot"})
    low = client.post(create_url(somia_server), json={"topP": -5})
    fine = client.post(create_url(somia_server), json={"topP": 0.2})
    absent = client.post(create_url(somia_server), json={})

    assert codes(hot) == [(["body", "topP"], "float_type")]
    assert codes(low) == [(["body", "topP"], "greater_than_equal")]
    assert low.json()["detail"][0]["msg"] == "Input should be greater than or equal to 0"
    assert (fine.status_code, absent.status_code) == (200, 200)
    assert [turn.topP for turn in turns] == [0.2, 1]


def test_a_changed_parameter_schema_is_checked(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    document["components"]["parameters"]["AgentId"]["schema"]["maximum"] = 100
    document["components"]["parameters"]["SessionId"]["schema"]["pattern"] = "^[a-z-]+$"

    too_big = client.post(create_url(somia_server, 101), json={})
    bad_session = client.post(continue_url(somia_server, "ABC"), json={})

    assert codes(too_big) == [(["path", "agent_id"], "less_than_equal")]
    assert too_big.json()["detail"][0]["msg"] == "Input should be less than or equal to 100"
    assert codes(bad_session) == [(["path", "session_id"], "string_pattern_mismatch")]


def test_a_required_header_parameter_is_required(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    document["components"]["parameters"]["IdempotencyKey"]["required"] = True

    response = client.post(create_url(somia_server), json={})

    assert codes(response) == [(["header", "Idempotency-Key"], "missing")]


def test_a_new_answer_object_is_produced_from_its_schema(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    for schema in answer_schemas(document):
        schema["properties"]["usage"] = USAGE

    answer = client.post(create_url(somia_server), json={"input_data": "x"}).json()
    events = read_events(client, create_url(somia_server), {}, {"stream": True})

    expected = {"input_tokens": 0, "output_tokens": 7, "model": "small"}
    assert answer["usage"] == expected
    assert events[-2].json()["usage"] == expected
    assert all("usage" not in event.json() for event in events[:-2])


def test_an_answer_field_with_no_valid_value_to_make_up_is_left_out_unless_set(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    for schema in answer_schemas(document):
        schema["properties"]["trace_url"] = {"type": "string", "pattern": "^https://"}
    somia_server.fake.register_agent(
        2, lambda turn: Answer("x", fields={"trace_url": "https://trace.test/1"})
    )

    default = client.post(create_url(somia_server), json={})
    chosen = client.post(create_url(somia_server, 2), json={})

    assert default.status_code == 200, default.text
    assert "trace_url" not in default.json()
    assert chosen.json()["trace_url"] == "https://trace.test/1"


def test_an_agent_sets_and_omits_answer_fields(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    for schema in answer_schemas(document):
        schema["properties"]["usage"] = USAGE
    usage = {"input_tokens": 3, "output_tokens": 5, "model": "large"}
    somia_server.fake.register_agent(
        2, lambda turn: Answer("done", fields={"usage": usage, "finished": True})
    )
    somia_server.fake.register_agent(
        3, lambda turn: Answer(["a", "b"], omit=("usage", "metadata", "pending"))
    )

    set_fields = client.post(create_url(somia_server, 2), json={}).json()
    omitted = client.post(create_url(somia_server, 3), json={}).json()
    streamed = read_events(client, create_url(somia_server, 3), {}, {"stream": True})

    assert (set_fields["usage"], set_fields["finished"]) == (usage, True)
    assert set(omitted) == {"session_id", "message", "history", "finished"}
    assert omitted["message"] == "ab"
    for event in streamed[:-1]:
        assert not {"usage", "metadata", "pending"} & set(event.json())


@pytest.mark.parametrize(
    "answer",
    [
        Answer("x", fields={"surprise": 1}),
        Answer("x", omit=("surprise",)),
        Answer("x", omit=("session_id",)),
        Answer("x", fields={"session_id": "mine"}),
        Answer("x", fields={"finished": "yes"}),
        Answer("x", fields={"usage": {"input_tokens": 1, "undocumented": 2}}),
    ],
    ids=["unknown", "omit-unknown", "omit-required", "set-session-id", "wrong-type", "nested"],
)
def test_an_agent_cannot_answer_what_the_document_does_not_allow(
    document: dict[str, Any],
    somia_server: FakeServer,
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    answer: Answer,
) -> None:
    for schema in answer_schemas(document):
        schema["properties"]["usage"] = USAGE
    somia_server.fake.register_agent(4, lambda turn: answer)

    with caplog.at_level(logging.ERROR, logger="somia.testing"):
        response = client.post(create_url(somia_server, 4), json={})

    assert response.status_code == 500
    assert "TypeError" in caplog.text


def test_a_removed_answer_field_is_no_longer_sent(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    for schema in answer_schemas(document):
        del schema["properties"]["finished"]

    answer = client.post(create_url(somia_server), json={"input_data": "x"}).json()
    events = read_events(client, create_url(somia_server), {}, {"stream": True})

    assert "finished" not in answer
    assert all(event.data == "true" or "finished" not in event.json() for event in events)


def test_unsent_answer_fields_name_each_documented_field_until_it_was_sent(
    document: dict[str, Any], somia_server: FakeServer, client: httpx.Client
) -> None:
    for schema in answer_schemas(document):
        schema["properties"]["usage"] = USAGE
    fake = somia_server.fake

    before = fake.unsent_answer_fields()
    client.post(create_url(somia_server), json={"input_data": "x"})
    after_json = fake.unsent_answer_fields()
    read_events(client, create_url(somia_server), {}, {"stream": True})

    assert "application/json: usage.model" in before
    assert "text/event-stream: finished" in before
    assert after_json == [name for name in before if name.startswith("text/event-stream: ")]
    assert fake.unsent_answer_fields() == []


def test_turn_reads_documented_request_fields_and_their_defaults(
    somia_server: FakeServer, client: httpx.Client
) -> None:
    turns: list[Turn] = []
    somia_server.fake.register_agent(1, recorder(turns))

    client.post(create_url(somia_server), json={"tags": ["a"], "other": 1})

    turn = turns[0]
    assert (turn.stream, turn.pipeline_version, turn.trace_enabled) == (False, "production", False)
    assert (turn.tags, turn.metadata, turn.input_data, turn.has_input) == (["a"], None, None, False)
    assert turn.request == {"tags": ["a"], "other": 1}
    with pytest.raises(AttributeError, match="'other'"):
        _ = turn.other


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"pipeline_version": 3}, True),
        ({"pipeline_version": 3.0}, True),
        ({"pipeline_version": "v2"}, True),
        ({"pipeline_version": True}, False),
        ({"pipeline_version": 1.5}, False),
        ({"stream": 1}, False),
        ({"tags": ["a", None]}, False),
        ({"metadata": {"deep": [1, {"x": None}]}}, True),
        ({"input_data": None, "unknown": [1]}, True),
    ],
)
def test_request_problems_follow_json_schema_rules(body: dict[str, Any], valid: bool) -> None:
    assert (request_problems("createSession", body) == []) is valid


def test_a_fake_without_the_document_changes_keeps_answering(somia_server: FakeServer) -> None:
    # The document fixture restores the real document: the default fake answers as before.
    with http_client(somia_server) as client:
        answer = client.post(create_url(somia_server), json={"input_data": "x"}).json()
    assert set(answer) == documented_fields(answer="application/json")
    real = shipped()
    operation = real.operation("createSession")
    schemas = {
        "application/json": real.answer_schemas(operation)["application/json"],
        "text/event-stream": real.chunk_schema(operation),
    }
    documented = {
        f"{media}: {path}" for media, s in schemas.items() for path in real.fields(s).paths
    }
    assert set(FakeSomia().unsent_answer_fields()) == documented


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "integer"}, 0),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "number", "exclusiveMinimum": 0}, 1.0),
        ({"type": "string", "minLength": 2}, "xx"),
        ({"type": ["string", "null"]}, ""),
        ({"type": "boolean"}, False),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [0, 0]),
        ({"type": "string", "default": "d", "example": "e"}, "d"),
        ({"type": "string", "examples": ["first", "second"]}, "first"),
        ({"enum": ["a", "b"]}, "a"),
        ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, 0),
        ({"type": "object"}, {}),
        ({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}, {"a": {}}),
        ({"$ref": "#/components/schemas/ValidationProblem"}, {"loc": [], "msg": "", "type": ""}),
    ],
)
def test_example_values_follow_the_simple_rules(schema: dict[str, Any], value: Any) -> None:
    assert _answers.example_value(schema) == value
