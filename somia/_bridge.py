"""The one bridge to the generated low-level client (`somia_api`).

Only this module imports the generated package: paths, parameter quoting and models come
from the OpenAPI document through it. Everything it raises is a `somia` error.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from somia._errors import InvalidResponseError
from somia._models import AgentSessionResponse, ResponseInfo
from somia_api.api.sessions import create_session, interact_session
from somia_api.models import AgentExecutionRequest as WireRequest
from somia_api.models import AgentExecutionRequestMetadata as WireMetadata
from somia_api.models import AgentSessionResponse as WireResponse

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _encode_body(body: dict[str, Any]) -> bytes:
    try:
        return _encode(body).encode()
    except (TypeError, ValueError) as exc:
        for name in ("input_data", "metadata"):  # name the argument that cannot be JSON
            try:
                _encode(body.get(name)).encode()
            except (TypeError, ValueError):
                raise TypeError(f"{name} is not JSON-serialisable: {exc}") from exc
        raise TypeError(f"the request is not JSON-serialisable: {exc}") from exc


def build_request(
    agent_id: int,
    session_id: str | None,
    fields: dict[str, Any],
    *,
    idempotency_key: str,
) -> tuple[str, dict[str, str], bytes]:
    """Path, headers and JSON body of a create (no session id) or continue call.

    `fields` are checked body fields (see `check_turn`); the generated model adds the
    document's defaults for the others.
    """
    metadata = fields.get("metadata")
    if metadata is not None:
        fields = {**fields, "metadata": WireMetadata.from_dict(metadata)}
    wire = WireRequest(**fields)
    if session_id is None:
        kwargs = create_session._get_kwargs(agent_id, body=wire, idempotency_key=idempotency_key)
    else:
        kwargs = interact_session._get_kwargs(
            agent_id, session_id, body=wire, idempotency_key=idempotency_key
        )
    return kwargs["url"], kwargs["headers"], _encode_body(kwargs["json"])


# The documented answer fields, as the generated model knows them from the document.
DOCUMENTED_FIELDS = tuple(
    f.name for f in attrs.fields(WireResponse) if f.name != "additional_properties"
)
_KINDS: dict[str, tuple[type, ...]] = {
    "session_id": (str,),
    "message": (str, type(None)),
    "history": (list,),
    "metadata": (dict,),
    "pending": (bool,),
    "finished": (bool,),
}


def parse_session(data: Any, info: ResponseInfo, *, raw: bytes = b"") -> AgentSessionResponse:
    """The typed answer for a decoded JSON session object; InvalidResponseError otherwise.

    The generated model's `from_dict` checks no types and raises KeyError; this checks each
    documented field (the hot path of every call) and keeps unknown fields.
    """

    def invalid(why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"the server's answer is not a session ({why})",
            status_code=info.status_code,
            body=raw[:500].decode("utf-8", errors="replace"),
        )

    if not isinstance(data, dict):
        raise invalid(f"a JSON {type(data).__name__}, not an object")
    if "session_id" not in data:
        raise invalid("missing 'session_id'")
    fields: dict[str, Any] = {}
    extra = dict(data)
    for name in DOCUMENTED_FIELDS:
        if name in extra:
            value = extra.pop(name)
            if not isinstance(value, _KINDS[name]):
                raise invalid(f"{name} is a {type(value).__name__}")
            fields[name] = value
    return AgentSessionResponse(**fields, extra=extra, http=info)
