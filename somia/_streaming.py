"""Streams of agent events: `Stream` and `AsyncStream` share one decoder and one state;
only their read loops differ."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from somia._errors import (
    AgentStreamError,
    InvalidResponseError,
    StreamBusyError,
    StreamInterruptedError,
    StreamParseError,
    StreamTimeoutError,
    server_message,
)
from somia._models import AgentSessionResponse, ResponseInfo, StreamEvent, parse_session
from somia._sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
R = TypeVar("R")  # the reader: a generator or an async generator

_END = StreamEvent("end", True)
_DRAIN_READS = 2  # reads after the end event, for the body's end (see Stream._events)
_closing: set[asyncio.Task[None]] = set()
_raw_decode = json.JSONDecoder().raw_decode
_new = tuple.__new__  # builds a StreamEvent without NamedTuple's slower __new__


def _loads(text: str) -> Any:
    # raw_decode skips json.loads' two whitespace regex passes: this runs once per event.
    try:
        data, end = _raw_decode(text)
        if end == len(text):
            return data
    except ValueError:
        pass
    return json.loads(text)  # surrounding white space, or the error to report


def classify(event: ServerSentEvent) -> StreamEvent:
    """The typed event for one SSE event whose data is JSON; StreamParseError otherwise."""
    try:
        data = _loads(event.data)
    except (ValueError, RecursionError) as exc:
        payload = event.data if len(event.data) <= 500 else event.data[:499] + "…"
        raise StreamParseError(
            f"a streamed event's data is not JSON: {payload[:80]!r}", payload=payload
        ) from exc
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


class _StreamState:
    """Decoding and bookkeeping of one stream, independent of how bytes arrive."""

    __slots__ = (
        "decoder",
        "ended",
        "errors",
        "events",
        "info",
        "last_chunk",
        "raw",
        "what",
    )

    def __init__(self, response: httpx.Response, what: str) -> None:
        self.decoder = SSEDecoder()
        self.info = ResponseInfo.from_response(response)
        self.what = what
        self.events = 0
        self.last_chunk: Any = None
        self.errors: list[Any] = []
        self.ended = False  # the end event came: the answer is whole
        # Without a content coding the body is read raw: one layer less per read.
        self.raw = "content-encoding" not in response.headers

    @property
    def terminated(self) -> bool:
        """An end or error event came: the body may legitimately stop here."""
        return self.ended or bool(self.errors)

    def accept(self, raw: ServerSentEvent) -> StreamEvent:
        """Classify one decoded event and keep count (one event at a time, so that a bad
        event raises only after the good ones before it were delivered)."""
        event = classify(raw)
        self.events += 1
        kind, data = event
        if kind == "chunk":
            self.last_chunk = data
        elif kind == "error":
            self.errors.append(data)
        else:
            self.ended = True
        return event

    def interrupted(
        self, exc: BaseException | None, how: str = "was cut off"
    ) -> StreamInterruptedError:
        """The error for a body that ended (or failed) before the end event."""
        self.decoder.close()
        cls = StreamInterruptedError
        if isinstance(exc, httpx.TimeoutException):
            cls, how = StreamTimeoutError, "stalled past the read timeout"
        elif exc is not None:
            how += f" ({type(exc).__name__})"
        return cls(
            f"the stream of {self.what} {how} after {self.events} events, "
            "before its end event: the answer is incomplete",
            events_received=self.events,
            last_chunk=self.last_chunk,
        )

    def quiet_end(self, exc: BaseException, closed: bool) -> bool:
        """Whether a read failure ends the stream quietly rather than as a cut."""
        # Closed by the user (StreamClosed), or by another reader (StreamConsumed), or after
        # an end or error event, which may legitimately be the last thing sent.
        return closed or self.terminated or isinstance(exc, httpx.StreamConsumed)

    def final_response(self) -> AgentSessionResponse:
        if self.errors:
            raise _agent_error(self.errors[0])
        if not self.ended:
            raise self.interrupted(None, "was closed")
        if self.last_chunk is None:
            raise InvalidResponseError(
                "the stream ended without any chunk", status_code=self.info.status_code, body=""
            )
        return parse_session(self.last_chunk, self.info)


def _agent_error(data: Any) -> AgentStreamError:
    message = server_message(data) or repr(data)
    return AgentStreamError(f"the agent reported an error: {message}", data=data)


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

    def __init__(self, response: httpx.Response, *, what: str) -> None:
        self._response = response
        self._state = _StreamState(response, what)
        self._closed = False
        self._reader: weakref.ref[R] | None = None

    def _live_reader(self, start: Callable[[], R]) -> R:
        # A reader still alive (say, text_deltas() stopped half way) is continued, not
        # raced. Only a weak reference: a loop left early must drop its reader at once.
        reader = self._reader() if self._reader else None
        if reader is None:
            reader = start()
            self._reader = weakref.ref(reader)
        return reader

    @property
    def response(self) -> ResponseInfo:
        """Status, headers and request id of the streaming answer."""
        return self._state.info

    @property
    def session_id(self) -> str | None:
        """The session id, from the answer's headers or the latest chunk."""
        chunk = self._state.last_chunk
        if isinstance(chunk, dict) and isinstance(chunk.get("session_id"), str):
            return str(chunk["session_id"])
        header: str | None = self._state.info.headers.get("x-somia-session-id")
        return header


