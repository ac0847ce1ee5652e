"""Facts of the Somia Agent API, compiled from openapi/somia.yaml by `make generate`.

GENERATED CODE: DO NOT EDIT. Edit the document and run `make generate`. The schemas here are
data; importing this module compiles them with somia._checks (request checks) and
somia._shapes (answer fields), ordinary modules of the SDK.
"""

# ruff: noqa
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple, Required, TypedDict

import attrs

from somia._checks import Body, Check, RequestFields, compile_check
from somia._shapes import AnswerObject, answer_table


class Operation(NamedTuple):
    """One operation of the document."""

    method: str
    path: str
    request: str | None  # the JSON request body's schema
    answer: str | None  # the JSON 200 answer's schema
    statuses: tuple[int, ...]  # every documented status


class AgentExecutionRequestOptions(TypedDict, total=False):
    """The body fields of AgentExecutionRequest as keyword options; None (or absent) is not sent.

    Attributes:
        input_data: The turn's input: any JSON value (most agents take a string). The create call may ignore it when the agent's Begin step has no required query fields.
        stream: `true` asks for a Server-Sent Event stream instead of one JSON answer. Server default: False.
        pipeline_version: Which version of the agent's pipeline runs, by number or by name. Server default: 'production'.
        trace_enabled: Record a trace of the run. Server default: False.
        test: Mark the run as a test run. Server default: False.
        source: Where the call comes from, for reporting.
        tags: Labels for reporting.
        environment: The caller's environment name, for reporting.
        end_user_id: The caller's id for the person the agent talks to.
        metadata: Free-form data stored with the run.
        caller_pipeline_id: Call attribution, when one agent calls another: the id of the calling pipeline, so that the run this turn starts is linked back to it. Resolved within the caller's organisation; the server drops it silently when it cannot resolve it.
        caller_agent_slug: Call attribution, when one agent calls another; the calling agent's slug.
        caller_run_id: Call attribution, when one agent calls another; the id of the calling run.
        caller_span_id: Call attribution, when one agent calls another; the id of the calling run's span that makes this call.
    """

    input_data: Any
    pipeline_version: int | str | None
    trace_enabled: bool | None
    test: bool | None
    source: str | None
    tags: Sequence[str] | None
    environment: str | None
    end_user_id: str | None
    metadata: Mapping[str, Any] | None
    caller_pipeline_id: int | None
    caller_agent_slug: str | None
    caller_run_id: str | None
    caller_span_id: str | None


AGENT_EXECUTION_REQUEST = Body(
    "AgentExecutionRequest",
    {
        "input_data": ("input_data", {}),
        "stream": ("stream", {"type": "boolean"}),
        "pipeline_version": (
            "pipeline_version",
            {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "\\S"}]},
        ),
        "trace_enabled": ("trace_enabled", {"type": "boolean"}),
        "test": ("test", {"type": "boolean"}),
        "source": ("source", {"type": "string"}),
        "tags": ("tags", {"type": "array", "items": {"type": "string"}}),
        "environment": ("environment", {"type": "string"}),
        "end_user_id": ("end_user_id", {"type": "string"}),
        "metadata": ("metadata", {"type": "object", "additionalProperties": True}),
        "caller_pipeline_id": ("caller_pipeline_id", {"type": "integer"}),
        "caller_agent_slug": ("caller_agent_slug", {"type": "string"}),
        "caller_run_id": ("caller_run_id", {"type": "string"}),
        "caller_span_id": ("caller_span_id", {"type": "string"}),
    },
    required=(),
    deprecated=(),
)
# keyword -> wire name of each body field
AGENT_EXECUTION_REQUEST_FIELDS: dict[str, str] = AGENT_EXECUTION_REQUEST.wire_names
check_agent_execution_request = AGENT_EXECUTION_REQUEST.check


