"""Contains all the data models used in inputs/outputs"""

from .agent_execution_request import AgentExecutionRequest
from .agent_execution_request_metadata import AgentExecutionRequestMetadata
from .agent_session_response import AgentSessionResponse
from .agent_session_response_metadata import AgentSessionResponseMetadata
from .error_body import ErrorBody
from .server_sent_event import ServerSentEvent
from .stream_error import StreamError
from .validation_error_body import ValidationErrorBody
from .validation_problem import ValidationProblem

__all__ = (
    "AgentExecutionRequest",
    "AgentExecutionRequestMetadata",
    "AgentSessionResponse",
    "AgentSessionResponseMetadata",
    "ErrorBody",
    "ServerSentEvent",
    "StreamError",
    "ValidationErrorBody",
    "ValidationProblem",
)
