"""somia._bridge: requests built through the generated layer, answers parsed safely."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import httpx
import pytest

from somia._bridge import (
    BODY_FIELDS,
    AgentExecutionRequestFields,
    AgentSessionResponseFields,
    build_request,
    check_body,
    documented_statuses,
)
from somia._document import shipped
from somia._errors import InvalidResponseError
from somia._models import ResponseInfo, parse_session
from tests.harness import documented_fields


def _info(status: int = 200, **headers: str) -> ResponseInfo:
    return ResponseInfo.from_response(httpx.Response(status, headers=headers))


def _build(
    session_id: str | None = None, *, key: str = "idem-1", **fields: Any
) -> tuple[str, dict[str, str], bytes]:
    return build_request(123, session_id, check_body(fields), idempotency_key=key)


# -- build_request --------------------------------------------------------------------------


def test_create_posts_only_the_given_fields_to_the_create_path() -> None:
    path, headers, body = _build(input_data="Hello")
    assert path == "/api/v1/external/agent/123/session"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"input_data": "Hello"}


def test_continue_posts_to_the_session_path() -> None:
    path, _, body = _build("3f2a8c1e-1111-4c2b-9f00-0123456789ab")
    assert path == "/api/v1/external/agent/123/session/3f2a8c1e-1111-4c2b-9f00-0123456789ab"
    assert json.loads(body) == {}


@pytest.mark.parametrize(
    ("session_id", "segment"),
    [
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("100% sure", "100%25%20sure"),
        ("é", "%C3%A9"),
    ],
)
def test_the_session_id_is_quoted_into_exactly_one_path_segment(
    session_id: str, segment: str
) -> None:
    path, _, _ = _build(session_id)
    assert path == f"/api/v1/external/agent/123/session/{segment}"
    assert path.count("/") == 7
    assert "?" not in path
    assert "#" not in path


@pytest.mark.parametrize(
    ("agent_id", "session_id"),
    [(123, None), (2**63 - 1, None), (7, "a/b?c#d"), (7, "../x"), (1, "100% sûr"), (1, "s p")],
)
def test_the_route_is_the_one_the_generated_client_sends(
    agent_id: int, session_id: str | None
) -> None:
    # The bridge builds routes from the facts; the generated client, from its own code. They
    # must agree on every path and header, so the SDK keeps the generated client's quoting.
    from somia_api import Client
    from somia_api.api.sessions import create_session, interact_session
    from somia_api.models import AgentExecutionRequest

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    transport = httpx.MockTransport(handler)
    client = Client(base_url="https://x.test", httpx_args={"transport": transport})
    body = AgentExecutionRequest()
    if session_id is None:
        create_session.sync_detailed(agent_id, client=client, body=body, idempotency_key="k")
    else:
        interact_session.sync_detailed(
            agent_id, session_id, client=client, body=body, idempotency_key="k"
        )
    path, headers, _ = build_request(agent_id, session_id, {}, idempotency_key="k")
    (request,) = sent
    assert request.url.raw_path.decode() == path
    assert {name: request.headers[name] for name in headers} == headers


def test_the_idempotency_key_is_sent_as_a_header() -> None:
    _, headers, _ = _build(key="my-key-77")
    assert headers["Idempotency-Key"] == "my-key-77"


def test_none_fields_are_omitted_and_set_fields_are_sent() -> None:
    _, _, body = _build(
        input_data={"q": 1},
        stream=True,
        pipeline_version=4,
        source=None,
        tags=("x",),
        environment=None,
        end_user_id="u-1",
        metadata={"a": {"b": [1]}},
    )
    assert json.loads(body) == {
        "input_data": {"q": 1},
        "stream": True,
        "pipeline_version": 4,
        "tags": ["x"],
        "end_user_id": "u-1",
        "metadata": {"a": {"b": [1]}},
    }


def test_non_ascii_input_is_sent_as_utf8_json() -> None:
    _, _, body = _build(input_data="héllo ✓")
    assert "héllo ✓".encode() in body
    assert json.loads(body.decode("utf-8"))["input_data"] == "héllo ✓"


@pytest.mark.parametrize("value", [{1, 2}, object(), math.nan, math.inf, {"x": b"bytes"}])
def test_input_data_that_is_not_json_is_a_type_error_naming_input_data(value: object) -> None:
    with pytest.raises(TypeError, match="input_data"):
        _build(input_data=value)


@pytest.mark.parametrize("value", [{"s": {1, 2}}, {"o": object()}, {"n": math.nan}])
def test_metadata_that_is_not_json_is_a_type_error_naming_metadata(value: Any) -> None:
    with pytest.raises(TypeError, match="metadata"):
        _build(metadata=value)


# -- parse_session --------------------------------------------------------------------------


def test_a_full_session_object_becomes_a_typed_answer_with_its_http_info() -> None:
    data = {
        "session_id": "s-1",
        "message": "Hi!",
        "history": [{"role": "user", "content": "Hello"}],
        "metadata": {"k": "v"},
        "pending": False,
        "finished": True,
    }
    answer = parse_session(data, _info(200, **{"X-Request-Id": "r-5"}))
    assert answer.session_id == "s-1"
    assert answer.message == "Hi!"
    assert answer.history == [{"role": "user", "content": "Hello"}]
    assert answer.metadata == {"k": "v"}
    assert answer.pending is False
    assert answer.finished is True
    assert answer.extra == {}
    assert answer.request_id == "r-5"
    assert answer.http is not None
    assert answer.http.status_code == 200


def test_absent_optional_fields_take_their_defaults() -> None:
    answer = parse_session({"session_id": "s-1"}, _info())
    assert answer.message is None
    assert answer.history == []
    assert answer.metadata == {}
    assert answer.pending is False
    assert answer.finished is False


def test_a_null_message_is_accepted() -> None:
    assert parse_session({"session_id": "s", "message": None}, _info()).message is None


def test_unknown_fields_are_kept_and_readable() -> None:
    data = {"session_id": "s-1", "unknown_usage": {"tokens": 3}, "unknown_url": "https://t"}
    answer = parse_session(data, _info())
    assert answer.extra == {"unknown_usage": {"tokens": 3}, "unknown_url": "https://t"}
    assert answer.unknown_usage == {"tokens": 3}  # type: ignore[attr-defined]
    assert answer.to_dict()["unknown_url"] == "https://t"


def test_parsing_does_not_change_the_decoded_object() -> None:
    data = {"session_id": "s-1", "unknown_usage": 1}
    parse_session(data, _info())
    assert data == {"session_id": "s-1", "unknown_usage": 1}


def test_a_missing_session_id_is_an_invalid_response_naming_it() -> None:
    with pytest.raises(InvalidResponseError, match="session_id") as info:
        parse_session({"message": "hi"}, _info(200), raw=b'{"message": "hi"}')
    assert info.value.status_code == 200
    assert info.value.body == '{"message": "hi"}'


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("session_id", 5),
        ("session_id", None),
        ("message", 5),
        ("message", {"text": "hi"}),
        ("history", "abc"),
        ("history", {"a": 1}),
        ("history", None),
        ("metadata", "abc"),
        ("metadata", 5),
        ("metadata", [["k", "v"]]),
        ("metadata", []),
        ("pending", "yes"),
        ("pending", 1),
        ("finished", None),
    ],
)
def test_a_documented_field_of_the_wrong_type_is_an_invalid_response_naming_it(
    field: str, value: object
) -> None:
    data: dict[str, Any] = {"session_id": "s-1", field: value}
    with pytest.raises(InvalidResponseError, match=field):
        parse_session(data, _info())


@pytest.mark.parametrize("data", [[], ["s"], "s-1", 5, None, True])
def test_a_json_value_that_is_not_an_object_is_an_invalid_response(data: object) -> None:
    with pytest.raises(InvalidResponseError):
        parse_session(data, _info())


def test_the_raw_body_kept_on_an_invalid_response_is_whole() -> None:
    with pytest.raises(InvalidResponseError) as info:
        parse_session([], _info(), raw=b"x" * 10_000)
    assert info.value.body == "x" * 10_000
    assert len(str(info.value)) < 200


def test_input_data_with_a_lone_surrogate_is_a_type_error_naming_input_data() -> None:
    # json encodes "\ud800" to a str, but the str cannot be encoded to UTF-8 bytes.
    with pytest.raises(TypeError, match="input_data"):
        _build(input_data="\ud800")


def test_the_checked_request_fields_are_the_documents() -> None:
    assert set(BODY_FIELDS.values()) == documented_fields() == documented_fields("interactSession")
    assert {f.name for f in attrs.fields(AgentExecutionRequestFields)} == set(BODY_FIELDS)


def test_the_answer_attributes_are_the_documents_fields() -> None:
    documented = documented_fields(answer="application/json")
    names = {f.name for f in attrs.fields(AgentSessionResponseFields)}
    assert names - {"extra", "_sent"} == documented


def test_the_documented_statuses_are_those_of_every_operation() -> None:
    document = shipped()
    listed = {code for op in document.operations() for code in document.statuses(op)}
    assert documented_statuses() == listed
