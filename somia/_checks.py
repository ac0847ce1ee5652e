"""Request checks compiled from the document's schemas: every value checked before a request.

`make generate` writes each request schema (body fields, path and header parameters) into
`somia_api.facts` as data, its `$ref`s inlined; importing that module compiles each schema
here, once, into a plain function `check(value, name) -> value` (the value as sent: a
sequence becomes a list, a mapping a dict). A call only runs those functions.

Enforced: `type`, `format` (`int32`, `int64`: their ranges), `minimum`, `maximum`,
`minLength`, `maxLength`, `pattern` (ECMA-262, see `somia._patterns`), `items`,
`properties`, `required`, `additionalProperties` and `oneOf`. Annotations (`description`,
`default`, `examples`, `x-...`) constrain nothing. Any other keyword raises `SchemaError`,
so `make generate` refuses a document that uses one rather than let it pass unchecked.
Errors are TypeError (a wrong type) or ValueError (a wrong value), naming the value's path.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import attrs

from somia._document import ANNOTATIONS
from somia._patterns import PatternError, compile_pattern

__all__ = ["Body", "Check", "RequestFields", "SchemaError", "compile_check"]

Check = Callable[[Any, str], Any]

_ENFORCED = frozenset(
    {"type", "format", "minimum", "maximum", "minLength", "maxLength", "pattern", "items",
     "properties", "required", "additionalProperties", "oneOf"}
)  # fmt: skip
_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a bool",
    "null": "None",
    "array": "a sequence",
    "object": "a mapping",
}


class SchemaError(ValueError):
    """A request schema uses what the compiled checks do not enforce."""


def _kind(value: Any) -> str:
    return type(value).__name__


def _is(value: Any, kind: str) -> bool:
    """Whether a Python value is of a JSON type (as the SDK will encode it)."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return value is True or value is False
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    if kind == "array":
        return isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping)
    return isinstance(value, Mapping)  # object


def _any(value: Any, name: str) -> Any:
    return value


def _typed(kinds: list[str]) -> Check:
    """The type check of `type`: the value, a sequence as a list and a mapping as a dict."""
    words = " or ".join(_WORDS[kind] for kind in kinds)
    numeric = {"integer", "number"} & set(kinds)
    if kinds == ["string"]:

        def string(value: Any, name: str) -> Any:
            if value.__class__ is not str and not isinstance(value, str):
                raise TypeError(f"{name} must be a string, not {_kind(value)}")
            return value

        return string
    if kinds == ["boolean"]:

        def boolean(value: Any, name: str) -> Any:
            if value is not True and value is not False:
                raise TypeError(f"{name} must be a bool, not {_kind(value)}")
            return value

        return boolean

    def typed(value: Any, name: str) -> Any:
        if value.__class__ is int and numeric:  # the common case, at once
            return value
        for kind in kinds:
            if _is(value, kind):
                if kind == "array":
                    return list(value)
                if kind == "object":
                    return dict(value)
                return value
        if numeric and isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value}")
        raise TypeError(f"{name} must be {words}, not {_kind(value)}")

    return typed


def _range(low: Any, high: Any) -> Check:
    def in_range(value: Any, name: str) -> Any:
        if _is(value, "number"):
            if low is not None and value < low:
                raise ValueError(f"{name} must be at least {low}, not {value}")
            if high is not None and value > high:
                raise ValueError(f"{name} must be at most {high}, not {value}")
        return value

    return in_range


def _length(low: int, high: int | None) -> Check:
    def length(value: Any, name: str) -> Any:
        if isinstance(value, str) and not (
            low <= len(value) and (high is None or len(value) <= high)
        ):
            bound = f"at least {low}" if high is None else f"{low} to {high}"
            raise ValueError(f"{name} must have {bound} characters, not {len(value)}")
        return value

    return length


def _pattern(pattern: str) -> Check:
    regex = compile_pattern(pattern)

    def matches(value: Any, name: str) -> Any:
        if isinstance(value, str) and regex.search(value) is None:
            raise ValueError(f"{name} must match the pattern '{pattern}'")
        return value

    return matches


def _items(check: Check) -> Check:
    def items(value: Any, name: str) -> Any:
        if not isinstance(value, list):
            return value
        return [check(item, f"{name}[{i}]") for i, item in enumerate(value)]

    return items


def _fields(known: dict[str, Check], required: tuple[str, ...], extra: Check | None) -> Check:
    def fields(value: Any, name: str) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):  # json.dumps would turn 1 into "1" silently
                raise TypeError(f"{name} keys must be str, not {_kind(key)}")
            check = known.get(key, extra)
            if check is None:
                raise ValueError(f"{name} has an unknown key {key!r}")
            out[key] = check(item, f"{name}[{key!r}]")
        for key in required:
            if key not in out:
                raise ValueError(f"{name} lacks the required key {key!r}")
        return out

    return fields


