"""The OpenAPI document as data: loading it, following its `$ref`s, and walking its schemas.

This is the one place that resolves references. The generator (`make generate`), the fake
server (`somia.testing`), the API diff (`scripts/api_diff.py`), the contract suite and the
tests read the document through it.

How it stands to the bridge rule (only `somia._bridge` imports the generated package): it
imports no code of `somia_api`. The document it loads by default is the normalised JSON that
`make generate` ships inside the generated package, found as a data file next to the
package (through the import system, without running the package). So it works where
`somia_api.facts` is missing or stale, which is the generator's own case, and it needs only
the standard library (YAML, the hand-written source's format, is read only when asked).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "ANNOTATIONS",
    "EVENT_KINDS",
    "METHODS",
    "Document",
    "DocumentError",
    "Fields",
    "Idempotency",
    "Operation",
    "Refusal",
    "StreamRules",
    "closed",
    "load",
    "normalised",
    "parse",
    "shipped",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Schema keywords that constrain nothing.
ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "example", "deprecated", "$comment",
     "readOnly", "writeOnly", "externalDocs"}
)  # fmt: skip
JSON_MEDIA = "application/json"
EVENT_STREAM = "text/event-stream"
_SCHEMAS = "#/components/schemas/"


class DocumentError(ValueError):
    """A document that cannot be read or followed: not OpenAPI, or a `$ref` that leads nowhere."""


def parse(text: str, *, name: str = "document") -> dict[str, Any]:
    """A document's text (YAML or JSON) as a dict; DocumentError when it is not one."""
    import yaml  # only the hand-written source is YAML; a dev dependency

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's is ten times faster
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise DocumentError(f"{name} does not parse: {exc}") from exc
    if not isinstance(data, dict) or "openapi" not in data:
        raise DocumentError(f"{name} is not an OpenAPI document")
    return data


def normalised(data: Mapping[str, Any]) -> str:
    """The document as indented JSON, in the document's order: YAML spelling carries no meaning."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _shipped_path() -> Path:
    import importlib.util  # only here: `import somia` need not load importlib

    spec = importlib.util.find_spec("somia_api")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise DocumentError("the generated package somia_api is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "openapi.json"


@functools.cache
def shipped() -> Document:
    """The document `make generate` normalised and shipped with the generated package."""
    return Document(json.loads(_shipped_path().read_text(encoding="utf-8")))


def load(source: Document | Mapping[str, Any] | str | Path | None = None) -> Document:
    """A document: the shipped one (None), a dict, or a file (JSON or YAML)."""
    if source is None:
        return shipped()
    if isinstance(source, Document):
        return source
    if isinstance(source, Mapping):
        return Document(source)
    path = Path(source)
    text = path.read_text(encoding="utf-8")
    return Document(json.loads(text) if path.suffix == ".json" else parse(text, name=str(path)))


def closed(node: Any) -> Any:
    """A copy of a schema where each object schema listing `properties` takes no other."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {key: closed(value) for key, value in node.items()}
    if isinstance(node.get("properties"), Mapping) and "patternProperties" not in node:
        out["additionalProperties"] = False
    return out


class Refusal(NamedTuple):
    """A rule of `x-somia-refusals`: what a request breaks, and the status that says so."""

    rule: str
    status: int
    description: str


EVENT_KINDS = ("chunk", "error", "end", "unknown")
"""The kinds of event the document's event rule gives (`somia._events`), as `x-somia-stream`
names them; `unknown` is an event of another kind."""


class StreamRules(NamedTuple):
    """The `x-somia-stream` rules of an event-stream answer."""

    ends_with: frozenset[str]
    """The kinds of event a complete stream ends with."""
    followed_by: Mapping[str, frozenset[str]]
    """Per kind, the kinds that may follow it (a kind not listed: any)."""
    cumulative: tuple[str, ...]
    """Chunk fields whose value starts with the previous chunk's."""


class Idempotency(NamedTuple):
    """An operation's idempotency key (`x-somia-idempotency` on a header parameter)."""

    header: str
    same_request: tuple[str, ...]
    """What must match for a repeat with the key to be the same request: `operation`,
    `path`, `body`; a request differing in any of them is an `idempotency-conflict`."""


class Operation(NamedTuple):
    """One operation: its path template, method, its own mapping and its path item's."""

    path: str
    method: str
    spec: dict[str, Any]
    item: dict[str, Any]

    @property
    def id(self) -> str:
        """The operationId, or `METHOD path` when it has none."""
        return str(self.spec.get("operationId") or f"{self.method.upper()} {self.path}")


