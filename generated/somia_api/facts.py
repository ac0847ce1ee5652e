"""Facts of the Somia Agent API, compiled from openapi/somia.yaml by `make generate`.

GENERATED CODE: DO NOT EDIT. Edit the document and run `make generate`.
"""

# ruff: noqa
from __future__ import annotations

import copy
import decimal
import math
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from typing import Any, ClassVar, Literal, NamedTuple, NoReturn, Required, Self
from typing import TypedDict

import attrs

Check = Callable[[Any, str], Any]


class Operation(NamedTuple):
    """One operation of the document."""

    method: str
    path: str
    request: str | None  # the JSON request body's schema
    answer: str | None  # the JSON 200 answer's schema
    statuses: tuple[int, ...]  # every documented status


def _kind(v: Any) -> str:
    return type(v).__name__


def _any(v: Any, name: str) -> Any:
    return v


def _is(v: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(v, str)
    if kind == "boolean":
        return v is True or v is False
    if kind == "null":
        return v is None
    if isinstance(v, bool):
        return False
    if kind == "integer":
        return isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    if kind == "number":
        return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))
    if kind == "array":
        return isinstance(v, Iterable) and not isinstance(v, str | bytes | bytearray | Mapping)
    return isinstance(v, Mapping)  # object


def _typed(v: Any, name: str, kinds: tuple[str, ...], words: str) -> Any:
    for kind in kinds:
        if _is(v, kind):
            if kind == "array":
                return list(v)
            if kind == "object":
                return dict(v)
            return v
    if isinstance(v, float) and not math.isfinite(v) and ("number" in kinds or "integer" in kinds):
        raise ValueError(f"{name} must be a finite number, not {v}")
    raise TypeError(f"{name} must be {words}, not {_kind(v)}")


def _same(a: Any, b: Any) -> bool:
    return a == b and (a is True or a is False) == (b is True or b is False)


def _enum(v: Any, name: str, allowed: tuple[Any, ...]) -> None:
    if not any(_same(v, a) for a in allowed):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {v!r}")


def _range(v: Any, name: str, low: Any, high: Any, exclusive: bool) -> None:
    if not _is(v, "number"):
        return
    if low is not None and (v <= low if exclusive else v < low):
        raise ValueError(f"{name} must be {'above' if exclusive else 'at least'} {low}, not {v}")
    if high is not None and (v >= high if exclusive else v > high):
        raise ValueError(f"{name} must be {'below' if exclusive else 'at most'} {high}, not {v}")


def _multiple(v: Any, name: str, step: Any) -> None:
    # Exact arithmetic: in floats 19.99 / 0.01 is not whole, and 3 * 10**17 + 1 / 3 is.
    if _is(v, "number") and decimal.Decimal(str(v)) % decimal.Decimal(str(step)) != 0:
        raise ValueError(f"{name} must be a multiple of {step}, not {v}")


def _length(v: Any, name: str, low: int, high: int | None, unit: str, kind: type[Sized]) -> None:
    if isinstance(v, kind) and not (low <= len(v) and (high is None or len(v) <= high)):
        bound = f"at least {low}" if high is None else f"{low} to {high}"
        raise ValueError(f"{name} must have {bound} {unit}, not {len(v)}")


def _pattern(v: Any, name: str, regex: re.Pattern[str], pattern: str) -> None:
    if isinstance(v, str) and not regex.search(v):
        raise ValueError(f"{name} must match the pattern {pattern!r}")


def _items(v: Any, name: str, check: Check) -> Any:
    if not isinstance(v, list):
        return v
    return [check(item, f"{name}[{i}]") for i, item in enumerate(v)]


def _fields(v: Any, name: str, known: dict[str, Check], required: tuple[str, ...], extra: Check | None) -> Any:
    if not isinstance(v, dict):
        return v
    out = {}
    for key, item in v.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, not {_kind(key)}")
        check = known.get(key, extra)
        if check is None:
            raise ValueError(f"{name} has an unknown key {key!r}")
        out[key] = check(item, f"{name}[{key!r}]")
    for key in required:
        if key not in out:
            raise ValueError(f"{name} lacks the required key {key!r}")
    return out


def _keys(v: Any, name: str) -> None:
    if isinstance(v, dict):
        for key in v:
            if not isinstance(key, str):
                raise TypeError(f"{name} keys must be str, not {_kind(key)}")


def _oneof(v: Any, name: str, checks: tuple[Check, ...]) -> Any:
    passed: list[Any] = []
    problems: list[Exception] = []
    for check in checks:
        try:
            passed.append(check(v, name))
        except (TypeError, ValueError) as exc:
            problems.append(exc)
    if len(passed) == 1:
        return passed[0]
    if passed:
        raise ValueError(f"{name} matches more than one of its documented forms")
    _fail(problems)


