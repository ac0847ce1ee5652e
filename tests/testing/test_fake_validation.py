"""The fake server refuses malformed requests as the document says: 422, and 413 when too big."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from somia.testing import FakeServer, FakeSomia
from tests.testing.fake_helpers import continue_url, create_url, post


def problems(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    for problem in detail:
        assert set(problem) == {"loc", "msg", "type"}
    return detail


@pytest.mark.parametrize(
    ("content", "loc", "type_"),
    [
        (b"", ["body"], "missing"),
        (b"not json", ["body", 0], "json_invalid"),
        (b'{"stream": tru', ["body", 11], "json_invalid"),
        (b"\xff\xfe", ["body", 0], "json_invalid"),
        (b'{"x": NaN}', ["body"], "json_invalid"),
        (b"[1, 2]", ["body"], "model_attributes_type"),
        (b'"text"', ["body"], "model_attributes_type"),
        (b"null", ["body"], "model_attributes_type"),
    ],
    ids=["empty", "not-json", "truncated", "not-utf8", "nan", "array", "string", "null"],
)
def test_bodies_that_are_not_json_objects_are_422(
    client: httpx.Client, somia_server: FakeServer, content: bytes, loc: list[Any], type_: str
) -> None:
    response = client.post(
        create_url(somia_server), content=content, headers={"content-type": "application/json"}
    )

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(loc, type_)]
    assert "x-request-id" in response.headers
    assert somia_server.fake.session_ids == []


def nested(depth: int, *, stream: bool = False) -> bytes:
    """A body whose `input_data` makes it `depth` levels deep (the body is level 1)."""
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return b'{"stream": %s, "input_data": %s}' % (b"true" if stream else b"false", inner)


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b'{"input_data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", nested(257)],
    ids=["unclosed", "closed", "one-level-too-deep"],
)
def test_json_nested_too_deeply_is_422_not_a_crash(
    client: httpx.Client, somia_server: FakeServer, content: bytes
) -> None:
    response = client.post(
        create_url(somia_server),
        content=content,
        headers={"content-type": "application/json", "Idempotency-Key": "deep"},
    )

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(["body"], "json_invalid")]
    assert "256 levels" in response.json()["detail"][0]["msg"]
    assert response.headers["content-type"] == "application/json"
    assert "x-request-id" in response.headers
    assert somia_server.requests[-1].json is None
    assert somia_server.fake.session_ids == []


@pytest.mark.parametrize("stream", [False, True])
def test_json_nested_as_deep_as_allowed_is_answered(
    client: httpx.Client, somia_server: FakeServer, stream: bool
) -> None:
    headers = {"content-type": "application/json", "Idempotency-Key": "deep"}
    first = client.post(
        create_url(somia_server), content=nested(256, stream=stream), headers=headers
    )
    again = client.post(
        create_url(somia_server), content=nested(256, stream=stream), headers=headers
    )

    assert first.status_code == 200, first.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(somia_server.fake.session_ids) == 1


@pytest.mark.parametrize(
    ("headers", "sent"),
    [
        ({"content-type": "text/plain"}, "got 'text/plain'"),
        ({"content-type": "text/plain; charset=utf-8"}, "got 'text/plain; charset=utf-8'"),
        ({"content-type": "application/jsonl"}, "got 'application/jsonl'"),
        ({"content-type": "application/vnd.api+json"}, "got 'application/vnd.api+json'"),
        ({}, "none was sent"),
    ],
    ids=["text", "text-charset", "jsonl", "vendor-json", "none"],
)
def test_bodies_not_sent_as_application_json_are_422(
    client: httpx.Client, somia_server: FakeServer, headers: dict[str, str], sent: str
) -> None:
    response = client.post(
        create_url(somia_server), content=b'{"input_data": "x"}', headers=headers
    )

    [problem] = problems(response)
    assert (problem["loc"], problem["type"]) == (["body"], "content_type")
    assert problem["msg"] == f"Content-Type should be application/json, {sent}"
    assert "x-request-id" in response.headers
    assert somia_server.fake.session_ids == []


def test_a_form_body_is_422(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(create_url(somia_server), data={"input_data": "x"})

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(["body"], "content_type")]
    assert somia_server.fake.session_ids == []


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8"],
)
def test_application_json_with_parameters_and_in_any_case_is_accepted(
    client: httpx.Client, somia_server: FakeServer, content_type: str
) -> None:
    response = client.post(
        create_url(somia_server),
        content=b'{"input_data": "x"}',
        headers={"content-type": content_type},
    )

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "You said: x"


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({"stream": "true"}, ["body", "stream"], "bool_type"),
        ({"stream": 1}, ["body", "stream"], "bool_type"),
        ({"stream": None}, ["body", "stream"], "bool_type"),
        ({"trace_enabled": "yes"}, ["body", "trace_enabled"], "bool_type"),
        ({"test": 0}, ["body", "test"], "bool_type"),
        ({"pipeline_version": 1.5}, ["body", "pipeline_version"], "union_type"),
        ({"pipeline_version": True}, ["body", "pipeline_version"], "union_type"),
        ({"pipeline_version": None}, ["body", "pipeline_version"], "union_type"),
        ({"pipeline_version": " "}, ["body", "pipeline_version"], "string_pattern_mismatch"),
        (
            {"pipeline_version": " \t\u3000"},
            ["body", "pipeline_version"],
            "string_pattern_mismatch",
        ),
        ({"source": 1}, ["body", "source"], "string_type"),
        ({"environment": []}, ["body", "environment"], "string_type"),
        ({"end_user_id": None}, ["body", "end_user_id"], "string_type"),
        ({"tags": "a"}, ["body", "tags"], "list_type"),
        ({"tags": ["a", 2]}, ["body", "tags", 1], "string_type"),
        ({"metadata": []}, ["body", "metadata"], "dict_type"),
    ],
)
def test_fields_of_the_wrong_type_are_422(
    client: httpx.Client, somia_server: FakeServer, body: dict[str, Any], loc: list[Any], type_: str
) -> None:
    response = client.post(create_url(somia_server), json=body)

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(loc, type_)]


def test_every_wrong_field_is_reported(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(create_url(somia_server), json={"stream": "no", "tags": [1, 2]})

    assert [p["loc"] for p in problems(response)] == [
        ["body", "stream"],
        ["body", "tags", 0],
        ["body", "tags", 1],
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"pipeline_version": 2},
        {"pipeline_version": 2.0},
        {"pipeline_version": "staging"},
        {"input_data": None},
        {"input_data": [1, {"a": None}]},
        {"unknown_field": {"kept": True}},
        {"tags": [], "metadata": {}, "source": "", "stream": False},
    ],
)
def test_valid_bodies_are_accepted(
    client: httpx.Client, somia_server: FakeServer, body: dict[str, Any]
) -> None:
    assert client.post(create_url(somia_server), json=body).status_code == 200


@pytest.mark.parametrize(
    ("agent_id", "type_"),
    [
        ("abc", "int_parsing"),
        ("1.0", "int_parsing"),
        ("+1", "int_parsing"),
        ("%201", "int_parsing"),
        ("0", "greater_than_equal"),
        ("-5", "greater_than_equal"),
        ("9223372036854775808", "less_than_equal"),
    ],
)
def test_agent_ids_that_are_not_positive_int64_are_422(
    client: httpx.Client, somia_server: FakeServer, agent_id: str, type_: str
) -> None:
    response = client.post(create_url(somia_server, agent_id), json={})

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(["path", "agent_id"], type_)]


def test_session_ids_longer_than_256_characters_are_422(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    response = client.post(continue_url(somia_server, "s" * 257), json={})

    assert [(p["loc"], p["type"]) for p in problems(response)] == [
        (["path", "session_id"], "string_too_long")
    ]


def test_an_empty_session_id_is_422(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(continue_url(somia_server, ""), json={})

    assert [p["type"] for p in problems(response)] == ["string_too_short"]


def test_session_ids_are_percent_decoded_one_segment_at_a_time(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    session_id = somia_server.fake.add_session(1, "a/b c")

    response = client.post(continue_url(somia_server, "a%2Fb%20c"), json={})

    assert response.status_code == 200
    assert response.json()["session_id"] == session_id


@pytest.mark.parametrize(
    ("key", "type_"),
    [
        ("", "string_too_short"),
        ("has space", "string_pattern_mismatch"),
        ("k" * 256, "string_too_long"),
    ],
)
def test_malformed_idempotency_keys_are_422(
    client: httpx.Client, somia_server: FakeServer, key: str, type_: str
) -> None:
    response = client.post(create_url(somia_server), json={}, headers={"Idempotency-Key": key})

    assert [(p["loc"], p["type"]) for p in problems(response)] == [
        (["header", "Idempotency-Key"], type_)
    ]


def test_bodies_over_the_limit_are_413() -> None:
    with FakeServer(FakeSomia(max_body_bytes=1000)) as server:
        url, headers = create_url(server), server.headers
        small = post(url, json={"input_data": "x" * 900}, headers=headers)
        big = post(url, json={"input_data": "x" * 1000}, headers=headers)

    assert small.status_code == 200
    assert big.status_code == 413
    assert big.json() == {"detail": "Request body too large"}
    assert server.requests[-1].json is None
    assert server.requests[-1].body == b""  # refused before it was read: not kept


def test_the_default_limit_is_one_mebibyte(client: httpx.Client, somia_server: FakeServer) -> None:
    padding = "x" * (1024 * 1024)

    response = client.post(create_url(somia_server), json={"input_data": padding})

    assert response.status_code == 413


def test_auth_is_checked_before_the_body(somia_server: FakeServer) -> None:
    response = post(create_url(somia_server), content=b"not json")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("agent_id", "type_"),
    [("9" * 5000, "less_than_equal"), ("-" + "9" * 5000, "greater_than_equal")],
    ids=["huge", "hugely-negative"],
)
def test_agent_ids_of_thousands_of_digits_are_422_not_500(
    client: httpx.Client, somia_server: FakeServer, agent_id: str, type_: str
) -> None:
    response = client.post(create_url(somia_server, agent_id), json={})

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(["path", "agent_id"], type_)]


@pytest.mark.parametrize(
    "content",
    [b'{"input_data": 1e999}', b'{"metadata": {"x": [-1E400]}}'],
    ids=["top", "nested"],
)
def test_numbers_no_float_holds_are_422_not_infinity(
    client: httpx.Client, somia_server: FakeServer, content: bytes
) -> None:
    response = client.post(
        create_url(somia_server), content=content, headers={"content-type": "application/json"}
    )

    assert [(p["loc"], p["type"]) for p in problems(response)] == [(["body"], "json_invalid")]
    assert "too large" in response.json()["detail"][0]["msg"]
    assert somia_server.fake.session_ids == []


def test_large_finite_numbers_are_answered_as_json(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    response = client.post(
        create_url(somia_server),
        content=b'{"input_data": 1.5e308}',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 200
    assert json.loads(response.text)["history"][0]["content"] == 1.5e308


def test_an_agent_id_with_thousands_of_leading_zeros_is_that_agent(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    response = client.post(create_url(somia_server, "0" * 5000 + "1"), json={"input_data": "x"})

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "You said: x"
