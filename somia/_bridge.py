"""The one bridge to the generated low-level client (`somia_api`).

Only this module imports the generated package: paths, parameter quoting and models come
from the OpenAPI document through it. Everything it raises is a `somia` error.
"""

from __future__ import annotations

import json
from typing import Any

from somia._errors import InvalidResponseError
from somia._models import AgentExecutionRequest, AgentSessionResponse, ResponseInfo
from somia_api.api.sessions import create_session, interact_session
from somia_api.models import AgentExecutionRequest as WireRequest
from somia_api.models import AgentExecutionRequestMetadata as WireMetadata
from somia_api.models import AgentSessionResponse as WireResponse
from somia_api.types import UNSET, Unset

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _wire_request(request: AgentExecutionRequest) -> WireRequest:
    def opt(value: Any) -> Any:
        return UNSET if value is None else value

    return WireRequest(
        input_data=opt(request.input_data),
        stream=request.stream,
        pipeline_version=request.pipeline_version,
        trace_enabled=request.trace_enabled,
        test=request.test,
        source=opt(request.source),
        tags=opt(request.tags),
        environment=opt(request.environment),
        end_user_id=opt(request.end_user_id),
        metadata=UNSET
        if request.metadata is None
        else WireMetadata.from_dict(dict(request.metadata)),
    )


def _encode_body(body: dict[str, Any]) -> bytes:
    try:
        return _encode(body).encode()
    except (TypeError, ValueError) as exc:
        for name in ("input_data", "metadata"):  # name the argument that cannot be JSON
            try:
                _encode(body.get(name))
            except (TypeError, ValueError):
                raise TypeError(f"{name} is not JSON-serialisable: {exc}") from exc
        raise TypeError(f"the request is not JSON-serialisable: {exc}") from exc


def build_request(
    agent_id: int,
    session_id: str | None,
    request: AgentExecutionRequest,
    *,
    idempotency_key: str,
) -> tuple[str, str, dict[str, str], bytes]:
    """Method, path, headers and JSON body of a create (no session id) or continue call."""
    wire = _wire_request(request)
    if session_id is None:
        kwargs = create_session._get_kwargs(agent_id, body=wire, idempotency_key=idempotency_key)
    else:
        kwargs = interact_session._get_kwargs(
            agent_id, session_id, body=wire, idempotency_key=idempotency_key
        )
    return kwargs["method"].upper(), kwargs["url"], kwargs["headers"], _encode_body(kwargs["json"])


def _unset(value: Any, default: Any) -> Any:
    return default if isinstance(value, Unset) else value


def parse_session(data: Any, info: ResponseInfo, *, raw: str = "") -> AgentSessionResponse:
    """The typed answer for a decoded JSON session object; InvalidResponseError otherwise."""

    def invalid(why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"the server's answer is not a session ({why})",
            status_code=info.status_code,
            body=raw[:500],
        )

    if not isinstance(data, dict):
        raise invalid(f"a JSON {type(data).__name__}, not an object")
    try:
        wire = WireResponse.from_dict(data)
    except KeyError as exc:
        raise invalid(f"missing {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise invalid(str(exc)) from exc
    metadata = wire.metadata.to_dict() if not isinstance(wire.metadata, Unset) else {}
    answer = AgentSessionResponse(
        session_id=wire.session_id,
        message=_unset(wire.message, None),
        history=_unset(wire.history, []),
        metadata=metadata,
        pending=_unset(wire.pending, False),
        finished=_unset(wire.finished, False),
        extra=wire.additional_properties,
        http=info,
    )
    checks = (
        ("session_id", answer.session_id, str),
        ("message", answer.message, (str, type(None))),
        ("history", answer.history, list),
        ("pending", answer.pending, bool),
        ("finished", answer.finished, bool),
    )
    for name, value, kind in checks:
        if not isinstance(value, kind):
            raise invalid(f"{name} is a {type(value).__name__}")
    return answer
