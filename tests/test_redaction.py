"""The API key never reaches an exception or a log line, wherever a server echoes it: reason
phrase, headers, error bodies, stream error events, malformed events and the body an
InvalidResponseError keeps; nor the debug logs of somia and of the HTTP library (httpx and
httpcore, or httpx2 and httpcore2). Over real loopback HTTP (or MockTransport where the answer
is all that matters), for both clients, on both HTTP libraries (`both_stacks`)."""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

import somia
from tests.harness import (
    END,
    SESSION,
    Events,
    Raw,
    Reply,
    ScriptedServer,
    Sdk,
    async_client,
    chunk,
    free_port,
    sse,
    sync_client,
)

pytestmark = pytest.mark.both_stacks

KEY = "sk-live-ECHOED-4d2f9a"


def read(sdk: Sdk, server: ScriptedServer, how: str) -> Any:
    """One call read `how`: "whole" (no stream), "final", "loop" or "deltas"."""
    with sdk.connect(server.base_url, api_key=KEY, retries=0, timeout=30.0) as driver:
        if how == "whole":
            return driver.call("create_session", 1, input_data="hi")
        if how == "final":
            return driver.final("create_session", 1, input_data="hi")
        if how == "loop":
            return driver.events("create_session", 1, input_data="hi")
        return driver.deltas("create_session", 1, input_data="hi")


def _texts(exc: BaseException) -> str:
    """Everything an exception carries that a user might print or log."""
    parts = [str(exc), repr(exc), repr(exc.args)]
    for name in ("response_body", "headers", "request_id", "body", "payload", "data"):
        if hasattr(exc, name):
            value = getattr(exc, name)
            parts.append(repr(list(value.multi_items())) if name == "headers" else repr(value))
    return "\n".join(parts)


@pytest.mark.parametrize("how", ["whole", "final"])
def test_the_key_is_redacted_from_an_echoing_reason_phrase_and_headers(
    server: ScriptedServer, sdk: Sdk, how: str
) -> None:
    server.script(
        Reply(
            401,
            {"detail": "no such key"},
            headers={"X-Request-Id": f"req-{KEY}", "X-Echo": KEY},
            reason=f"Bad key {KEY}",
        )
    )
    with pytest.raises(somia.AuthError) as caught:
        read(sdk, server, how)
    assert "Bad key <redacted>" in str(caught.value)
    assert KEY not in _texts(caught.value)
    assert caught.value.request_id == "req-<redacted>"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(sse({"error": f"key {KEY} is over quota"}), id="error-field"),
        pytest.param(sse({"detail": {"why": [f"{KEY}"]}}, event="error"), id="named-nested"),
        pytest.param(sse(f"key {KEY}", event="error"), id="named-string"),
    ],
)
@pytest.mark.parametrize("how", ["final", "deltas"])
def test_the_key_is_redacted_from_a_stream_error_event(
    server: ScriptedServer, sdk: Sdk, event: bytes, how: str
) -> None:
    server.script(Events([chunk("a"), event, END]))
    with pytest.raises(somia.AgentStreamError) as caught:
        read(sdk, server, how)
    assert "<redacted>" in repr(caught.value.data)
    assert KEY not in _texts(caught.value)


def test_a_loop_sees_the_error_event_redacted_too(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Events([chunk("a"), sse({"error": f"bad key {KEY}"}), END]))
    events = read(sdk, server, "loop")
    assert [event.event_type for event in events] == ["chunk", "error", "end"]
    assert events[1].data == {"error": "bad key <redacted>"}


@pytest.mark.parametrize("offset", [0, 70, 489])  # across the 80 and 500 character cuts
def test_the_key_is_redacted_from_a_malformed_event_before_it_is_shortened(
    server: ScriptedServer, sdk: Sdk, offset: int
) -> None:
    server.script(Events([chunk("a"), b"data: {" + b"x" * offset + KEY.encode() + b"\n\n"]))
    with pytest.raises(somia.StreamParseError) as caught:
        read(sdk, server, "loop")
    assert KEY[:8] not in _texts(caught.value)


@pytest.mark.parametrize(
    ("reply", "how"),
    [
        pytest.param(Reply(200, f"not json {KEY}".encode()), "whole", id="not-json"),
        pytest.param(Reply(200, {"echo": KEY}), "whole", id="not-a-session"),
        pytest.param(Reply(200, {"echo": KEY}), "final", id="json-to-a-stream"),
        pytest.param(
            Events([chunk("a"), sse({"session_id": 1, "echo": KEY}), END]),
            "final",
            id="streamed-last-chunk",
        ),
    ],
)
def test_the_key_is_redacted_from_an_invalid_responses_body(
    server: ScriptedServer, sdk: Sdk, reply: Reply | Events, how: str
) -> None:
    server.script(reply)
    with pytest.raises(somia.InvalidResponseError) as caught:
        read(sdk, server, how)
    assert "<redacted>" in caught.value.body
    assert KEY not in _texts(caught.value)


def test_the_key_is_redacted_from_the_debug_log_of_an_echoed_request_id(
    server: ScriptedServer, sdk: Sdk, caplog: pytest.LogCaptureFixture
) -> None:
    answer = {"session_id": "s", "message": "hi"}
    server.script(Reply(200, answer, headers={"X-Request-Id": KEY}))
    with caplog.at_level(logging.DEBUG, logger="somia"):
        read(sdk, server, "whole")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "<redacted>" in logged
    assert KEY not in logged


