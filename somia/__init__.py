"""Python SDK for the Somia Agent API: run hosted agents turn by turn, whole or streamed.

from somia import SomiaClient

with SomiaClient(api_key="...") as client:
    answer = client.sessions.create_session(agent_id=123, input_data="Hello")
    print(answer.session_id, answer.message)

The path of a session call, module by module (every module is private; this package only
re-exports). The async client takes the same path; only its send loop is awaited.

    client.sessions.run(...)        somia._sessions.AgentSessionsClient: the public methods
    -> the client's session call    somia._client.SomiaClient._call
    -> check and encode, no I/O     somia._base.prepare_call (arguments: somia._validation;
                                    body fields: somia._bridge.check_body)
    -> path, headers, JSON body     somia._bridge.build_request: facts compiled from the API
                                    document into generated/somia_api/facts.py (only the
                                    bridge imports it; somia._checks compiles its schemas)
    -> a span, if the app traces    somia._tracing.start_span
    -> the send loop                somia._client.SomiaClient._send: connections from
                                    somia._pool.Pool; retries and waits decided by
                                    somia._retry.RetryPolicy within somia._retry.Deadline;
                                    errors from somia._errors.error_from_response and
                                    somia._errors.translate_transport_error
    -> a stream of events           somia._streaming.Stream (somia._sse.SSEDecoder decodes)
       or the answer                somia._base.session_from_response, which calls
                                    somia._models.parse_session

`client.request(...)`, for an operation the SDK does not curate, is prepared by
somia._raw.prepare_request and goes through the same send loop.
"""

from __future__ import annotations

from somia._async_client import AsyncSomiaClient
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
from somia._models import AgentExecutionRequest, AgentSessionResponse, ResponseInfo, StreamEvent
from somia._raw import RequestOptions
from somia._sessions import AgentSessionsClient, AsyncAgentSessionsClient, TurnOptions
from somia._streaming import AsyncStream, Stream
from somia._version import __version__

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
    "ResponseInfo",
    "ServerError",
    "ServiceUnavailableError",
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
    "UnprocessableEntityError",
    "UsageError",
    "WrongEventLoopError",
    "__version__",
]
