"""The seam to the HTTP library: what the SDK needs of httpx and httpcore beyond the calls every
client makes, in one place, for both libraries it sends through.

- Two libraries: httpx, the SDK's own (its default client), and httpx2, httpx's maintained
  successor (the same API under another import name, on httpcore2), when a caller gives an
  `httpx2.Client` as `http_client`. A `Stack` holds what the SDK uses of one library;
  `stack_of` says which a client belongs to. httpx2 is never imported here: a caller who
  hands over one of its clients has imported it already. Under `httpx2.alias_httpx()`,
  `httpx` is httpx2: there is one stack. Inside the SDK, httpx2's objects are typed as their
  httpx twins (the APIs are the same); what users give is typed by protocols that either
  library's objects match (`SyncHTTPClient`, `AsyncHTTPClient`, `AnyTimeout`), and what they
  hold is httpx's whichever library answered: `headers_of()` an answer, and `as_timeout()` of
  a timeout they give.
- Failures of either library: `timeout_phase`, `sent_nothing`, `quotes_request`.
- Timeouts: an `httpx.Timeout` capped to the time a deadline leaves.
- Sockets to interrupt: a blocked read returns at once, in any thread or event loop, when its
  socket is shut down (closing it from another thread would not wake the read). The socket
  under a call in flight is found, only when a deadline or idle timeout fires, through:
  1. the documented `network_stream` extension of a response (once its head arrived);
  2. the documented `trace` extension of a request, whose `connect_tcp` and `start_tls`
     events carry the network stream of a new connection (and whose `send_request_body`
     event says that the request went out, so that the turn may have run);
  3. for a reused keep-alive connection whose answer has not begun, a private path into
     httpcore's pool (`_POOL_PATH`, `_STREAM_PATH`). Where it finds nothing (a library that
     renamed it, a custom transport), the fallback is the timeouts alone: each read is
     bounded by what the deadline left when the attempt started.
  HTTP/2 connections are never shut down (other calls share them): there too, the fallback.
- A body's end (`end_is_there`): a private path into h11's buffer; where it finds nothing,
  the connection is closed instead of reused.
httpcore2 2.17.0 has httpcore 1.0's private names on every path used here (pinned by the
tests, which run on both libraries and force each fallback).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import httpx

if TYPE_CHECKING:
    # What a caller may give, for type checkers: either library's objects match, whether or not
    # httpx2 is installed, and a client of the other kind (sync for async) does not.

    class _Answer(Protocol):  # what `send` gives: a response, not a coroutine
        @property
        def status_code(self) -> int: ...

    class SyncHTTPClient(Protocol):
        """An `httpx.Client` or an `httpx2.Client`."""

        @property
        def is_closed(self) -> bool: ...
        def send(
            self, request: Any, *, stream: bool = ..., follow_redirects: bool = ...
        ) -> _Answer: ...
        def close(self) -> None: ...

    class AsyncHTTPClient(Protocol):
        """An `httpx.AsyncClient` or an `httpx2.AsyncClient`."""

        @property
        def is_closed(self) -> bool: ...
        async def send(
            self, request: Any, *, stream: bool = ..., follow_redirects: bool = ...
        ) -> _Answer: ...
        async def aclose(self) -> None: ...

    class AnyTimeout(Protocol):
        """An `httpx.Timeout` or an `httpx2.Timeout`."""

        def as_dict(self) -> dict[str, float | None]: ...

else:  # at run time (inspect evaluates annotations, the docs show them): httpx's names
    SyncHTTPClient = httpx.Client
    AsyncHTTPClient = httpx.AsyncClient
    AnyTimeout = httpx.Timeout

TIMEOUT_PHASES = ("connect", "read", "write", "pool")
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


class Stack:
    """What the SDK uses of one HTTP library (httpx or httpx2), by the library's own names."""

    __slots__ = (
        "AsyncClient",
        "Client",
        "HTTPError",
        "HTTPStatusError",
        "Response",
        "failures",
        "lib",
        "name",
        "not_sent",
        "phases",
        "quoting",
        "timeouts",
    )

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.name: str = lib.__name__  # "httpx2" under alias_httpx()
        self.Client: type[httpx.Client] = lib.Client
        self.AsyncClient: type[httpx.AsyncClient] = lib.AsyncClient
        self.Response: type[httpx.Response] = lib.Response
        self.HTTPError: type[httpx.HTTPError] = lib.HTTPError
        self.HTTPStatusError: type[httpx.HTTPStatusError] = lib.HTTPStatusError
        # What reading a body may raise: a failure, or a stream used out of turn.
        self.failures: tuple[type[Exception], ...] = (lib.HTTPError, lib.StreamError)
        self.timeouts: type[httpx.TimeoutException] = lib.TimeoutException
        self.phases = tuple(
            (getattr(lib, f"{phase.capitalize()}Timeout"), phase) for phase in TIMEOUT_PHASES
        )
        # Raised before a single byte of the request reached the server.
        self.not_sent = (lib.ConnectError, lib.ConnectTimeout, lib.PoolTimeout)
        # Its text quotes the offending request header, which may be the key.
        self.quoting: type[Exception] = lib.LocalProtocolError

    def __repr__(self) -> str:
        return f"Stack({self.name})"

    def client_type(self, asynchronous: bool) -> type[Any]:
        """The library's client class of that kind."""
        return self.AsyncClient if asynchronous else self.Client


