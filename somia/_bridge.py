"""The one bridge to the generated low-level client (`somia_api`).

Only this module imports the generated package. Two kinds of facts come through it:

- `somia_api.facts`, which `make generate` compiles from the document: the request options
  (TypedDicts), their checks, the answer's classes and the documented statuses. They are
  plain Python, cheap to import, and loaded with `somia`.
- the generated endpoint modules, loaded on the first call: the path of each operation, how
  it quotes parameters and names headers. They are read through the endpoint's
  `_get_kwargs` (private to the generator, whose version is pinned), because it is the one
  place where the generated client turns arguments into a request; doing so once per route
  keeps the call path free of the generated model classes.

Everything raised here is a `somia` error, or a TypeError naming a bad argument.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from somia_api import facts as _facts
from somia_api.facts import OPERATIONS as OPERATIONS
from somia_api.facts import AgentExecutionRequestFields as AgentExecutionRequestFields
from somia_api.facts import AgentExecutionRequestOptions as AgentExecutionRequestOptions
from somia_api.facts import AgentSessionResponseFields as AgentSessionResponseFields
from somia_api.facts import AnswerObject as AnswerObject
from somia_api.facts import ShapeError as ShapeError

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
_KEY_MARK = "\x00key"  # stands in for the idempotency key while a route is worked out


class _Wire(NamedTuple):
    """What the generated client knows, read once."""

    create: Callable[..., dict[str, Any]]
    interact: Callable[..., dict[str, Any]]


@functools.cache
def wire() -> _Wire:
    """The generated client's facts (imports `somia_api` on first use)."""
    from somia_api.api.sessions import create_session, interact_session

    return _Wire(
        create=create_session._get_kwargs,
        interact=interact_session._get_kwargs,
    )


class _NoBody:
    """Stands in for the generated request model while a route is worked out."""

    def to_dict(self) -> dict[str, Any]:
        return {}


@functools.lru_cache(maxsize=1024)
def _route(agent_id: int, session_id: str | None) -> tuple[str, dict[str, str], str]:
    """Path, fixed headers and the idempotency header's name of one operation's call."""
    facts = wire()
    body = _NoBody()  # the body is encoded by the SDK; any required fields stay out of this
    if session_id is None:
        kwargs = facts.create(agent_id, body=body, idempotency_key=_KEY_MARK)
    else:
        kwargs = facts.interact(agent_id, session_id, body=body, idempotency_key=_KEY_MARK)
    headers = dict(kwargs["headers"])
    (key_header,) = (name for name, value in headers.items() if value == _KEY_MARK)
    del headers[key_header]
    return kwargs["url"], headers, key_header


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
    path, fixed, key_header = _route(agent_id, session_id)
    headers = {**fixed, key_header: idempotency_key}
    return path, headers, _encode_body(body)


def encode_json(value: Any, name: str) -> bytes:
    """`value` as compact UTF-8 JSON; TypeError naming `name` when it is not JSON."""
    try:
        return _encode(value).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"{name} is not JSON-serialisable: {exc}") from None


def idempotency_header() -> str:
    """The name of the header the document gives the idempotency key."""
    return _route(1, None)[2]


def documented_statuses() -> frozenset[int]:
    """Every status the document lists for an operation."""
    return frozenset(code for op in OPERATIONS.values() for code in op.statuses)
