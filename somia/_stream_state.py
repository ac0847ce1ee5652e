"""A stream's decoding and bookkeeping, independent of how its bytes arrive (no I/O): its
events, its end, its errors, and its idle clock."""

from __future__ import annotations

import functools
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from somia._errors import (
    AgentStreamError,
    InvalidResponseError,
    StreamClosedError,
    StreamInterruptedError,
    StreamParseError,
    StreamTimeoutError,
    server_message,
)
from somia._events import END, classify, not_json
from somia._http import failures_of, response_socket, timeout_phase
from somia._liveness import INF, Alarm, unwatch, watch
from somia._models import ResponseInfo, SessionAnswer, StreamEvent, parse_session
from somia._sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from somia._redact import Redactor
    from somia._tracing import CallSpan


class StreamCall(Protocol):
    """What a stream reads of the call that opened it (a `somia._base.PreparedCall`)."""

    @property
    def what(self) -> str: ...  # "POST /api/...", for messages
    @property
    def redact(self) -> Redactor: ...
    @property
    def span(self) -> CallSpan | None: ...
    @property
    def timeout(self) -> httpx.Timeout: ...
    @property
    def idle_timeout(self) -> float | None: ...
    @property
    def reopen(self) -> Callable[[], Any] | None: ...


E = TypeVar("E", bound=StreamInterruptedError)

_new = tuple.__new__  # builds a StreamEvent without NamedTuple's slower __new__
_REOPEN = "; stream.reopen() fetches the whole answer again"


