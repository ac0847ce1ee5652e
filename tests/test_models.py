"""somia._models: the request's checks and body, the answer's extra fields, stream events."""

from __future__ import annotations

import copy
import json
import pickle
from types import MappingProxyType
from typing import Any, assert_type

import httpx
import pytest

from somia import SessionAnswer, SomiaClient
from somia._errors import InvalidResponseError
from somia._models import AgentExecutionRequest, AgentSessionResponse, ResponseInfo, StreamEvent
from somia.testing import FakeServer
from tests.harness import documented_fields

ANSWER_FIELDS = documented_fields(answer="application/json")

# -- AgentExecutionRequest ------------------------------------------------------------------


def test_a_default_request_sends_nothing_and_leaves_the_defaults_to_the_server() -> None:
    assert AgentExecutionRequest().to_dict() == {}


def test_a_full_request_sends_every_field() -> None:
    request = AgentExecutionRequest(
        input_data={"q": "hi"},
        stream=True,
        pipeline_version=3,
        trace_enabled=True,
        test=True,
        source="docs",
        tags=["a", "b"],
        environment="staging",
        end_user_id="u-1",
        metadata={"k": [1, 2]},
    )
    assert request.to_dict() == {
        "input_data": {"q": "hi"},
        "stream": True,
        "pipeline_version": 3,
        "trace_enabled": True,
        "test": True,
        "source": "docs",
        "tags": ["a", "b"],
        "environment": "staging",
        "end_user_id": "u-1",
        "metadata": {"k": [1, 2]},
    }


def test_fields_left_as_none_are_not_sent() -> None:
    body = AgentExecutionRequest(
        input_data=None,
        stream=None,
        pipeline_version=None,
        trace_enabled=None,
        source=None,
        tags=None,
        environment=None,
        end_user_id=None,
        metadata=None,
    ).to_dict()
    assert body == {}


@pytest.mark.parametrize("value", ["", 0, False, [], {}])
def test_a_falsy_input_data_is_still_sent(value: object) -> None:
    assert AgentExecutionRequest(input_data=value).to_dict()["input_data"] == value


def test_metadata_may_be_any_mapping_and_is_sent_as_a_dict() -> None:
    body = AgentExecutionRequest(metadata=MappingProxyType({"k": "v"})).to_dict()
    assert body["metadata"] == {"k": "v"}
    assert type(body["metadata"]) is dict


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "yes"),
        ("stream", 1),
        ("trace_enabled", "true"),
        ("test", 0),
        ("pipeline_version", 1.5),
        ("pipeline_version", True),
        ("source", 1),
        ("environment", ["prod"]),
        ("end_user_id", 42),
        ("metadata", [("k", "v")]),
        ("metadata", "k=v"),
        ("tags", "single-tag"),
        ("tags", b"ab"),
        ("tags", 5),
        ("tags", ["ok", 5]),
    ],
)
def test_a_mistyped_field_is_a_type_error_naming_it(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(TypeError, match=field):
        AgentExecutionRequest(**kwargs)


def test_metadata_keys_must_be_str() -> None:
    metadata: dict[Any, Any] = {1: "a"}
    with pytest.raises(TypeError, match="metadata"):
        AgentExecutionRequest(metadata=metadata)


@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_pipeline_version_is_a_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="pipeline_version"):
        AgentExecutionRequest(pipeline_version=value)


@pytest.mark.parametrize("value", [7, "production", "v2"])
def test_pipeline_version_may_be_an_int_or_a_name(value: int | str) -> None:
    assert AgentExecutionRequest(pipeline_version=value).to_dict()["pipeline_version"] == value


def test_tags_accept_a_tuple_or_any_iterable_of_str_and_are_sent_as_a_list() -> None:
    assert AgentExecutionRequest(tags=("a", "b")).to_dict()["tags"] == ["a", "b"]
    assert AgentExecutionRequest(tags=(t for t in ["x"])).to_dict()["tags"] == ["x"]  # type: ignore[arg-type]


# -- AgentSessionResponse -------------------------------------------------------------------


def _answer(**extra: Any) -> AgentSessionResponse:
    info = ResponseInfo.from_response(httpx.Response(200, headers={"X-Request-Id": "req-9"}))
    return AgentSessionResponse(
        session_id="s-1",
        message="hello",
        history=[{"role": "user"}],
        metadata={"m": 1},
        pending=True,
        finished=False,
        extra=extra,
        http=info,
    )


def test_unknown_fields_are_kept_in_extra_and_readable_as_attributes() -> None:
    answer = _answer(unknown_usage={"tokens": 12}, unknown_id="t-1")
    assert answer.extra == {"unknown_usage": {"tokens": 12}, "unknown_id": "t-1"}
    assert answer.unknown_usage == {"tokens": 12}  # type: ignore[attr-defined]
    assert answer.unknown_id == "t-1"  # type: ignore[attr-defined]


def test_to_dict_and_model_dump_give_the_server_object_with_unknown_fields() -> None:
    answer = _answer(unknown_usage={"tokens": 12})
    dumped = answer.model_dump()
    assert set(dumped) == {*ANSWER_FIELDS, "unknown_usage"}
    assert dumped["unknown_usage"] == {"tokens": 12}
    assert {key: dumped[key] for key in ("session_id", "message", "history")} == {
        "session_id": "s-1",
        "message": "hello",
        "history": [{"role": "user"}],
    }
    # Built by hand, not parsed: to_dict() has every field that is not None.
    assert answer.to_dict() == {key: value for key, value in dumped.items() if value is not None}
    sent = {"session_id": "s-2", "unknown_usage": 1}
    assert AgentSessionResponse.from_data(sent).to_dict() == sent  # as the server sent it