_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize(
    ("answer", "how", "error"),
    [
        pytest.param(
            b"HTTP/1.1 2x0 " + KEY.encode() + b"\r\n\r\n",
            "whole",
            somia.TransportError,
            id="status-line",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nBad header " + KEY.encode() + b"\r\n\r\n",
            "whole",
            somia.TransportError,
            id="header-line",
        ),
        pytest.param(
            _SSE_HEAD + b"%x\r\n%s\r\n" % (len(chunk("a")), chunk("a")) + KEY.encode() + b"\r\n",
            "loop",
            somia.StreamInterruptedError,
            id="chunk-header-mid-stream",
        ),
    ],
)
def test_the_key_is_redacted_from_a_protocol_error_and_the_errors_chained_to_it(
    server: ScriptedServer, sdk: Sdk, answer: bytes, how: str, error: type[Exception]
) -> None:
    server.script(Raw(answer))
    with pytest.raises(error) as caught:
        read(sdk, server, how)
    printed = "".join(traceback.format_exception(caught.value))
    assert "<redacted>" in printed
    assert KEY not in printed


# -- every error and log line of ordinary calls ---------------------------------------------


def _raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def _answer(response: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: response


ERROR_STATUSES = [
    302,
    307,
    400,
    401,
    403,
    404,
    408,
    409,
    418,
    422,
    429,
    500,
    502,
    503,
    504,
    520,
    599,
]


def test_the_key_never_appears_in_an_error_message(sdk: Sdk) -> None:
    raised: list[BaseException] = []
    handlers = [
        _answer(httpx.Response(status, json={"detail": "nope"})) for status in ERROR_STATUSES
    ]
    handlers += [
        _answer(httpx.Response(200, text="not json")),
        _raising(httpx.ConnectError("refused")),
        _raising(httpx.ReadTimeout("slow")),
    ]
    for handler in handlers:
        with pytest.raises(somia.SomiaError) as info:
            sdk.call(handler, "run", 1, client={"api_key": KEY, "retries": 0})
        raised.append(info.value)
    bad_calls: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"session_id": "   "}, ValueError),
        ({"bogus": 1}, TypeError),
    ]
    for call, error in bad_calls:
        with pytest.raises(error) as bad:
            sdk.call(_answer(httpx.Response(200)), "run", 1, client={"api_key": KEY}, **call)
        raised.append(bad.value)
    for exc in raised:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)


@pytest.mark.parametrize("prefix", ["invalid API key ", "x" * 176 + " key received: "])
def test_the_key_is_redacted_from_an_error_body_that_echoes_it(sdk: Sdk, prefix: str) -> None:
    # The second one echoes it far into a long body: it is redacted whole, not cut in two.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": prefix + repr(request.headers["x-api-key"])})

    with pytest.raises(somia.AuthError) as info:
        sdk.call(handler, "run", 1, client={"api_key": KEY, "retries": 0})
    assert prefix.strip()[-12:] in str(info.value)
    assert KEY[:6] not in str(info.value)
    assert KEY not in str(info.value.body)


def test_the_key_never_appears_in_debug_logs_of_somia_or_the_http_library(
    server: ScriptedServer, stack: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(
        Reply(429, {"detail": "no"}, {"Retry-After": "0"}),
        Reply(200, SESSION),
        Reply(401, {"detail": "no"}),
        Reply(200, SESSION),
    )
    with sync_client(stack, base_url=server.base_url, api_key=KEY, retries=1) as client:
        client.sessions.create_session(1, input_data="Hello")
        with pytest.raises(somia.AuthError):
            client.sessions.create_session(1, input_data="again")
    unreachable = sync_client(
        stack, base_url=f"http://127.0.0.1:{free_port()}", api_key=KEY, retries=0
    )
    with unreachable as client, pytest.raises(somia.TransportError):
        client.sessions.create_session(1)

    async def async_calls() -> None:
        async with async_client(stack, base_url=server.base_url, api_key=KEY) as client:
            await client.sessions.create_session(1, input_data="async")

    asyncio.run(async_calls())

    # The library's loggers carry its own names ("httpx2" and "httpcore2" under alias_httpx()).
    library = stack.__name__
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"somia", library, library.replace("httpx", "httpcore")} <= loggers
    assert any("429" in r.getMessage() for r in caplog.records if r.name == "somia")
    for record in caplog.records:
        assert KEY not in record.getMessage(), record.name
    assert KEY not in caplog.text
    # The server did receive the key, once per request.
    assert len(server.received) == 4
    for request in server.received:
        assert request.values("x-api-key") == [KEY]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("key", ["SECRETKEY-1 ", " SECRETKEY-1"])
def test_a_key_the_http_layer_refuses_is_never_quoted_in_the_error(
    key: str, listening_port: int, stack: ModuleType
) -> None:
    # h11 refuses a header value with surrounding whitespace and quotes it in its error.
    with (
        pytest.raises((ValueError, somia.SomiaError)) as info,
        sync_client(
            stack,
            base_url=f"http://127.0.0.1:{listening_port}",
            api_key=key,
            retries=0,
            timeout=2,
        ) as client,
    ):
        client.sessions.create_session(1, input_data="x")
    assert "SECRETKEY" not in str(info.value)
