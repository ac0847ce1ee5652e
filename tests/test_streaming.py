"""Streams over real loopback HTTP: nothing lost, nothing read ahead, connections released
(these on both HTTP libraries: `both_stacks`)."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpx
import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from tests.harness import END, Events, Reply, ScriptedServer, Sdk, chunk, sse

pytestmark = pytest.mark.both_stacks


def _client(server: ScriptedServer, **options: Any) -> SomiaClient:
    return SomiaClient(
        base_url=server.base_url, api_key="k", retry_backoff_seconds=0.001, **options
    )


def _async_client(server: ScriptedServer, **options: Any) -> AsyncSomiaClient:
    return AsyncSomiaClient(
        base_url=server.base_url, api_key="k", retry_backoff_seconds=0.001, **options
    )


def test_the_package_page_streaming_example_runs_unchanged(server: ScriptedServer) -> None:
    server.script(Events([chunk("Str"), sse({"error": "late failure"}), END]))
    seen = []
    with SomiaClient(base_url=server.base_url, api_key="your_api_key") as client:
        events = client.sessions.create_session(
            agent_id=123, input_data="Stream this answer", stream=True
        )
        for event in events:
            if event.event_type == "chunk":
                seen.append(("chunk", event.data["message"]))
            elif event.event_type == "error":
                seen.append(("error", event.data["error"]))
            elif event.event_type == "end":
                seen.append(("end", None))
    assert seen == [("chunk", "Str"), ("error", "late failure"), ("end", None)]


def test_an_event_arrives_before_the_server_sends_the_next_one(server: ScriptedServer) -> None:
    gate = threading.Event()
    server.script(Events([chunk("first"), gate, chunk("second"), END]))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        iterator = iter(stream)
        first = next(iterator)  # would block until the gate's 10 s wait if we read ahead
        assert first.message == "first"
        assert not gate.is_set()
        gate.set()
        assert [e.event_type for e in iterator] == ["chunk", "end"]


def test_an_unterminated_block_at_the_cut_is_not_delivered(server: ScriptedServer) -> None:
    server.script(Events([chunk("a"), b'data: {"session_id": "s", "message": "ab"}\n'], "cut"))
    with _client(server) as client, pytest.raises(somia.StreamInterruptedError) as caught:
        list(client.sessions.create_session(1, stream=True))
    assert caught.value.events_received == 1
    assert " was cut off (RemoteProtocolError) after 1 event, before its end event: " in str(
        caught.value
    )


def test_a_503_before_the_first_byte_is_retried(server: ScriptedServer) -> None:
    server.script(Reply(503, {"detail": "busy"}), Events([chunk("ok"), END]))
    with _client(server) as client:
        events = list(client.sessions.create_session(1, stream=True))
    assert len(events) == 2
    assert len(server.received) == 2


def test_a_malformed_event_raises_stream_parse_error(server: ScriptedServer) -> None:
    server.script(Events([chunk("a"), b"data: {oops\n\n", END]))
    with _client(server) as client, pytest.raises(somia.StreamParseError) as caught:
        list(client.sessions.create_session(1, stream=True))
    assert caught.value.body == "{oops"


def test_final_response_returns_the_session_from_the_last_chunk(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello", pending=False), END]))
    with _client(server) as client, client.sessions.create_session(1, stream=True) as stream:
        answer = stream.final_response()
    assert answer.message == "Hello"
    assert answer.session_id == "s-scripted"
    assert answer.http is not None
    assert answer.http.status_code == 200


def test_final_response_raises_when_the_stream_reported_an_error(server: ScriptedServer) -> None:
    server.script(Events([chunk("a"), sse({"error": "agent failed"}), END]))
    with _client(server) as client, pytest.raises(somia.AgentStreamError, match="agent failed"):
        client.sessions.create_session(1, stream=True).final_response()


def test_an_error_event_may_end_the_stream_without_the_end_event(server: ScriptedServer) -> None:
    server.script(Events([chunk("a"), sse({"session_id": "s", "message": "x"}, event="error")]))
    with _client(server) as client:
        kinds = [e.event_type for e in client.sessions.create_session(1, stream=True)]
    assert kinds == ["chunk", "error"]


def test_text_deltas_yield_only_the_new_text(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), chunk("Hello!"), END]))
    with _client(server) as client:
        deltas = list(client.sessions.create_session(1, stream=True).text_deltas())
    assert deltas == ["Hel", "lo", "!"]


def test_the_session_id_is_known_from_the_headers_before_any_event(
    server: ScriptedServer,
) -> None:
    server.script(Events([END]))
    with _client(server) as client, client.sessions.create_session(1, stream=True) as stream:
        assert stream.session_id == "s-scripted"
        assert stream.http.status_code == 200


def _small_pool(stack: ModuleType, client: type[Any]) -> Any:
    """A caller's HTTP client of two connections, whose pool timeout is short."""
    limits = stack.Limits(max_connections=2, max_keepalive_connections=2)
    return client(limits=limits, timeout=stack.Timeout(5.0, pool=1.0))


