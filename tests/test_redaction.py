"""The API key never reaches an exception or a log line, wherever a server echoes it: reason
phrase, headers, error bodies, stream error events, malformed events and the body an
InvalidResponseError keeps. Over real loopback HTTP, for both clients."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from scripted_server import Events, Raw, Reply, ScriptedServer, chunk, scripted_server, sse

import somia
from somia import AsyncSomiaClient, SomiaClient

KEY = "sk-live-ECHOED-4d2f9a"
END = b"data: true\n\n"

Read = Callable[..., Any]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as srv:
        yield srv


def _options(server: ScriptedServer) -> dict[str, Any]:
    return {"base_url": server.base_url, "api_key": KEY, "retries": 0, "timeout": 30.0}


def _sync(server: ScriptedServer, how: str) -> Any:
    """One call read `how`: "whole" (no stream), "final", "loop" or "deltas"."""
    with SomiaClient(**_options(server)) as client:
        if how == "whole":
            return client.sessions.create_session(1, input_data="hi")
        stream = client.sessions.create_session(1, input_data="hi", stream=True)
        if how == "final":
            return stream.final_response()
        if how == "loop":
            return list(stream)
        return list(stream.text_deltas())


def _async(server: ScriptedServer, how: str) -> Any:
    async def run() -> Any:
        async with AsyncSomiaClient(**_options(server)) as client:
            if how == "whole":
                return await client.sessions.create_session(1, input_data="hi")
            stream = await client.sessions.create_session(1, input_data="hi", stream=True)
            if how == "final":
                return await stream.final_response()
            if how == "loop":
                return [event async for event in stream]
            return [delta async for delta in stream.text_deltas()]

    return asyncio.run(run())


RUNS = [pytest.param(_sync, id="sync"), pytest.param(_async, id="async")]


def _texts(exc: BaseException) -> str:
    """Everything an exception carries that a user might print or log."""
    parts = [str(exc), repr(exc), repr(exc.args)]
    for name in ("response_body", "headers", "request_id", "body", "payload", "data"):
        if hasattr(exc, name):
            value = getattr(exc, name)
            parts.append(repr(list(value.multi_items())) if name == "headers" else repr(value))
    return "\n".join(parts)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("how", ["whole", "final"])
def test_the_key_is_redacted_from_an_echoing_reason_phrase_and_headers(
    server: ScriptedServer, run: Read, how: str
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
        run(server, how)
    assert "Bad key <redacted>" in str(caught.value)
    assert KEY not in _texts(caught.value)
    assert caught.value.request_id == "req-<redacted>"


@pytest.mark.parametrize("run", RUNS)
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
    server: ScriptedServer, run: Read, event: bytes, how: str
) -> None:
    server.script(Events([chunk("a"), event, END]))
    with pytest.raises(somia.AgentStreamError) as caught:
        run(server, how)
    assert "<redacted>" in repr(caught.value.data)
    assert KEY not in _texts(caught.value)


@pytest.mark.parametrize("run", RUNS)
def test_a_loop_sees_the_error_event_redacted_too(server: ScriptedServer, run: Read) -> None:
    server.script(Events([chunk("a"), sse({"error": f"bad key {KEY}"}), END]))
    events = run(server, "loop")
    assert [event.event_type for event in events] == ["chunk", "error", "end"]
    assert events[1].data == {"error": "bad key <redacted>"}


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("offset", [0, 70, 489])  # across the 80 and 500 character cuts
def test_the_key_is_redacted_from_a_malformed_event_before_it_is_shortened(
    server: ScriptedServer, run: Read, offset: int
) -> None:
    server.script(Events([chunk("a"), b"data: {" + b"x" * offset + KEY.encode() + b"\n\n"]))
    with pytest.raises(somia.StreamParseError) as caught:
        run(server, "loop")
    assert KEY[:8] not in _texts(caught.value)


@pytest.mark.parametrize("run", RUNS)
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
    server: ScriptedServer, run: Read, reply: Reply | Events, how: str
) -> None:
    server.script(reply)
    with pytest.raises(somia.InvalidResponseError) as caught:
        run(server, how)
    assert "<redacted>" in caught.value.body
    assert KEY not in _texts(caught.value)


@pytest.mark.parametrize("run", RUNS)
def test_the_key_is_redacted_from_the_debug_log_of_an_echoed_request_id(
    server: ScriptedServer, run: Read, caplog: pytest.LogCaptureFixture
) -> None:
    answer = {"session_id": "s", "message": "hi"}
    server.script(Reply(200, answer, headers={"X-Request-Id": KEY}))
    with caplog.at_level(logging.DEBUG, logger="somia"):
        run(server, "whole")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "<redacted>" in logged
    assert KEY not in logged


_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize("run", RUNS)
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
    server: ScriptedServer, run: Read, answer: bytes, how: str, error: type[Exception]
) -> None:
    server.script(Raw(answer))
    with pytest.raises(error) as caught:
        run(server, how)
    printed = "".join(traceback.format_exception(caught.value))
    assert "<redacted>" in printed
    assert KEY not in printed
