"""Request validation of the fake server, by the OpenAPI document's own schemas.

Problems are reported the way FastAPI does (`{"loc": [...], "msg": ..., "type": ...}`), so
that a malformed request gets the document's `422` body. The rules are JSON Schema's (see
`_schema`): `true` is not an integer, `1.0` is, and `null` is not a string. A body must be
sent as one of the media types the document lists for it, and JSON nested more than
`MAX_JSON_DEPTH` levels deep, or holding a number no float can hold (`1e999`), is refused as
malformed (it could not be stored and answered as JSON).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from somia._document import Document
from somia._nesting import MAX_JSON_DEPTH, nested_deeper_than
from somia.testing._schema import Operation, Parameter, Problem, operations, problem

__all__ = [
    "MAX_JSON_DEPTH",
    "Problem",
    "check_content_type",
    "check_parameters",
    "parse_body",
    "parse_json",
    "request_problems",
]


_INTEGER = re.compile(r"-?[0-9]+")
_MAX_DIGITS = 4300  # Python's int() refuses longer digit strings


class _OutOfRange(ValueError):
    pass


def _parameter_value(raw: str, parameter: Parameter) -> tuple[Any, list[Problem]]:
    """A parameter's text as the JSON value its schema describes (a path has only text)."""
    loc: list[str | int] = [parameter.location, parameter.name]
    types = parameter.types
    if "integer" in types or "number" in types:
        # Digits only: int() would also take "+1", " 1" or "1_0", which JSON Schema calls strings.
        if _INTEGER.fullmatch(raw):
            sign = -1 if raw.startswith("-") else 1
            digits = raw.lstrip("-").lstrip("0") or "0"
            if len(digits) <= _MAX_DIGITS:
                return sign * int(digits), []
            # Too long for int(). Such a number lies beyond any bound a document states in
            # practice; 10**4299, the largest power of ten the validator converts, stands in.
            return sign * 10 ** (_MAX_DIGITS - 1), []
        if "number" in types:
            try:
                value = float(raw)
            except ValueError:
                pass
            else:
                if math.isfinite(value):
                    return value, []
        if "string" not in types:
            noun, code = ("integer", "int") if "integer" in types else ("number", "float")
            msg = f"Input should be a valid {noun}, unable to parse string as {_article(noun)}"
            return None, [problem(loc, msg, f"{code}_parsing")]
    if "boolean" in types and "string" not in types:
        if raw in ("true", "false"):
            return raw == "true", []
        msg = "Input should be a valid boolean, unable to interpret input"
        return None, [problem(loc, msg, "bool_parsing")]
    return raw, []


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def check_parameters(
    operation: Operation, location: str, values: Mapping[str, str | None]
) -> tuple[dict[str, Any], list[Problem]]:
    """Read and check an operation's parameters of one location ("path", "header", "query").

    `values` maps each parameter's name (a header's in lower case) to its decoded text, or
    None when absent.
    """
    found: dict[str, Any] = {}
    problems: list[Problem] = []
    for parameter in operation.parameters:
        if parameter.location != location:
            continue
        key = parameter.name.lower() if location == "header" else parameter.name
        raw = values.get(key)
        if raw is None:
            if parameter.required:
                problems.append(problem([location, parameter.name], "Field required", "missing"))
            continue
        value, wrong = _parameter_value(raw, parameter)
        wrong = wrong or parameter.check.problems(value, [location, parameter.name])
        if wrong:
            problems += wrong
        else:
            found[parameter.name] = value
    return found, problems


def check_content_type(value: str | None, media_types: tuple[str, ...]) -> list[Problem]:
    """Check the `Content-Type` of a request body: a documented type, parameters allowed."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media in media_types:
        return []
    sent = f"got {value!r}" if value else "none was sent"
    wanted = " or ".join(media_types) or "absent"
    msg = f"Content-Type should be {wanted}, {sent}"
    return [problem(["body"], msg, "content_type")]


def parse_json(raw: bytes) -> tuple[Any, list[Problem]]:
    """Decode a JSON request body, or report why it is not JSON."""
    if not raw:
        return None, [problem(["body"], "Field required", "missing")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [problem(["body", exc.start], "JSON decode error", "json_invalid")]
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        return None, [problem(["body", exc.pos], "JSON decode error", "json_invalid")]
    except _OutOfRange:
        msg = "JSON decode error: a number is too large to be stored"
        return None, [problem(["body"], msg, "json_invalid")]
    except ValueError:  # NaN, Infinity, or an integer of more than 4300 digits
        return None, [problem(["body"], "JSON decode error", "json_invalid")]
    except RecursionError:  # deeper than the interpreter's recursion limit
        return None, [_too_deep()]
    if nested_deeper_than(data, MAX_JSON_DEPTH):  # the SDK's own limit, the same rule
        return None, [_too_deep()]
    return data, []


def _too_deep() -> Problem:
    msg = f"JSON decode error: nested more than {MAX_JSON_DEPTH} levels deep"
    return problem(["body"], msg, "json_invalid")


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON.
    raise ValueError(name)


def _finite_float(text: str) -> float:
    # 1e999 is valid JSON, but as a float it is infinite and could only be answered as the
    # non-JSON `Infinity`.
    value = float(text)
    if math.isinf(value):
        raise _OutOfRange(text)
    return value


def parse_body(operation: Operation, raw: bytes) -> tuple[Any, list[Problem]]:
    """Decode a JSON request body and check it against the operation's schema."""
    data, problems = parse_json(raw)
    if problems:
        return None, problems
    if operation.body is not None:
        problems = operation.body.problems(data, ["body"])
    return (None, problems) if problems else (data, [])


def request_problems(operation_id: str, body: Any, doc: Document | None = None) -> list[Problem]:
    """The fake's problems with a decoded request body of an operation of `doc` (the shipped
    document by default); [] when valid."""
    (operation,) = (op for op in operations(doc) if op.operation_id == operation_id)
    return [] if operation.body is None else operation.body.problems(body, ["body"])