@contextmanager
def _small_pool_client(server: ScriptedServer, stack: ModuleType) -> Iterator[SomiaClient]:
    with _small_pool(stack, stack.Client) as http, _client(server, http_client=http) as client:
        yield client


def test_abandoned_streams_never_exhaust_a_small_pool(
    server: ScriptedServer, stack: ModuleType
) -> None:
    rounds = 60
    server.script(*[Events([chunk("a"), 0.5, END]) for _ in range(rounds * 3)])
    with _small_pool_client(server, stack) as client:
        for _ in range(rounds):
            for _event in client.sessions.create_session(1, stream=True):
                break  # leaving a plain for loop releases the connection
            with client.sessions.create_session(1, stream=True) as stream:
                next(iter(stream))
            client.sessions.create_session(1, stream=True)  # never iterated, dropped
    assert len(server.received) == rounds * 3


def test_a_closed_stream_raises_when_read_rather_than_reading_as_empty(
    server: ScriptedServer,
) -> None:
    server.script(Events([chunk("a"), chunk("b"), END]))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        stream.close()
        with pytest.raises(somia.StreamClosedError):
            list(stream)


def test_async_abandoned_streams_never_exhaust_a_small_pool(
    server: ScriptedServer, stack: ModuleType
) -> None:
    rounds = 40
    server.script(*[Events([chunk("a"), 0.5, END]) for _ in range(rounds * 2)])

    async def run() -> None:
        http = _small_pool(stack, stack.AsyncClient)
        async with _async_client(server, http_client=http) as client:
            for _ in range(rounds):
                stream = await client.sessions.create_session(1, stream=True)
                async for _event in stream:
                    break
                await stream.aclose()
                async with await client.sessions.create_session(1, stream=True) as stream:
                    async for _event in stream:
                        break
        await http.aclose()

    asyncio.run(run())
    assert len(server.received) == rounds * 2


def test_text_deltas_raise_at_an_error_event_after_the_text_before_it(
    server: ScriptedServer,
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), sse({"error": "agent died"})]))
    got: list[str] = []
    with _client(server) as client, pytest.raises(somia.AgentStreamError, match="agent died"):
        for delta in client.sessions.create_session(1, stream=True).text_deltas():
            got.append(delta)
    assert got == ["Hel", "lo"]


def test_final_response_after_text_deltas_gives_the_whole_answer(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END]))
    with _client(server) as client, client.sessions.create_session(1, stream=True) as stream:
        assert "".join(stream.text_deltas()) == "Hello"
        assert stream.final_response().message == "Hello"


def test_close_stops_an_iterator_that_is_already_running(server: ScriptedServer) -> None:
    server.script(Events([chunk("a") + chunk("ab") + chunk("abc"), END]))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        iterator = iter(stream)
        assert next(iterator).message == "a"
        stream.close()
        with pytest.raises(somia.StreamClosedError) as caught:
            list(iterator)
    assert caught.value.events_received == 1


def test_events_before_a_malformed_one_in_the_same_read_are_delivered_first(
    server: ScriptedServer,
) -> None:
    server.script(Events([chunk("a") + chunk("ab") + b"data: {oops\n\n" + chunk("abc"), END]))
    got: list[str | None] = []
    with _client(server) as client, pytest.raises(somia.StreamParseError):
        for event in client.sessions.create_session(1, stream=True):
            got.append(event.message)
    assert got == ["a", "ab"]


def test_an_exception_in_the_users_loop_releases_the_connection(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(*[Events([chunk("a"), 0.5, END]) for _ in range(20)])
    with _small_pool_client(server, stack) as client:
        for _ in range(20):
            with pytest.raises(ZeroDivisionError):
                for _event in client.sessions.create_session(1, stream=True):
                    _ = 1 / 0
    assert len(server.received) == 20


@pytest.mark.parametrize(
    "after_end",
    [
        pytest.param([], id="cut"),
        pytest.param([b": ping\n\n"] * 3, id="keep-alives-then-cut"),
        pytest.param([b"data: {oops\n\n"], id="garbage-then-cut"),
    ],
)
def test_nothing_after_the_end_event_can_fail_a_whole_answer(
    server: ScriptedServer, after_end: list[bytes]
) -> None:
    # Returning at once after the end event, whatever the server does next, is in
    # test_stream_end.py.
    server.script(Events([chunk("He"), chunk("Hello"), END, *after_end], finish="cut"))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        kinds = [event.event_type for event in stream]
        answer = stream.final_response()
    assert kinds == ["chunk", "chunk", "end"]
    assert answer.message == "Hello"


def test_final_response_after_leaving_the_loop_early_raises_instead_of_a_partial_answer(
    server: ScriptedServer,
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END]))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        for _event in stream:
            break
        with pytest.raises(somia.StreamInterruptedError, match="closed") as caught:
            stream.final_response()
    assert caught.value.last_chunk["message"] == "Hel"


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ([chunk("Hel"), chunk("Hello")], somia.StreamInterruptedError),
        ([chunk("Hel"), b"data: {oops\n\n", chunk("Hello"), END], somia.StreamParseError),
    ],
)
def test_final_response_after_a_failed_read_raises_too(
    server: ScriptedServer, parts: list[bytes], error: type[Exception]
) -> None:
    server.script(Events(parts, finish="cut"))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        with pytest.raises(error):
            list(stream.text_deltas())
        with pytest.raises(somia.StreamInterruptedError):
            stream.final_response()


