"""Fault injection for the fake server: failed requests, delays and broken streams.

Faults are queued from any thread and consumed, in order, by the server's event loop.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

__all__ = ["Faults", "RequestDelay", "RequestFailure", "StreamCut", "StreamFault"]


class StreamCut(Exception):
    """Raised to abort a stream mid-body (uvicorn then drops the connection)."""


@dataclass(frozen=True, slots=True)
class RequestFailure:
    """Answer one request with this status and body instead of running it."""

    status: int
    body: bytes
    content_type: str | None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestDelay:
    """Wait this long before handling one request."""

    seconds: float


StreamFaultKind = Literal["cut", "no_terminator", "stall", "malformed", "error", "unknown"]


@dataclass(frozen=True, slots=True)
class StreamFault:
    """Damage one streamed answer after `after` events.

    `after` is capped so that the fault always strikes before the terminating `true`.
    """

    kind: StreamFaultKind
    after: int
    seconds: float = 0.0
    message: str = ""
    event_name: str | None = None
    data: Any = None


class Faults:
    """The queue of faults a fake server injects into its next answers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: deque[RequestFailure | RequestDelay] = deque()
        self._streams: deque[StreamFault] = deque()

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        retry_after: str | None = None,
        body: bytes | str | Mapping[str, object] | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `n` requests to either operation with `status`, running nothing.

        The body defaults to `{"detail": <reason phrase>}`; a str or bytes body is sent as
        is (as `text/plain` unless `content_type` says otherwise), `b""` sends no body.
        """
        _check_count(n)
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = retry_after
        raw, media = _failure_body(status, body, content_type)
        failure = RequestFailure(status=status, body=raw, content_type=media, headers=extra)
        with self._lock:
            self._requests.extend([failure] * n)

    def delay_next(self, n: int = 1, seconds: float = 1.0) -> None:
        """Wait `seconds` before handling each of the next `n` requests to either operation."""
        _check_count(n)
        if seconds < 0:
            raise ValueError("seconds must be 0 or more")
        with self._lock:
            self._requests.extend([RequestDelay(seconds)] * n)

    def cut_stream_after(self, k: int) -> None:
        """Abort the next streamed answer after `k` events (an incomplete chunked body)."""
        self._push_stream(StreamFault("cut", k))

    def end_stream_without_terminator_after(self, k: int) -> None:
        """End the next streamed answer cleanly after `k` events, without the final `true`."""
        self._push_stream(StreamFault("no_terminator", k))

    def stall_stream_after(self, k: int, seconds: float) -> None:
        """Send nothing for `seconds` after the first `k` events of the next streamed answer."""
        self._push_stream(StreamFault("stall", k, seconds=seconds))

    def malformed_event_after(self, k: int) -> None:
        """Insert an event whose data is not JSON after `k` events of the next stream."""
        self._push_stream(StreamFault("malformed", k))

    def error_event_after(
        self, k: int, message: str = "Agent failed", *, event_name: str | None = None
    ) -> None:
        """End the next stream after `k` events with `{"error": message}` and no `true`.

        `event_name` also names the event (for example `error`). The message must not be
        empty: the document's StreamError needs a truthy `error`.
        """
        if not message:
            raise ValueError("message must not be empty (a stream error's `error` is truthy)")
        self._push_stream(StreamFault("error", k, message=message, event_name=event_name))

    def unknown_event_after(self, k: int, name: str = "progress", data: object = None) -> None:
        """Insert an event of a kind clients may not know after `k` events of the next
        stream, which then goes on: named `name`, with `data` as its JSON (by default
        `{"step": "working"}`). The document lets servers add such events (progress, usage);
        this tests that a client's loop passes them on without mistaking them for the answer.
        """
        if name in ("", "message", "error") or "\n" in name or "\r" in name:
            raise ValueError(
                "name must name a kind of event other than the answer's (not empty, "
                "'message' or 'error') on one line"
            )
        value = {"step": "working"} if data is None else data
        json.dumps(value)  # TypeError now, not when the stream is sent
        self._push_stream(StreamFault("unknown", k, event_name=name, data=value))

    def clear(self) -> None:
        """Drop every fault not yet injected."""
        with self._lock:
            self._requests.clear()
            self._streams.clear()

    @property
    def pending(self) -> int:
        """How many faults are still queued."""
        with self._lock:
            return len(self._requests) + len(self._streams)

    def take_request_fault(self) -> RequestFailure | RequestDelay | None:
        """Pop the fault for the request being handled, if any."""
        with self._lock:
            return self._requests.popleft() if self._requests else None

    def take_stream_fault(self) -> StreamFault | None:
        """Pop the fault for the stream being answered, if any."""
        with self._lock:
            return self._streams.popleft() if self._streams else None

    def _push_stream(self, fault: StreamFault) -> None:
        if fault.after < 0:
            raise ValueError("the event count must be 0 or more")
        if fault.seconds < 0:
            raise ValueError("seconds must be 0 or more")
        with self._lock:
            self._streams.append(fault)


def _check_count(n: int) -> None:
    if n < 1:
        raise ValueError("n must be 1 or more")


def _failure_body(
    status: int, body: bytes | str | Mapping[str, object] | None, content_type: str | None
) -> tuple[bytes, str | None]:
    if body is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        body = {"detail": phrase}
    if isinstance(body, Mapping):
        return json.dumps(body).encode(), content_type or "application/json"
    raw = body.encode() if isinstance(body, str) else body
    if not raw and content_type is None:
        return raw, None
    return raw, content_type or "text/plain; charset=utf-8"
