"""Python SDK for the Somia Agent API: run hosted agents turn by turn, whole or streamed.

from somia import SomiaClient

with SomiaClient(api_key="...") as client:
    answer = client.sessions.create_session(agent_id=123, input_data="Hello")
    print(answer.session_id, answer.message)
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
