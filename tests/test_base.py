"""`somia._base`, the policy both clients share, on its own: reading an answer into a session
and building each attempt's request. The clients' behaviour is tested in test_client.py."""

from __future__ import annotations

import httpx
import pytest

from somia._base import PreparedCall, session_from_response
from somia._config import RETRY_ATTEMPT_HEADER, ClientConfig
from somia._errors import InvalidResponseError
from tests.harness import BASE, KEY, SESSION

_DEFAULTS: dict[str, object] = {"api_key_header": None, "timeout": 5.0, "total_timeout": None}
_DEFAULTS |= {"stream_idle_timeout": "read", "retries": 0}
_DEFAULTS |= {"retry_backoff_seconds": 0.0, "max_retry_after": 0.0, "default_headers": None}


def test_session_from_response_on_a_non_json_200_keeps_the_whole_body() -> None:
    response = httpx.Response(
        200, text="<html>" + "x" * 5000, headers={"Content-Type": "text/html"}
    )
    with pytest.raises(InvalidResponseError, match="text/html") as info:
        session_from_response(response)
    assert info.value.body == "<html>" + "x" * 5000


def test_session_from_response_parses_a_json_200() -> None:
    answer = session_from_response(httpx.Response(200, json=SESSION))
    assert answer.session_id == "s-1"
    assert answer.http is not None
    assert answer.http.status_code == 200


def test_a_deeply_nested_json_200_is_an_invalid_response_not_a_recursion_error() -> None:
    with pytest.raises(InvalidResponseError):
        session_from_response(httpx.Response(200, content=b"[" * 100_000))


def test_the_retry_attempt_header_is_added_only_on_retries_with_the_same_idempotency_key() -> None:
    headers = {"Idempotency-Key": "k-1", "x-api-key": KEY}
    call = PreparedCall(
        config=ClientConfig.create({"api_key": KEY, "base_url": BASE, **_DEFAULTS}),
        url=f"{BASE}/api/v1/external/agent/1/session",
        headers=headers,
        content=b'{"stream":false}',
        timeout=httpx.Timeout(5.0),
        stream=False,
        what="POST /api/v1/external/agent/1/session",
    )
    with httpx.Client() as http:
        first, second, third = (call.build(http, attempt) for attempt in range(3))
    assert RETRY_ATTEMPT_HEADER not in first.headers
    assert second.headers[RETRY_ATTEMPT_HEADER] == "1"
    assert third.headers[RETRY_ATTEMPT_HEADER] == "2"
    for request in (first, second, third):
        assert request.method == "POST"
        assert request.headers["idempotency-key"] == "k-1"
        assert request.content == b'{"stream":false}'
        assert request.extensions["timeout"]["read"] == 5.0
    assert call.headers == {"Idempotency-Key": "k-1", "x-api-key": KEY}
