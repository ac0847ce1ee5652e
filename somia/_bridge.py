"""The one bridge to the generated low-level client (`somia_api`).

Only this module imports the generated package: paths, parameter quoting, header names, the
request's defaults and the answer's fields all come from the OpenAPI document through it.
It is imported on the first call rather than with `somia`, and what it says about a route is
kept, so that a call only merges dicts and encodes JSON. Everything raised here is a
`somia` error, or a TypeError naming a bad argument.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from somia._errors import InvalidResponseError
from somia._models import AgentSessionResponse, ResponseInfo

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_KEY_MARK = "\x00key"  # stands in for the idempotency key while a route is worked out


class _Wire(NamedTuple):
    """What the generated client knows, read once."""

    defaults: dict[str, Any]  # the request body's documented defaults
    create: Callable[..., dict[str, Any]]
    interact: Callable[..., dict[str, Any]]


@functools.cache
def wire() -> _Wire:
    """The generated client's facts (imports `somia_api` on first use)."""
    from somia_api.api.sessions import create_session, interact_session
    from somia_api.models import AgentExecutionRequest

    return _Wire(
        defaults=AgentExecutionRequest().to_dict(),
        create=create_session._get_kwargs,
        interact=interact_session._get_kwargs,
    )


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as `make generate` normalised it (JSON, shipped in the wheel)."""
    from importlib.resources import files

    text = files("somia_api").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.lru_cache(maxsize=1024)
def _route(agent_id: int, session_id: str | None) -> tuple[str, dict[str, str], str]:
    """Path, fixed headers and the idempotency header's name of one operation's call."""
    from somia_api.models import AgentExecutionRequest

    facts = wire()
    body = AgentExecutionRequest()
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

    `fields` are checked body fields (see `check_turn`); the document's defaults fill in
    the others.
    """
    path, fixed, key_header = _route(agent_id, session_id)
    headers = {**fixed, key_header: idempotency_key}
    return path, headers, _encode_body({**wire().defaults, **fields})


_KINDS: dict[str, tuple[type, ...]] = {
    "session_id": (str,),
    "message": (str, type(None)),
    "history": (list,),
    "metadata": (dict,),
    "pending": (bool,),
    "finished": (bool,),
}


def _invalid(why: str, info: ResponseInfo, raw: bytes) -> InvalidResponseError:
    return InvalidResponseError(
        f"the server's answer is not a session ({why})",
        status_code=info.status_code,
        body=raw.decode("utf-8", errors="replace"),
    )


def parse_session(data: Any, info: ResponseInfo, *, raw: bytes = b"") -> AgentSessionResponse:
    """The typed answer for a decoded JSON session object; InvalidResponseError otherwise.

    The generated model's `from_dict` checks no types and raises KeyError; this checks each
    documented field (the hot path of every call) and keeps unknown fields.
    """
    if type(data) is not dict:
        raise _invalid(f"a JSON {type(data).__name__}, not an object", info, raw)
    if "session_id" not in data:
        raise _invalid("missing 'session_id'", info, raw)
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    kinds = _KINDS
    for name, value in data.items():
        kind = kinds.get(name)
        if kind is None:
            extra[name] = value
        elif isinstance(value, kind):
            fields[name] = value
        else:
            raise _invalid(f"{name} is a {type(value).__name__}", info, raw)
    return AgentSessionResponse(**fields, extra=extra, http=info)
