"""The SDK's public data types: the request, the answer and a streamed event.

Their documented fields come from the OpenAPI document, compiled by `make generate` into
`somia_api.facts` (see `somia._bridge`); this module adds what the SDK promises around them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Self

import attrs
import httpx

from somia._bridge import AgentExecutionRequestFields, AgentSessionResponseFields
from somia._config import RETRY_ATTEMPT_HEADER
from somia._errors import InvalidResponseError, server_message
from somia._http import headers_of
from somia._shapes import ShapeError

EventType = Literal["chunk", "error", "end", "unknown"]


@attrs.define(kw_only=True)
class AgentExecutionRequest(AgentExecutionRequestFields):
    """One turn of an agent: the body of a create or continue call.

    Its fields are the document's request fields. Fields left as None are not sent (the
    server then applies the document's default). Construction checks every field against the
    document, so a bad argument fails here, before any request.
    """

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The 0.1.0a1 (pydantic) spelling of `to_dict()`; every field unless `exclude_none`."""
        if exclude_none:
            return self.to_dict()
        return attrs.asdict(self, recurse=False)


@attrs.frozen
class ResponseInfo:
    """The HTTP side of an answer: status, headers, the server's request id, and how many
    requests the call sent to get it (`attempts`: 1, plus one per retry the client made).

    `headers` are `httpx.Headers` whichever library answered (httpx, or a given httpx2
    client)."""

    status_code: int
    headers: httpx.Headers = attrs.field(repr=False)
    attempts: int = 1

    @property
    def request_id(self) -> str | None:
        """The server's `X-Request-Id`, if it sent one."""
        value: str | None = self.headers.get("x-request-id")
        return value

    @classmethod
    def from_response(cls, response: httpx.Response) -> ResponseInfo:
        """The info of an httpx or httpx2 response; `attempts` is read off the request that
        got it (the SDK numbers each retry in a header)."""
        try:
            retry = response.request.headers.get(RETRY_ATTEMPT_HEADER)
        except RuntimeError:  # a response built without a request
            retry = None
        attempts = int(retry) + 1 if retry and retry.isdigit() else 1
        return cls(response.status_code, headers_of(response), attempts)


@attrs.define(kw_only=True)
class AgentSessionResponse(AgentSessionResponseFields):
    """The session after a turn.

    Its attributes are the answer's documented fields; an absent one reads as its documented
    default, else None. Fields the server adds beyond the documented ones are kept in
    `extra` and can also be read as attributes. `to_dict()` gives the JSON object exactly as
    the server sent it; `model_dump()` every documented field.

    Calls return a `SessionAnswer`, whose `http` is always there; a session built from a
    streamed chunk (`event.chunk`) or by hand carries only the `http` it was given.
    """

    _http: ResponseInfo | None = attrs.field(default=None, alias="http", eq=False, repr=False)

    if not TYPE_CHECKING:  # so that type checkers report a misspelled or removed field

        def __getattr__(self, name: str) -> Any:
            # Only called when normal lookup fails: unknown fields read as attributes.
            # `extra` itself is unset while copy/pickle rebuild the object: never recurse.
            if not name.startswith("_") and name != "extra":
                try:
                    return object.__getattribute__(self, "extra")[name]
                except (KeyError, AttributeError):
                    pass
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def http(self) -> ResponseInfo | None:
        """The status, headers and request id of the HTTP answer it came in, if it has them."""
        return self._http

    @property
    def request_id(self) -> str | None:
        """The server's id for the request that produced this answer, if it sent one."""
        return self._http.request_id if self._http else None

    @classmethod
    def from_data_or_error(
        cls, data: Any, info: ResponseInfo | None = None, *, raw: bytes | None = None
    ) -> Self:
        """The typed answer for a decoded JSON session object; InvalidResponseError otherwise.

        `raw` is the body quoted by the error (the JSON of `data` when not given).
        """
        try:
            return cls.from_data(data, http=info)
        except ShapeError as exc:
            body = raw.decode("utf-8", errors="replace") if raw is not None else _json_text(data)
            raise InvalidResponseError(
                f"the server's answer is not a session ({exc})",
                status_code=info.status_code if info else 200,
                body=body,
            ) from None


@attrs.define(kw_only=True)
class SessionAnswer(AgentSessionResponse):
    """The session a call returned (`create_session`, `run`, `final_response()`, ...): an
    `AgentSessionResponse` whose `http` is always there, for type checkers too."""

    @property
    def http(self) -> ResponseInfo:
        """The status, headers and request id of the HTTP answer it came in."""
        http = self._http
        if http is None:  # only made by the SDK, from an HTTP answer
            raise AttributeError("a SessionAnswer is made from an HTTP answer: http is missing")
        return http


def parse_session(data: Any, info: ResponseInfo, *, raw: bytes | None = None) -> SessionAnswer:
    """The typed answer for a decoded JSON session object; InvalidResponseError otherwise."""
    return SessionAnswer.from_data_or_error(data, info, raw=raw)


def _json_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


class UnknownEvent(NamedTuple):
    """The data of a streamed event of a kind this SDK does not know (`event_type`
    "unknown"): a server may add kinds later, such as progress or usage reports.

    `name` is the event's SSE name ("message" when it had none); `data` its decoded JSON,
    or its text when that is not JSON.
    """

    name: str
    data: Any


class StreamEvent(NamedTuple):
    """One streamed event: `event_type` is "chunk", "error" or "end", with `data` its JSON,
    or "unknown" for a kind this SDK does not know, with `data` an `UnknownEvent`.

    A named tuple: cheap to build for every event, and `kind, data = event` works. Events of
    unknown kinds are never answer text nor errors: `text_deltas()` and `final_response()`
    skip them.
    """

    event_type: EventType
    data: Any

    def model_dump(self) -> dict[str, Any]:
        """The event as a dict (the 0.1.0a1 pydantic spelling)."""
        return {"event_type": self.event_type, "data": self.data}

    @property
    def is_chunk(self) -> bool:
        """The event carries the session so far."""
        return self.event_type == "chunk"

    @property
    def chunk(self) -> AgentSessionResponse | None:
        """A chunk's data as a typed answer (parsed when read); None for other events.

        Raises InvalidResponseError, quoting this event's data, when a documented field has
        the wrong type.
        """
        if self.event_type != "chunk":
            return None
        return AgentSessionResponse.from_data_or_error(self.data)

    @property
    def session_id(self) -> str | None:
        """The chunk's session id, if it carries one."""
        return self._field("session_id")

    @property
    def message(self) -> str | None:
        """The chunk's message (the whole answer so far), if it carries one."""
        return self._field("message")

    @property
    def error_message(self) -> str | None:
        """The error event's message, if this is one."""
        if self.event_type != "error":
            return None
        return server_message(self.data) or None

    def _field(self, name: str) -> str | None:
        if isinstance(self.data, dict):
            value = self.data.get(name)
            return value if isinstance(value, str) else None
        return None
