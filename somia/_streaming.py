"""Streams of agent events: `Stream` and `AsyncStream` share one decoder and one state;
only their read loops differ.

Where a stream's life is decided, one place each: its end event is recorded in
`_StreamState.accept`, a cut in `_StreamState.interrupted`, and the connection is released
in `Stream.close` / `AsyncStream.aclose` (which every way out of a stream goes through).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx

from somia._bridge import SESSION_ID_HEADER
from somia._errors import (
    AgentStreamError,
    InvalidResponseError,
    StreamBusyError,
    StreamClosedError,
    StreamInterruptedError,
    StreamParseError,
    StreamTimeoutError,
    server_message,
)
from somia._models import AgentSessionResponse, ResponseInfo, StreamEvent, parse_session
from somia._redact import NO_KEY, Redactor
from somia._sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    import asyncio

    from somia._tracing import CallSpan

T = TypeVar("T")
R = TypeVar("R")  # the reader: a generator or an async generator

_END = StreamEvent("end", True)
# httpx's bound stream, its transport's stream, httpcore's pool stream, connection, h11.
_PATH_TO_H11 = ("_stream", "_httpcore_stream", "_stream", "_connection", "_h11_state")
_closing: set[asyncio.Task[None]] = set()
_raw_decode = json.JSONDecoder().raw_decode
_new = tuple.__new__  # builds a StreamEvent without NamedTuple's slower __new__


def _not_json(text: str) -> StreamParseError:
    payload = text if len(text) <= 500 else text[:499] + "…"
    return StreamParseError(f"a streamed event's data is not JSON: {payload[:80]!r}", body=payload)


def classify(event: ServerSentEvent) -> StreamEvent:
    """The typed event for one SSE event whose data is JSON; StreamParseError otherwise."""
    text = event.data
    # raw_decode skips json.loads' two whitespace regex passes: this runs once per event.
    try:
        data, end = _raw_decode(text)
    except (ValueError, RecursionError):
        end = -1
    if end != len(text):  # surrounding white space, or the error to report
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise _not_json(text) from exc
    if event.event == "error":  # named an error: an error whatever its data
        return _new(StreamEvent, ("error", data))
    if data is True:
        return _END
    if type(data) is dict:
        if data.get("error"):
            return _new(StreamEvent, ("error", data))
        if "session_id" in data or "history" in data or "pending" in data:
            return _new(StreamEvent, ("chunk", data))
        # 0.1.0a1's heuristic, kept only where it cannot misread a chunk (no chunk keys).
        if "message" in data and len(data) <= 2:
            return _new(StreamEvent, ("error", data))
    return _new(StreamEvent, ("chunk", data))


def _end_is_there(response: httpx.Response) -> bool:
    """Whether a chunked HTTP/1.1 body's end is already received: reading it cannot wait."""
    # httpx cannot say, so this reads h11's unprocessed bytes in httpcore's connection (pinned
    # by tests/test_stream_end.py); elsewhere it finds nothing: the connection is then closed.
    state: Any = response.stream
    try:
        for name in _PATH_TO_H11:
            state = getattr(state, name)
        buffered = bytes(state.trailing_data[0])
    except (AttributeError, TypeError, IndexError):
        return False
    if buffered[:2] == b"\r\n":  # the end of the last data chunk
        buffered = buffered[2:]
    return buffered[:3] == b"0\r\n" and buffered[-4:] == b"\r\n\r\n"


class _StreamState:
    """Decoding and bookkeeping of one stream, independent of how bytes arrive."""

    __slots__ = (
        "decoder",
        "ended",
        "errors",
        "events",
        "failed",
        "failure",
        "info",
        "last_chunk",
        "last_chunk_sse",
        "redact",
        "uncoded",
        "what",
    )

    def __init__(self, response: httpx.Response, what: str, redact: Redactor) -> None:
        self.decoder = SSEDecoder()
        self.info = ResponseInfo.from_response(response)
        self.what = what
        self.redact = redact  # applied to every server text put into an error
        self.events = 0
        self.last_chunk: Any = None
        # The last chunk as sent, for InvalidResponseError.body (kept whole: cheaper than .data).
        self.last_chunk_sse = ServerSentEvent()
        self.errors: list[Any] = []
        self.ended = False  # the end event came: the answer is whole
        self.failed = False  # a read failed before the end event
        self.failure: Exception | None = None  # what the reader raised, for the trace
        # Without a content coding the transport's bytes are the body: one layer less per read.
        self.uncoded = "content-encoding" not in response.headers

    @property
    def terminated(self) -> bool:
        """An end or error event came: the body may legitimately stop here."""
        return self.ended or bool(self.errors)

    def accept(self, sse: ServerSentEvent) -> StreamEvent:
        """Classify one decoded event and keep count (one event at a time, so that a bad
        event raises only after the good ones before it were delivered)."""
        try:
            event = classify(sse)
        except StreamParseError as exc:
            self.failed = True
            self.failure = exc
            if self.redact.found_in(sse.data):
                self.failure = _not_json(self.redact.text(sse.data))
                raise self.failure from exc.__cause__
            raise
        self.events += 1
        kind, data = event
        if kind == "chunk":
            self.last_chunk = data
            self.last_chunk_sse = sse
        elif kind == "error":
            if self.redact.found_in(sse.data):  # rare: error events only
                data = self.redact.data(data)
                event = _new(StreamEvent, ("error", data))
            self.errors.append(data)
        else:
            self.ended = True  # the stream's end: the answer is whole
        return event

    def interrupted(self, exc: BaseException | None) -> StreamInterruptedError:
        """The error for a body that ended (or failed) before the end event: the cut."""
        self.decoder.close()
        self.failed = True
        self.redact.chain(exc)  # a protocol error's text may quote what the server sent
        cls, how = StreamInterruptedError, "was cut off"
        if isinstance(exc, httpx.TimeoutException):
            cls, how = StreamTimeoutError, "stalled past the read timeout"
        elif exc is not None:
            how += f" ({type(exc).__name__})"
        error = cls(
            f"the stream of {self.what} {how} after {self.events} events, "
            "before its end event: the answer is incomplete",
            events_received=self.events,
            last_chunk=self.last_chunk,
        )
        self.failure = self.failure or error
        return error

    def closed(self) -> StreamClosedError:
        """The error for reading on after the stream was closed before its end event."""
        how = "failed and was closed" if self.failed else "was closed"
        return StreamClosedError(
            f"the stream of {self.what} {how} after {self.events} events, before its end "
            "event: the answer is incomplete (a stream is read once; leaving a loop over it "
            "early closes it)",
            events_received=self.events,
            last_chunk=self.last_chunk,
        )

    def final_response(self) -> AgentSessionResponse:
        if self.errors:
            raise _agent_error(self.errors[0])
        if not self.ended:
            raise self.closed()
        if self.last_chunk is None:
            raise InvalidResponseError(
                "the stream ended without any chunk", status_code=self.info.status_code, body=""
            )
        try:  # raw=b"": the error quotes the event as sent, set below, not a re-encoding
            return parse_session(self.last_chunk, self.info, raw=b"")
        except InvalidResponseError as exc:
            exc.body = self.redact.text(self.last_chunk_sse.data)  # the offending event's data
            raise


