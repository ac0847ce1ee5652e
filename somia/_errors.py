"""Exceptions raised by the Somia SDK, and the one place foreign errors are translated.

    SomiaError                      base of everything the SDK raises (besides TypeError and
    │                               ValueError for bad arguments, raised before any request)
    ├── ApiError                    the server answered with a non-2xx status
    │   ├── RedirectError           3xx: the SDK never follows a redirect (the key would go too)
    │   ├── BadRequestError         400
    │   │   └── UnprocessableEntityError   422, a validation failure
    │   ├── AuthError               401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── RequestTimeoutStatusError 408, the server stopped waiting for the request
    │   ├── ConflictError           409, Idempotency-Key reused with another request
    │   ├── PayloadTooLargeError    413, the request body is larger than the server accepts
    │   ├── RateLimitError          429
    │   ├── ServiceUnavailableError 503 and 504: saturation or timeouts
    │   └── ServerError             any other 5xx, non-standard codes (520, 599) included
    ├── TransportError              no usable answer: connection failed, dropped or timed out
    │   ├── RequestTimeoutError     a connect, read, write or pool timeout, or total_timeout
    │   └── StreamInterruptedError  a stream ended before its end event
    │       ├── StreamTimeoutError  ... because no event of the answer came in time
    │       └── StreamClosedError   ... because it was closed, or its loop left, first
    ├── StreamParseError            a streamed event's data is not JSON
    ├── AgentStreamError            the stream reported an error event
    ├── InvalidResponseError        a 2xx answer whose body is not the documented JSON
    └── UsageError                  the client or a stream was used where it cannot work
        ├── ClientClosedError       a call after close() (of the client or its original)
        ├── WrongEventLoopError     an async client used in another event loop than its first
        └── StreamBusyError         a stream read from a second thread while another reads it

Any other 4xx is a plain `ApiError`. `status_code_to_error` is the single status map; a test
fails when the OpenAPI document lists an error status that has no class of its own here.
408, 429 and 503 are retried (nothing ran) before their error is raised. Every error that
carries what the server sent names it `body` (`response_body`, `payload` and `data` are the
older names of the same attribute). Server text is redacted (`somia._redact`) before it is
put into any of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload

import httpx

from somia._http import headers_of, quotes_request, timeout_phase
from somia._redact import NO_KEY, Redactor

__all__ = [
    "AgentStreamError",
    "ApiError",
    "AuthError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InvalidResponseError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "RequestTimeoutStatusError",
    "ServerError",
    "ServiceUnavailableError",
    "SomiaError",
    "StreamBusyError",
    "StreamClosedError",
    "StreamInterruptedError",
    "StreamParseError",
    "StreamTimeoutError",
    "TransportError",
    "UnprocessableEntityError",
    "UsageError",
    "WrongEventLoopError",
]

_EXCERPT = 200  # characters of a body quoted in a message


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


class SomiaError(Exception):
    """Base class of every error the Somia SDK raises.

    Every one pickles and copies with its type, message and fields (a `ProcessPoolExecutor`
    job may raise it).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds by calling the class with `args` alone, which fails for the
        # keyword-only fields; build the instance bare, then restore its fields.
        return (_bare, (type(self), self.args), self.__dict__)


def _bare(cls: type[SomiaError], args: tuple[Any, ...]) -> SomiaError:
    return cls.__new__(cls, *args)


T = TypeVar("T")


class _Alias(Generic[T]):
    """An older name of an attribute: reads and writes the attribute itself, so the value
    is stored once (and pickled once)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _Alias[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object, owner: type) -> T | _Alias[T]:
        if instance is None:
            return self
        value: T = getattr(instance, self.name)
        return value

    def __set__(self, instance: object, value: T) -> None:
        setattr(instance, self.name, value)


class ApiError(SomiaError):
    """The server answered with an error status.

    `body` is the decoded JSON body when it was JSON, otherwise the body's text (empty for an
    empty body); `response_body` is its older name. `request_id` is the server's
    `X-Request-Id`, if it sent one.
    """

    status_code: int
    body: Any
    headers: httpx.Headers
    request_id: str | None
    response_body = _Alias[Any]("body")

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        response_body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body if response_body is None else response_body  # the older keyword
        self.headers = httpx.Headers(headers or {})
        self.request_id = request_id


class RedirectError(ApiError):
    """3xx: the server redirected the call; the SDK does not follow it.

    Following would send the API key and the turn's input to wherever `Location` points.
    The message names the target's origin; `headers["location"]` holds the whole target.
    """


class BadRequestError(ApiError):
    """400: the request was malformed or cannot be run as sent."""


class UnprocessableEntityError(BadRequestError):
    """422: the request does not match the API's schema."""