def _one_of(members: list[tuple[list[str], Check]]) -> Check:
    kinds = [kind for member_kinds, _ in members for kind in member_kinds]
    distinct = len(set(kinds)) == len(kinds) and len({"integer", "number"} & set(kinds)) < 2
    if distinct and all(member_kinds for member_kinds, _ in members):
        # Members of distinct JSON types: the value's type picks the one member that can
        # match (exactly oneOf's answer), without trying the others.
        pairs = [(kind, check) for member_kinds, check in members for kind in member_kinds]

        def by_type(value: Any, name: str) -> Any:
            for kind, check in pairs:
                if _is(value, kind):
                    return check(value, name)
            return fallback(value, name)  # the type error, or a non-finite number's

        fallback = _typed(kinds)
        return by_type

    def one_of(value: Any, name: str) -> Any:
        passed: list[Any] = []
        problems: list[Exception] = []
        for _, check in members:
            try:
                passed.append(check(value, name))
            except (TypeError, ValueError) as exc:
                problems.append(exc)
        if len(passed) == 1:
            return passed[0]
        if passed:
            raise ValueError(f"{name} matches more than one of its documented forms")
        if all(isinstance(problem, TypeError) for problem in problems):
            raise TypeError(" or ".join(str(problem) for problem in problems))
        raise next(problem for problem in problems if not isinstance(problem, TypeError))

    return one_of


def _chain(checks: list[Check]) -> Check:
    """The checks one after the other (unrolled for the common short chains)."""
    if not checks:
        return _any
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks

        def two(value: Any, name: str) -> Any:
            return second(first(value, name), name)

        return two
    head, tail = checks[0], _chain(checks[1:])

    def more(value: Any, name: str) -> Any:
        return tail(head(value, name), name)

    return more


def _types(schema: Any) -> list[str]:
    kind = schema.get("type") if isinstance(schema, dict) else None
    return [kind] if isinstance(kind, str) else list(kind or [])


def compile_check(schema: Any, where: str) -> Check:
    """The check of a schema (its `$ref`s inlined); `where` names it in a SchemaError."""
    if schema is True or schema == {}:
        return _any
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: unsupported schema {schema!r}")
    unknown = sorted(
        key for key in set(schema) - _ENFORCED - ANNOTATIONS if not key.startswith("x-")
    )
    if unknown:
        raise SchemaError(
            f"{where} uses {', '.join(unknown)}, which the compiled request checks do not "
            "enforce: teach somia/_checks.py to enforce it"
        )
    if "format" in schema and schema["format"] not in _FORMATS:
        raise SchemaError(
            f"{where} uses format {schema['format']!r}, which the checks do not enforce"
        )
    kinds = _types(schema)
    checks: list[Check] = []
    if "oneOf" in schema:
        members = [
            (_types(member), compile_check(member, f"{where}.oneOf[{i}]"))
            for i, member in enumerate(schema["oneOf"])
        ]
        checks.append(_one_of(members))
    if kinds:
        checks.append(_typed(kinds))
    low, high = _FORMATS.get(schema.get("format", ""), (None, None))
    low, high = schema.get("minimum", low), schema.get("maximum", high)
    if low is not None or high is not None:
        checks.append(_range(low, high))
    if "minLength" in schema or "maxLength" in schema:
        checks.append(_length(schema.get("minLength", 0), schema.get("maxLength")))
    if "pattern" in schema:
        try:
            checks.append(_pattern(schema["pattern"]))
        except PatternError as exc:
            raise SchemaError(f"{where}: {exc}") from None
    if "items" in schema:
        checks.append(_items(compile_check(schema["items"], f"{where}.items")))
    if "object" in kinds or "properties" in schema or "additionalProperties" in schema:
        known = {
            key: compile_check(sub, f"{where}.{key}")
            for key, sub in schema.get("properties", {}).items()
        }
        extra = schema.get("additionalProperties", True)
        extra_check = None if extra is False else compile_check(extra, f"{where}.*")
        checks.append(_fields(known, tuple(schema.get("required", ())), extra_check))
    return _chain(checks)


def _user_level() -> int:
    # Point a warning at the caller's line, however deep in the SDK it was raised.
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        ("somia", "attr")
    ):
        frame, level = frame.f_back, level + 1
    return level


class Body:
    """The fields of one request body, by keyword: their wire names and compiled checks."""

    def __init__(
        self,
        name: str,
        fields: dict[str, tuple[str, Any]],
        *,
        required: tuple[str, ...] = (),
        deprecated: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.wire_names: dict[str, str] = {key: wire for key, (wire, _) in fields.items()}
        self._checks = {
            key: (wire, compile_check(schema, f"{name}.{wire}"))
            for key, (wire, schema) in fields.items()
        }
        self.required = required
        self.deprecated = frozenset(deprecated)

    def check(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body for these options (by keyword), each checked; None is not sent.

        TypeError or ValueError names the option at fault.
        """
        body = {}
        checks = self._checks
        for key, value in options.items():
            if value is None:
                continue
            try:
                wire, check = checks[key]
            except KeyError:
                raise TypeError(f"unexpected keyword argument {key!r}") from None
            body[wire] = check(value, key)
        for key in self.required:
            if options.get(key) is None:
                raise TypeError(f"missing required keyword argument {key!r}")
        for key in self.deprecated:
            if options.get(key) is not None:
                warnings.warn(f"{key} is deprecated", DeprecationWarning, stacklevel=_user_level())
        return body


@attrs.define(kw_only=True)
class RequestFields:
    """Base of the generated request classes: construction checks each field against the
    document; fields left as None are not sent."""

    _body: ClassVar[Body]

    def __attrs_post_init__(self) -> None:
        checked = self.to_dict()
        for attr, wire in self._body.wire_names.items():
            if wire in checked:
                setattr(self, attr, checked[wire])

    def to_dict(self) -> dict[str, Any]:
        """The JSON body as sent: fields that are None are left out."""
        return self._body.check({attr: getattr(self, attr) for attr in self._body.wire_names})
