"""Streams: what iterating one gives, and what its methods return, sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Literal, assert_type

from somia import (
    AsyncStream,
    ResponseInfo,
    SessionAnswer,
    Stream,
    StreamEvent,
)


def a_stream_gives_events(stream: Stream[StreamEvent]) -> None:
    with stream as opened:
        assert_type(opened, Stream[StreamEvent])
        for event in opened:
            assert_type(event, StreamEvent)
    assert_type(stream.final_response(), SessionAnswer)
    assert_type(stream.text_deltas(), Iterator[str])
    assert_type(stream.reopen(), Stream[StreamEvent])
    assert_type(stream.http, ResponseInfo)
    assert_type(stream.session_id, str | None)
    assert_type(stream.close(), None)


async def an_async_stream_gives_events(stream: AsyncStream[StreamEvent]) -> None:
    async with stream as opened:
        assert_type(opened, AsyncStream[StreamEvent])
        async for event in opened:
            assert_type(event, StreamEvent)
    assert_type(await stream.final_response(), SessionAnswer)
    assert_type(stream.text_deltas(), AsyncIterator[str])
    assert_type(await stream.reopen(), AsyncStream[StreamEvent])
    assert_type(stream.http, ResponseInfo)
    assert_type(await stream.aclose(), None)
    for _ in stream:  # type: ignore[attr-defined]
        pass


def an_event_says_what_it_holds(event: StreamEvent) -> None:
    assert_type(event.event_type, Literal["chunk", "error", "end", "unknown"])
    assert_type(event.is_chunk, bool)
    assert_type(event.message, str | None)
    assert_type(event.error_message, str | None)