HTTPX = Stack(httpx)
_STACKS = [HTTPX]  # httpx2's joins when a caller first gives one of its clients


def _httpx2() -> Stack | None:
    """httpx2's stack, when httpx2 is imported as a library of its own (else None)."""
    lib = sys.modules.get("httpx2")
    if lib is None or lib is httpx:  # not imported, or alias_httpx(): httpx is httpx2
        return None
    for stack in _STACKS:
        if stack.lib is lib:
            return stack
    stack = Stack(lib)
    _STACKS.append(stack)
    return stack


def stack_of(http: object, *, asynchronous: bool) -> Stack | None:
    """The library of a caller's `http_client` of that kind, or None when it is neither an
    httpx nor an httpx2 client of that kind."""
    if isinstance(http, HTTPX.client_type(asynchronous)):
        return HTTPX
    stack = _httpx2()
    if stack is not None and isinstance(http, stack.client_type(asynchronous)):
        return stack
    return None


def _stack_of_error(exc: BaseException) -> Stack | None:
    for stack in _STACKS:
        if isinstance(exc, stack.HTTPError):
            return stack
    return None


def _stack_of_response(response: httpx.Response) -> Stack:
    for stack in _STACKS:
        if isinstance(response, stack.Response):
            return stack
    raise TypeError(f"not an httpx or httpx2 response: {type(response).__name__}")


# -- what users hold: httpx's types ---------------------------------------------------------


def headers_of(response: httpx.Response) -> httpx.Headers:
    """The headers of either library's response, as `httpx.Headers` (the same object for
    httpx's)."""
    given = response.headers
    if type(given) is httpx.Headers:
        return given
    return httpx.Headers(given.raw, encoding=given.encoding)


def as_timeout(value: object) -> httpx.Timeout | None:
    """Either library's `Timeout` as an `httpx.Timeout`; None for anything else."""
    if isinstance(value, httpx.Timeout):
        return value
    stack = _httpx2()
    if stack is not None and isinstance(value, stack.lib.Timeout):
        return httpx.Timeout(**value.as_dict())
    return None


def failures_of(response: httpx.Response) -> tuple[type[Exception], ...]:
    """What reading the body of `response` may raise, in its library."""
    return _stack_of_response(response).failures


def was_read(response: httpx.Response) -> bool:
    """Whether the body of `response` was read (by a caller's event hook, say)."""
    try:
        response.content  # noqa: B018 - raises when it was not
    except _stack_of_response(response).lib.ResponseNotRead:
        return False
    return True


def with_content(response: httpx.Response, content: bytes) -> httpx.Response:
    """`response` (its status, headers, request and extensions) with `content` as its body,
    received (still content-coded) and read: a response of the same library."""
    lib = _stack_of_response(response).lib
    whole: httpx.Response = lib.Response(
        response.status_code,
        headers=response.headers,
        stream=lib.ByteStream(content),
        request=response.request,
        extensions=response.extensions,
    )
    whole.read()  # from memory: no I/O
    return whole


# -- failures of either library --------------------------------------------------------------


def timeout_phase(exc: BaseException) -> str | None:
    """The phase of a timeout error of either library ("connect", "read", "write" or
    "pool"; "" for a timeout of none of them), None for any other error."""
    stack = _stack_of_error(exc)
    if stack is None or not isinstance(exc, stack.timeouts):
        return None
    for cls, phase in stack.phases:
        if isinstance(exc, cls):
            return phase
    return ""


def sent_nothing(exc: BaseException) -> bool:
    """Whether `exc` was raised before a single byte of the request reached the server."""
    stack = _stack_of_error(exc)
    return stack is not None and isinstance(exc, stack.not_sent)


def quotes_request(exc: BaseException) -> bool:
    """Whether the text of `exc` may quote the request's headers (the key among them)."""
    stack = _stack_of_error(exc)
    return stack is not None and isinstance(exc, stack.quoting)


# -- timeouts ---------------------------------------------------------------------------------


def capped_timeout(timeout: httpx.Timeout, left: float) -> tuple[httpx.Timeout, tuple[str, ...]]:
    """`timeout` with each phase capped to `left` seconds, and the phases that were capped."""
    values = {phase: getattr(timeout, phase) for phase in TIMEOUT_PHASES}
    capped = tuple(p for p, v in values.items() if v is None or v > left)
    for phase in capped:
        values[phase] = left
    return httpx.Timeout(**values), capped


def with_read_timeout(response: httpx.Response, read: float | None) -> None:
    """Read the rest of `response`'s body under this read timeout (httpcore reads the
    request's timeouts when the body's reading starts)."""
    timeout = dict(response.request.extensions.get("timeout") or {})
    timeout["read"] = read
    response.request.extensions["timeout"] = timeout


# -- sockets to interrupt ---------------------------------------------------------------------


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

    if not any(isinstance(http, stack.AsyncClient) for stack in _STACKS):
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
