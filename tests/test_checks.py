"""somia._checks: request schemas compiled into checks, each error naming the value at fault."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from somia._checks import Body, SchemaError, compile_check


@pytest.mark.parametrize(
    ("schema", "good", "bad", "error"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 9}, 5, 10, ValueError),
        ({"type": "integer", "minimum": 1}, 1, 0, ValueError),
        ({"type": "integer"}, 5, "5", TypeError),
        ({"type": "integer"}, 5, True, TypeError),
        ({"type": "integer"}, 2.0, 2.5, TypeError),
        ({"type": "integer", "format": "int64"}, 2**63 - 1, 2**63, ValueError),
        ({"type": "integer", "format": "int32"}, -(2**31), -(2**31) - 1, ValueError),
        ({"type": "number"}, 1.5, float("nan"), ValueError),
        ({"type": "number"}, 1, float("inf"), ValueError),
        ({"type": "string", "pattern": "^x+$"}, "xx", "xy", ValueError),
        ({"type": "string", "pattern": "^x+$"}, "xx", "xx\n", ValueError),
        ({"type": "string", "minLength": 2, "maxLength": 3}, "abc", "abcd", ValueError),
        ({"type": "string", "minLength": 2}, "ab", "a", ValueError),
        ({"type": "string"}, "s", b"s", TypeError),
        ({"type": "array", "items": {"type": "string"}}, ["a"], ["a", 1], TypeError),
        ({"type": "array"}, ["a"], "a", TypeError),
        ({"type": "boolean"}, False, 0, TypeError),
        ({"type": ["string", "null"]}, None, 0, TypeError),
        ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, "v", 1.5, TypeError),
        ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, 1, float("nan"), ValueError),
        (
            {"oneOf": [{"type": "string", "pattern": "\\S"}, {"type": "integer"}]},
            3,
            " ",
            ValueError,
        ),
        ({"type": "object", "additionalProperties": False}, {}, {"k": 1}, ValueError),
        (
            {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}},
            {"n": 1},
            {"n": -1},
            ValueError,
        ),
        ({"type": "object", "required": ["n"], "properties": {"n": {}}}, {"n": 1}, {}, ValueError),
        ({"type": "object"}, {"k": 1}, {1: "k"}, TypeError),
        ({"type": "object"}, {"k": 1}, ["k"], TypeError),
        ({}, object(), None, None),
    ],
)
def test_each_constraint_is_checked_and_the_error_names_the_value(
    schema: dict[str, Any], good: Any, bad: Any, error: type[Exception] | None
) -> None:
    check = compile_check(schema, "field")
    assert check(good, "field") == good
    if error is not None:
        with pytest.raises(error, match="field"):
            check(bad, "field")


def test_a_sequence_is_sent_as_a_list_and_a_mapping_as_a_dict() -> None:
    from types import MappingProxyType

    assert compile_check({"type": "array"}, "a")(("x", "y"), "a") == ["x", "y"]
    assert compile_check({"type": "object"}, "o")(MappingProxyType({"k": 1}), "o") == {"k": 1}


def test_a_nested_value_is_named_by_its_path() -> None:
    check = compile_check(
        {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer"}}},
        "meta",
    )
    with pytest.raises(TypeError, match=r"meta\['k'\]\[1\] must be an integer"):
        check({"k": [1, "x"]}, "meta")


def test_one_of_with_members_of_one_type_takes_exactly_one() -> None:
    check = compile_check(
        {"oneOf": [{"type": "integer", "maximum": 5}, {"type": "integer", "minimum": 3}]}, "n"
    )
    assert check(1, "n") == 1
    with pytest.raises(ValueError, match="more than one"):
        check(4, "n")
    with pytest.raises(TypeError, match="n must be an integer, not str or n must be"):
        check("x", "n")


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "string", "enum": ["a"]}, "enum"),
        ({"type": "array", "minItems": 1}, "minItems"),
        ({"anyOf": [{}]}, "anyOf"),
        ({"type": "object", "properties": {"x": {"const": 1}}}, "const"),
        ({"type": "string", "format": "date-time"}, "date-time"),
        ({"type": "string", "pattern": "a.b"}, "'.'"),
        (False, "unsupported schema"),
    ],
)
def test_a_keyword_the_checks_do_not_enforce_is_a_schema_error(schema: Any, named: str) -> None:
    with pytest.raises(SchemaError, match=named) as info:
        compile_check(schema, "where")
    assert str(info.value).startswith("where")


def test_annotations_and_extensions_constrain_nothing() -> None:
    schema = {"type": "string", "description": "d", "default": "x", "x-unit": "u", "title": "t"}
    assert compile_check(schema, "s")("y", "s") == "y"


def _body() -> Body:
    return Body(
        "Turn",
        {
            "max_tokens": ("maxTokens", {"type": "integer"}),
            "old": ("old", {"type": "string"}),
            "topic": ("topic", {"type": "string"}),
        },
        required=("topic",),
        deprecated=("old",),
    )


def test_a_body_sends_each_option_under_its_wire_name_and_leaves_none_out() -> None:
    body = _body()
    assert body.wire_names == {"max_tokens": "maxTokens", "old": "old", "topic": "topic"}
    assert body.check({"max_tokens": 3, "topic": "t", "old": None}) == {
        "maxTokens": 3,
        "topic": "t",
    }


def test_a_body_names_an_unknown_or_missing_keyword() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        _body().check({"topic": "t", "nope": 1})
    with pytest.raises(TypeError, match="missing required keyword argument 'topic'"):
        _body().check({"max_tokens": 1})


def test_a_deprecated_option_still_works_and_warns_at_the_callers_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _body().check({"topic": "t", "old": "x"}) == {"topic": "t", "old": "x"}
    assert [str(w.message) for w in caught] == ["old is deprecated"]
    assert caught[0].category is DeprecationWarning
    assert caught[0].filename == __file__