class StreamState:
    """Decoding and bookkeeping of one stream, independent of how bytes arrive.

    Its idle clock (`clock`, an `Alarm`) runs only while the reader waits for the server:
    it is `paused` while events are with the caller, and `expires` moves `idle` seconds past the
    moment the caller hands back control after an event of the answer. Events of unknown
    kinds pause it without moving it on (`held_*`, the rare path).
    """

    __slots__ = (
        "clock",
        "decoder",
        "ended",
        "errors",
        "events",
        "failed",
        "failure",
        "failures",
        "held",
        "held_from",
        "held_since",
        "idle",
        "idle_reads",
        "info",
        "last_chunk",
        "last_chunk_sse",
        "redact",
        "reopen",
        "uncoded",
        "unknown",
        "what",
    )

    def __init__(self, response: httpx.Response, call: StreamCall) -> None:
        self.decoder = SSEDecoder()
        self.info = ResponseInfo.from_response(response)
        self.what = call.what
        self.redact = call.redact  # applied to every server text put into an error
        self.reopen = call.reopen  # sends the call again (session calls only)
        self.events = 0  # delivered, of any kind
        self.unknown = 0  # delivered, of unknown kinds
        self.last_chunk: Any = None
        # The last chunk as sent, for InvalidResponseError.body (kept whole: cheaper than .data).
        self.last_chunk_sse = ServerSentEvent()
        self.errors: list[Any] = []
        self.ended = False  # the end event came: the answer is whole
        self.failed = False  # a read failed before the end event
        self.failure: Exception | None = None  # what the reader raised, for the trace
        # What reading the body may raise, in the library of the response (httpx, httpx2).
        self.failures = failures_of(response)
        # Without a content coding the transport's bytes are the body: one layer less per read.
        self.uncoded = "content-encoding" not in response.headers
        idle, read = call.idle_timeout, call.timeout.read
        self.idle = INF if idle is None else idle
        # Its reads run under the idle timeout (see stream_read_timeout): a read timeout is it.
        self.idle_reads = idle is not None and (read is None or idle <= read)
        self.clock = Alarm(functools.partial(response_socket, response), period=self.idle)
        self.held = False  # the events being delivered include some of unknown kinds
        self.held_since = 0.0
        self.held_from = 0

    @property
    def terminated(self) -> bool:
        """An end or error event came: the body may legitimately stop here."""
        return self.ended or bool(self.errors)

    @property
    def hint(self) -> str:
        """What to do about an incomplete answer, for the messages that say so."""
        return _REOPEN if self.reopen is not None else ""

    def start_clock(self) -> None:
        """The reader starts waiting for the server."""
        if self.idle != INF:
            clock = self.clock
            clock.expires = monotonic() + self.idle
            if clock.stopped and not clock.fired:
                watch(clock)

    def stop_clock(self) -> None:
        """The stream is over: its wait is never interrupted from now on."""
        if not self.clock.stopped:
            unwatch(self.clock)

    def accept(self, sse: ServerSentEvent) -> StreamEvent:
        """Classify one decoded event and keep count (one event at a time, so that a bad
        event raises only after the good ones before it were delivered)."""
        try:
            event = classify(sse)
        except StreamParseError as exc:
            self.failed = True
            self.failure = not_json(self.redact.text(sse.data), self.hint)
            raise self.failure from exc.__cause__
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
        elif event is END:
            self.ended = True  # the stream's end: the answer is whole
        else:  # a kind this SDK does not know: no progress for the idle timeout
            self.unknown += 1
            if not self.held:
                self.held = True
                self.held_since = monotonic()  # its batch arrived: the first event is this one
                self.held_from = self.unknown - 1
        return event

    def resume(self, delivered: int) -> float:
        """The idle clock's expiry once the caller hands back a batch of `delivered` events
        that held some of unknown kinds (the clock still says its expiry before the batch).
        Raises StreamTimeoutError when the idle timeout has passed."""
        self.held = False
        now = monotonic()
        if delivered > self.unknown - self.held_from:  # an event of the answer came too
            return now + self.idle
        expires = self.clock.expires + (now - self.held_since)  # paused while held
        if expires <= now:
            raise self.idle_error()
        return expires

    def idle_error(self) -> StreamTimeoutError:
        """The error for a stream on which no event of the answer came in time."""
        how = f"received no event of its answer for {self.idle:g} s (its stream_idle_timeout)"
        return self._incomplete(StreamTimeoutError, how)

    def interrupted(self, exc: BaseException | None) -> StreamInterruptedError:
        """The error for a body that ended (or failed) before the end event: the cut."""
        phase = None if exc is None else timeout_phase(exc)
        if self.clock.fired or (self.idle_reads and phase == "read"):
            return self.idle_error()
        self.redact.chain(exc)  # a protocol error's text may quote what the server sent
        if phase is not None:
            return self._incomplete(StreamTimeoutError, "stalled past the read timeout")
        how = "was cut off" if exc is None else f"was cut off ({type(exc).__name__})"
        return self._incomplete(StreamInterruptedError, how)

    def _incomplete(self, cls: type[E], how: str) -> E:
        self.decoder.close()
        self.failed = True
        error = cls(
            f"the stream of {self.what} {how} after {_events(self.events)}, before its end "
            f"event: the answer is incomplete{self.hint}",
            events_received=self.events,
            last_chunk=self.last_chunk,
        )
        self.failure = self.failure or error
        return error

    def closed(self) -> StreamClosedError:
        """The error for reading on after the stream was closed before its end event."""
        how = "failed and was closed" if self.failed else "was closed"
        return StreamClosedError(
            f"the stream of {self.what} {how} after {_events(self.events)}, before its end "
            "event: the answer is incomplete (a stream is read once; leaving a loop over it "
            f"early closes it){self.hint}",
            events_received=self.events,
            last_chunk=self.last_chunk,
        )

    def final_response(self) -> SessionAnswer:
        if self.errors:
            raise agent_error(self.errors[0])
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


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def agent_error(data: Any) -> AgentStreamError:
    message = server_message(data) or repr(data)
    return AgentStreamError(f"the agent reported an error: {message}", body=data)


class TextDeltas:
    """The new text each event adds; an error event raises AgentStreamError."""

    __slots__ = ("previous",)

    def __init__(self) -> None:
        self.previous = ""

    def step(self, event: StreamEvent) -> str:
        if event.event_type == "error":
            raise agent_error(event.data)
        message = event.message
        if message is None:
            return ""
        previous, self.previous = self.previous, message
        # Messages are cumulative (see openapi/somia.yaml); a message that does not extend
        # the previous one is shown whole rather than lost.
        return message[len(previous) :] if message.startswith(previous) else message
