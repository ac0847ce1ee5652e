"""Request validation of the fake server, exact to openapi/somia.yaml, in plain Python.

Problems are reported the way FastAPI does (`{"loc": [...], "msg": ..., "type": ...}`), so
that a malformed request gets the document's `422` body. The rules are JSON Schema's: `true`
is not an integer, `1.0` is, and `null` is not a string. Bodies must be sent as
`application/json`, the document's only media type, and JSON nested more than
`MAX_JSON_DEPTH` levels deep is refused as malformed (it could not be stored and answered).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "Problem",
    "check_content_type",
    "check_idempotency_key",
    "check_session_id",
    "parse_agent_id",
    "parse_body",
]

Problem = dict[str, Any]

INT64_MAX = 2**63 - 1
SESSION_ID_MAX_LENGTH = 256
IDEMPOTENCY_KEY_MAX_LENGTH = 255
MAX_JSON_DEPTH = 256
"""The deepest nesting of arrays and objects accepted in a body (the body itself is level 1)."""

_BOOL_FIELDS = ("stream", "trace_enabled", "test")
_STR_FIELDS = ("source", "environment", "end_user_id")
# What the document's pattern \S excludes: ECMAScript's whitespace (Unicode White_Space and
# the BOM), not Python's str.isspace (which also takes \x1c-\x1f).
_WHITE_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_WHITE_SPACE += "\u2028\u2029\u202f\u205f\u3000\ufeff"


def _blank(text: str) -> bool:
    return not text.strip(_WHITE_SPACE)


def _problem(loc: list[str | int], msg: str, type_: str) -> Problem:
    return {"loc": loc, "msg": msg, "type": type_}


def parse_agent_id(raw: str) -> tuple[int | None, list[Problem]]:
    """Read the `agent_id` path segment: an integer from 1 to 2**63-1."""
    loc: list[str | int] = ["path", "agent_id"]
    # Digits only: int() would also take "+1", " 1" or "1_0", which JSON Schema calls strings.
    text = raw[1:] if raw.startswith("-") else raw
    if not text.isascii() or not text.isdigit():
        msg = "Input should be a valid integer, unable to parse string as an integer"
        return None, [_problem(loc, msg, "int_parsing")]
    value = int(raw)
    if value < 1:
        msg = "Input should be greater than or equal to 1"
        return None, [_problem(loc, msg, "greater_than_equal")]
    if value > INT64_MAX:
        msg = f"Input should be less than or equal to {INT64_MAX}"
        return None, [_problem(loc, msg, "less_than_equal")]
    return value, []


def check_session_id(raw: str) -> list[Problem]:
    """Check the `session_id` path segment: 1 to 256 characters."""
    loc: list[str | int] = ["path", "session_id"]
    if not raw:
        return [_problem(loc, "String should have at least 1 character", "string_too_short")]
    if len(raw) > SESSION_ID_MAX_LENGTH:
        msg = f"String should have at most {SESSION_ID_MAX_LENGTH} characters"
        return [_problem(loc, msg, "string_too_long")]
    return []


def check_idempotency_key(value: str | None) -> list[Problem]:
    """Check an `Idempotency-Key` header: 1 to 255 visible ASCII characters."""
    if value is None:
        return []
    loc: list[str | int] = ["header", "Idempotency-Key"]
    if not value:
        return [_problem(loc, "String should have at least 1 character", "string_too_short")]
    if len(value) > IDEMPOTENCY_KEY_MAX_LENGTH:
        msg = f"String should have at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters"
        return [_problem(loc, msg, "string_too_long")]
    if any(not "!" <= char <= "~" for char in value):
        msg = "String should match pattern '^[!-~]+$'"
        return [_problem(loc, msg, "string_pattern_mismatch")]
    return []


def check_content_type(value: str | None) -> list[Problem]:
    """Check the `Content-Type` of a request body: `application/json`, parameters allowed."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return []
    sent = f"got {value!r}" if value else "none was sent"
    msg = f"Content-Type should be application/json, {sent}"
    return [_problem(["body"], msg, "content_type")]


def parse_json(raw: bytes) -> tuple[Any, list[Problem]]:
    """Decode a JSON request body, or report why it is not JSON."""
    if not raw:
        return None, [_problem(["body"], "Field required", "missing")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [_problem(["body", exc.start], "JSON decode error", "json_invalid")]
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, [_problem(["body", exc.pos], "JSON decode error", "json_invalid")]
    except ValueError:
        return None, [_problem(["body"], "JSON decode error", "json_invalid")]
    except RecursionError:  # deeper than the interpreter's recursion limit
        return None, [_too_deep()]
    if _nested_deeper_than(data, MAX_JSON_DEPTH):
        return None, [_too_deep()]
    return data, []


def _too_deep() -> Problem:
    msg = f"JSON decode error: nested more than {MAX_JSON_DEPTH} levels deep"
    return _problem(["body"], msg, "json_invalid")


def _nested_deeper_than(value: Any, limit: int) -> bool:
    # Without recursion, so that any depth json.loads returned can be measured.
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON.
    raise ValueError(name)


def parse_body(raw: bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Decode and check an AgentExecutionRequest body."""
    data, problems = parse_json(raw)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return None, [_problem(["body"], msg, "model_attributes_type")]
    problems = check_request(data)
    return (None, problems) if problems else (data, [])


def check_request(data: dict[str, Any]) -> list[Problem]:
    """Check the fields of an AgentExecutionRequest; unknown fields are allowed."""
    problems: list[Problem] = []
    for name in _BOOL_FIELDS:
        if name in data and not isinstance(data[name], bool):
            msg = "Input should be a valid boolean"
            problems.append(_problem(["body", name], msg, "bool_type"))
    for name in _STR_FIELDS:
        if name in data and not isinstance(data[name], str):
            msg = "Input should be a valid string"
            problems.append(_problem(["body", name], msg, "string_type"))
    if "pipeline_version" in data and not (
        isinstance(data["pipeline_version"], str) or is_json_integer(data["pipeline_version"])
    ):
        msg = "Input should be a valid integer or string"
        problems.append(_problem(["body", "pipeline_version"], msg, "union_type"))
    elif isinstance(data.get("pipeline_version"), str) and _blank(data["pipeline_version"]):
        msg = "String should match pattern '\\S'"  # a name is not blank
        problems.append(_problem(["body", "pipeline_version"], msg, "string_pattern_mismatch"))
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list):
            problems.append(_problem(["body", "tags"], "Input should be a valid list", "list_type"))
        else:
            for index, tag in enumerate(tags):
                if not isinstance(tag, str):
                    msg = "Input should be a valid string"
                    problems.append(_problem(["body", "tags", index], msg, "string_type"))
    if "metadata" in data and not isinstance(data["metadata"], dict):
        msg = "Input should be a valid dictionary"
        problems.append(_problem(["body", "metadata"], msg, "dict_type"))
    return problems


def is_json_integer(value: object) -> bool:
    """Whether JSON Schema calls `value` an integer (1 and 1.0 are; True is not)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()