_Tree = tuple[tuple[str, str, "_Tree", "_Tree"], ...]
"""Per documented property: its name, its path, its own fields and its items' fields."""


class Fields:
    """The documented fields of a schema, nested ones as `a.b` (`a[].b` in array items)."""

    def __init__(self, document: Document, schema: Any, depth: int = 32) -> None:
        self._tree = self._walk(document, schema, "", depth)
        self.paths: list[str] = list(self._paths(self._tree))

    @classmethod
    def _walk(cls, document: Document, schema: Any, prefix: str, depth: int) -> _Tree:
        if depth <= 0:  # a recursive schema: deeper fields are not tracked
            return ()
        return tuple(
            (
                name,
                prefix + name,
                cls._walk(document, sub, f"{prefix}{name}.", depth - 1),
                cls._walk(document, sub.get("items", {}), f"{prefix}{name}[].", depth - 1),
            )
            for name, sub in document.properties(schema).items()
        )

    @classmethod
    def _paths(cls, tree: _Tree) -> Iterator[str]:
        for _, path, fields, items in tree:
            yield path
            yield from cls._paths(fields)
            yield from cls._paths(items)

    def present(self, value: Any) -> set[str]:
        """The documented fields `value` carries."""
        return self._present(self._tree, value)

    @classmethod
    def _present(cls, tree: _Tree, value: Any) -> set[str]:
        found: set[str] = set()
        if not isinstance(value, dict):
            return found
        for name, path, fields, items in tree:
            if name not in value:
                continue
            found.add(path)
            if fields:
                found |= cls._present(fields, value[name])
            if items and isinstance(value[name], list):
                for item in value[name]:
                    found |= cls._present(items, item)
        return found


