"""`Stream.reopen()` / `AsyncStream.reopen()`: a cut answer fetched again with the same
Idempotency-Key, from the fake server's store (the turn runs once), as a new call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from somia.testing import FakeServer
from tests.harness import END, Events, ScriptedServer, chunk, client_options


def _options(server: FakeServer, **overrides: Any) -> dict[str, Any]:
    return client_options(base_url=server.base_url, api_key=server.api_key, **overrides)


def _turns_run(server: FakeServer, session_id: str) -> int:
    return sum(entry["role"] == "assistant" for entry in server.fake.history(session_id))


def test_a_cut_stream_names_reopen_which_fetches_the_whole_answer_once(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.cut_stream_after(1)
    with SomiaClient(**_options(somia_server)) as client:
        stream = client.sessions.create_session(1, input_data="a b c", stream=True)
        with pytest.raises(somia.StreamInterruptedError, match=r"stream\.reopen\(\) fetches"):
            stream.final_response()
        again = stream.reopen()
        answer = again.final_response()
    assert answer.message == "You said: a b c"
    assert again.http.headers["idempotent-replayed"] == "true"
    assert _turns_run(somia_server, answer.session_id) == 1
    first, second = somia_server.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_async_a_cut_stream_names_reopen_which_fetches_the_whole_answer_once(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.cut_stream_after(1)

    async def run() -> tuple[str | None, str, str | None]:
        async with AsyncSomiaClient(**_options(somia_server)) as client:
            stream = await client.sessions.create_session(1, input_data="a b c", stream=True)
            with pytest.raises(somia.StreamInterruptedError, match=r"stream\.reopen\(\)"):
                await stream.final_response()
            again = await stream.reopen()
            answer = await again.final_response()
            return answer.message, answer.session_id, again.http.headers["idempotent-replayed"]

    message, session_id, replayed = asyncio.run(run())
    assert (message, replayed) == ("You said: a b c", "true")
    assert _turns_run(somia_server, session_id) == 1


def test_reopen_after_an_idle_timeout_is_a_new_call_with_its_own_retries(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.stall_stream_after(1, 5.0)
    with SomiaClient(**_options(somia_server)) as client:
        stream = client.sessions.create_session(
            1, input_data="x", stream=True, stream_idle_timeout=0.3
        )
        with pytest.raises(somia.StreamTimeoutError, match=r"stream\.reopen\(\)"):
            list(stream)
        somia_server.faults.fail_next(1, status=503)  # retried: the reopened call's own retry
        answer = stream.reopen().final_response()
    assert answer.message == "You said: x"
    assert [request.status for request in somia_server.requests] == [200, 503, 200]


def test_reopen_on_a_stream_half_read_gives_the_answer_from_its_start(
    somia_server: FakeServer,
) -> None:
    with SomiaClient(**_options(somia_server)) as client:
        stream = client.sessions.create_session(1, input_data="one two three", stream=True)
        first = next(iter(stream))
        again = stream.reopen()
        with pytest.raises(somia.StreamClosedError):
            list(stream)  # closed by reopen()
        events = list(again)
    assert events[0] == first
    assert events[-1].event_type == "end"


def test_reopen_is_refused_on_a_stream_that_ended(somia_server: FakeServer) -> None:
    with SomiaClient(**_options(somia_server)) as client:
        stream = client.sessions.create_session(1, input_data="x", stream=True)
        stream.final_response()
        with pytest.raises(somia.UsageError, match="reached its end event"):
            stream.reopen()
    assert len(somia_server.requests) == 1


def test_async_reopen_is_refused_on_a_stream_of_a_raw_request(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel")], finish="cut"))

    async def run() -> None:
        async with AsyncSomiaClient(**client_options(base_url=server.base_url)) as client:
            stream = await client.request("POST", "/api/v1/other", stream=True)
            with pytest.raises(somia.StreamInterruptedError) as caught:
                await stream.final_response()
            assert "reopen" not in str(caught.value)
            with pytest.raises(somia.UsageError, match="streams of session calls"):
                await stream.reopen()

    asyncio.run(run())
    assert len(server.received) == 1


def test_reopen_is_refused_once_the_client_is_closed(somia_server: FakeServer) -> None:
    somia_server.faults.cut_stream_after(1)
    with SomiaClient(**_options(somia_server)) as client:
        stream = client.sessions.create_session(1, input_data="x", stream=True)
        with pytest.raises(somia.StreamInterruptedError):
            list(stream)
    with pytest.raises(somia.ClientClosedError):
        stream.reopen()
    assert len(somia_server.requests) == 1


def test_on_a_server_that_ignores_the_key_reopen_sends_the_same_request_again(
    server: ScriptedServer,
) -> None:
    # The turn then runs a second time: the same key and body are all a client can send.
    server.script(Events([chunk("Hel")], finish="cut"), Events([chunk("Hello"), END]))
    with SomiaClient(**client_options(base_url=server.base_url)) as client:
        stream = client.sessions.interact_session(1, "s-1", input_data="hi", stream=True)
        with pytest.raises(somia.StreamInterruptedError):
            list(stream)
        assert stream.reopen().final_response().message == "Hello"
    first, second = server.received
    assert (second.target, second.body) == (first.target, first.body)
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"]
