"""Compile the facts the curated SDK needs from the OpenAPI document into one Python module.

`make generate` writes the result to generated/somia_api/facts.py, beside the generated client,
through the template scripts/templates/facts.py.jinja: the request options as TypedDicts,
their schemas as data (compiled into checks by somia._checks when the module is imported),
the answer's documented fields as attrs classes (parsed by somia._shapes), the documented
statuses, routes and parameters. `somia` reads these through its bridge and never restates
them.

What this script decides is the Python face of the document: names, static types, defaults
and docstrings. A request schema keyword the checks do not enforce, or a pattern construct
without its ECMA-262 meaning, stops generation with one line naming it, so no constraint of
the document is silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jinja2
from openapi_python_client.strings import PythonIdentifier  # the generator's own naming

from somia._checks import SchemaError, compile_check
from somia._document import ANNOTATIONS, Document, DocumentError
from somia._patterns import PatternError, compile_pattern

TEMPLATES = Path(__file__).resolve().parent / "templates"
_PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


class FactsError(Exception):
    """The document uses something the compiled facts cannot represent."""


def python_name(wire: str, prefix: str) -> str:
    """The keyword/attribute name the generator gives a property."""
    return str(PythonIdentifier(wire, prefix=prefix))


def class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _listed(types: Any) -> list[str]:
    return [types] if isinstance(types, str) else list(types)


def _union(parts: Iterable[str]) -> str:
    seen: list[str] = []
    for part in parts:
        for piece in part.split(" | "):
            if piece not in seen:
                seen.append(piece)
    return "Any" if "Any" in seen else " | ".join(seen)


def _text(schema: Any) -> str:
    return " ".join(str(schema.get("description", "")).split())


def _default(value: Any) -> str:
    if isinstance(value, list | dict):
        if not value:
            return f"attrs.Factory({type(value).__name__})"
        return f"attrs.Factory(lambda: copy.deepcopy({value!r}))"
    return repr(value)


def _data(schema: Any) -> Any:
    """A schema as the data a check needs: annotations and extensions left out."""
    if isinstance(schema, list):
        return [_data(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value if key in ("enum", "const") else _data(value)
        for key, value in schema.items()
        if key not in ANNOTATIONS and not key.startswith("x-")
    }


def _patterns(node: Any, where: str = "#") -> Iterable[tuple[str, str]]:
    """Every `pattern` of the document, with where it is (a JSON pointer)."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _patterns(item, f"{where}/{i}")
    elif isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield where, node["pattern"]
        for key, value in node.items():
            yield from _patterns(value, f"{where}/{key.replace('~', '~0').replace('/', '~1')}")


class _Types:
    """Static type expressions of schema nodes, for options (lenient inputs) or answers.

    For options, a closed object (`additionalProperties: false`) with properties becomes a
    TypedDict, which `emit` writes; an open one stays a Mapping, since a TypedDict would
    refuse the other keys the document allows.
    """

    def __init__(
        self, doc: Document, answers: bool, emit: Callable[[str, dict[str, Any]], str] | None = None
    ) -> None:
        self.doc, self.answers, self.emit = doc, answers, emit

    def of(self, schema: Any, hint: str = "") -> str:
        schema, ref = self.doc.named(schema)
        hint = ref or hint
        if not isinstance(schema, dict) or not schema:
            return "Any"
        for word in ("oneOf", "anyOf"):
            if word in schema:
                return _union(self.of(sub, hint) for sub in schema[word])
        if "const" in schema and not self.answers:
            return f"Literal[{schema['const']!r}]"
        if "type" not in schema:
            return "Any"
        return _union(self._one(kind, schema, hint) for kind in _listed(schema["type"]))

    def _one(self, kind: str, schema: dict[str, Any], hint: str) -> str:
        if kind == "string" and "enum" in schema and not self.answers:
            return f"Literal[{', '.join(repr(v) for v in schema['enum'] if isinstance(v, str))}]"
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "null":
            return "None"
        if kind == "array":
            item = self.of(schema.get("items", {}), f"{hint}Item")
            return f"list[{item}]" if self.answers else f"Sequence[{item}]"
        if self.answers:
            return "dict[str, Any]"
        closed = schema.get("additionalProperties") is False and "properties" in schema
        if closed and self.emit is not None:
            return self.emit(hint, schema)
        return "Mapping[str, Any]"


