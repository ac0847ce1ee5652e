"""The one bridge to the generated package (`somia_api`).

Only this module imports the generated package, and it takes one module of it:
`somia_api.facts`, which `make generate` compiles from the document: the request options
(TypedDicts), their checks, the answer's classes, the operations (paths, statuses) and the
parameters (names, places, checks). They are plain Python, cheap to import, loaded with
`somia`.

Why nothing else: the rest of `somia_api` is openapi-python-client's output, a supported
low-level client of its own (docs/generated-client.md). Its endpoint functions build a
request from its model classes and send it themselves, while the SDK has its own send loop
(retries, streams, deadlines); what the SDK needs of a route is a fact of the document,
already in `facts`. The one rule the two share, how a path parameter is quoted
(`quote(str(value), safe="")`), is held to the generated client's by tests/test_bridge.py.

Everything raised here is a `somia` error, or a TypeError naming a bad argument.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import quote

from somia_api import facts as _facts
from somia_api.facts import OPERATIONS as OPERATIONS
from somia_api.facts import AgentExecutionRequestFields as AgentExecutionRequestFields
from somia_api.facts import AgentExecutionRequestOptions as AgentExecutionRequestOptions
from somia_api.facts import AgentSessionResponseFields as AgentSessionResponseFields

# The request body of both session operations (AgentExecutionRequest).
BODY_FIELDS: dict[str, str] = _facts.AGENT_EXECUTION_REQUEST_FIELDS  # keyword -> wire name
check_body = _facts.check_agent_execution_request
check_parameter = _facts.check_parameter  # path and header parameters, by keyword
# The answer header that carries the session id: the one the answer's link to the next turn
# reads `session_id` from.
SESSION_ID_HEADER: str = _facts.LINK_HEADERS["session_id"]
# The header the document sends the API key in (clients may choose another).
if _facts.API_KEY_HEADER is None:
    raise ImportError("the API document declares no apiKey security scheme in a header")
API_KEY_HEADER: str = _facts.API_KEY_HEADER

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_CREATE, _INTERACT = _facts.OPERATIONS["createSession"], _facts.OPERATIONS["interactSession"]
# Both take the document's JSON request body (their `request` names its schema).
_JSON_BODY = {"Content-Type": "application/json"}
_KEY_HEADER = _facts.PARAMETERS["idempotency_key"][1]


@functools.lru_cache(maxsize=1024)
def _path(agent_id: int, session_id: str | None) -> str:
    """The path of a create (no session id) or continue call, its parameters quoted as the
    generated client quotes them: each one path segment."""
    if session_id is None:
        return _CREATE.path.format(agent_id=quote(str(agent_id), safe=""))
    return _INTERACT.path.format(
        agent_id=quote(str(agent_id), safe=""), session_id=quote(session_id, safe="")
    )


def _encode_body(body: dict[str, Any]) -> bytes:
    try:
        return _encode(body).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        for name, value in body.items():  # name the field that cannot be JSON
            try:
                _encode(value).encode()
            except (TypeError, ValueError, RecursionError):
                raise TypeError(f"{name} is not JSON-serialisable: {exc}") from None
        raise TypeError(f"the request is not JSON-serialisable: {exc}") from None


def build_request(
    agent_id: int,
    session_id: str | None,
    body: dict[str, Any],
    *,
    idempotency_key: str,
) -> tuple[str, dict[str, str], bytes]:
    """Path, headers and JSON body of a create (no session id) or continue call.

    `body` holds the checked fields to send (see `check_body`), by wire name.
    """
    headers = {**_JSON_BODY, _KEY_HEADER: idempotency_key}
    return _path(agent_id, session_id), headers, _encode_body(body)


def encode_json(value: Any, name: str) -> bytes:
    """`value` as compact UTF-8 JSON; TypeError naming `name` when it is not JSON."""
    try:
        return _encode(value).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"{name} is not JSON-serialisable: {exc}") from None


def idempotency_header() -> str:
    """The name of the header the document gives the idempotency key."""
    return _KEY_HEADER


def documented_statuses() -> frozenset[int]:
    """Every status the document lists for an operation."""
    return frozenset(code for op in OPERATIONS.values() for code in op.statuses)
