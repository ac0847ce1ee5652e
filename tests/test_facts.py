"""scripts/_facts.py: the request checks, options and answer classes compiled from a document."""

from __future__ import annotations

import sys
import warnings
from types import ModuleType
from typing import Any

import pytest

from scripts._facts import FactsError, compile_facts
from somia._shapes import ShapeError


def _document(properties: dict[str, Any], **request: Any) -> dict[str, Any]:
    answer = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "count": {"type": "integer", "default": 0},
            "usage": {"type": "object", "properties": {"tokens": {"type": "integer"}}},
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "paths": {
            "/things": {
                "post": {
                    "operationId": "makeThing",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Req"}}
                        }
                    },
                    "responses": {
                        "200": {"content": {"application/json": {"schema": answer}}},
                        "402": {"description": "pay"},
                    },
                }
            }
        },
        "components": {"schemas": {"Req": {"type": "object", "properties": properties, **request}}},
    }


def _facts(properties: dict[str, Any], **request: Any) -> ModuleType:
    source = compile_facts(_document(properties, **request), curated=frozenset({"stream"}))
    module = ModuleType("facts_under_test")
    sys.modules[module.__name__] = module  # attrs resolves its classes' module
    exec(compile(source, "<facts>", "exec"), module.__dict__)
    return module


def test_each_field_is_checked_by_its_compiled_schema_and_the_error_names_the_option() -> None:
    facts = _facts({"count": {"type": "integer", "minimum": 1}, "tags": {"type": "array"}})
    assert facts.check_req({"count": 2, "tags": ("a",)}) == {"count": 2, "tags": ["a"]}
    with pytest.raises(ValueError, match="count must be at least 1"):
        facts.check_req({"count": 0})
    with pytest.raises(TypeError, match="tags must be a sequence"):
        facts.ReqFields(tags=1)


def test_a_nested_value_is_named_by_its_path() -> None:
    facts = _facts({"meta": {"type": "object", "additionalProperties": {"type": "integer"}}})
    with pytest.raises(TypeError, match=r"meta\['k'\] must be an integer"):
        facts.check_req({"meta": {"k": "x"}})


def test_a_camel_case_field_is_a_snake_case_keyword_sent_under_its_wire_name() -> None:
    facts = _facts({"maxTokens": {"type": "integer"}})
    assert facts.check_req({"max_tokens": 3}) == {"maxTokens": 3}
    assert facts.REQ_FIELDS == {"max_tokens": "maxTokens"}
    assert "max_tokens" in facts.ReqOptions.__annotations__


def test_none_is_not_sent_and_an_unknown_keyword_is_a_type_error() -> None:
    facts = _facts({"a": {"type": "string"}})
    assert facts.check_req({"a": None}) == {}
    with pytest.raises(TypeError, match="unexpected keyword argument 'b'"):
        facts.check_req({"b": 1})


def test_a_required_field_is_a_required_keyword() -> None:
    facts = _facts({"a": {"type": "string"}}, required=["a"])
    with pytest.raises(TypeError, match="missing required keyword argument 'a'"):
        facts.check_req({})
    assert "Required[str]" in str(facts.ReqOptions.__annotations__["a"])


def test_curated_keywords_are_checked_but_left_out_of_the_options() -> None:
    facts = _facts({"stream": {"type": "boolean"}})
    assert facts.check_req({"stream": True}) == {"stream": True}
    assert "stream" not in facts.ReqOptions.__annotations__


def test_a_deprecated_field_still_works_and_warns() -> None:
    facts = _facts({"old": {"type": "string", "deprecated": True}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert facts.check_req({"old": "x"}) == {"old": "x"}
    assert [str(w.message) for w in caught] == ["old is deprecated"]
    assert caught[0].category is DeprecationWarning


@pytest.mark.parametrize("keyword", ["enum", "uniqueItems", "not", "allOf", "minItems"])
def test_a_keyword_the_checks_do_not_enforce_stops_generation_naming_it(keyword: str) -> None:
    with pytest.raises(FactsError, match=keyword):
        _facts({"a": {"type": "array", keyword: True}})


def test_a_pattern_construct_without_its_ecma_262_meaning_stops_generation() -> None:
    document = _document({})
    answer = document["paths"]["/things"]["post"]["responses"]["200"]["content"]
    answer["application/json"]["schema"]["properties"]["id"]["pattern"] = "a.b"
    with pytest.raises(FactsError, match=r"'\.' is not supported"):
        compile_facts(document)


def test_a_format_the_checks_do_not_enforce_stops_generation() -> None:
    with pytest.raises(FactsError, match="date-time"):
        _facts({"a": {"type": "string", "format": "date-time"}})


def test_a_body_field_may_not_shadow_an_sdk_keyword() -> None:
    with pytest.raises(FactsError, match="timeout"):
        compile_facts(_document({"timeout": {"type": "integer"}}), reserved=frozenset({"timeout"}))


def test_answer_fields_are_typed_attributes_with_their_defaults_and_nested_classes() -> None:
    facts = _facts({})
    # An inline answer schema is named after its operation.
    answer = facts.MakeThingAnswerFields.from_data(
        {"id": "t", "usage": {"tokens": 2, "new": 1}, "items": [{"name": "n"}], "more": True}
    )
    assert answer.count == 0  # absent: the documented default
    assert answer.usage.tokens == 2
    assert answer.usage.extra == {"new": 1}
    assert answer.items[0].name == "n"
    assert answer.extra == {"more": True}
    assert answer.to_dict() == {
        "id": "t",
        "usage": {"tokens": 2, "new": 1},
        "items": [{"name": "n"}],
        "more": True,
    }
    assert answer.model_dump()["count"] == 0


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"count": 1}, "id is missing"),
        ({"id": 1}, "id is a int"),
        ({"id": "t", "count": True}, "count is a bool"),
        ({"id": "t", "usage": {"tokens": "2"}}, "usage.tokens is a str"),
        ({"id": "t", "items": [{"name": 1}]}, r"items\[0\].name is a int"),
        ([], "a JSON list"),
    ],
)
def test_a_mistyped_answer_field_is_a_shape_error_naming_it(data: Any, where: str) -> None:
    facts = _facts({})
    with pytest.raises(ShapeError, match=where):
        facts.MakeThingAnswerFields.from_data(data)


