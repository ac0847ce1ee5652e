"""Streams of agent events: `Stream` and `AsyncStream` share one decoder and one state;
only their read loops differ.

Where a stream's life is decided, one place each: its end event is recorded in
`StreamState.accept`, a cut in `StreamState.interrupted`, its idle clock is moved on by the
read loops (see `somia._stream_state`), and the connection is released in `Stream.close` /
`AsyncStream.aclose` (which every way out of a stream goes through).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx

from somia._bridge import SESSION_ID_HEADER
from somia._errors import StreamBusyError, StreamClosedError, UsageError
from somia._events import END
from somia._http import end_is_there
from somia._models import ResponseInfo, SessionAnswer, StreamEvent
from somia._stream_state import StreamCall, StreamState, TextDeltas

if TYPE_CHECKING:
    import asyncio

    from somia._tracing import CallSpan

T = TypeVar("T")
R = TypeVar("R")  # the reader: a generator or an async generator

_closing: set[asyncio.Task[None]] = set()


class _StreamBase(Generic[T, R]):
    """What Stream and AsyncStream share: the response, its state and the live reader."""

    def __init__(self, response: httpx.Response, call: StreamCall) -> None:
        self._response = response
        self._state = StreamState(response, call)
        self._span: CallSpan | None = call.span  # the call's trace span, ended with the stream
        self._closed = False
        self._left = False  # a loop over the stream was left before it was closed
        self._chunks: Any = None  # the body's chunks, once a reader started on them
        self._reader: weakref.ref[R] | None = None
        self._deltas: weakref.ref[Any] | None = None  # the running async text_deltas()

    def _live_reader(self, start: Callable[[], R]) -> R:
        # A reader still alive (say, text_deltas() stopped half way) is continued, not
        # raced. Only a weak reference: a loop left early drops its reader at once.
        left = self._check_left()
        reader = self._reader() if self._reader else None
        if reader is None or left or self._closed:
            reader = start()
            self._reader = weakref.ref(reader)
        return reader

    def _check_left(self) -> bool:
        """Whether a loop over the open stream, or a text_deltas() on it, was dropped."""
        # Python finalises a dropped async generator only later: until then it stays alive,
        # and this mark makes the stream's next step release it.
        if not self._left and self._chunks is not None and not self._closed:
            reader, deltas = self._reader, self._deltas
            self._left = (reader is not None and reader() is None) or (
                deltas is not None and deltas() is None
            )
        return self._left

    @property
    def http(self) -> ResponseInfo:
        """Status, headers and request id of the streaming answer (as `answer.http`)."""
        return self._state.info

    @property
    def session_id(self) -> str | None:
        """The session id, from the answer's headers or the latest chunk."""
        chunk = self._state.last_chunk
        if isinstance(chunk, dict) and isinstance(chunk.get("session_id"), str):
            return str(chunk["session_id"])
        header: str | None = self._state.info.headers.get(SESSION_ID_HEADER)
        return header

    def _reopener(self) -> Callable[[], Any]:
        """What sends this stream's call again; UsageError where reopen() cannot work."""
        state = self._state
        if state.reopen is None:
            raise UsageError(
                "reopen() works on the streams of session calls; send this client.request(...) "
                "again instead (with the same idempotency_key, a server that honours it "
                "answers from its store)"
            )
        if state.ended:
            raise UsageError(
                "this stream reached its end event: its answer is whole, and there is nothing "
                "to fetch again (final_response() gives it)"
            )
        return state.reopen