def test_a_truly_unknown_attribute_is_an_attribute_error_naming_it() -> None:
    answer = _answer(unknown_usage=1)
    with pytest.raises(AttributeError, match="no_such_field"):
        _ = answer.no_such_field  # type: ignore[attr-defined]
    assert getattr(answer, "no_such_field", None) is None
    assert not hasattr(answer, "__no_such_dunder__")


def test_the_request_id_and_http_status_of_the_answer_are_reachable() -> None:
    answer = _answer()
    assert answer.request_id == "req-9"
    assert answer.http is not None
    assert answer.http.status_code == 200
    assert answer.http.headers["x-request-id"] == "req-9"


def test_an_answer_built_without_http_info_has_no_request_id() -> None:
    assert AgentSessionResponse(session_id="s").request_id is None


def test_an_answer_of_a_call_has_its_http_for_type_checkers_too(somia_server: FakeServer) -> None:
    # make typecheck runs mypy --strict on this: no None check, no cast.
    with SomiaClient(base_url=somia_server.base_url, api_key=somia_server.api_key) as client:
        answer = client.sessions.create_session(1, input_data="hi")
        streamed = client.sessions.create_session(1, input_data="hi", stream=True)
        final = streamed.final_response()
        head = streamed.http  # a stream's own
    assert_type(answer, SessionAnswer)
    assert_type(answer.http, ResponseInfo)
    assert_type(final.http, ResponseInfo)
    assert answer.http.status_code == final.http.status_code == head.status_code == 200
    assert answer.http.request_id == answer.request_id


def test_a_session_from_a_chunk_or_built_by_hand_says_it_may_lack_http() -> None:
    event = StreamEvent("chunk", {"session_id": "s", "message": "Hi"})
    assert_type(event.chunk, AgentSessionResponse | None)
    assert event.chunk is not None
    assert_type(event.chunk.http, ResponseInfo | None)
    assert event.chunk.http is None
    info = ResponseInfo(200, httpx.Headers())
    assert AgentSessionResponse(session_id="s", http=info).http is info


def test_response_info_reads_the_request_id_header() -> None:
    info = ResponseInfo.from_response(httpx.Response(201, headers={"X-Request-Id": "abc"}))
    assert info.status_code == 201
    assert info.request_id == "abc"
    assert ResponseInfo.from_response(httpx.Response(200)).request_id is None


def test_a_copied_or_pickled_answer_keeps_its_unknown_fields() -> None:
    answer = _answer(unknown_usage=3)
    for clone in (copy.copy(answer), copy.deepcopy(answer), pickle.loads(pickle.dumps(answer))):
        assert clone.unknown_usage == 3  # type: ignore[union-attr]
        assert clone.session_id == "s-1"


# -- StreamEvent ----------------------------------------------------------------------------


def test_a_chunk_event_exposes_its_session_id_and_message() -> None:
    event = StreamEvent("chunk", {"session_id": "s-1", "message": "Hel", "pending": True})
    assert event.is_chunk
    assert event.session_id == "s-1"
    assert event.message == "Hel"
    assert event.error_message is None


def test_helpers_give_none_when_the_data_does_not_carry_a_string() -> None:
    assert StreamEvent("chunk", {"session_id": 5, "message": None}).session_id is None
    assert StreamEvent("chunk", {"message": ["x"]}).message is None
    end = StreamEvent("end", True)
    assert not end.is_chunk
    assert end.session_id is None
    assert end.message is None
    assert end.error_message is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"error": "agent crashed"}, "agent crashed"),
        ({"error": True, "message": "quota exceeded"}, "quota exceeded"),
        ({"detail": "bad input"}, "bad input"),
        ("plain text failure", "plain text failure"),
    ],
)
def test_an_error_event_gives_its_message(data: object, message: str) -> None:
    assert StreamEvent("error", data).error_message == message


def test_an_error_event_without_a_message_still_gives_some_text() -> None:
    text = StreamEvent("error", {"error": True}).error_message
    assert text
    assert "error" in text


def test_an_answer_with_unknown_fields_survives_copy_and_pickle() -> None:
    answer = AgentSessionResponse(session_id="s", extra={"score": 3})
    for clone in (copy.copy(answer), copy.deepcopy(answer), pickle.loads(pickle.dumps(answer))):
        assert clone == answer
        assert clone.score == 3  # type: ignore[union-attr]


def test_the_0_1_0a1_pydantic_spelling_model_dump_still_works() -> None:
    request = AgentExecutionRequest(input_data="x")
    assert request.model_dump(exclude_none=True) == request.to_dict()
    assert request.model_dump()["source"] is None
    assert StreamEvent("chunk", {"message": "hi"}).model_dump() == {
        "event_type": "chunk",
        "data": {"message": "hi"},
    }


def test_a_chunk_event_reads_as_a_typed_answer_when_asked() -> None:
    event = StreamEvent("chunk", {"session_id": "s", "message": "Hel", "extra_field": 1})
    chunk = event.chunk
    assert chunk is not None
    assert (chunk.session_id, chunk.message, chunk.pending) == ("s", "Hel", False)
    assert chunk.extra == {"extra_field": 1}
    assert StreamEvent("end", True).chunk is None


def test_a_mistyped_chunk_is_an_invalid_response_quoting_the_event() -> None:
    event = StreamEvent("chunk", {"session_id": "s", "pending": "no"})
    with pytest.raises(InvalidResponseError, match="pending is a str") as info:
        _ = event.chunk
    assert json.loads(info.value.body) == {"session_id": "s", "pending": "no"}