class Stream(_StreamBase[T, Iterator[Any]]):
    """The events of a streaming call, yielded as they arrive.

    Events are read once, by one reader at a time: `final_response()` after a half-read
    `text_deltas()` reads what is left. Leaving a loop early, `close()`, or a `with` block
    closes the stream and releases the connection at once. A stream cut (or closed) before
    its end event raises `StreamInterruptedError` after the events that did arrive, and so
    does `final_response()` on it: a partial answer never passes for a whole one.
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
        try:
            feed, accept = state.decoder.feed, state.accept
            response = self._response
            chunks = response.iter_raw() if state.raw else response.iter_bytes()
            for chunk in chunks:
                for raw in feed(chunk):
                    event = accept(raw)
                    if self._closed:  # closed while iterating: stop, even mid-read
                        return
                    yield event
                    if event is _END:
                        with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                            # The rest is most likely only the body's end: reading it lets
                            # the connection be reused. A few reads at most, never raising.
                            for _ in range(_DRAIN_READS):
                                if next(chunks, None) is None:
                                    break
                        return
            if not state.terminated:
                raise state.interrupted(None)
        except (httpx.HTTPError, httpx.StreamError) as exc:
            if state.quiet_end(exc, self._closed):
                return
            raise state.interrupted(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection; iteration stops."""
        self._closed = True
        self._response.close()

    def final_response(self) -> AgentSessionResponse:
        """Read the rest and return the session from the last chunk (raises on an error event)."""
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
            self.close()


def _current_task() -> object:
    aio = sys.modules.get("asyncio")  # not imported: then no asyncio task runs either
    try:
        return aio.current_task() if aio else None
    except RuntimeError:  # no asyncio loop running (trio, say)
        return None


class AsyncStream(_StreamBase[T, AsyncIterator[Any]]):
    """The events of an async streaming call; the awaited twin of `Stream`."""

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
        try:
            feed, accept = state.decoder.feed, state.accept
            response = self._response
            chunks = response.aiter_raw() if state.raw else response.aiter_bytes()
            async for chunk in chunks:
                for raw in feed(chunk):
                    event = accept(raw)
                    if self._closed:  # closed while iterating: stop, even mid-read
                        return
                    yield event
                    if event is _END:
                        with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                            for _ in range(_DRAIN_READS):  # see Stream._events
                                if await anext(chunks, None) is None:
                                    break
                        return
            if not state.terminated:
                raise state.interrupted(None)
        except (httpx.HTTPError, httpx.StreamError) as exc:
            if state.quiet_end(exc, self._closed):
                return
            raise state.interrupted(exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection; iteration stops."""
        self._closed = True
        await self._response.aclose()

    async def final_response(self) -> AgentSessionResponse:
        """Read the rest and return the session from the last chunk (raises on an error event)."""
        async for _ in self:
            pass
        return self._state.final_response()

    async def text_deltas(self: AsyncStream[StreamEvent]) -> AsyncIterator[str]:
        """The new text of each chunk's message, as it arrives.

        An error event raises AgentStreamError after the text that came before it.
        """
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
