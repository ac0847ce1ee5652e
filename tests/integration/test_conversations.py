"""Both clients against the fake server over loopback: conversations, streams and faults.

Every test runs once for SomiaClient and once for AsyncSomiaClient: `driver` runs calls on an
open client of either kind (the `sdk` fixture), so the expectations are written once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from somia.testing import FakeServer, FakeSomia, Turn
from tests.harness import Driver


def test_a_session_continues_turn_by_turn(driver: Driver) -> None:
    first = driver.call("create_session", agent_id=1, input_data="Hello")
    second = driver.call("interact_session", 1, first.session_id, input_data="Again")
    assert second.session_id == first.session_id
    assert first.message == "You said: Hello"
    assert second.message == "You said: Again"
    assert [turn["content"] for turn in second.history] == [
        "Hello",
        "You said: Hello",
        "Again",
        "You said: Again",
    ]
    assert second.request_id
    assert second.http.status_code == 200


def test_run_creates_then_continues(driver: Driver) -> None:
    first = driver.call("run", 1, input_data="one")
    second = driver.call("run", 1, session_id=first.session_id, input_data="two")
    assert len(second.history) == 4


def test_a_streamed_turn_gives_the_same_answer_as_a_json_turn(driver: Driver) -> None:
    text = "tell me a fairly long story please"
    whole = driver.call("create_session", 1, input_data=text)
    events, error = driver.events_and_error("create_session", 1, input_data=text)
    assert error is None
    assert [e.event_type for e in events][-1] == "end"
    assert len([e for e in events if e.event_type == "chunk"]) >= 3
    assert events[-2].message == whole.message
    assert "".join(driver.deltas("create_session", 1, input_data=text)) == whole.message
    final = driver.final("interact_session", 1, whole.session_id, input_data="more")
    assert final.message == "You said: more"
    assert final.session_id == whole.session_id


def test_injected_503_and_429_are_retried_and_the_agent_runs_once(
    driver: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(1, status=503)
    somia_server.faults.fail_next(1, status=429, retry_after="0")
    answer = driver.call("create_session", 1, input_data="x")
    requests = somia_server.requests
    assert len(requests) == 3
    assert len({r.headers["idempotency-key"] for r in requests}) == 1
    assert len(answer.history) == 2


def test_an_injected_500_is_raised_without_a_retry(
    driver: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(1, status=500)
    with pytest.raises(somia.ServerError):
        driver.call("create_session", 1, input_data="x")
    assert len(somia_server.requests) == 1


def test_an_html_error_page_from_a_proxy_maps_to_a_clean_error(
    driver: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(
        1, status=502, body="<html><body>Bad gateway</body></html>", content_type="text/html"
    )
    with pytest.raises(somia.ServerError) as caught:
        driver.call("create_session", 1)
    assert "<html>" not in str(caught.value)
    assert caught.value.status_code == 502


def test_a_wrong_key_is_an_auth_error(somia_server: FakeServer) -> None:
    with (
        SomiaClient(base_url=somia_server.base_url, api_key="wrong") as client,
        pytest.raises(somia.AuthError),
    ):
        client.sessions.create_session(1)


def test_unknown_agents_and_sessions_are_not_found(driver: Driver) -> None:
    with pytest.raises(somia.NotFoundError):
        driver.call("create_session", 4242)
    session = driver.call("create_session", 1).session_id
    with pytest.raises(somia.NotFoundError):
        driver.call("interact_session", 1, "no-such-session")
    with pytest.raises(somia.NotFoundError):
        driver.call("interact_session", 2, session)


@pytest.mark.parametrize(
    ("inject", "error", "count"),
    [
        (lambda f: f.cut_stream_after(2), somia.StreamInterruptedError, 2),
        (lambda f: f.end_stream_without_terminator_after(2), somia.StreamInterruptedError, 2),
        (lambda f: f.malformed_event_after(1), somia.StreamParseError, 1),
    ],
)
def test_stream_faults_raise_after_the_events_that_arrived(
    driver: Driver,
    somia_server: FakeServer,
    inject: Callable[[Any], None],
    error: type[Exception],
    count: int,
) -> None:
    inject(somia_server.faults)
    events, raised = driver.events_and_error("create_session", 1, input_data="a b c d e f")
    assert isinstance(raised, error)
    assert len(events) == count
    assert all(e.event_type == "chunk" for e in events)


def test_a_stalled_stream_raises_a_timeout(driver: Driver, somia_server: FakeServer) -> None:
    somia_server.faults.stall_stream_after(1, 3.0)
    events, raised = driver.events_and_error("create_session", 1, input_data="x", timeout=0.3)
    assert isinstance(raised, somia.StreamTimeoutError)
    assert len(events) == 1


def test_an_error_event_ends_the_stream_and_final_response_raises(
    driver: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.error_event_after(1, "the agent crashed")
    events, raised = driver.events_and_error("create_session", 1, input_data="x")
    assert raised is None
    assert [e.event_type for e in events] == ["chunk", "error"]
    assert events[-1].error_message == "the agent crashed"
    somia_server.faults.error_event_after(1, "again", event_name="error")
    with pytest.raises(somia.AgentStreamError, match="again"):
        driver.final("create_session", 1, input_data="x")


def test_a_custom_agent_sees_the_turn_and_its_history() -> None:
    fake = FakeSomia(api_key="key-2", api_key_header="apikey")
    seen: list[Turn] = []

    @fake.agent(123)
    def count_turns(turn: Turn) -> str:
        seen.append(turn)
        return f"turn {len(turn.history) // 2 + 1} of {turn.pipeline_version}"

    with (
        FakeServer(fake) as server,
        SomiaClient(base_url=server.base_url, api_key="key-2", api_key_header="apikey") as client,
    ):
        first = client.sessions.create_session(123, input_data="a", pipeline_version=3)
        second = client.sessions.interact_session(
            123, first.session_id, input_data="b", metadata={"k": "v"}, tags=["t"]
        )
    assert (first.message, second.message) == ("turn 1 of 3", "turn 2 of production")
    assert seen[1].metadata == {"k": "v"}
    assert seen[1].tags == ["t"]


@pytest.mark.slow  # a few hundred streams at once
def test_hundreds_of_concurrent_streams_on_one_async_client_all_complete(
    somia_server: FakeServer,
) -> None:
    count = 300

    async def main() -> list[str | None]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with (
            httpx.AsyncClient(limits=limits, timeout=60.0) as http,
            AsyncSomiaClient(
                base_url=somia_server.base_url, api_key=somia_server.api_key, http_client=http
            ) as client,
        ):

            async def one(n: int) -> str | None:
                stream = await client.sessions.create_session(1, input_data=f"n{n}", stream=True)
                async with stream:
                    return (await stream.final_response()).message

            return await asyncio.gather(*(one(n) for n in range(count)))

    assert asyncio.run(main()) == [f"You said: n{n}" for n in range(count)]