def _anyof(v: Any, name: str, checks: tuple[Check, ...]) -> Any:
    problems: list[Exception] = []
    for check in checks:
        try:
            return check(v, name)
        except (TypeError, ValueError) as exc:
            problems.append(exc)
    _fail(problems)


def _fail(problems: Sequence[Exception]) -> NoReturn:
    if all(isinstance(p, TypeError) for p in problems):
        raise TypeError(" or ".join(str(p) for p in problems))
    raise next(p for p in problems if not isinstance(p, TypeError))


def _user_level() -> int:
    # Point a warning at the caller's line, however deep in the SDK it was raised.
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(("somia", "attr")):
        frame, level = frame.f_back, level + 1
    return level


def _check_body(
    options: Mapping[str, Any],
    table: dict[str, tuple[str, Check]],
    required: tuple[str, ...],
    deprecated: frozenset[str],
) -> dict[str, Any]:
    body = {}
    for key, value in options.items():
        if value is None:  # None: not sent
            continue
        try:
            wire, check = table[key]
        except KeyError:
            raise TypeError(f"unexpected keyword argument {key!r}") from None
        body[wire] = check(value, key)
    for key in required:
        if options.get(key) is None:
            raise TypeError(f"missing required keyword argument {key!r}")
    for key in deprecated:
        if options.get(key) is not None:
            warnings.warn(f"{key} is deprecated", DeprecationWarning, stacklevel=_user_level())
    return body


class ShapeError(ValueError):
    """An answer's documented field has the wrong type."""


def _shape(data: Any, kinds: tuple[type, ...], where: str) -> None:
    if not isinstance(data, kinds) or (isinstance(data, bool) and bool not in kinds):
        raise ShapeError(f"{where} is a {_kind(data)}")


Table = dict[str, tuple[str, tuple[type, ...] | None, Callable[[Any, str], Any] | None]]


