"""Both clients against the fake server over loopback: conversations, streams and faults.

Every test runs once for SomiaClient and once for AsyncSomiaClient: `sdk` runs a script of
calls against either, so the expectations are written once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from somia.testing import FakeServer, FakeSomia, Turn

Run = Callable[..., Any]


class SyncDriver:
    """Runs calls on a SomiaClient, reading streams to the end."""

    def __init__(self, client: SomiaClient) -> None:
        self.client = client

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.client.sessions, method)(*args, **kwargs)

    def events(self, method: str, *args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
        """The events of a streamed call and the error that ended it (or None)."""
        got: list[Any] = []
        try:
            for event in self.call(method, *args, stream=True, **kwargs):
                got.append(event)
        except somia.SomiaError as exc:
            return got, exc
        return got, None

    def final(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self.call(method, *args, stream=True, **kwargs) as stream:
            return stream.final_response()

    def deltas(self, method: str, *args: Any, **kwargs: Any) -> list[str]:
        return list(self.call(method, *args, stream=True, **kwargs).text_deltas())


class AsyncDriver:
    """The same calls on an AsyncSomiaClient, each run to completion on one event loop."""

    def __init__(self, client: AsyncSomiaClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.loop.run_until_complete(getattr(self.client.sessions, method)(*args, **kwargs))

    def events(self, method: str, *args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
        async def read() -> tuple[list[Any], Any]:
            got: list[Any] = []
            try:
                stream = await getattr(self.client.sessions, method)(*args, stream=True, **kwargs)
                async for event in stream:
                    got.append(event)
            except somia.SomiaError as exc:
                return got, exc
            return got, None

        return self.loop.run_until_complete(read())

    def final(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async def read() -> Any:
            stream = await getattr(self.client.sessions, method)(*args, stream=True, **kwargs)
            async with stream:
                return await stream.final_response()

        return self.loop.run_until_complete(read())

    def deltas(self, method: str, *args: Any, **kwargs: Any) -> list[str]:
        async def read() -> list[str]:
            stream = await getattr(self.client.sessions, method)(*args, stream=True, **kwargs)
            return [d async for d in stream.text_deltas()]

        return self.loop.run_until_complete(read())


Driver = SyncDriver | AsyncDriver


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest, somia_server: FakeServer) -> Any:
    options: dict[str, Any] = {
        "base_url": somia_server.base_url,
        "api_key": somia_server.api_key,
        "retry_backoff_seconds": 0.001,
        "timeout": 5.0,
    }
    if request.param == "sync":
        with SomiaClient(**options) as client:
            yield SyncDriver(client)
        return
    loop = asyncio.new_event_loop()
    async_client = AsyncSomiaClient(**options)
    yield AsyncDriver(async_client, loop)
    loop.run_until_complete(async_client.aclose())
    loop.close()


def test_a_session_continues_turn_by_turn(sdk: Driver) -> None:
    first = sdk.call("create_session", agent_id=1, input_data="Hello")
    second = sdk.call("interact_session", 1, first.session_id, input_data="Again")
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


def test_run_creates_then_continues(sdk: Driver) -> None:
    first = sdk.call("run", 1, input_data="one")
    second = sdk.call("run", 1, session_id=first.session_id, input_data="two")
    assert len(second.history) == 4


def test_a_streamed_turn_gives_the_same_answer_as_a_json_turn(sdk: Driver) -> None:
    text = "tell me a fairly long story please"
    whole = sdk.call("create_session", 1, input_data=text)
    events, error = sdk.events("create_session", 1, input_data=text)
    assert error is None
    assert [e.event_type for e in events][-1] == "end"
    assert len([e for e in events if e.event_type == "chunk"]) >= 3
    assert events[-2].message == whole.message
    assert "".join(sdk.deltas("create_session", 1, input_data=text)) == whole.message
    final = sdk.final("interact_session", 1, whole.session_id, input_data="more")
    assert final.message == "You said: more"
    assert final.session_id == whole.session_id


def test_injected_503_and_429_are_retried_and_the_agent_runs_once(
    sdk: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(1, status=503)
    somia_server.faults.fail_next(1, status=429, retry_after="0")
    answer = sdk.call("create_session", 1, input_data="x")
    requests = somia_server.requests
    assert len(requests) == 3
    assert len({r.headers["idempotency-key"] for r in requests}) == 1
    assert len(answer.history) == 2


def test_an_injected_500_is_raised_without_a_retry(sdk: Driver, somia_server: FakeServer) -> None:
    somia_server.faults.fail_next(1, status=500)
    with pytest.raises(somia.ServerError):
        sdk.call("create_session", 1, input_data="x")
    assert len(somia_server.requests) == 1


def test_an_html_error_page_from_a_proxy_maps_to_a_clean_error(
    sdk: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(
        1, status=502, body="<html><body>Bad gateway</body></html>", content_type="text/html"
    )
    with pytest.raises(somia.ServerError) as caught:
        sdk.call("create_session", 1)
    assert "<html>" not in str(caught.value)
    assert caught.value.status_code == 502


def test_a_wrong_key_is_an_auth_error(somia_server: FakeServer) -> None:
    with (
        SomiaClient(base_url=somia_server.base_url, api_key="wrong") as client,
        pytest.raises(somia.AuthError),
    ):
        client.sessions.create_session(1)


def test_unknown_agents_and_sessions_are_not_found(sdk: Driver) -> None:
    with pytest.raises(somia.NotFoundError):
        sdk.call("create_session", 4242)
    session = sdk.call("create_session", 1).session_id
    with pytest.raises(somia.NotFoundError):
        sdk.call("interact_session", 1, "no-such-session")
    with pytest.raises(somia.NotFoundError):
        sdk.call("interact_session", 2, session)


@pytest.mark.parametrize(
    ("inject", "error", "count"),
    [
        (lambda f: f.cut_stream_after(2), somia.StreamInterruptedError, 2),
        (lambda f: f.end_stream_without_terminator_after(2), somia.StreamInterruptedError, 2),
        (lambda f: f.malformed_event_after(1), somia.StreamParseError, 1),
    ],
)
def test_stream_faults_raise_after_the_events_that_arrived(
    sdk: Driver,
    somia_server: FakeServer,
    inject: Callable[[Any], None],
    error: type[Exception],
    count: int,
) -> None:
    inject(somia_server.faults)
    events, raised = sdk.events("create_session", 1, input_data="a b c d e f")
    assert isinstance(raised, error)
    assert len(events) == count
    assert all(e.event_type == "chunk" for e in events)


def test_a_stalled_stream_raises_a_timeout(sdk: Driver, somia_server: FakeServer) -> None:
    somia_server.faults.stall_stream_after(1, 3.0)
    events, raised = sdk.events("create_session", 1, input_data="x", timeout=0.3)
    assert isinstance(raised, somia.StreamTimeoutError)
    assert len(events) == 1


def test_an_error_event_ends_the_stream_and_final_response_raises(
    sdk: Driver, somia_server: FakeServer
) -> None:
    somia_server.faults.error_event_after(1, "the agent crashed")
    events, raised = sdk.events("create_session", 1, input_data="x")
    assert raised is None
    assert [e.event_type for e in events] == ["chunk", "error"]
    assert events[-1].error_message == "the agent crashed"
    somia_server.faults.error_event_after(1, "again", event_name="error")
    with pytest.raises(somia.AgentStreamError, match="again"):
        sdk.final("create_session", 1, input_data="x")


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