class AuthError(ApiError):
    """401: the API key is missing or not valid."""


class PermissionDeniedError(ApiError):
    """403: the key may not do this, or a usage limit was reached."""


class NotFoundError(ApiError):
    """404: no such agent, or no such session of this agent."""


class RequestTimeoutStatusError(ApiError):
    """408: the server stopped waiting for the request to arrive; nothing ran.

    The server's status, retried like 429 and 503; not a timeout of this client, which is a
    `RequestTimeoutError`.
    """


class ConflictError(ApiError):
    """409: the Idempotency-Key was already used with a different request."""


class PayloadTooLargeError(ApiError):
    """413: the request body is larger than the server accepts; nothing ran."""


class RateLimitError(ApiError):
    """429: rate limit exceeded; nothing ran."""


class ServiceUnavailableError(ApiError):
    """503 or 504: the platform is saturated or timed out."""


class ServerError(ApiError):
    """Any other 5xx: the server failed, and the agent may or may not have run."""


class TransportError(SomiaError):
    """No usable answer arrived: the connection failed, was dropped or timed out."""


class RequestTimeoutError(TransportError):
    """A connect, read, write or pool timeout, or the call's `total_timeout` reached."""


class StreamInterruptedError(TransportError):
    """A stream ended before its end event; the answer is incomplete.

    `events_received` counts the events delivered before the cut; `last_chunk` is the data
    of the last chunk event (the session so far), or None when none arrived.
    """

    def __init__(self, message: str, *, events_received: int, last_chunk: Any) -> None:
        super().__init__(message)
        self.events_received = events_received
        self.last_chunk = last_chunk


class StreamTimeoutError(StreamInterruptedError, RequestTimeoutError):
    """A stream stalled: no event of its answer (a chunk, an error or the end) arrived within
    its `stream_idle_timeout`, whatever else the server sent meanwhile (comments, events of
    other kinds), or no byte within the read timeout. Raised by the call itself, with no event
    received, when its answer did not start within the idle timeout after the request was sent
    (a response head trickling in byte by byte).

    The message says how long the stream was idle and how many events it had delivered
    (`events_received`); `stream.reopen()` fetches the whole answer again.
    """


class StreamClosedError(StreamInterruptedError):
    """A stream was read after it was closed, or after a loop over it was left, before its
    end event: the rest of the answer is not coming (a stream is read once)."""


class StreamParseError(SomiaError):
    """A streamed event's data is not JSON; `body` holds it (truncated; `payload` is its
    older name)."""

    body: str
    payload = _Alias[str]("body")

    def __init__(self, message: str, *, body: str = "", payload: str | None = None) -> None:
        super().__init__(message)
        self.body = body if payload is None else payload  # the older keyword


class AgentStreamError(SomiaError):
    """The stream reported an error event; `body` is that event's decoded data (`data` is
    its older name)."""

    body: Any
    data = _Alias[Any]("body")

    def __init__(self, message: str, *, body: Any = None, data: Any = None) -> None:
        super().__init__(message)
        self.body = body if data is None else data  # the older keyword


