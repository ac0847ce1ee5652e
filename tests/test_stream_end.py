"""How a stream ends, over real loopback HTTP, for both clients: at once after its end event
whatever the server does next, with its connection reused only when the body's end is
already there; closed or left early, it raises `StreamClosedError` when read again; an
answer that is not a session keeps the offending event. On both HTTP libraries
(`both_stacks`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import pytest

import somia
from somia import AsyncStream, Stream, StreamEvent
from tests.harness import (
    END,
    HOLD,
    Events,
    Hold,
    ScriptedServer,
    async_client,
    chunk,
    sync_client,
)

pytestmark = pytest.mark.both_stacks

T = TypeVar("T")
PING = b": ping\n\n"
READ_TIMEOUT = 120.0  # a reader waiting for more after the end event would wait this long
PROMPT = 20.0  # generous for a busy machine, and far shorter than READ_TIMEOUT

SyncRead = Callable[[Stream[StreamEvent]], Any]
AsyncRead = Callable[[AsyncStream[StreamEvent]], Any]


def _options(server: ScriptedServer, **overrides: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "api_key": "k", "timeout": READ_TIMEOUT, **overrides}


def _promptly(work: Callable[[], T]) -> T:
    """`work()`'s result, asserting it returns within PROMPT seconds (it runs in a thread)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(PROMPT)
    assert not thread.is_alive(), "the reader still waits for the server after the end event"
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _last_kind(stream: Stream[StreamEvent]) -> str:
    return [event.event_type for event in stream][-1]


def _message(stream: Stream[StreamEvent]) -> str | None:
    return stream.final_response().message


SYNC_READERS = [
    pytest.param(_last_kind, "end", id="loop"),
    pytest.param(lambda stream: "".join(stream.text_deltas()), "Hello", id="text_deltas"),
    pytest.param(_message, "Hello", id="final_response"),
]


async def _async_last_kind(stream: AsyncStream[StreamEvent]) -> str:
    return [event.event_type async for event in stream][-1]


async def _async_text(stream: AsyncStream[StreamEvent]) -> str:
    return "".join([delta async for delta in stream.text_deltas()])


async def _async_message(stream: AsyncStream[StreamEvent]) -> str | None:
    return (await stream.final_response()).message


ASYNC_READERS = [
    pytest.param(_async_last_kind, "end", id="loop"),
    pytest.param(_async_text, "Hello", id="text_deltas"),
    pytest.param(_async_message, "Hello", id="final_response"),
]

AFTER_END = [
    pytest.param([HOLD], id="silent"),
    pytest.param([PING, PING, HOLD], id="keep-alive-pings"),
    pytest.param([chunk("Hello, more"), HOLD], id="more-events"),
]


@pytest.mark.parametrize(("read", "expected"), SYNC_READERS)
@pytest.mark.parametrize("after_end", AFTER_END)
def test_reading_returns_at_the_end_event_whatever_the_server_does_next(
    server: ScriptedServer,
    stack: ModuleType,
    read: SyncRead,
    expected: str,
    after_end: list[bytes | Hold],
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END, *after_end]), Events([END]))
    with sync_client(stack, **_options(server)) as client:
        stream = client.sessions.create_session(1, stream=True)
        assert _promptly(lambda: read(stream)) == expected
        list(client.sessions.create_session(1, stream=True))
    # The body never ended, so its connection was closed, not reused.
    assert [request.connection for request in server.received] == [0, 1]


@pytest.mark.parametrize(("read", "expected"), ASYNC_READERS)
@pytest.mark.parametrize("after_end", AFTER_END)
def test_async_reading_returns_at_the_end_event_whatever_the_server_does_next(
    server: ScriptedServer,
    stack: ModuleType,
    read: AsyncRead,
    expected: str,
    after_end: list[bytes | Hold],
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END, *after_end]), Events([END]))

    async def run() -> Any:
        async with async_client(stack, **_options(server)) as client:
            got = await read(await client.sessions.create_session(1, stream=True))
            async for _ in await client.sessions.create_session(1, stream=True):
                pass
            return got

    assert _promptly(lambda: asyncio.run(run())) == expected
    assert [request.connection for request in server.received] == [0, 1]


def test_the_connection_is_reused_when_the_body_end_came_with_the_end_event(
    server: ScriptedServer,
    stack: ModuleType,
) -> None:
    server.script(*[Events([chunk("Hi"), END], finish="with-last") for _ in range(3)])
    with sync_client(stack, **_options(server)) as client:
        client.sessions.create_session(1, stream=True).final_response()
        list(client.sessions.create_session(1, stream=True))
        for event in client.sessions.create_session(1, stream=True):
            if event.event_type == "end":
                break  # leaving at the end event releases the connection for reuse too
    assert [request.connection for request in server.received] == [0, 0, 0]