class Document:
    """An OpenAPI document (a decoded mapping) and the walks every reader of it shares."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = data if isinstance(data, dict) else dict(data)

    def named(self, node: Any) -> tuple[Any, str | None]:
        """`node` with its `$ref` chain followed, and the last schema component on the chain."""
        name = None
        for _ in range(64):
            if not isinstance(node, Mapping) or "$ref" not in node:
                return node, name
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise DocumentError(f"only local $refs are supported, not {ref!r}")
            target: Any = self.data
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, Mapping) or part not in target:
                    raise DocumentError(f"$ref {ref!r} leads nowhere")
                target = target[part]
            if ref.startswith(_SCHEMAS):
                name = ref[len(_SCHEMAS) :]
            node = target
        raise DocumentError("a $ref chain does not end")

    def resolve(self, node: Any) -> Any:
        """`node` with its `$ref` chain followed; any other node as it is."""
        return self.named(node)[0]

    def inlined(self, schema: Any, *, where: str = "schema", _open: tuple[str, ...] = ()) -> Any:
        """A copy of `schema` with every `$ref` replaced by its target, to stand alone.

        Annotations beside a `$ref` win over the target's; another keyword beside it that
        its target also has, or a schema that contains itself, is a DocumentError.
        """
        if isinstance(schema, list):
            return [self.inlined(item, where=where, _open=_open) for item in schema]
        if not isinstance(schema, Mapping):
            return schema
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in _open:
                raise DocumentError(f"{where}: {ref.rsplit('/', 1)[-1]} contains itself")
            target = self.inlined(self.resolve({"$ref": ref}), where=where, _open=(*_open, ref))
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            clash = sorted((set(rest) & set(target)) - ANNOTATIONS)
            if clash or not isinstance(target, Mapping):
                raise DocumentError(f"{where}: {', '.join(clash) or 'a keyword'} beside {ref}")
            return {**target, **self.inlined(rest, where=where, _open=_open)}
        return {key: self.inlined(value, where=where, _open=_open) for key, value in schema.items()}

    # -- operations ------------------------------------------------------------------------

    def operations(self) -> list[Operation]:
        """Every operation, in document order."""
        return [
            Operation(path, method, item[method], item)
            for path, raw in self.data.get("paths", {}).items()
            for item in [self.resolve(raw)]
            for method in METHODS
            if method in item
        ]

    def operation(self, operation_id: str) -> Operation:
        """The operation of that operationId (KeyError when there is none)."""
        for operation in self.operations():
            if operation.id == operation_id:
                return operation
        raise KeyError(operation_id)

    def parameters(self, operation: Operation) -> list[dict[str, Any]]:
        """An operation's parameters, its path item's included (the operation's win)."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*operation.item.get("parameters", []), *operation.spec.get("parameters", [])]:
            parameter = self.resolve(raw)
            name = parameter["name"]
            where = parameter["in"]
            found[(where, name.lower() if where == "header" else name)] = parameter
        return list(found.values())

    def request_body(self, operation: Operation) -> dict[str, Any]:
        """An operation's request body ({} when it takes none)."""
        body: dict[str, Any] = self.resolve(operation.spec.get("requestBody")) or {}
        return body

    def request_schema(self, operation: Operation) -> Any:
        """The JSON request body's schema (unresolved), or None."""
        media = self.request_body(operation).get("content", {}).get(JSON_MEDIA)
        return None if media is None else media.get("schema", {})

    def answer_schemas(self, operation: Operation) -> dict[str, Any]:
        """The schema (unresolved) of each media type of the `200` answer."""
        answer = self.resolve(operation.spec.get("responses", {}).get("200")) or {}
        return {media: spec.get("schema", {}) for media, spec in answer.get("content", {}).items()}

    def event_data_schema(self, operation: Operation) -> Any:
        """The schema (unresolved) of the data of an event of the streamed answer: the event
        schema's `then` branch when it has one (events of other names may carry anything:
        see "Event names"); {} when the stream documents none."""
        event = self.merged(self.answer_schemas(operation).get(EVENT_STREAM, {}))
        then = self.merged(event.get("then", {}))
        if "data" in then.get("properties", {}):
            event = then
        data = self.merged(event.get("properties", {}).get("data", {}))
        return data.get("contentSchema", {})

    def chunk_schema(self, operation: Operation) -> Any:
        """A stream chunk's schema: the event data alternative that requires what the JSON
        answer requires (the JSON answer's schema when the stream documents none)."""
        json_schema = self.answer_schemas(operation).get(JSON_MEDIA, {})
        content = self.merged(self.event_data_schema(operation))
        options = content.get("anyOf") or content.get("oneOf") or [content]
        needed = set(self.merged(json_schema).get("required", []))
        for option in options:
            merged = self.merged(option)
            if merged.get("properties") and needed <= set(merged.get("required", [])):
                return option
        return json_schema

    def statuses(self, operation: Operation) -> tuple[int, ...]:
        """The statuses the operation documents, in order."""
        return tuple(
            sorted(int(code) for code in operation.spec.get("responses", {}) if code.isdigit())
        )

    # -- schemas ---------------------------------------------------------------------------

    def merged(self, schema: Any) -> dict[str, Any]:
        """A schema with `$ref` followed and `allOf` members merged in: properties and
        `required` add up; for other keywords the schema's own value wins."""
        schema = self.resolve(schema)
        if schema is False:
            return {"not": {}}
        if not isinstance(schema, Mapping):
            return {}
        out = {key: value for key, value in schema.items() if key != "allOf"}
        for member in schema.get("allOf", []):
            part = self.merged(member)
            properties = {**part.get("properties", {}), **out.get("properties", {})}
            required = list(dict.fromkeys([*part.get("required", []), *out.get("required", [])]))
            out = {**part, **out}
            if properties:
                out["properties"] = properties
            if required:
                out["required"] = required
        return out

    def types(self, schema: Any) -> list[str]:
        """The JSON types a schema names with `type` (after `$ref`), in its order."""
        kind = self.merged(schema).get("type")
        if isinstance(kind, str):
            return [kind]
        return [str(name) for name in kind] if isinstance(kind, list) else []

    def properties(self, schema: Any) -> dict[str, dict[str, Any]]:
        """The documented properties of an object schema, each resolved and merged."""
        return {
            name: self.merged(sub)
            for name, sub in self.merged(schema).get("properties", {}).items()
        }

    def fields(self, schema: Any) -> Fields:
        """The documented fields of a schema (nested ones too) and which a value carries."""
        return Fields(self, schema)

    def api_key_header(self) -> str | None:
        """The header of the apiKey scheme the document's security asks for, if any."""
        schemes = self.data.get("components", {}).get("securitySchemes", {})
        for requirement in self.data.get("security", []):
            for name in requirement:
                scheme = self.resolve(schemes.get(name, {}))
                if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                    return str(scheme["name"])
        return None

    # -- the document's own rules (x-somia-* extensions) -----------------------------------

    def refusals(self) -> tuple[Refusal, ...]:
        """The rules of `x-somia-refusals`, in the order a server checks them."""
        found = []
        for entry in self.data.get("x-somia-refusals", []):
            if not (isinstance(entry, Mapping) and isinstance(entry.get("rule"), str)):
                raise DocumentError(f"x-somia-refusals: {entry!r} has no rule")
            status = entry.get("status")
            if isinstance(status, bool) or not isinstance(status, int):
                raise DocumentError(f"x-somia-refusals: {entry['rule']} has no integer status")
            found.append(
                Refusal(entry["rule"], status, " ".join(entry.get("description", "").split()))
            )
        return tuple(found)

    def refusal_status(self, rule: str) -> int | None:
        """The status of a refusal rule (None when the document names no such rule)."""
        return next((r.status for r in self.refusals() if r.rule == rule), None)

    def responses(self, operation: Operation) -> dict[int, dict[str, Any]]:
        """Each documented status of an operation and its response, resolved."""
        answers = operation.spec.get("responses", {})
        return {int(code): self.resolve(answers[code]) for code in answers if code.isdigit()}

    def answer_headers(self, operation: Operation, status: int) -> dict[str, dict[str, Any]]:
        """The headers an operation's answer of `status` documents, resolved."""
        response = self.responses(operation).get(status, {})
        return {name: self.resolve(h) for name, h in response.get("headers", {}).items()}

    def media_rules(self, operation: Operation) -> dict[str, dict[str, Any]]:
        """Per media type of the `200` answer, the body fields that choose it (`x-somia-when`)."""
        content = self.responses(operation).get(200, {}).get("content", {})
        return {media: dict(spec.get("x-somia-when", {})) for media, spec in content.items()}

    def stream_rules(self, operation: Operation) -> StreamRules | None:
        """The `x-somia-stream` rules of the operation's event-stream answer, if it has one."""
        content = self.responses(operation).get(200, {}).get("content", {})
        raw = content.get(EVENT_STREAM, {}).get("x-somia-stream")
        if raw is None:
            return None
        ends = raw.get("ends-with", [])
        followed = raw.get("followed-by", {})
        kinds = [*ends, *followed, *(k for after in followed.values() for k in after)]
        unknown = sorted(set(kinds) - set(EVENT_KINDS))
        if unknown:
            raise DocumentError(f"x-somia-stream of {operation.id}: unknown kinds {unknown}")
        return StreamRules(
            frozenset(ends),
            {kind: frozenset(after) for kind, after in followed.items()},
            tuple(raw.get("cumulative", [])),
        )

    def max_body_bytes(self, operation: Operation) -> int | None:
        """The most bytes the operation's request body may hold (`x-somia-max-body-bytes`)."""
        value = self.request_body(operation).get("x-somia-max-body-bytes")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise DocumentError(f"x-somia-max-body-bytes of {operation.id} is not an integer")
        return value

    def idempotency(self, operation: Operation) -> Idempotency | None:
        """The operation's idempotency key header and its scope, if it takes one."""
        for parameter in self.parameters(operation):
            scope = parameter.get("x-somia-idempotency")
            if scope is not None and parameter["in"] == "header":
                same = tuple(scope.get("same-request", ["operation", "path", "body"]))
                if set(same) - {"operation", "path", "body"}:
                    raise DocumentError(f"x-somia-idempotency: unknown parts in {list(same)}")
                return Idempotency(parameter["name"], same)
        return None

    def security(self, operation: Operation) -> list[dict[str, dict[str, Any]]]:
        """The operation's security alternatives: each a mapping of scheme name to scheme
        (all of one alternative are needed); [] when it needs none."""
        schemes = self.data.get("components", {}).get("securitySchemes", {})
        requirements = operation.spec.get("security", self.data.get("security", []))
        return [
            {name: self.resolve(schemes[name]) for name in requirement}
            for requirement in requirements
        ]

    def check_rules(self) -> None:
        """DocumentError when an `x-somia-*` rule is malformed (`make generate` calls it)."""
        rules = {refusal.rule for refusal in self.refusals()}
        if len(rules) != len(self.refusals()):
            raise DocumentError("x-somia-refusals names a rule twice")
        for operation in self.operations():
            self.stream_rules(operation)
            self.max_body_bytes(operation)
            self.idempotency(operation)