class InvalidResponseError(SomiaError):
    """A successful answer whose body is not the documented JSON.

    `body` is the answer's whole text: a turn may have run, so none of it is dropped.
    """

    def __init__(self, message: str, *, status_code: int, body: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class UsageError(SomiaError):
    """The client or a stream was used where it cannot work; the message says what to do."""


class ClientClosedError(UsageError):
    """A call on a closed client, or on a copy (`with_options`) whose original was closed."""


class WrongEventLoopError(UsageError):
    """An `AsyncSomiaClient` used in another event loop than the one of its first call."""


class StreamBusyError(UsageError):
    """A stream read from a second thread while another thread reads it."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutStatusError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}


def status_code_to_error(status_code: int) -> type[ApiError]:
    """The exception class for an error status."""
    cls = _BY_STATUS.get(status_code)
    if cls is not None:
        return cls
    if 300 <= status_code < 400:
        return RedirectError
    return ServerError if status_code >= 500 else ApiError


def _decode_body(content: bytes, redact: Redactor) -> Any:
    text = redact.text(content.decode("utf-8", errors="replace"))
    if not text.strip():
        return ""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _summarise_problems(problems: list[Any]) -> str:
    parts = []
    for problem in problems[:3]:
        if isinstance(problem, Mapping):
            loc = ".".join(str(p) for p in problem.get("loc", ()) if p != "body")
            msg = str(problem.get("msg", problem))
            parts.append(f"{loc}: {msg}" if loc else msg)
        else:
            parts.append(str(problem))
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(parts) + more


def server_message(body: Any) -> str:
    """The human message in an error body: `detail`, `message` or `error`, else the text."""
    if isinstance(body, Mapping):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, list) and value:
                return _summarise_problems(value)
            if isinstance(value, str) and value:
                return _excerpt(value)
            if isinstance(value, Mapping) and value:
                return server_message(value)
        return _excerpt(json.dumps(body, ensure_ascii=False)) if body else ""
    if isinstance(body, str):
        if body.lstrip()[:1] == "<":  # an HTML page from a proxy: its text is noise
            return ""
        return _excerpt(body)
    return _excerpt(json.dumps(body, ensure_ascii=False))


def error_from_response(response: httpx.Response, *, redact: Redactor = NO_KEY) -> ApiError:
    """The typed error for a non-2xx response whose body has been read.

    The key is redacted from the body, the reason phrase and the headers, and so from the
    message, should the server echo it.
    """
    status = response.status_code
    body = _decode_body(response.content, redact)
    headers = redact.headers(headers_of(response))
    request_id = headers.get("x-request-id")
    reason = redact.text(response.reason_phrase) or "error"
    text = server_message(body)
    message = f"{status} {reason}" + (f": {text}" if text else "")
    if 300 <= status < 400:
        message += _redirect_advice(response)
    if request_id:
        message += f" (request id {request_id})"
    return status_code_to_error(status)(
        message,
        status_code=status,
        body=body,
        headers=headers,
        request_id=request_id,
    )


def _redirect_advice(response: httpx.Response) -> str:
    location = response.headers.get("location")
    if not location:
        return " (a redirect without a Location; the SDK does not follow redirects)"
    try:  # only the origin: a path or query may hold a token
        target = httpx.URL(location)
        if target.is_relative_url:  # (the request's URL may be httpx2's: read as text)
            target = httpx.URL(str(response.request.url)).join(target)
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
    except (httpx.InvalidURL, UnicodeDecodeError, ValueError, TypeError, RuntimeError):
        origin = "an unreadable Location"  # RuntimeError: a response built without a request
    return (
        f" (a redirect to {origin}, not followed: the SDK never sends the API key or the "
        "input to another address; set base_url to the address the API answers at)"
    )


def translate_transport_error(
    exc: httpx.HTTPError, *, what: str, redact: Redactor = NO_KEY, attempts: int = 1
) -> TransportError:
    """The SDK error for an httpx or httpx2 failure (raise it `from exc`); `what` names the
    call, and `attempts` how many were made (said when more than one).

    The key is redacted: the text of a protocol error may quote what the server sent.
    """
    tried = f" (after {attempts} attempts)" if attempts > 1 else ""
    phase = timeout_phase(exc)
    if phase is not None:
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        if phase == "read":  # waiting for the answer: the request went out
            kind += "; the request was sent, so the turn may have run"
        return RequestTimeoutError(f"{what}: {kind}{tried}")
    if quotes_request(exc):
        # Its text quotes the offending request header, which may be the key.
        return TransportError(f"{what}: the request could not be sent (LocalProtocolError)")
    redact.chain(exc)
    return TransportError(f"{what}: {type(exc).__name__}: {exc}{tried}")


def add_note(error: SomiaError, note: str) -> SomiaError:
    """`error`, its message ending with `note` in parentheses."""
    message = f"{error.args[0]} ({note})" if error.args else f"({note})"
    error.args = (message, *error.args[1:])
    if isinstance(getattr(error, "message", None), str):
        error.message = message  # type: ignore[attr-defined]
    return error