def test_async_the_connection_is_reused_when_the_body_end_came_with_the_end_event(
    server: ScriptedServer,
    stack: ModuleType,
) -> None:
    server.script(*[Events([chunk("Hi"), END], finish="with-last") for _ in range(3)])

    async def run() -> None:
        async with async_client(stack, **_options(server)) as client:
            await (await client.sessions.create_session(1, stream=True)).final_response()
            async for _ in await client.sessions.create_session(1, stream=True):
                pass
            async with await client.sessions.create_session(1, stream=True) as stream:
                async for event in stream:
                    if event.event_type == "end":
                        break

    asyncio.run(run())
    assert [request.connection for request in server.received] == [0, 0, 0]


def test_without_the_private_path_to_the_body_end_the_connection_is_closed_not_reused(
    server: ScriptedServer, stack: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented fallback (a library that renamed what the path reads, a custom transport):
    # the body's end cannot be seen, so a stream that returned at its end event drops its
    # connection rather than wait for that end; the answer is whole all the same.
    monkeypatch.setattr("somia._http._PATH_TO_H11", ("_no_such_stream",))
    server.script(*[Events([chunk("Hi"), END], finish="with-last") for _ in range(2)])
    with sync_client(stack, **_options(server)) as client:
        assert client.sessions.create_session(1, stream=True).final_response().message == "Hi"
        assert _last_kind(client.sessions.create_session(1, stream=True)) == "end"
    assert [request.connection for request in server.received] == [0, 1]


# -- closed or left early: reading on raises -------------------------------------------------


def _close(stream: Stream[StreamEvent]) -> None:
    stream.close()


def _leave_a_loop(stream: Stream[StreamEvent]) -> None:
    for _event in stream:
        break


def _leave_text_deltas(stream: Stream[StreamEvent]) -> None:
    for _delta in stream.text_deltas():
        break


SYNC_LEAVERS = [
    pytest.param(_close, id="close"),
    pytest.param(_leave_a_loop, id="left-loop"),
    pytest.param(_leave_text_deltas, id="left-text_deltas"),
]
SYNC_REREADERS = [
    pytest.param(list, id="loop"),
    pytest.param(lambda stream: "".join(stream.text_deltas()), id="text_deltas"),
    pytest.param(lambda stream: stream.final_response(), id="final_response"),
]


@pytest.mark.parametrize("leave", SYNC_LEAVERS)
@pytest.mark.parametrize("reread", SYNC_REREADERS)
def test_reading_a_stream_closed_or_left_before_its_end_raises_stream_closed_error(
    server: ScriptedServer, stack: ModuleType, leave: SyncRead, reread: SyncRead
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END]))
    with sync_client(stack, **_options(server)) as client:
        stream = client.sessions.create_session(1, stream=True)
        leave(stream)
        with pytest.raises(somia.StreamClosedError, match="closed") as caught:
            reread(stream)
    assert isinstance(caught.value, somia.StreamInterruptedError)
    assert caught.value.events_received == (0 if leave is _close else 1)


async def _async_close(stream: AsyncStream[StreamEvent]) -> None:
    await stream.aclose()


async def _async_leave_a_loop(stream: AsyncStream[StreamEvent]) -> None:
    async for _event in stream:
        break


async def _async_leave_text_deltas(stream: AsyncStream[StreamEvent]) -> None:
    async for _delta in stream.text_deltas():
        break


async def _async_list(stream: AsyncStream[StreamEvent]) -> Any:
    return [event async for event in stream]


async def _async_final(stream: AsyncStream[StreamEvent]) -> Any:
    return await stream.final_response()


ASYNC_LEAVERS = [
    pytest.param(_async_close, id="close"),
    pytest.param(_async_leave_a_loop, id="left-loop"),
    pytest.param(_async_leave_text_deltas, id="left-text_deltas"),
]
ASYNC_REREADERS = [
    pytest.param(_async_list, id="loop"),
    pytest.param(_async_text, id="text_deltas"),
    pytest.param(_async_final, id="final_response"),
]


@pytest.mark.parametrize("leave", ASYNC_LEAVERS)
@pytest.mark.parametrize("reread", ASYNC_REREADERS)
def test_async_reading_a_stream_closed_or_left_before_its_end_raises_stream_closed_error(
    server: ScriptedServer, stack: ModuleType, leave: AsyncRead, reread: AsyncRead
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END]))

    async def run() -> somia.StreamClosedError:
        async with async_client(stack, **_options(server)) as client:
            stream = await client.sessions.create_session(1, stream=True)
            await leave(stream)
            with pytest.raises(somia.StreamClosedError, match="closed") as caught:
                await reread(stream)
            return caught.value

    error = asyncio.run(run())
    assert error.events_received == (0 if leave is _async_close else 1)