def _parse(data: Any, table: Table, required: tuple[str, ...], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if type(data) is not dict:
        raise ShapeError(f"{where or 'the answer'} is a JSON {_kind(data)}, not an object")
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        spec = table.get(key)
        if spec is None:
            extra[key] = value
            continue
        attr, kinds, convert = spec
        if kinds is not None and (not isinstance(value, kinds) or (value.__class__ is bool and bool not in kinds)):
            raise ShapeError(f"{where}{key} is a {_kind(value)}")
        if convert is not None and value is not None:
            value = convert(value, f"{where}{key}.")
        fields[attr] = value
    for key in required:
        if key not in data:
            raise ShapeError(f"{where}{key} is missing")
    return fields, extra


def _list_of(kinds: tuple[type, ...] | None, convert: Callable[[Any, str], Any] | None) -> Any:
    def check(items: list[Any], where: str) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            if kinds is not None and (not isinstance(item, kinds) or (item.__class__ is bool and bool not in kinds)):
                raise ShapeError(f"{where[:-1]}[{i}] is a {_kind(item)}")
            out.append(item if convert is None else convert(item, f"{where[:-1]}[{i}]."))
        return out

    return check


def _dump(value: Any) -> Any:
    if isinstance(value, AnswerObject):
        return value.model_dump()
    if isinstance(value, list):
        return [_dump(item) for item in value]
    return value


@attrs.define(kw_only=True)
class AnswerObject:
    """Base of the answer classes: documented fields are attributes, the others are in `extra`."""

    _table: ClassVar[Table] = {}
    _required: ClassVar[tuple[str, ...]] = ()

    extra: dict[str, Any] = attrs.field(factory=dict)
    _sent: dict[str, Any] | None = attrs.field(default=None, alias="sent", eq=False, repr=False)

    @classmethod
    def from_data(cls, data: Any, where: str = "", **context: Any) -> Self:
        """The object for a decoded JSON value; ShapeError when a documented field is mistyped."""
        fields, extra = _parse(data, cls._table, cls._required, where)
        return cls(**fields, extra=extra, sent=data, **context)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object exactly as the server sent it (built from the fields otherwise)."""
        if self._sent is not None:
            return dict(self._sent)
        return {key: value for key, value in self.model_dump().items() if value is not None}

    def model_dump(self) -> dict[str, Any]:
        """Every documented field (absent ones at their default) and the unknown ones."""
        dumped = dict(self.extra)
        for wire, (attr, _, _) in self._table.items():
            dumped[wire] = _dump(getattr(self, attr))
        return dumped


_K0 = re.compile("^[\\u0021-\\u007e]{1,}\\Z")
_K1 = re.compile("[^\\u0009-\\u000d\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000\\ufeff]")


def _c1(v: Any, name: str) -> Any:
    if v.__class__ is not int:
        v = _typed(v, name, ("integer",), "an integer")
    _range(v, name, 1, 9223372036854775807, False)
    return v


def _c2(v: Any, name: str) -> Any:
    if v.__class__ is not str and not isinstance(v, str):
        raise TypeError(f"{name} must be a string, not {_kind(v)}")
    _length(v, name, 1, 255, "characters", str)
    _pattern(v, name, _K0, "^[!-~]+$")
    return v


def _c3(v: Any, name: str) -> Any:
    if v.__class__ is not str and not isinstance(v, str):
        raise TypeError(f"{name} must be a string, not {_kind(v)}")
    _length(v, name, 1, 256, "characters", str)
    return v


def _c4(v: Any, name: str) -> Any:
    if v is not True and v is not False:
        raise TypeError(f"{name} must be a bool, not {_kind(v)}")
    return v


def _c5(v: Any, name: str) -> Any:
    if v.__class__ is not int:
        v = _typed(v, name, ("integer",), "an integer")
    return v


def _c6(v: Any, name: str) -> Any:
    if v.__class__ is not str and not isinstance(v, str):
        raise TypeError(f"{name} must be a string, not {_kind(v)}")
    _pattern(v, name, _K1, "\\S")
    return v


def _c7(v: Any, name: str) -> Any:
    if _is(v, "integer"):
        v = _c5(v, name)
    elif _is(v, "string"):
        v = _c6(v, name)
    else:
        v = _typed(v, name, ("integer", "string"), "an integer or a string")
    return v


def _c8(v: Any, name: str) -> Any:
    if v.__class__ is not str and not isinstance(v, str):
        raise TypeError(f"{name} must be a string, not {_kind(v)}")
    return v


def _c9(v: Any, name: str) -> Any:
    v = _typed(v, name, ("array",), "a sequence")
    v = _items(v, name, _c8)
    return v


def _c10(v: Any, name: str) -> Any:
    v = _typed(v, name, ("object",), "a mapping")
    _keys(v, name)
    return v


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


_AGENT_EXECUTION_REQUEST: dict[str, tuple[str, Check]] = {
    "input_data": ("input_data", _any),
    "stream": ("stream", _c4),
    "pipeline_version": ("pipeline_version", _c7),
    "trace_enabled": ("trace_enabled", _c4),
    "test": ("test", _c4),
    "source": ("source", _c8),
    "tags": ("tags", _c9),
    "environment": ("environment", _c8),
    "end_user_id": ("end_user_id", _c8),
    "metadata": ("metadata", _c10),
}
AGENT_EXECUTION_REQUEST_DEPRECATED: frozenset[str] = frozenset(())
# keyword -> wire name of each body field
AGENT_EXECUTION_REQUEST_FIELDS: dict[str, str] = {k: wire for k, (wire, _) in _AGENT_EXECUTION_REQUEST.items()}


def check_agent_execution_request(options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body of AgentExecutionRequest for these options (by keyword), each checked against
    the document; TypeError or ValueError names the option at fault.
    """
    return _check_body(options, _AGENT_EXECUTION_REQUEST, (), AGENT_EXECUTION_REQUEST_DEPRECATED)


@attrs.define(kw_only=True)
class AgentExecutionRequestFields:
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

    def __attrs_post_init__(self) -> None:
        checked = self.to_dict()
        for attr, (wire, _) in _AGENT_EXECUTION_REQUEST.items():
            if wire in checked:
                setattr(self, attr, checked[wire])

    def to_dict(self) -> dict[str, Any]:
        """The JSON body as sent: fields that are None are left out."""
        options = {attr: getattr(self, attr) for attr in _AGENT_EXECUTION_REQUEST}
        return check_agent_execution_request(options)


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


AgentSessionResponseFields._table = {
    "session_id": ("session_id", (str,), None),
    "message": (
        "message",
        (
            str,
            type(None),
        ),
        None,
    ),
    "history": ("history", (list,), None),
    "metadata": ("metadata", (dict,), None),
    "pending": ("pending", (bool,), None),
    "finished": ("finished", (bool,), None),
}
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

# Path and header parameters, by keyword: checked like body fields.
PARAMETERS: dict[str, Check] = {
    "agent_id": _c1,
    "idempotency_key": _c2,
    "session_id": _c3,
}


def check_parameter(name: str, value: Any) -> Any:
    """`value` checked against the document's schema of parameter `name`."""
    return PARAMETERS[name](value, name)
