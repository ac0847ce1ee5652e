"""The seam to the HTTP library: what the SDK needs of httpx and httpcore beyond the calls every
client makes, in one place.

- Timeouts: an `httpx.Timeout` capped to the time a deadline leaves, and which phase a
  timeout error belongs to.
- Sockets to interrupt: a blocked read returns at once, in any thread or event loop, when its
  socket is shut down (closing it from another thread would not wake the read). The socket
  under a call in flight is found, only when a deadline or idle timeout fires, through:
  1. the documented `network_stream` extension of a response (once its head arrived);
  2. the documented `trace` extension of a request, whose `connect_tcp` and `start_tls`
     events carry the network stream of a new connection (and whose `send_request_body`
     event says that the request went out, so that the turn may have run);
  3. for a reused keep-alive connection whose answer has not begun, a private path into
     httpcore's pool (`_POOL_PATH`, `_STREAM_PATH`). Where it finds nothing (another
     httpcore, a custom transport), the fallback is the timeouts alone: each read is bounded
     by what the deadline left when the attempt started.
  HTTP/2 connections are never shut down (other calls share them): there too, the fallback.
- A body's end (`end_is_there`): a private path into h11's buffer; where it finds nothing,
  the connection is closed instead of reused.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

TIMEOUT_PHASES = ("connect", "read", "write", "pool")
_PHASE_OF: dict[type[BaseException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}
# httpx's bound stream, its transport's stream, httpcore's pool stream, connection, h11.
_PATH_TO_H11 = ("_stream", "_httpcore_stream", "_stream", "_connection", "_h11_state")
# From an httpx transport to the requests its httpcore pool is serving ...
_POOL_PATH = ("_pool", "_requests")
# ... and from the connection one was given (HTTPConnection) to its network stream.
_STREAM_PATH = ("_connection", "_network_stream")
_HTTP11 = frozenset({"HTTP11Connection", "AsyncHTTP11Connection"})
# Trace events whose return value is the network stream of a new connection.
_NEW_STREAM_EVENTS = frozenset(
    {
        "connection.connect_tcp.complete",
        "connection.connect_unix_socket.complete",
        "connection.start_tls.complete",
    }
)

Trace = Callable[[str, dict[str, Any]], Any]


def capped_timeout(timeout: httpx.Timeout, left: float) -> tuple[httpx.Timeout, tuple[str, ...]]:
    """`timeout` with each phase capped to `left` seconds, and the phases that were capped."""
    values = {phase: getattr(timeout, phase) for phase in TIMEOUT_PHASES}
    capped = tuple(p for p, v in values.items() if v is None or v > left)
    for phase in capped:
        values[phase] = left
    return httpx.Timeout(**values), capped


def timeout_phase(exc: BaseException) -> str | None:
    """The phase of an httpx timeout error ("read", ...), None for any other error."""
    return _PHASE_OF.get(type(exc))


def with_read_timeout(response: httpx.Response, read: float | None) -> None:
    """Read the rest of `response`'s body under this read timeout (httpcore reads the
    request's timeouts when the body's reading starts)."""
    timeout = dict(response.request.extensions.get("timeout") or {})
    timeout["read"] = read
    response.request.extensions["timeout"] = timeout


def response_socket(response: httpx.Response) -> Any:
    """The socket under an HTTP/1.1 response, or None."""
    extensions = response.extensions
    if extensions.get("http_version", b"HTTP/1.1") == b"HTTP/2":
        return None
    return _socket_of(extensions.get("network_stream"))


def _socket_of(stream: Any) -> Any:
    try:
        return stream.get_extra_info("socket")
    except Exception:  # not an httpcore network stream: nothing to interrupt
        return None


def trace_attempt(
    http: httpx.Client | httpx.AsyncClient, attempt: Any, find: Callable[[], Any]
) -> Trace | Callable[[str, dict[str, Any]], Awaitable[None]]:
    """A `trace` extension that records, on `attempt`, the network stream of each new
    connection the request opens (`attempt.streams`), tells it when the request starts going
    out (`attempt.sending(find)`) and whether it went out whole (`attempt.sent`). httpcore
    awaits it for an async client."""
    streams = attempt.streams

    def trace(name: str, info: dict[str, Any]) -> None:
        if name in _NEW_STREAM_EVENTS:
            streams.append(info.get("return_value"))
        elif name.endswith(".send_request_headers.started"):
            attempt.sending(find)
        elif name.endswith(".send_request_body.complete"):
            attempt.sent = True

    if not isinstance(http, httpx.AsyncClient):
        return trace

    async def atrace(name: str, info: dict[str, Any]) -> None:
        trace(name, info)

    return atrace


def pending_socket(
    http: httpx.Client | httpx.AsyncClient, request: httpx.Request, new_streams: list[Any]
) -> Any:
    """The socket a request in flight uses before its answer began, or None: the stream of a
    new connection it opened, else that of the pooled connection it was given."""
    if new_streams:
        return _socket_of(new_streams[-1])
    try:
        state: Any = http._transport_for_url(request.url)
        for name in _POOL_PATH:
            state = getattr(state, name)
        for waiting in list(state):
            if waiting.request.extensions is request.extensions:
                connection = waiting.connection
                break
        else:
            return None
        for name in _STREAM_PATH:
            if name == "_network_stream" and type(connection).__name__ not in _HTTP11:
                return None  # HTTP/2 (shared), or not a connection httpcore made
            connection = getattr(connection, name)
    except (AttributeError, TypeError):
        return None
    return _socket_of(connection)


def interrupt(sock: Any) -> bool:
    """Shut a socket down: a read or write blocked on it returns at once. False when that
    could not be done (already closed, or not a socket)."""
    try:
        if isinstance(sock, socket.socket):  # an SSLSocket too: its TCP socket, under TLS
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        else:  # asyncio's TransportSocket, trio's socket
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError, TypeError, ValueError):
        return False
    return True


def end_is_there(response: httpx.Response) -> bool:
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
