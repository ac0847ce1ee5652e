"""The SDK's public data types: the request, the answer and a streamed event."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, NamedTuple

import attrs
import httpx

from somia._errors import server_message

EventType = Literal["chunk", "error", "end"]


def _any(name: str, value: Any) -> Any:
    return value  # input_data: any JSON value, checked when the body is encoded


def _bool(name: str, value: Any) -> bool:
    if value is not True and value is not False:
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return bool(value)


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
    return value


def _version(name: str, value: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"{name} must be an int or a str, not {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{name} must not be blank")
    return value


def _tags(name: str, value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of str, not {type(value).__name__}")
    tags = list(value)
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"{name} must be a list of str; found {type(tag).__name__}")
    return tags


def _metadata(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, not {type(value).__name__}")
    if not all(isinstance(key, str) for key in value):
        raise TypeError(f"{name} keys must be str")
    return dict(value)


def _tags_or_none(value: Iterable[str] | None) -> list[str] | None:
    return None if value is None else _tags("tags", value)


_FIELD_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "input_data": _any,
    "stream": _bool,
    "pipeline_version": _version,
    "trace_enabled": _bool,
    "test": _bool,
    "source": _str,
    "tags": _tags,
    "environment": _str,
    "end_user_id": _str,
    "metadata": _metadata,
}


def check_turn(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The request-body fields checked and normalised, None ones left out.

    Raises TypeError or ValueError naming the field (or the unknown keyword).
    """
    checked = {}
    for name, value in fields.items():
        if value is None:
            continue
        check = _FIELD_CHECKS.get(name)
        if check is None:
            raise TypeError(f"unexpected keyword argument {name!r}")
        checked[name] = check(name, value)
    return checked


@attrs.define(kw_only=True)
class AgentExecutionRequest:
    """One turn of an agent: the body of a create or continue call.

    Fields left as None are not sent. Construction checks every field's type, so a bad
    argument fails here, before any request.
    """

    input_data: Any = None
    stream: bool = False
    pipeline_version: int | str = "production"
    trace_enabled: bool = False
    test: bool = False
    source: str | None = None
    tags: list[str] | None = attrs.field(default=None, converter=_tags_or_none)
    environment: str | None = None
    end_user_id: str | None = None
    metadata: Mapping[str, Any] | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("stream", "pipeline_version", "trace_enabled", "test"):
            if getattr(self, name) is None:  # None means "not sent" only for optional fields
                raise TypeError(f"{name} must not be None")
        check_turn(attrs.asdict(self, recurse=False))

    def to_dict(self) -> dict[str, Any]:
        """The JSON body as sent: fields that are None are left out."""
        body = {
            "input_data": self.input_data,
            "stream": self.stream,
            "pipeline_version": self.pipeline_version,
            "trace_enabled": self.trace_enabled,
            "test": self.test,
            "source": self.source,
            "tags": self.tags,
            "environment": self.environment,
            "end_user_id": self.end_user_id,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }
        return {key: value for key, value in body.items() if value is not None}

    def model_dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """The 0.1.0a1 (pydantic) spelling of `to_dict()`."""
        if exclude_none:
            return self.to_dict()
        return attrs.asdict(self, recurse=False)


@attrs.frozen
class ResponseInfo:
    """The HTTP side of an answer: status, headers and the server's request id."""

    status_code: int
    headers: httpx.Headers = attrs.field(repr=False)

    @property
    def request_id(self) -> str | None:
        """The server's `X-Request-Id`, if it sent one."""
        value: str | None = self.headers.get("x-request-id")
        return value

    @classmethod
    def from_response(cls, response: httpx.Response) -> ResponseInfo:
        """The info of an httpx response."""
        return cls(response.status_code, response.headers)


@attrs.define(kw_only=True)
class AgentSessionResponse:
    """The session after a turn.

    Fields the server adds beyond the documented ones are kept in `extra` and can also be
    read as attributes. `http` gives the status, headers and request id of the answer.
    """

    session_id: str
    message: str | None = None
    history: list[Any] = attrs.field(factory=list)
    metadata: dict[str, Any] = attrs.field(factory=dict)
    pending: bool = False
    finished: bool = False
    extra: dict[str, Any] = attrs.field(factory=dict)
    http: ResponseInfo | None = attrs.field(default=None, eq=False, repr=False)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: unknown fields read as attributes. `extra`
        # itself is unset while copy/pickle rebuild the object: never recurse into it.
        if not name.startswith("_") and name != "extra":
            try:
                return object.__getattribute__(self, "extra")[name]
            except (KeyError, AttributeError):
                pass
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def request_id(self) -> str | None:
        """The server's id for the request that produced this answer, if it sent one."""
        return self.http.request_id if self.http else None

    def to_dict(self) -> dict[str, Any]:
        """The answer as the server's JSON object, unknown fields included."""
        return {
            **self.extra,
            "session_id": self.session_id,
            "message": self.message,
            "history": self.history,
            "metadata": self.metadata,
            "pending": self.pending,
            "finished": self.finished,
        }

    # The 0.1.0a1 answer was a pydantic model: keep its spelling working.
    model_dump = to_dict


class StreamEvent(NamedTuple):
    """One streamed event: `event_type` is "chunk", "error" or "end"; `data` is its JSON.

    A named tuple: cheap to build for every event, and `kind, data = event` works.
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
