"""The answer's documented fields as typed attributes, each checked for its JSON type.

`make generate` writes one attrs class per answer object of the document into
`somia_api.facts` (a subclass of `AnswerObject`), with a table of its fields made here from
each field's schema: the Python types its JSON value may have, and the class that parses it
when it is a documented object (or a list of them). Parsing keeps fields the document does
not list in `extra`, and raises `ShapeError` naming the first documented field whose value
has the wrong type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

import attrs

__all__ = ["AnswerObject", "ShapeError", "Table", "answer_table"]

Convert = Callable[[Any, str], Any]
Table = dict[str, tuple[str, tuple[type, ...] | None, Convert | None]]
"""Per wire name: the attribute, the types its value may have (None: any), its parser."""

_PYTHON = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
}


class ShapeError(ValueError):
    """An answer's documented field has the wrong type."""


def _kind(value: Any) -> str:
    return type(value).__name__


def _wrong(value: Any, kinds: tuple[type, ...] | None) -> bool:
    if kinds is None:
        return False
    return not isinstance(value, kinds) or (value.__class__ is bool and bool not in kinds)


def _kinds(schema: Any) -> tuple[type, ...] | None:
    """The Python types a field's JSON value may have (a oneOf: any member's); None for any."""
    if not isinstance(schema, dict):
        return None
    types = schema.get("type")
    if types is None:
        members = schema.get("oneOf", schema.get("anyOf", []))
        if not members or not all(isinstance(m, dict) and "type" in m for m in members):
            return None
        types = [kind for m in members for kind in _listed(m["type"])]
    return tuple(dict.fromkeys(t for kind in _listed(types) for t in _PYTHON[kind]))


def _listed(types: Any) -> list[str]:
    return [types] if isinstance(types, str) else list(types)


def _list_of(kinds: tuple[type, ...] | None, convert: Convert | None) -> Convert:
    def parse(items: list[Any], where: str) -> list[Any]:
        out = []
        for i, item in enumerate(items):
            if _wrong(item, kinds):
                raise ShapeError(f"{where[:-1]}[{i}] is a {_kind(item)}")
            out.append(item if convert is None else convert(item, f"{where[:-1]}[{i}]."))
        return out

    return parse


def _converter(schema: Any, cls: type[AnswerObject] | None) -> Convert | None:
    """How a field's value is parsed: by its class, or item by item for a list."""
    if not isinstance(schema, dict):
        return None
    if "properties" in schema and cls is not None:
        return cls.from_data
    items = schema.get("items")
    if "array" in _listed(schema.get("type", [])) and isinstance(items, dict):
        kinds, convert = _kinds(items), _converter(items, cls)  # nested lists: each level
        if kinds is not None or convert is not None:
            return _list_of(kinds, convert)
    return None


def answer_table(fields: dict[str, tuple[str, Any, type[AnswerObject] | None]]) -> Table:
    """The table of an answer class from, per wire name: its attribute, its schema (`$ref`s
    inlined) and the class of the documented object it holds, if any."""
    return {
        wire: (attr, _kinds(schema), _converter(schema, cls))
        for wire, (attr, schema, cls) in fields.items()
    }


def _parse(
    data: Any, table: Table, required: tuple[str, ...], where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
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
        if _wrong(value, kinds):
            raise ShapeError(f"{where}{key} is a {_kind(value)}")
        if convert is not None and value is not None:
            value = convert(value, f"{where}{key}.")
        fields[attr] = value
    for key in required:
        if key not in data:
            raise ShapeError(f"{where}{key} is missing")
    return fields, extra


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
