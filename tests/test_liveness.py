"""The stream idle timeout (`stream_idle_timeout`), over loopback servers that keep a stream
alive without answering: whatever comments, blank lines or events of unknown kinds arrive, a
stream on which no event of the answer comes for longer raises StreamTimeoutError, within
the idle timeout plus about a second; time in the caller's loop body does not count.

Each behaviour runs for both clients (the `sdk` fixture), on both HTTP libraries
(`both_stacks`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from tests.harness import (
    END,
    HOLD,
    Events,
    Repeat,
    ScriptedServer,
    Sdk,
    Trickle,
    chunk,
    client_options,
    loopback_tls,
    scripted_server,
    sse,
)

pytestmark = pytest.mark.both_stacks

PING = b": keep-alive\n\n"
TOLERANCE = 1.0  # the "about one second", on a busy machine


def _read(sdk: Sdk, server: ScriptedServer, **options: Any) -> tuple[list[Any], Any, float]:
    """Events, the error that ended the stream, and how long reading it took."""
    client = options.pop("client", {})
    with sdk.connect(server.base_url, **client) as driver:
        started = time.monotonic()
        events, error = driver.events_and_error("create_session", 1, **options)
        return events, error, time.monotonic() - started


def test_a_stream_kept_alive_by_comments_ends_at_its_idle_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # The case: one chunk, then only comments; the default is the read timeout (1 s).
    server.script(Events([chunk("Hel"), Repeat(PING, 0.2)]))
    events, error, took = _read(sdk, server, client={"timeout": 1.0})
    assert [event.event_type for event in events] == ["chunk"]
    assert isinstance(error, somia.StreamTimeoutError)
    assert took < 1.0 + TOLERANCE
    assert "received no event of its answer for 1 s (its stream_idle_timeout)" in str(error)
    assert "after 1 event," in str(error)
    assert "stream.reopen() fetches the whole answer again" in str(error)
    assert error.events_received == 1
    assert error.last_chunk["message"] == "Hel"


def test_comments_just_inside_the_idle_timeout_do_not_delay_it(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # Checked only as bytes arrive, the timeout would be seen at the second comment (2.8 s).
    server.script(Events([chunk("Hel"), Repeat(PING, 1.4)]))
    _, error, took = _read(sdk, server, stream_idle_timeout=1.5, client={"timeout": 30.0})
    assert isinstance(error, somia.StreamTimeoutError)
    assert took < 1.5 + TOLERANCE


def test_a_silent_stream_ends_at_an_idle_timeout_shorter_than_the_read_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Events([chunk("Hel"), HOLD]))
    _, error, took = _read(sdk, server, stream_idle_timeout=0.5, client={"timeout": 30.0})
    assert isinstance(error, somia.StreamTimeoutError)
    assert "for 0.5 s" in str(error)
    assert took < 0.5 + TOLERANCE


def test_events_of_unknown_kinds_do_not_keep_a_stream_alive(
    server: ScriptedServer, sdk: Sdk
) -> None:
    progress = sse({"step": "search", "message": "looking it up"}, event="progress")
    server.script(Events([chunk("Hel"), Repeat(progress, 0.1)]))
    events, error, took = _read(sdk, server, stream_idle_timeout=0.6, client={"timeout": 30.0})
    assert isinstance(error, somia.StreamTimeoutError)
    assert took < 0.6 + TOLERANCE
    kinds = [event.event_type for event in events]
    assert kinds[0] == "chunk"
    assert set(kinds[1:]) == {"unknown"}  # each passed on, none of them progress
    assert events[1].data == somia.UnknownEvent(
        "progress", {"step": "search", "message": "looking it up"}
    )


def test_answer_events_keep_a_slow_stream_alive(server: ScriptedServer, sdk: Sdk) -> None:
    parts: list[bytes | float] = [chunk("a")]
    for text in ("ab", "abc", "abcd"):
        parts += [0.3, PING, 0.3, chunk(text)]  # 0.6 s between answer events, comments between
    server.script(Events([*parts, END]))
    events, error, _ = _read(sdk, server, stream_idle_timeout=1.5, client={"timeout": 30.0})
    assert error is None
    assert [event.event_type for event in events] == ["chunk"] * 4 + ["end"]


TRICKLED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Padding: " + b"x" * 100


def test_a_streams_head_trickled_byte_by_byte_ends_at_the_default_idle_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # Each byte restarts the read timeout (1 s): without the idle timeout counting from the
    # request, the call would wait the 35 s the head takes.
    server.script(Trickle(TRICKLED_HEAD, every=0.3))
    with sdk.connect(server.base_url, timeout=1.0) as driver:
        started = time.monotonic()
        with pytest.raises(somia.StreamTimeoutError) as caught:
            driver.call("create_session", 1, stream=True)
        took = time.monotonic() - started
    assert took < 1.0 + TOLERANCE
    message = str(caught.value)
    assert "no answer came within its stream_idle_timeout of 1 s after the request" in message
    assert "the turn may have run" in message
    assert caught.value.events_received == 0


def test_a_streams_trickled_head_on_a_reused_connection_ends_at_its_idle_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # The end comes with the last event, so the first connection is kept for the second call.
    server.script(Events([chunk("Yo"), END], finish="with-last"), Trickle(TRICKLED_HEAD, every=0.1))
    with sdk.connect(server.base_url, timeout=30.0) as driver:
        driver.events("create_session", 1)
        started = time.monotonic()
        with pytest.raises(somia.StreamTimeoutError):
            driver.call("create_session", 1, stream=True, stream_idle_timeout=0.5)
        assert time.monotonic() - started < 0.5 + TOLERANCE
    assert server.received[1].connection == server.received[0].connection


def test_none_turns_the_idle_timeout_off(server: ScriptedServer, sdk: Sdk) -> None:
    # Comments every 0.1 s for a second: past the read timeout (0.3 s) without an event.
    server.script(Events([chunk("Hel"), *[part for _ in range(10) for part in (0.1, PING)], END]))
    events, error, _ = _read(sdk, server, stream_idle_timeout=None, client={"timeout": 0.3})
    assert error is None
    assert [event.event_type for event in events] == ["chunk", "end"]


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "5", True])
def test_a_bad_idle_timeout_is_refused_naming_it_before_sending(
    server: ScriptedServer, sdk: Sdk, value: object
) -> None:
    with pytest.raises((TypeError, ValueError), match="stream_idle_timeout"):
        _read(sdk, server, stream_idle_timeout=value)
    assert server.received == []


def test_time_in_the_callers_loop_body_does_not_count(server: ScriptedServer) -> None:
    # The events are all there at once; the caller takes longer than the idle timeout over
    # each of them (a slow consumer, not a slow server).
    progress = sse({"step": 1}, event="progress")
    server.script(Events([chunk("a"), progress, chunk("ab"), progress, END]))
    kinds: list[str] = []
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        stream = client.sessions.create_session(1, stream=True, stream_idle_timeout=0.3)
        for event in stream:
            kinds.append(event.event_type)
            time.sleep(0.5)  # the loop body's work, longer than the idle timeout
    assert kinds == ["chunk", "unknown", "chunk", "unknown", "end"]


def test_async_time_in_the_callers_loop_body_does_not_count(server: ScriptedServer) -> None:
    progress = sse({"step": 1}, event="progress")
    server.script(Events([chunk("a"), progress, chunk("ab"), progress, END]))

    async def run() -> list[str]:
        kinds: list[str] = []
        async with AsyncSomiaClient(**client_options(base_url=server.base_url)) as client:
            stream = await client.sessions.create_session(1, stream=True, stream_idle_timeout=0.3)
            async for event in stream:
                kinds.append(event.event_type)
                await asyncio.sleep(0.5)  # the loop body's work
        return kinds

    assert asyncio.run(run()) == ["chunk", "unknown", "chunk", "unknown", "end"]


def test_a_callers_http_client_is_held_to_the_idle_timeout_and_its_connection_released(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # One connection only: the second call gets it only if the first released it.
    server.script(Events([chunk("Hel"), Repeat(PING, 0.1)]), Events([chunk("Yo"), END]))
    limits = sdk.stack.Limits(max_connections=1)
    http = sdk.stack.AsyncClient(limits=limits) if sdk.is_async else sdk.stack.Client(limits=limits)
    with sdk.connect(server.base_url, http_client=http, timeout=30.0) as driver:
        started = time.monotonic()
        _, error = driver.events_and_error("create_session", 1, stream_idle_timeout=0.5)
        assert isinstance(error, somia.StreamTimeoutError)
        assert time.monotonic() - started < 0.5 + TOLERANCE
        assert driver.final("create_session", 1, total_timeout=5.0).message == "Yo"


def test_a_raw_request_stream_is_held_to_the_idle_timeout_without_naming_reopen(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Events([chunk("Hel"), Repeat(PING, 0.1)]))
    with sdk.connect(server.base_url) as driver, pytest.raises(somia.StreamTimeoutError) as caught:
        driver.request("POST", "/api/v1/other", stream=True, stream_idle_timeout=0.5)
    assert "reopen" not in str(caught.value)


def test_without_a_socket_to_interrupt_the_idle_timeout_holds_at_the_next_bytes(
    server: ScriptedServer, sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fallback (a transport without sockets, HTTP/2): checked as bytes arrive.
    monkeypatch.setattr("somia._stream_state.response_socket", lambda response: None)
    server.script(Events([chunk("Hel"), Repeat(PING, 0.2)]))
    _, error, took = _read(sdk, server, stream_idle_timeout=0.5, client={"timeout": 30.0})
    assert isinstance(error, somia.StreamTimeoutError)
    assert took < 0.5 + TOLERANCE


def test_over_tls_a_stream_kept_alive_by_comments_ends_at_its_idle_timeout(sdk: Sdk) -> None:
    server_tls, client_tls = loopback_tls()
    with scripted_server(server_tls) as server:
        server.script(Events([chunk("Hel"), Repeat(PING, 1.4)]))
        make = sdk.stack.AsyncClient if sdk.is_async else sdk.stack.Client
        http = make(verify=client_tls)
        with sdk.connect(server.base_url, http_client=http, timeout=30.0) as driver:
            started = time.monotonic()
            _, error = driver.events_and_error("create_session", 1, stream_idle_timeout=1.5)
    assert isinstance(error, somia.StreamTimeoutError)
    assert time.monotonic() - started < 1.5 + TOLERANCE


def test_the_clients_idle_timeout_holds_and_its_copies_and_calls_may_change_it(
    server: ScriptedServer, sdk: Sdk
) -> None:
    comments = [part for _ in range(8) for part in (0.1, PING)]  # 0.8 s without an event
    server.script(*[Events([chunk("Hel"), *comments, END]) for _ in range(3)])
    with sdk.connect(server.base_url, timeout=30.0, stream_idle_timeout=0.4) as driver:
        _, error = driver.events_and_error("create_session", 1)
        assert isinstance(error, somia.StreamTimeoutError)
        _, error = driver.events_and_error("create_session", 1, stream_idle_timeout=None)
        assert error is None
        driver.client = driver.client.with_options(stream_idle_timeout=5.0)
        _, error = driver.events_and_error("create_session", 1)
        assert error is None


@pytest.mark.parametrize(
    ("value", "error"), [("soon", TypeError), (0, ValueError), (True, TypeError)]
)
def test_a_bad_idle_timeout_of_a_client_is_refused_naming_it(
    value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="stream_idle_timeout"):
        SomiaClient(api_key="k", stream_idle_timeout=value)  # type: ignore[arg-type]