def test_a_loop_still_running_when_its_stream_is_closed_raises_at_its_next_step(
    server: ScriptedServer,
    stack: ModuleType,
) -> None:
    server.script(Events([chunk("a") + chunk("ab") + chunk("abc"), END]))
    with sync_client(stack, **_options(server)) as client:
        stream = client.sessions.create_session(1, stream=True)
        iterator = iter(stream)
        assert next(iterator).message == "a"
        stream.close()
        with pytest.raises(somia.StreamClosedError):
            next(iterator)


def test_reading_a_cut_stream_again_raises_again(server: ScriptedServer, stack: ModuleType) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello")], finish="cut"))
    with sync_client(stack, **_options(server)) as client:
        stream = client.sessions.create_session(1, stream=True)
        with pytest.raises(somia.StreamInterruptedError):
            list(stream)
        with pytest.raises(somia.StreamClosedError, match="failed") as caught:
            "".join(stream.text_deltas())
    assert caught.value.events_received == 2


def test_a_stream_closed_after_its_end_event_reads_as_whole(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END]))
    with sync_client(stack, **_options(server)) as client:
        stream = client.sessions.create_session(1, stream=True)
        assert [event.event_type for event in stream][-1] == "end"
        stream.close()
        assert list(stream) == []
        assert stream.final_response().message == "Hello"


# -- leaving text_deltas() early: the same in both clients ------------------------------------


def _one_connection(stack: ModuleType) -> dict[str, Any]:
    limits = stack.Limits(max_connections=1)
    return {"limits": limits, "timeout": stack.Timeout(READ_TIMEOUT, pool=PROMPT)}


def test_leaving_text_deltas_early_releases_the_connection_at_the_break(
    server: ScriptedServer,
    stack: ModuleType,
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END, HOLD]), Events([chunk("Yo"), END]))
    with (
        stack.Client(**_one_connection(stack)) as http,
        sync_client(stack, **_options(server, http_client=http)) as client,
    ):
        stream = client.sessions.create_session(1, stream=True)
        for delta in stream.text_deltas():
            assert delta == "Hel"
            break
        # The only connection is free at once: a pool timeout would raise here.
        second = client.sessions.create_session(1, stream=True)
        assert _promptly(second.final_response).message == "Yo"
        with pytest.raises(somia.StreamClosedError):
            stream.final_response()


@pytest.mark.parametrize("release", ["next-step", "async-with-exit"])
def test_async_leaving_text_deltas_early_releases_the_connection_by_the_next_step(
    server: ScriptedServer, stack: ModuleType, release: str
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END, HOLD]), Events([chunk("Yo"), END]))

    async def run() -> str | None:
        async with (
            stack.AsyncClient(**_one_connection(stack)) as http,
            async_client(stack, **_options(server, http_client=http)) as client,
        ):
            stream = await client.sessions.create_session(1, stream=True)
            if release == "next-step":
                async for _ in stream.text_deltas():
                    break
                with pytest.raises(somia.StreamClosedError):
                    await stream.final_response()
            else:
                async with stream:
                    async for _ in stream.text_deltas():
                        break
            second = await client.sessions.create_session(1, stream=True)
            return (await second.final_response()).message

    assert _promptly(lambda: asyncio.run(run())) == "Yo"


# -- an answer that is not a session ---------------------------------------------------------


@pytest.mark.parametrize(
    "last",
    [
        pytest.param('{"session_id": 5, "message": "Hello"}', id="wrong-field-type"),
        pytest.param('{"history": [], "message": "Hello"}', id="no-session-id"),
    ],
)
def test_a_streamed_invalid_response_keeps_the_offending_events_data(
    server: ScriptedServer, stack: ModuleType, last: str
) -> None:
    server.script(Events([chunk("Hel"), f"data: {last}\n\n".encode(), END]))
    with sync_client(stack, **_options(server)) as client:
        stream = client.sessions.create_session(1, stream=True)
        kinds = [event.event_type for event in stream]
        with pytest.raises(somia.InvalidResponseError) as caught:
            stream.final_response()
    assert kinds == ["chunk", "chunk", "end"]  # every event, the offending one too
    assert caught.value.body == last
    assert caught.value.status_code == 200


def test_async_a_streamed_invalid_response_keeps_the_offending_events_data(
    server: ScriptedServer,
    stack: ModuleType,
) -> None:
    last = '{"session_id": "s", "pending": "no"}'
    server.script(Events([chunk("Hel"), f"data: {last}\n\n".encode(), END]))

    async def run() -> str:
        async with async_client(stack, **_options(server)) as client:
            stream = await client.sessions.create_session(1, stream=True)
            with pytest.raises(somia.InvalidResponseError) as caught:
                await stream.final_response()
            return caught.value.body

    assert asyncio.run(run()) == last