def test_every_documented_status_is_listed_per_operation() -> None:
    assert _facts({}).OPERATIONS["makeThing"].statuses == (200, 402)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"input-data": {"type": "string"}, "input_data": {"type": "string"}},
            "same Python name 'input_data'",
        ),
        ({"to_dict": {"type": "string"}}, "named 'to_dict'"),
    ],
)
def test_a_request_field_that_would_hide_another_name_stops_generation(
    properties: dict[str, Any], message: str
) -> None:
    with pytest.raises(FactsError, match=message):
        _facts(properties)


@pytest.mark.parametrize("name", ["extra", "sent", "from_data", "http"])
def test_an_answer_field_that_would_hide_a_member_stops_generation(name: str) -> None:
    document = _document({})
    answer = document["paths"]["/things"]["post"]["responses"]["200"]["content"]
    answer["application/json"]["schema"]["properties"][name] = {"type": "string"}
    with pytest.raises(FactsError, match=f"named '{name}'"):
        compile_facts(document, members=frozenset({"http"}))


def test_a_recursive_request_schema_stops_generation_naming_it() -> None:
    document = _document({"tree": {"$ref": "#/components/schemas/Node"}})
    document["components"]["schemas"]["Node"] = {
        "type": "object",
        "properties": {"child": {"$ref": "#/components/schemas/Node"}},
    }
    with pytest.raises(FactsError, match="Node contains itself"):
        compile_facts(document)


def test_annotations_that_constrain_nothing_are_accepted() -> None:
    facts = _facts(
        {
            "ratio": {"type": "number", "x-unit": "percent", "examples": [0.5], "title": "R"},
            "pick": {"oneOf": [{"type": "integer"}, {"type": "string"}], "default": 1},
        }
    )
    assert facts.check_req({"ratio": 0.5, "pick": 1}) == {"ratio": 0.5, "pick": 1}


def test_answer_unions_nested_arrays_and_object_defaults_are_typed() -> None:
    document = _document({})
    answer = document["paths"]["/things"]["post"]["responses"]["200"]["content"]
    properties = answer["application/json"]["schema"]["properties"]
    properties["either"] = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
    properties["grid"] = {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}
    properties["usage"]["default"] = {"tokens": 0}
    module = ModuleType("facts_answers_under_test")
    sys.modules[module.__name__] = module
    exec(compile(compile_facts(document), "<facts>", "exec"), module.__dict__)
    parse = module.MakeThingAnswerFields.from_data
    assert parse({"id": "t"}).usage.tokens == 0  # the default, as its class
    with pytest.raises(ShapeError, match="either is a bool"):
        parse({"id": "t", "either": True})
    with pytest.raises(ShapeError, match=r"grid\[0\]\[1\] is a str"):
        parse({"id": "t", "grid": [[1, "x"]]})


def test_a_closed_request_object_is_typed_as_a_typed_dict_and_an_open_one_as_a_mapping() -> None:
    facts = _facts(
        {
            "options": {
                "type": "object",
                "additionalProperties": False,
                "required": ["depth"],
                "properties": {"depth": {"type": "integer"}, "mode": {}},
            },
            "labels": {"type": "object", "properties": {"k": {"type": "string"}}},
        }
    )

    def text(annotations: dict[str, Any]) -> dict[str, str]:
        return {k: getattr(v, "__forward_arg__", v) for k, v in annotations.items()}

    hints = text(facts.ReqOptions.__annotations__)
    assert hints["options"] == "ReqOptionsDict | None"
    assert text(facts.ReqOptionsDict.__annotations__) == {"depth": "Required[int]", "mode": "Any"}
    assert hints["labels"] == "Mapping[str, Any] | None"
    assert facts.check_req({"options": {"depth": 1}}) == {"options": {"depth": 1}}


def test_the_header_a_link_reads_a_parameter_from_is_a_fact() -> None:
    document = _document({})
    ok = document["paths"]["/things"]["post"]["responses"]["200"]
    ok["links"] = {"next": {"parameters": {"thing_id": "$response.header.X-Thing-Id"}}}
    module = ModuleType("facts_links_under_test")
    sys.modules[module.__name__] = module
    exec(compile(compile_facts(document), "<facts>", "exec"), module.__dict__)
    assert module.LINK_HEADERS == {"thing_id": "X-Thing-Id"}


def test_the_api_key_header_is_the_documents_security_scheme() -> None:
    document = _document({})
    document["security"] = [{"Key": []}]
    document["components"]["securitySchemes"] = {
        "Key": {"type": "apiKey", "in": "header", "name": "apikey"}
    }
    module = ModuleType("facts_security_under_test")
    sys.modules[module.__name__] = module
    exec(compile(compile_facts(document), "<facts>", "exec"), module.__dict__)
    assert module.API_KEY_HEADER == "apikey"