@attrs.define(kw_only=True)
class AgentExecutionRequestFields(RequestFields):
    """One turn of an agent. Optional fields are omitted rather than sent as null.

    Fields left as None are not sent; construction checks each one against the
    document.

    Attributes:
        input_data: The turn's input: any JSON value (most agents take a string). The create call may ignore it when the agent's Begin step has no required query fields.
        stream: `true` asks for a Server-Sent Event stream instead of one JSON answer. Server default: False.
        pipeline_version: Which version of the agent's pipeline runs, by number or by name. Server default: 'production'.
        trace_enabled: Record a trace of the run. Server default: False.
        test: Mark the run as a test run. Server default: False.
        source: Where the call comes from, for reporting.
        tags: Labels for reporting.
        environment: The caller's environment name, for reporting.
        end_user_id: The caller's id for the person the agent talks to.
        metadata: Free-form data stored with the run.
        caller_pipeline_id: Call attribution, when one agent calls another: the id of the calling pipeline, so that the run this turn starts is linked back to it. Resolved within the caller's organisation; the server drops it silently when it cannot resolve it.
        caller_agent_slug: Call attribution, when one agent calls another; the calling agent's slug.
        caller_run_id: Call attribution, when one agent calls another; the id of the calling run.
        caller_span_id: Call attribution, when one agent calls another; the id of the calling run's span that makes this call.
    """

    input_data: Any = None
    stream: bool | None = None
    pipeline_version: int | str | None = None
    trace_enabled: bool | None = None
    test: bool | None = None
    source: str | None = None
    tags: Sequence[str] | None = None
    environment: str | None = None
    end_user_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    caller_pipeline_id: int | None = None
    caller_agent_slug: str | None = None
    caller_run_id: str | None = None
    caller_span_id: str | None = None


AgentExecutionRequestFields._body = AGENT_EXECUTION_REQUEST


@attrs.define(kw_only=True)
class AgentSessionResponseFields(AnswerObject):
    """The session after the turn. The server may add fields; clients keep them.

    Attributes:
        session_id: The session's id; pass it to continue the session.
        message: The agent's answer to this turn, if it wrote one.
        history: The session's turns so far.
        metadata: Data the agent attached to the session.
        pending: The agent is still working (more turns may follow).
        finished: The session has ended; it takes no more turns.
    """

    session_id: str
    message: str | None = None
    history: list[Any] = attrs.Factory(list)
    metadata: dict[str, Any] = attrs.Factory(dict)
    pending: bool = False
    finished: bool = False


AgentSessionResponseFields._table = answer_table(
    {
        "session_id": ("session_id", {"type": "string"}, None),
        "message": ("message", {"type": ["string", "null"]}, None),
        "history": ("history", {"type": "array", "items": {}}, None),
        "metadata": ("metadata", {"type": "object", "additionalProperties": True}, None),
        "pending": ("pending", {"type": "boolean"}, None),
        "finished": ("finished", {"type": "boolean"}, None),
    }
)
AgentSessionResponseFields._required = ("session_id",)


OPERATIONS: dict[str, Operation] = {
    "createSession": Operation(
        "POST",
        "/api/v1/external/agent/{agent_id}/session",
        "AgentExecutionRequest",
        "AgentSessionResponse",
        (200, 400, 401, 403, 404, 409, 413, 422, 429, 500, 503),
    ),
    "interactSession": Operation(
        "POST",
        "/api/v1/external/agent/{agent_id}/session/{session_id}",
        "AgentExecutionRequest",
        "AgentSessionResponse",
        (200, 400, 401, 403, 404, 409, 413, 422, 429, 500, 503),
    ),
}

# The header the document's API key security scheme sends the key in.
API_KEY_HEADER: str | None = "x-api-key"

# Parameters the answers' links take from a response header: parameter -> header.
LINK_HEADERS: dict[str, str] = {"session_id": "X-Somia-Session-Id"}

# Path and header parameters, by keyword: where they go, their wire name, their check.
PARAMETERS: dict[str, tuple[str, str, Check]] = {
    "agent_id": (
        "path",
        "agent_id",
        compile_check({"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807}, "agent_id"),
    ),
    "idempotency_key": (
        "header",
        "Idempotency-Key",
        compile_check({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}, "idempotency_key"),
    ),
    "session_id": (
        "path",
        "session_id",
        compile_check({"type": "string", "minLength": 1, "maxLength": 256}, "session_id"),
    ),
}


def check_parameter(name: str, value: Any) -> Any:
    """`value` checked against the document's schema of parameter `name`."""
    return PARAMETERS[name][2](value, name)