def test_final_response_continues_a_half_read_text_deltas(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), chunk("Hello!"), END]))
    with _client(server) as client:
        stream = client.sessions.create_session(1, stream=True)
        deltas = stream.text_deltas()
        assert next(deltas) == "Hel"
        assert stream.final_response().message == "Hello!"


@pytest.mark.parametrize(
    "after_error", [pytest.param("cut", id="cut"), pytest.param(1.0, id="stall")]
)
def test_an_agent_error_followed_by_a_cut_or_stall_is_still_the_agents_error(
    server: ScriptedServer, after_error: str | float
) -> None:
    parts: list[bytes | float] = [chunk("a"), sse({"error": "agent failed"})]
    if isinstance(after_error, float):
        parts.append(after_error)
    server.script(Events(parts, finish="cut"))
    with (
        _client(server, timeout=0.3) as client,
        pytest.raises(somia.AgentStreamError, match="agent failed"),
    ):
        client.sessions.create_session(1, stream=True).final_response()


def test_async_final_response_after_leaving_the_loop_early_says_closed(
    server: ScriptedServer,
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello"), END]))

    async def run() -> str:
        async with _async_client(server) as client:
            stream = await client.sessions.create_session(1, stream=True)
            async for _event in stream:
                break
            with pytest.raises(somia.StreamInterruptedError) as caught:
                await stream.final_response()
            return str(caught.value)

    message = asyncio.run(run())
    assert "StreamConsumed" not in message
    assert "closed" in message


# -- both clients ---------------------------------------------------------------------------


def test_a_stream_yields_every_event_then_ends(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(
        Events([chunk("He"), chunk("Hello", pending=False), END]), Events([chunk("Yo"), END])
    )
    with sdk.connect(server.base_url, api_key="k") as driver:
        events = driver.events("create_session", 1, input_data="x")
        again = driver.final("create_session", 1)
    assert type(again.http.headers) is httpx.Headers  # whichever library answered
    assert again.http.headers["x-somia-session-id"] == "s-scripted"
    assert [e.event_type for e in events] == ["chunk", "chunk", "end"]
    assert [e.message for e in events[:2]] == ["He", "Hello"]
    assert again.message == "Yo"
    assert server.received[0].json()["stream"] is True
    assert server.received[0].headers["accept"] == "text/event-stream"


@pytest.mark.parametrize("finish", ["cut", "close"])
def test_a_stream_ending_before_its_end_event_raises_after_the_events_it_got(
    server: ScriptedServer, sdk: Sdk, finish: str
) -> None:
    server.script(Events([chunk("Hel"), chunk("Hello wor")], finish=finish))
    with sdk.connect(server.base_url, api_key="k") as driver:
        received, error = driver.events_and_error("create_session", 1)
    assert [e.message for e in received] == ["Hel", "Hello wor"]
    assert isinstance(error, somia.StreamInterruptedError)
    assert error.events_received == 2
    assert error.last_chunk["message"] == "Hello wor"
    assert isinstance(error, somia.TransportError)
    assert len(server.received) == 1  # never retried once the stream started


def test_a_stalled_stream_raises_a_stream_timeout(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Events([chunk("a"), 1.5, END]))
    with sdk.connect(server.base_url, api_key="k", timeout=0.3) as driver:
        received, error = driver.events_and_error("create_session", 1)
    assert isinstance(error, somia.StreamTimeoutError)
    assert isinstance(error, somia.RequestTimeoutError)
    assert error.events_received == 1
    assert len(received) == 1


def test_an_error_status_on_a_streaming_call_raises_the_typed_error(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(404, {"detail": "Session not found"}))
    with pytest.raises(somia.NotFoundError, match="Session not"):
        sdk.call(server.base_url, "interact_session", 1, "nope", stream=True)


def test_a_json_answer_to_a_streaming_call_is_an_invalid_response_keeping_it_whole(
    server: ScriptedServer, sdk: Sdk
) -> None:
    answer = {"session_id": "s", "message": "x" * 2000}
    server.script(Reply(200, answer))
    with pytest.raises(somia.InvalidResponseError, match="stream") as caught:
        sdk.call(server.base_url, "create_session", 1, stream=True)
    assert json.loads(caught.value.body) == answer


# The connection of an event loop that has ended cannot be closed any more (as documented, it is
# left to be collected): its ResourceWarning is expected, anything else raised or reported is not.
@pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
def test_an_async_stream_dropped_after_its_loop_ended_goes_quietly(server: ScriptedServer) -> None:
    server.script(Events([chunk("a"), END]))

    async def open_one() -> object:
        client = AsyncSomiaClient(base_url=server.base_url, api_key="k")
        return await client.sessions.create_session(1, stream=True)

    stream = asyncio.run(open_one())
    assert server.received
    del stream
    gc.collect()