class Stream(_StreamBase[T, Iterator[Any]]):
    """The events of a streaming call, yielded as they arrive.

    Events are read once, by one reader at a time: `final_response()` after a half-read
    `text_deltas()` reads what is left. Each returns as soon as the end event is read. Leaving
    a loop early, `close()`, or a `with` block closes the stream and releases the connection
    at once; reading it again before its end event came raises `StreamClosedError`. A stream
    cut before its end event raises `StreamInterruptedError` after the events that did
    arrive, and so does `final_response()` on it: a partial answer never passes for a whole
    one.
    """

    _thread: int | None = None  # the thread reading through the live reader

    def __iter__(self) -> Iterator[T]:
        known = self._reader() if self._reader else None
        reader = self._live_reader(self._events)
        thread = threading.get_ident()
        if reader is not known:
            self._thread = thread
        elif thread != self._thread:  # two threads on one generator: it cannot work
            raise StreamBusyError(
                "this stream is being read by another thread: read it from one thread, or "
                "hand it over only once that thread's loop has ended"
            )
        return reader

    def _events(self) -> Iterator[Any]:
        state = self._state
        if self._closed or self._left:
            self.close()
            if state.ended:
                return
            raise state.closed()
        response = self._response
        try:
            # Without a content coding, the transport's chunks as they come: iter_raw() adds
            # per-chunk bookkeeping this never reads, and close() ends the response anyway.
            if state.uncoded:
                chunks = iter(cast("Iterable[bytes]", response.stream))
            else:
                chunks = response.iter_bytes()
            self._chunks = chunks
            feed, accept, end = state.decoder.feed, state.accept, END
            clock, idle, now = state.clock, state.idle, monotonic
            state.start_clock()
            for chunk in chunks:
                events = feed(chunk)
                if not events:  # a comment, or part of an event: no progress
                    if now() >= clock.expires:
                        raise state.idle_error()
                    continue
                clock.paused = True  # while the caller has the events
                for sse in events:
                    event = accept(sse)
                    yield event
                    if event is end:
                        return  # at once, whatever the server sends next (see close)
                    if self._closed:  # closed while the loop ran
                        raise state.closed()
                clock.expires = state.resume(len(events)) if state.held else now() + idle
                clock.paused = False
            if not state.terminated:
                raise state.interrupted(None)
        except state.failures as exc:
            if self._closed:  # say, closed from another thread during a read
                raise state.closed() from exc
            if state.terminated:  # after an error event the body may stop anyhow
                return
            raise state.interrupted(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection. Reading on raises `StreamClosedError`, unless the end event
        came."""
        if self._closed:
            return
        self._closed = True
        self._state.stop_clock()
        if self._state.ended and self._chunks is not None and end_is_there(self._response):
            # Reading the body's end, already there, lets the connection be reused; it is
            # never waited for (whatever the server does next): closing drops the connection.
            with contextlib.suppress(*self._state.failures):
                next(self._chunks, None)
        if self._span is not None:
            self._span.end_stream(self._state)
        self._response.close()

    def final_response(self) -> SessionAnswer:
        """Read the rest and return the session from the last chunk.

        Raises `AgentStreamError` when the stream reported an error event, and
        `StreamClosedError` when it was closed (or a loop over it left) before its end event.
        """
        with contextlib.suppress(StreamClosedError):  # the state says why, below
            for _ in self:
                pass
        return self._state.final_response()

    def reopen(self) -> Stream[T]:
        """A new stream of this call's whole answer, from its start: the call sent again,
        with the same `Idempotency-Key`, as a new call (its own retries, total timeout and
        trace span). This stream is closed first.

        A server that honours the key (the fake server does) answers with the answer it
        stored for it: the turn does not run again. A server that does not runs the turn a
        second time. Raises UsageError on a stream that reached its end event and on a stream
        of `client.request(...)`, and ClientClosedError once the client is closed.
        """
        reopen = self._reopener()
        self.close()
        return cast("Stream[T]", reopen())

    def text_deltas(self: Stream[StreamEvent]) -> Iterator[str]:
        """The new text of each chunk's message, as it arrives.

        An error event raises AgentStreamError after the text that came before it.
        """
        deltas = TextDeltas()
        for event in self:
            delta = deltas.step(event)
            if delta:
                yield delta

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # An abandoned stream must not hold its connection until the pool runs dry.
        if not getattr(self, "_closed", True):
            self._closed = True
            self._state.clock.stopped = True  # no lock in a finaliser; nothing is reused
            if self._span is not None:
                self._span.end_stream(self._state)
            self._response.close()


def _current_task() -> object:
    aio = sys.modules.get("asyncio")  # not imported: then no asyncio task runs either
    try:
        return aio.current_task() if aio else None
    except RuntimeError:  # no asyncio loop running (trio, say)
        return None


class AsyncStream(_StreamBase[T, AsyncIterator[Any]]):
    """The events of an async streaming call; the awaited twin of `Stream`.

    Python finalises an async loop left early only later, so the connection is released by
    the stream's next step (a loop, `text_deltas()` or `final_response()`, which then raise
    `StreamClosedError`) or at `async with` exit, whichever comes first.
    """

    _task: object = None  # the task reading through the live reader

    def __aiter__(self) -> AsyncIterator[T]:
        known = self._reader() if self._reader else None
        reader = self._live_reader(self._events)
        task = _current_task()
        if reader is not known:
            self._task = task
        elif task is not self._task:  # two tasks on one generator: it cannot work
            raise StreamBusyError(
                "this stream is being read by another task: read it from one task, or hand "
                "it over only once that task's loop has ended"
            )
        return reader

    async def _events(self) -> AsyncIterator[Any]:
        state = self._state
        if self._closed or self._left:
            await self.aclose()
            if state.ended:
                return
            raise state.closed()
        response = self._response
        try:
            if state.uncoded:  # see Stream._events
                chunks = aiter(cast("AsyncIterable[bytes]", response.stream))
            else:
                chunks = response.aiter_bytes()
            self._chunks = chunks
            feed, accept, end = state.decoder.feed, state.accept, END
            clock, idle, now = state.clock, state.idle, monotonic
            state.start_clock()
            async for chunk in chunks:
                events = feed(chunk)
                if not events:  # see Stream._events
                    if now() >= clock.expires:
                        raise state.idle_error()
                    continue
                clock.paused = True
                for sse in events:
                    event = accept(sse)
                    yield event
                    if event is end:
                        return  # see Stream._events
                    if self._closed:
                        raise state.closed()
                clock.expires = state.resume(len(events)) if state.held else now() + idle
                clock.paused = False
            if not state.terminated:
                raise state.interrupted(None)
        except state.failures as exc:
            if self._closed:
                raise state.closed() from exc
            if state.terminated:
                return
            raise state.interrupted(exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection. Reading on raises `StreamClosedError`, unless the end event
        came."""
        if self._closed:
            return
        self._closed = True
        self._state.stop_clock()
        if self._state.ended and self._chunks is not None and end_is_there(self._response):
            with contextlib.suppress(*self._state.failures):  # see Stream.close
                await anext(self._chunks, None)
        if self._span is not None:
            self._span.end_stream(self._state)
        await self._response.aclose()

    async def final_response(self) -> SessionAnswer:
        """Read the rest and return the session from the last chunk.

        Raises `AgentStreamError` when the stream reported an error event, and
        `StreamClosedError` when it was closed (or a loop over it left) before its end event.
        """
        with contextlib.suppress(StreamClosedError):  # the state says why, below
            async for _ in self:
                pass
        return self._state.final_response()

    async def reopen(self) -> AsyncStream[T]:
        """A new stream of this call's whole answer, from its start; see `Stream.reopen`."""
        reopen = self._reopener()
        await self.aclose()
        return cast("AsyncStream[T]", await reopen())

    def text_deltas(self: AsyncStream[StreamEvent]) -> AsyncIterator[str]:
        """The new text of each chunk's message, as it arrives.

        An error event raises AgentStreamError after the text that came before it.
        """
        ref: list[weakref.ref[Any]] = []
        deltas = self._text_deltas(ref)
        ref.append(weakref.ref(deltas))
        return deltas

    async def _text_deltas(
        self: AsyncStream[StreamEvent], ref: list[weakref.ref[Any]]
    ) -> AsyncIterator[str]:
        # Once running, a text_deltas() dropped before the stream closed was left early.
        self._check_left()
        self._deltas = ref[0]
        deltas = TextDeltas()
        async for event in self:
            delta = deltas.step(event)
            if delta:
                yield delta

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Best effort for an abandoned async stream: close it on its loop, if one runs.
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._state.clock.stopped = True  # see Stream.__del__
        if self._span is not None:
            self._span.end_stream(self._state)
        aio = sys.modules.get("asyncio")  # not imported: then no loop runs either
        try:
            loop = aio.get_running_loop() if aio else None
        except RuntimeError:
            loop = None
        if loop is None:
            return
        task = loop.create_task(self._response.aclose())
        _closing.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(_closing.discard)