class _Compiler:
    def __init__(
        self,
        document: dict[str, Any],
        prefix: str,
        curated: frozenset[str],
        reserved: frozenset[str],
        members: frozenset[str],
    ) -> None:
        self.doc = Document(document)
        self.prefix, self.curated, self.reserved = prefix, curated, reserved
        # Names the generated and curated classes use for their own attributes and methods.
        self.members = members | {"extra", "sent", "from_data", "to_dict", "model_dump"}
        self.typed_dicts: dict[int, dict[str, Any]] = {}  # closed request objects
        self.answers: dict[int, dict[str, Any]] = {}  # answer classes, by schema
        self.link_headers: dict[str, str] = {}

    def context(self) -> dict[str, Any]:
        for where, pattern in _patterns(self.doc.data):
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                raise FactsError(f"{where}: {exc}") from None
        operations: list[dict[str, Any]] = []
        requests: dict[str, dict[str, Any]] = {}
        answers: dict[str, dict[str, Any]] = {}
        parameters: dict[str, dict[str, Any]] = {}
        for op in self.doc.operations():
            request = self._schema(self.doc.request_schema(op), f"{class_name(op.id)}Body")
            json_answer = self.doc.answer_schemas(op).get("application/json")
            answer = self._schema(json_answer, f"{class_name(op.id)}Answer")
            if request:
                requests[request[0]] = request[1]
            if answer:
                answers[answer[0]] = answer[1]
            for parameter in self.doc.parameters(op):
                self._parameter(op.id, parameter, parameters)
            self._link_headers(op.spec)
            operations.append(
                {
                    "id": op.id,
                    "method": op.method.upper(),
                    "path": op.path,
                    "request": request[0] if request else None,
                    "answer": answer[0] if answer else None,
                    "statuses": self.doc.statuses(op),
                }
            )
        bodies = [self._request(name, schema) for name, schema in requests.items()]
        for name, schema in answers.items():
            self._answer(name, schema, f"{name}Fields")
        return {
            "typed_dicts": list(self.typed_dicts.values()),
            "requests": bodies,
            "answers": list(self.answers.values()),
            "operations": operations,
            "api_key_header": self.doc.api_key_header(),
            "link_headers": self.link_headers,
            "parameters": [{"keyword": keyword, **rest} for keyword, rest in parameters.items()],
        }

    def _schema(self, schema: Any, fallback: str) -> tuple[str, dict[str, Any]] | None:
        if schema is None:
            return None
        resolved, name = self.doc.named(schema)
        return name or fallback, resolved

    def _inlined(self, schema: Any, where: str) -> Any:
        data = _data(self.doc.inlined(schema, where=where))
        compile_check(data, where)  # a keyword the checks do not enforce stops here
        return data

    def _parameter(self, op_id: str, parameter: dict[str, Any], found: dict[str, Any]) -> None:
        if parameter["in"] not in ("path", "header"):
            return
        keyword = python_name(parameter["name"], self.prefix)
        schema = self._inlined(parameter.get("schema", {}), f"{op_id}.{parameter['name']}")
        entry = {"where": parameter["in"], "wire": parameter["name"], "schema": schema}
        if found.setdefault(keyword, entry) != entry:
            raise FactsError(f"parameter {keyword!r} differs between operations")

    def _link_headers(self, op: dict[str, Any]) -> None:
        """Which response header each link parameter reads (`$response.header.<name>`)."""
        for code, response in op.get("responses", {}).items():
            for link in self.doc.resolve(response).get("links", {}).values():
                for name, value in self.doc.resolve(link).get("parameters", {}).items():
                    if not (isinstance(value, str) and value.startswith("$response.header.")):
                        continue
                    header = value.removeprefix("$response.header.")
                    if self.link_headers.setdefault(name, header) != header:
                        raise FactsError(f"links read {name!r} from two headers ({code})")

    def _request(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object" or "properties" not in schema:
            raise FactsError(f"request body {name} must be an object with properties")
        extra = set(schema) - {"type", "properties", "required", "additionalProperties"}
        if extra - ANNOTATIONS:
            raise FactsError(
                f"request body {name} uses {', '.join(sorted(extra))} at its top level"
            )
        required = set(schema.get("required", ()))
        types = _Types(self.doc, answers=False, emit=self._typed_dict)
        fields = []
        for wire, sub in schema["properties"].items():
            attr = python_name(wire, self.prefix)
            if attr in self.reserved:
                raise FactsError(
                    f"body field {wire!r} of {name} shadows the SDK's keyword {attr!r}"
                )
            resolved = self.doc.resolve(sub)
            static = types.of(sub, hint=f"{name}{class_name(wire)}")
            deprecated = bool(resolved.get("deprecated") or sub.get("deprecated"))
            doc = _text(resolved)
            if "default" in resolved:
                doc += f" Server default: {resolved['default']!r}."
            optional = _union([static, "None"])
            fields.append(
                {
                    "attr": attr,
                    "wire": wire,
                    "schema": self._inlined(sub, f"{name}.{wire}"),
                    "doc": (doc + " Deprecated." if deprecated else doc).strip(),
                    "deprecated": deprecated,
                    "curated": attr in self.curated,
                    "option": f"Required[{static}]" if wire in required else optional,
                    "attribute": static if wire in required else f"{optional} = None",
                }
            )
        self._unique(name, [field["attr"] for field in fields])
        return {
            "name": name,
            "snake": _snake(name),
            "upper": _snake(name).upper(),
            "description": " ".join(str(schema.get("description", name)).split()),
            # Mandatory attributes first: attrs wants them before those with defaults.
            "fields": sorted(fields, key=lambda field: "=" in field["attribute"]),
            "required": tuple(f["attr"] for f in fields if f["wire"] in required),
            "deprecated": tuple(f["attr"] for f in fields if f["deprecated"]),
        }

    def _typed_dict(self, hint: str, schema: dict[str, Any]) -> str:
        """The TypedDict of a closed request object (made on first sight)."""
        known = self.typed_dicts.get(id(schema))
        if known:
            return str(known["name"])
        entry: dict[str, Any] = {"name": f"{class_name(hint)}Dict", "hint": hint, "entries": []}
        self.typed_dicts[id(schema)] = entry
        types = _Types(self.doc, answers=False, emit=self._typed_dict)
        required = set(schema.get("required", ()))
        for wire, sub in schema["properties"].items():
            if not wire.isidentifier():
                raise FactsError(f"{hint}.{wire}: a closed object's keys must be identifiers")
            static = types.of(sub, hint=f"{hint}{class_name(wire)}")
            entry["entries"].append((wire, f"Required[{static}]" if wire in required else static))
        return str(entry["name"])

    def _unique(self, owner: str, attrs: list[str]) -> None:
        """Two fields on one Python name, or a field on a name the SDK's classes use, would
        silently hide one of them."""
        seen: set[str] = set()
        for attr in attrs:
            if attr in seen:
                raise FactsError(f"two fields of {owner} have the same Python name {attr!r}")
            if attr in self.members:
                raise FactsError(
                    f"a field of {owner} is named {attr!r}, which the SDK's classes use for "
                    "something else: rename the field, or the SDK's member"
                )
            seen.add(attr)

    def _answer(self, name: str, schema: dict[str, Any], cls: str) -> str:
        if id(schema) in self.answers:
            return str(self.answers[id(schema)]["cls"])
        entry: dict[str, Any] = {"cls": cls, "fields": []}
        self.answers[id(schema)] = entry
        required = list(schema.get("required", ()))
        types = _Types(self.doc, answers=True)
        for wire, sub in schema.get("properties", {}).items():
            resolved = self.doc.resolve(sub)
            nested = self._nested(name, wire, resolved)
            static = types.of(resolved)
            if nested and "array" in _listed(resolved.get("type", [])):
                static = f"list[{nested}]"
            elif nested:
                null = "null" in _listed(resolved.get("type", []))
                static = _union([nested, *(["None"] if null else [])])
            if wire in required:
                attribute = static
            elif "default" in resolved:
                default = _default(resolved["default"])
                if nested and isinstance(resolved["default"], dict):
                    default = f"attrs.Factory(lambda: {nested}.from_data({resolved['default']!r}))"
                attribute = f"{static} = {default}"
            else:
                attribute = f"{_union([static, 'None'])} = None"
            entry["fields"].append(
                {
                    "attr": python_name(wire, self.prefix),
                    "wire": wire,
                    "doc": _text(resolved),
                    "attribute": attribute,
                    "schema": _data(self.doc.inlined(sub, where=f"{name}.{wire}")),
                    "nested": nested,
                }
            )
        self._unique(cls, [field["attr"] for field in entry["fields"]])
        entry["fields"].sort(key=lambda field: "=" in field["attribute"])
        entry["description"] = " ".join(str(schema.get("description", name)).split())
        entry["required"] = tuple(required)
        return cls

    def _nested(self, parent: str, wire: str, schema: dict[str, Any]) -> str | None:
        """The class of an object with properties (or of an array's items, at any depth)."""
        while "array" in _listed(schema.get("type", [])) and isinstance(schema.get("items"), dict):
            schema = schema["items"]
        resolved, ref = self.doc.named(schema)
        if isinstance(resolved, dict) and "properties" in resolved:
            cls = ref or f"{parent}{class_name(wire)}"
            return self._answer(cls, resolved, cls)
        return None


def compile_facts(
    document: dict[str, Any],
    *,
    field_prefix: str = "field_",
    curated: frozenset[str] = frozenset(),
    reserved: frozenset[str] = frozenset(),
    members: frozenset[str] = frozenset(),
) -> str:
    """The source of the facts module for `document`.

    `curated` names body fields the SDK's methods take as explicit keywords (left out of the
    options TypedDicts); `reserved` names the SDK's own call options, which no body field may
    shadow; `members` names what the curated classes add, which no field may hide.
    """
    compiler = _Compiler(document, field_prefix, curated, reserved, members)
    try:
        compiler.doc.check_rules()
        context = compiler.context()
    except (SchemaError, PatternError, DocumentError) as exc:
        raise FactsError(str(exc)) from None
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Python source, not HTML
    )
    environment.filters["pyrepr"] = repr
    return environment.get_template("facts.py.jinja").render(context)
