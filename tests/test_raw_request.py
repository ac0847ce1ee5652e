"""client.request(...): an operation the SDK does not curate, with the client's rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from somia import NotFoundError, ServerError, StreamEvent
from somia._errors import InvalidResponseError
from tests.harness import Sdk

Handler = Callable[[httpx.Request], httpx.Response]


def raw(sdk: Sdk, handler: Handler, *args: Any, client: Any = None, **kwargs: Any) -> Any:
    """One client.request(...) over MockTransport, on a fresh client of the kind `sdk` is."""
    options = {"base_url": "https://somia.test/base", "api_key": "key-1", **(client or {})}
    with sdk.connect(handler, **options) as driver:
        return driver.request(*args, **kwargs)


def test_a_post_sends_json_with_the_key_and_an_idempotency_key_and_returns_the_json(
    sdk: Sdk,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"agents": [1, 2]})

    answer = raw(sdk, handler, "post", "/api/v2/agents?page=2", json={"q": "é"})
    assert answer == {"agents": [1, 2]}
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://somia.test/base/api/v2/agents?page=2"
    assert request.headers["x-api-key"] == "key-1"
    assert request.headers["content-type"] == "application/json"
    assert len(request.headers["idempotency-key"]) == 32
    assert json.loads(request.content) == {"q": "é"}


def test_a_get_has_no_body_and_no_idempotency_key_and_an_empty_answer_is_none(sdk: Sdk) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    assert raw(sdk, handler, "GET", "/api/v2/health") is None
    assert "idempotency-key" not in seen[0].headers
    assert "content-type" not in seen[0].headers
    assert seen[0].content == b""


def test_retries_keep_the_post_rules_and_the_same_idempotency_key(sdk: Sdk) -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        if len(keys) == 1:
            return httpx.Response(503, json={"detail": "busy"}, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"ok": True})

    options = {"retry_backoff_seconds": 0}
    assert raw(sdk, handler, "POST", "/api/v2/run", client=options, json={}) == {"ok": True}
    assert len(keys) == 2
    assert keys[0] == keys[1]


def test_an_error_status_raises_its_class_and_a_500_is_not_retried(sdk: Sdk) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        status = 404 if request.url.path.endswith("missing") else 500
        return httpx.Response(status, json={"detail": "nope"})

    with sdk.connect(handler, retry_backoff_seconds=0) as driver:
        with pytest.raises(NotFoundError, match="nope"):
            driver.request("GET", "/missing")
        with pytest.raises(ServerError, match="500"):
            driver.request("POST", "/api/v2/run", json={})
    assert len(calls) == 2  # neither retried: a 500 may have run the turn


def test_an_answer_that_is_not_json_is_an_invalid_response_keeping_the_body(sdk: Sdk) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>key-1</html>")

    with pytest.raises(InvalidResponseError) as info:
        raw(sdk, handler, "GET", "/page")
    assert info.value.body.startswith("<html>")
    assert "key-1" not in info.value.body  # a server echoing the key


@pytest.mark.parametrize(
    "path",
    ["https://evil.test/steal", "//evil.test/steal", "api/v2", "/a#frag", "", 5],
)
def test_a_path_that_could_leave_the_base_url_is_refused_before_sending(
    sdk: Sdk, path: Any
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with pytest.raises((ValueError, TypeError), match="path"):
        raw(sdk, handler, "GET", path)
    assert seen == []


@pytest.mark.parametrize("method", ["", "GE T", "PO\nST"])
def test_a_bad_method_is_refused(sdk: Sdk, method: str) -> None:
    with pytest.raises(ValueError, match="method"):
        raw(sdk, lambda r: httpx.Response(200), method, "/x")


def test_a_streamed_call_returns_a_stream_of_events(sdk: Sdk) -> None:
    body = b'data: {"session_id": "s", "message": "Hi"}\n\ndata: true\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "text/event-stream"
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    events = raw(sdk, handler, "POST", "/api/v2/stream", json={}, stream=True)
    assert events == [
        StreamEvent("chunk", {"session_id": "s", "message": "Hi"}),
        StreamEvent("end", True),
    ]


def test_a_put_with_a_json_list_is_sent_as_given(sdk: Sdk) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"method": request.method, "body": request.content.decode()}
        )

    assert raw(sdk, handler, "PUT", "/api/v2/x", json=[1]) == {"method": "PUT", "body": "[1]"}
