"""Python SDK for the Somia Agent API: run hosted agents turn by turn, whole or streamed.

from somia import SomiaClient

with SomiaClient(api_key="...") as client:
    answer = client.sessions.create_session(agent_id=123, input_data="Hello")
    print(answer.session_id, answer.message)

The path of a session call, module by module (every module is private; this package only
re-exports). The async client takes the same path; only its send loop is awaited.

    client.sessions.run(...)        somia._sessions.AgentSessionsClient: the public methods
    -> the client's session call    somia._client.SomiaClient._call (options declared and
                                    checked in somia._config, once, when the client is made)
    -> check and encode, no I/O     somia._client_base.BaseClient._prepare, which calls
                                    somia._base.prepare_call (arguments: somia._validation;
                                    body fields: somia._bridge.check_body)
    -> path, headers, JSON body     somia._bridge.build_request: facts compiled from the API
                                    document into generated/somia_api/facts.py (only the
                                    bridge imports it; somia._checks compiles its schemas)
    -> a span, if the app traces    somia._tracing.start_span
    -> the send loop                somia._client.SomiaClient._send: connections from
                                    somia._pool.Pool; every decision between sends is a
                                    method of somia._base.PreparedCall: retries and waits
                                    by somia._retry.RetryPolicy within somia._liveness.Deadline,
                                    errors from somia._errors.error_from_response and
                                    somia._errors.translate_transport_error, the key kept
                                    out of them by somia._redact.Redactor
    -> a stream of events           somia._streaming.Stream (somia._sse.SSEDecoder decodes)
       or the answer                somia._base.session_from_response, which calls
                                    somia._models.parse_session

`client.request(...)`, for an operation the SDK does not curate, is prepared by
somia._raw.prepare_request and goes through the same send loop.

Importing this package loads nothing but its version: each name below is imported from its
module on first use (`__getattr__`), so `from somia import SomiaClient` costs about what
`import httpx` does. Type checkers and documentation tools read the imports under
TYPE_CHECKING; a test holds them and `_LAZY` to `__all__`.
"""

from __future__ import annotations

import typing as _typing

from somia._version import __version__

if _typing.TYPE_CHECKING:
    from somia._async_client import AsyncSomiaClient
    from somia._base import RequestOptions
    from somia._client import SomiaClient
    from somia._config import ClientOptions
    from somia._errors import (
        AgentStreamError,
        ApiError,
        AuthError,
        BadRequestError,
        ClientClosedError,
        ConflictError,
        InvalidResponseError,
        NotFoundError,
        PayloadTooLargeError,
        PermissionDeniedError,
        RateLimitError,
        RedirectError,
        RequestTimeoutError,
        RequestTimeoutStatusError,
        ServerError,
        ServiceUnavailableError,
        SomiaError,
        StreamBusyError,
        StreamClosedError,
        StreamInterruptedError,
        StreamParseError,
        StreamTimeoutError,
        TransportError,
        UnprocessableEntityError,
        UsageError,
        WrongEventLoopError,
    )
    from somia._models import (
        AgentExecutionRequest,
        AgentSessionResponse,
        ResponseInfo,
        SessionAnswer,
        StreamEvent,
        UnknownEvent,
    )
    from somia._sessions import AgentSessionsClient, AsyncAgentSessionsClient, TurnOptions
    from somia._streaming import AsyncStream, Stream

# Where each public name lives: imported from there on first use.
_LAZY = {
    "AgentExecutionRequest": "somia._models",
    "AgentSessionResponse": "somia._models",
    "AgentSessionsClient": "somia._sessions",
    "AgentStreamError": "somia._errors",
    "ApiError": "somia._errors",
    "AsyncAgentSessionsClient": "somia._sessions",
    "AsyncSomiaClient": "somia._async_client",
    "AsyncStream": "somia._streaming",
    "AuthError": "somia._errors",
    "BadRequestError": "somia._errors",
    "ClientClosedError": "somia._errors",
    "ClientOptions": "somia._config",
    "ConflictError": "somia._errors",
    "InvalidResponseError": "somia._errors",
    "NotFoundError": "somia._errors",
    "PayloadTooLargeError": "somia._errors",
    "PermissionDeniedError": "somia._errors",
    "RateLimitError": "somia._errors",
    "RedirectError": "somia._errors",
    "RequestOptions": "somia._base",
    "RequestTimeoutError": "somia._errors",
    "RequestTimeoutStatusError": "somia._errors",
    "ResponseInfo": "somia._models",
    "ServerError": "somia._errors",
    "ServiceUnavailableError": "somia._errors",
    "SessionAnswer": "somia._models",
    "SomiaClient": "somia._client",
    "SomiaError": "somia._errors",
    "Stream": "somia._streaming",
    "StreamBusyError": "somia._errors",
    "StreamClosedError": "somia._errors",
    "StreamEvent": "somia._models",
    "StreamInterruptedError": "somia._errors",
    "StreamParseError": "somia._errors",
    "StreamTimeoutError": "somia._errors",
    "TransportError": "somia._errors",
    "TurnOptions": "somia._sessions",
    "UnknownEvent": "somia._models",
    "UnprocessableEntityError": "somia._errors",
    "UsageError": "somia._errors",
    "WrongEventLoopError": "somia._errors",
}

__all__ = [
    "AgentExecutionRequest",
    "AgentSessionResponse",
    "AgentSessionsClient",
    "AgentStreamError",
    "ApiError",
    "AsyncAgentSessionsClient",
    "AsyncSomiaClient",
    "AsyncStream",
    "AuthError",
    "BadRequestError",
    "ClientClosedError",
    "ClientOptions",
    "ConflictError",
    "InvalidResponseError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "RequestOptions",
    "RequestTimeoutError",
    "RequestTimeoutStatusError",
    "ResponseInfo",
    "ServerError",
    "ServiceUnavailableError",
    "SessionAnswer",
    "SomiaClient",
    "SomiaError",
    "Stream",
    "StreamBusyError",
    "StreamClosedError",
    "StreamEvent",
    "StreamInterruptedError",
    "StreamParseError",
    "StreamTimeoutError",
    "TransportError",
    "TurnOptions",
    "UnknownEvent",
    "UnprocessableEntityError",
    "UsageError",
    "WrongEventLoopError",
    "__version__",
]


if not _typing.TYPE_CHECKING:  # type checkers see the imports above, and no fallback

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'somia' has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(module), name)
        globals()[name] = value  # later look-ups skip this function
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
