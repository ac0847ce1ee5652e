"""`client.sessions` (and its alias `client.agents`): what each call returns for each value of
`stream`, on both clients. A regression in an overload's return type fails here."""

from __future__ import annotations

from typing import assert_type

from somia import (
    AsyncSomiaClient,
    AsyncStream,
    SessionAnswer,
    SomiaClient,
    Stream,
    StreamEvent,
)


def sync_calls_answer_or_stream_by_stream(client: SomiaClient, flag: bool) -> None:
    sessions = client.sessions
    assert_type(sessions.create_session(1, input_data="hi"), SessionAnswer)
    assert_type(sessions.create_session(1, stream=False), SessionAnswer)
    assert_type(sessions.create_session(1, stream=True), Stream[StreamEvent])
    assert_type(sessions.create_session(1, stream=flag), SessionAnswer | Stream[StreamEvent])
    assert_type(sessions.interact_session(1, "s-1", input_data="hi"), SessionAnswer)
    assert_type(sessions.interact_session(1, "s-1", stream=False), SessionAnswer)
    assert_type(sessions.interact_session(1, "s-1", stream=True), Stream[StreamEvent])
    assert_type(
        sessions.interact_session(1, "s-1", stream=flag), SessionAnswer | Stream[StreamEvent]
    )
    assert_type(sessions.run(1), SessionAnswer)
    assert_type(sessions.run(1, session_id="s-1", stream=False), SessionAnswer)
    assert_type(sessions.run(1, session_id=None, stream=True), Stream[StreamEvent])
    assert_type(sessions.run(1, stream=flag), SessionAnswer | Stream[StreamEvent])
    assert_type(client.agents.run(1, stream=True), Stream[StreamEvent])


async def async_calls_answer_or_stream_by_stream(client: AsyncSomiaClient, flag: bool) -> None:
    sessions = client.sessions
    assert_type(await sessions.create_session(1, input_data="hi"), SessionAnswer)
    assert_type(await sessions.create_session(1, stream=False), SessionAnswer)
    assert_type(await sessions.create_session(1, stream=True), AsyncStream[StreamEvent])
    assert_type(
        await sessions.create_session(1, stream=flag), SessionAnswer | AsyncStream[StreamEvent]
    )
    assert_type(await sessions.interact_session(1, "s-1"), SessionAnswer)
    assert_type(await sessions.interact_session(1, "s-1", stream=False), SessionAnswer)
    assert_type(await sessions.interact_session(1, "s-1", stream=True), AsyncStream[StreamEvent])
    assert_type(
        await sessions.interact_session(1, "s-1", stream=flag),
        SessionAnswer | AsyncStream[StreamEvent],
    )
    assert_type(await sessions.run(1), SessionAnswer)
    assert_type(await sessions.run(1, session_id="s-1", stream=False), SessionAnswer)
    assert_type(await sessions.run(1, stream=True), AsyncStream[StreamEvent])
    assert_type(await sessions.run(1, stream=flag), SessionAnswer | AsyncStream[StreamEvent])
    assert_type(await client.agents.create_session(1), SessionAnswer)


def options_are_checked(client: SomiaClient, answer: SessionAnswer) -> None:
    sessions = client.sessions
    sessions.create_session(1, input_data="hi", tags=["a"], timeout=5.0, idempotency_key="k")
    sessions.create_session(1, no_such_option=1)  # type: ignore[call-overload]
    sessions.create_session(1, stream="yes")  # type: ignore[call-overload]
    sessions.create_session("1")  # type: ignore[call-overload]
    sessions.interact_session(1, stream=True)  # type: ignore[call-overload]
    assert_type(answer.session_id, str)
