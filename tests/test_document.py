"""somia._document: loading the document, following its references, walking its schemas."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from somia._document import Document, DocumentError, closed, load, normalised, parse, shipped

ROOT = Path(__file__).resolve().parent.parent


def _doc(**schemas: Any) -> Document:
    return Document({"openapi": "3.1.0", "paths": {}, "components": {"schemas": schemas}})


def test_a_chain_of_refs_is_followed_to_its_end_naming_the_last_schema() -> None:
    doc = _doc(A={"$ref": "#/components/schemas/B"}, B={"type": "string"})
    assert doc.named({"$ref": "#/components/schemas/A"}) == ({"type": "string"}, "B")
    assert doc.resolve({"type": "integer"}) == {"type": "integer"}
    assert doc.resolve(True) is True


def test_escaped_json_pointer_parts_are_decoded() -> None:
    doc = _doc(**{"a/b~c": {"type": "null"}})
    assert doc.resolve({"$ref": "#/components/schemas/a~1b~0c"}) == {"type": "null"}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("other.yaml#/x", "only local"),
        ("#/components/schemas/Missing", "leads nowhere"),
        ("#/components/schemas/Loop", "does not end"),
    ],
)
def test_a_ref_that_cannot_be_followed_is_a_document_error(ref: str, message: str) -> None:
    doc = _doc(Loop={"$ref": "#/components/schemas/Loop"})
    with pytest.raises(DocumentError, match=message):
        doc.resolve({"$ref": ref})


def test_all_of_members_add_properties_and_required_and_the_schema_wins() -> None:
    doc = _doc(
        Base={"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
        Item={
            "allOf": [{"$ref": "#/components/schemas/Base"}],
            "required": ["b"],
            "properties": {"b": {"type": "integer"}},
            "description": "own",
        },
    )
    merged = doc.merged({"$ref": "#/components/schemas/Item"})
    assert merged["required"] == ["a", "b"]
    assert list(merged["properties"]) == ["a", "b"]
    assert (merged["type"], merged["description"]) == ("object", "own")
    assert doc.types({"$ref": "#/components/schemas/Item"}) == ["object"]


def test_documented_fields_and_those_a_value_carries() -> None:
    doc = _doc(
        Answer={
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "usage": {"$ref": "#/components/schemas/Usage"},
                "items": {"type": "array", "items": {"properties": {"name": {}}}},
            },
        },
        Usage={"type": "object", "properties": {"tokens": {"type": "integer"}}},
    )
    fields = doc.fields({"$ref": "#/components/schemas/Answer"})
    assert fields.paths == ["id", "usage", "usage.tokens", "items", "items[].name"]
    value = {"id": "x", "usage": {"other": 1}, "items": [{}, {"name": "n"}], "more": 1}
    assert fields.present(value) == {"id", "usage", "items", "items[].name"}
    assert fields.present([]) == set()


def test_a_recursive_schema_has_finitely_many_fields() -> None:
    doc = _doc(
        Node={"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}
    )
    fields = doc.fields({"$ref": "#/components/schemas/Node"})
    assert len(fields.paths) == 32
    assert fields.paths[1] == "child.child"


def test_a_closed_copy_takes_no_undocumented_property_and_leaves_the_original() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}
    copy = closed(schema)
    assert copy["additionalProperties"] is False
    assert copy["properties"]["a"]["additionalProperties"] is False
    assert "additionalProperties" not in schema
    assert "additionalProperties" not in closed({"properties": {}, "patternProperties": {}})


def test_operations_parameters_bodies_and_answers_of_the_shipped_document() -> None:
    document = shipped()
    ops = document.operations()
    assert [op.id for op in ops] == [op.spec["operationId"] for op in ops]
    for op in ops:
        names = {p["name"] for p in document.parameters(op)}
        assert "agent_id" in names
        assert document.request_schema(op) is not None
        assert set(document.answer_schemas(op)) == {"application/json", "text/event-stream"}
        assert 200 in document.statuses(op)
    with pytest.raises(KeyError):
        document.operation("noSuchOperation")


def test_the_shipped_document_is_the_generated_packages_and_files_load_alike(
    tmp_path: Path,
) -> None:
    import somia_api

    shipped_file = Path(somia_api.__file__).parent / "openapi.json"
    data = shipped().data
    assert normalised(data) == shipped_file.read_text(encoding="utf-8")
    (tmp_path / "copy.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "copy.json").write_text(json.dumps(data))
    assert load(tmp_path / "copy.yaml").data == data
    assert load(tmp_path / "copy.json").data == data
    assert parse((tmp_path / "copy.yaml").read_text()) == data
    assert load(data).data is data
    assert load(None) is shipped()


@pytest.mark.parametrize(
    ("text", "message"), [("a: [", "does not parse"), ("[]", "not an OpenAPI")]
)
def test_text_that_is_not_a_document_is_a_document_error(text: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        parse(text)


@pytest.mark.slow
def test_the_document_loads_without_running_the_generated_package() -> None:
    # The generator reads the document before it writes somia_api.facts: this module must
    # not need it, nor run any code of somia_api. `somia` itself is stubbed, so that only
    # somia/_document.py runs.
    code = textwrap.dedent(
        f"""
        import sys, types
        package = types.ModuleType("somia")
        package.__path__ = [{str(ROOT / "somia")!r}]
        sys.modules["somia"] = package
        import somia._document as document
        print(len(document.shipped().operations()))
        print(sorted(name for name in sys.modules if name.startswith(("somia_api", "somia."))))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    count, modules = result.stdout.splitlines()
    assert count == str(len(shipped().operations()))
    assert modules == "['somia._document']"


def test_an_inlined_schema_stands_alone_with_annotations_beside_a_ref_winning() -> None:
    doc = _doc(
        Name={"type": "string", "description": "a name", "minLength": 1},
        Pair={"type": "array", "items": {"$ref": "#/components/schemas/Name"}},
    )
    inlined = doc.inlined(
        {"$ref": "#/components/schemas/Pair", "description": "two names"}, where="pair"
    )
    assert inlined == {
        "type": "array",
        "items": {"type": "string", "description": "a name", "minLength": 1},
        "description": "two names",
    }


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#/components/schemas/Node"}, "field: Node contains itself"),
        ({"$ref": "#/components/schemas/Name", "minLength": 2}, "minLength beside"),
    ],
)
def test_a_schema_that_cannot_stand_alone_is_a_document_error(
    schema: dict[str, Any], message: str
) -> None:
    doc = _doc(
        Node={"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}},
        Name={"type": "string", "minLength": 1},
    )
    with pytest.raises(DocumentError, match=message):
        doc.inlined(schema, where="field")