def _agent_error(data: Any) -> AgentStreamError:
    message = server_message(data) or repr(data)
    return AgentStreamError(f"the agent reported an error: {message}", body=data)


class _TextDeltas:
    """The new text each event adds; an error event raises AgentStreamError."""

    __slots__ = ("previous",)

    def __init__(self) -> None:
        self.previous = ""

    def step(self, event: StreamEvent) -> str:
        if event.event_type == "error":
            raise _agent_error(event.data)
        message = event.message
        if message is None:
            return ""
        previous, self.previous = self.previous, message
        # Messages are cumulative (see openapi/somia.yaml); a message that does not extend
        # the previous one is shown whole rather than lost.
        return message[len(previous) :] if message.startswith(previous) else message


class _StreamBase(Generic[T, R]):
    """What Stream and AsyncStream share: the response, its state and the live reader."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        what: str,
        redact: Redactor = NO_KEY,
        span: CallSpan | None = None,
    ) -> None:
        self._response = response
        self._state = _StreamState(response, what, redact)
        self._span = span  # the call's trace span, ended with the stream
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
                chunks = iter(cast(httpx.SyncByteStream, response.stream))
            else:
                chunks = response.iter_bytes()
            self._chunks = chunks
            feed, accept, end = state.decoder.feed, state.accept, _END
            for chunk in chunks:
                for sse in feed(chunk):
                    event = accept(sse)
                    yield event
                    if event is end:
                        return  # at once, whatever the server sends next (see close)
                    if self._closed:  # closed while the loop ran
                        raise state.closed()
            if not state.terminated:
                raise state.interrupted(None)
        except (httpx.HTTPError, httpx.StreamError) as exc:
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
        if self._state.ended and self._chunks is not None and _end_is_there(self._response):
            # Reading the body's end, already there, lets the connection be reused; it is
            # never waited for (whatever the server does next): closing drops the connection.
            with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                next(self._chunks, None)
        if self._span is not None:
            self._span.end_stream(self._state)
        self._response.close()

    def final_response(self) -> AgentSessionResponse:
        """Read the rest and return the session from the last chunk.

        Raises `AgentStreamError` when the stream reported an error event, and
        `StreamClosedError` when it was closed (or a loop over it left) before its end event.
        """
        with contextlib.suppress(StreamClosedError):  # the state says why, below
            for _ in self:
                pass
        return self._state.final_response()

    def text_deltas(self: Stream[StreamEvent]) -> Iterator[str]:
        """The new text of each chunk's message, as it arrives.

        An error event raises AgentStreamError after the text that came before it.
        """
        deltas = _TextDeltas()
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
                chunks = aiter(cast(httpx.AsyncByteStream, response.stream))
            else:
                chunks = response.aiter_bytes()
            self._chunks = chunks
            feed, accept, end = state.decoder.feed, state.accept, _END
            async for chunk in chunks:
                for sse in feed(chunk):
                    event = accept(sse)
                    yield event
                    if event is end:
                        return  # see Stream._events
                    if self._closed:
                        raise state.closed()
            if not state.terminated:
                raise state.interrupted(None)
        except (httpx.HTTPError, httpx.StreamError) as exc:
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
        if self._state.ended and self._chunks is not None and _end_is_there(self._response):
            with contextlib.suppress(httpx.HTTPError, httpx.StreamError):  # see Stream.close
                await anext(self._chunks, None)
        if self._span is not None:
            self._span.end_stream(self._state)
        await self._response.aclose()

    async def final_response(self) -> AgentSessionResponse:
        """Read the rest and return the session from the last chunk.

        Raises `AgentStreamError` when the stream reported an error event, and
        `StreamClosedError` when it was closed (or a loop over it left) before its end event.
        """
        with contextlib.suppress(StreamClosedError):  # the state says why, below
            async for _ in self:
                pass
        return self._state.final_response()

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
        deltas = _TextDeltas()
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
