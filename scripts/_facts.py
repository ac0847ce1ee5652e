"""Compile the facts the curated SDK needs from the OpenAPI document into one Python module.

`make generate` writes the result to generated/somia_api/facts.py, beside the generated client:
the request options as TypedDicts, their checks as plain Python (compiled once, so a call only
runs them), the answer's documented fields as attrs classes with a type-checking parser, and the
documented statuses. `somia` reads these through its bridge and never restates them.

A request schema keyword the compiled checks do not enforce stops generation, naming it, so no
constraint of the document is silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from openapi_python_client.strings import PythonIdentifier  # the generator's own naming

from somia._patterns import PatternError, translate

# Keywords that carry no constraint: they may appear in any schema.
_ANNOTATIONS = frozenset(
    {"description", "title", "examples", "example", "default", "deprecated", "$comment",
     "readOnly", "writeOnly", "externalDocs", "contentMediaType", "contentEncoding",
     "discriminator"}  # discriminator: a hint for oneOf, which is checked in full
)  # fmt: skip
# Keywords the request checks enforce.
_ENFORCED = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "multipleOf", "pattern", "minLength", "maxLength", "minItems", "maxItems", "items",
     "properties", "required", "additionalProperties", "minProperties", "maxProperties",
     "oneOf", "anyOf", "allOf", "format", "$ref"}
)  # fmt: skip
_FORMAT_RANGES: dict[str, tuple[int | None, int | None]] = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "float": (None, None),  # a number's precision: nothing to check on a Python float
    "double": (None, None),
}
# The type checks written inline for one JSON type (the common case, on every call).
_SINGLE_TYPE = {
    "string": "if v.__class__ is not str and not isinstance(v, str):\n"
    '        raise TypeError(f"{name} must be a string, not {_kind(v)}")',
    "boolean": "if v is not True and v is not False:\n"
    '        raise TypeError(f"{name} must be a bool, not {_kind(v)}")',
    # A plain int passes at once; anything else gets the general check and its message.
    "integer": "if v.__class__ is not int:\n"
    '        v = _typed(v, name, ("integer",), "an integer")',
}
_PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a bool",
    "null": "None",
    "array": "a sequence",
    "object": "a mapping",
}


class FactsError(Exception):
    """The document uses something the compiled facts cannot represent."""


def python_name(wire: str, prefix: str) -> str:
    """The keyword/attribute name the generator gives a property."""
    return str(PythonIdentifier(wire, prefix=prefix))


def class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name))


class _Document:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: Any) -> tuple[str | None, Any]:
        """(component name or None, the schema) with `$ref`s followed."""
        name = None
        seen = set()
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if ref in seen or not ref.startswith("#/"):
                raise FactsError(f"cannot follow $ref {ref!r}")
            seen.add(ref)
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            name = ref.rsplit("/", 1)[-1]
            if set(schema) - {"$ref"} - _ANNOTATIONS:
                raise FactsError(f"$ref {ref!r} has sibling keywords")
            schema = target
        return name, schema


class _Checks:
    """Emits one check function per request schema node: `_cN(value, name) -> value`."""

    def __init__(self, doc: _Document) -> None:
        self.doc = doc
        self.lines: list[str] = []
        self.constants: list[str] = []
        self.count = 0
        self.open_refs: list[str] = []  # the components being compiled, to refuse recursion
        self.by_body: dict[tuple[str, ...], str] = {}  # the function of each distinct body

    def _const(self, value: Any) -> str:
        name = f"_K{len(self.constants)}"
        self.constants.append(f"{name} = {value!r}")
        return name

    def compile(self, schema: Any, where: str) -> str:
        """The name of the function checking `schema`; `where` names it in errors."""
        ref, schema = self.doc.resolve(schema)
        if ref is not None:
            if ref in self.open_refs:
                raise FactsError(f"{where}: {ref} contains itself, which request checks cannot")
            self.open_refs.append(ref)
            try:
                return self.compile(schema, where)
            finally:
                self.open_refs.pop()
        if schema is True or schema == {}:
            return "_any"
        if not isinstance(schema, dict):
            raise FactsError(f"{where}: unsupported schema {schema!r}")
        unknown = {k for k in set(schema) - _ENFORCED - _ANNOTATIONS if not k.startswith("x-")}
        if unknown:
            raise FactsError(
                f"{where} uses {', '.join(sorted(unknown))}, which the compiled request checks "
                "do not enforce: teach scripts/_facts.py to enforce it"
            )
        fmt = schema.get("format")
        if fmt is not None and fmt not in _FORMAT_RANGES:
            raise FactsError(
                f"{where} uses format {fmt!r}, which the compiled checks do not enforce"
            )
        body = list(self._body(schema, where))
        if not body:
            return "_any"
        known = self.by_body.get(tuple(body))
        if known:  # the same checks (say, every boolean field): one function
            return known
        self.count += 1
        fn = f"_c{self.count}"
        self.lines += [f"def {fn}(v: Any, name: str) -> Any:", *[f"    {line}" for line in body]]
        self.lines += ["    return v", "", ""]
        self.by_body[tuple(body)] = fn
        return fn

    def _body(self, s: dict[str, Any], where: str) -> Iterator[str]:
        for word in ("oneOf", "anyOf"):
            if word in s:
                yield from self._alternatives(s[word], word, where)
        for i, sub in enumerate(s.get("allOf", ())):
            yield f"v = {self.compile(sub, f'{where}.allOf[{i}]')}(v, name)"
        types = s.get("type")
        if types is not None:
            kinds = [types] if isinstance(types, str) else list(types)
            words = " or ".join(_TYPE_WORDS[k] for k in kinds)
            if len(kinds) == 1 and kinds[0] in _SINGLE_TYPE:
                yield _SINGLE_TYPE[kinds[0]]
            else:
                yield f"v = _typed(v, name, {tuple(kinds)!r}, {words!r})"
            kinds_set = set(kinds)
        else:
            kinds_set = set(_TYPE_WORDS)
        if "enum" in s:
            yield f"_enum(v, name, {self._const(tuple(s['enum']))})"
        if "const" in s:
            yield f"_enum(v, name, {self._const((s['const'],))})"
        yield from self._numbers(s, kinds_set)
        if kinds_set & {"string"}:
            if "minLength" in s or "maxLength" in s:
                low, high = s.get("minLength", 0), s.get("maxLength")
                yield f"_length(v, name, {low}, {high}, 'characters', str)"
            if "pattern" in s:
                try:
                    regex = re.compile(translate(s["pattern"]))
                except PatternError as exc:
                    raise FactsError(f"{where}: {exc}") from None
                yield f"_pattern(v, name, {self._const(regex)}, {s['pattern']!r})"
        if kinds_set & {"array"}:
            if "minItems" in s or "maxItems" in s:
                low, high = s.get("minItems", 0), s.get("maxItems")
                yield f"_length(v, name, {low}, {high}, 'items', list)"
            if "items" in s:
                yield f"v = _items(v, name, {self.compile(s['items'], f'{where}.items')})"
        if kinds_set & {"object"}:
            yield from self._object(s, where, declared=types is not None)

    def _alternatives(self, subs: list[Any], word: str, where: str) -> Iterator[str]:
        fns = [self.compile(sub, f"{where}.{word}[{i}]") for i, sub in enumerate(subs)]
        kinds = [self.doc.resolve(sub)[1].get("type") for sub in subs]
        numeric = sum(kind in {"integer", "number"} for kind in kinds)
        if all(isinstance(k, str) for k in kinds) and len(set(kinds)) == len(kinds) and numeric < 2:
            # Members of distinct JSON types: the value's type picks the one member that can
            # match (exactly oneOf's and anyOf's answer), without trying the others.
            words = " or ".join(_TYPE_WORDS[k] for k in kinds)
            for i, (kind, fn) in enumerate(zip(kinds, fns, strict=True)):
                yield f"{'if' if i == 0 else 'elif'} _is(v, {kind!r}):"
                yield f"    v = {fn}(v, name)"
            yield "else:"
            yield f"    v = _typed(v, name, {tuple(kinds)!r}, {words!r})"
            return
        yield f"v = _{word.lower()}(v, name, ({', '.join(fns)},))"

    def _numbers(self, s: dict[str, Any], kinds: set[str]) -> Iterator[str]:
        if not kinds & {"integer", "number"}:
            return
        low, high = _FORMAT_RANGES.get(s.get("format", ""), (None, None))
        low = s.get("minimum", low)
        high = s.get("maximum", high)
        if low is not None or high is not None:
            yield f"_range(v, name, {low!r}, {high!r}, False)"
        if "exclusiveMinimum" in s or "exclusiveMaximum" in s:
            low, high = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
            yield f"_range(v, name, {low!r}, {high!r}, True)"
        if "multipleOf" in s:
            yield f"_multiple(v, name, {s['multipleOf']!r})"

    def _object(self, s: dict[str, Any], where: str, declared: bool) -> Iterator[str]:
        if "minProperties" in s or "maxProperties" in s:
            yield (
                f"_length(v, name, {s.get('minProperties', 0)}, {s.get('maxProperties')}, "
                "'properties', dict)"
            )
        props = {
            wire: self.compile(sub, f"{where}.{wire}")
            for wire, sub in s.get("properties", {}).items()
        }
        extra = s.get("additionalProperties", True)
        extra_fn = (
            "None" if extra is False else self.compile(extra, f"{where}.additionalProperties")
        )
        if props or s.get("required") or extra_fn not in {"_any"}:
            table = "{" + ", ".join(f"{wire!r}: {fn}" for wire, fn in props.items()) + "}"
            required = self._const(tuple(s.get("required", ())))
            yield f"v = _fields(v, name, {table}, {required}, {extra_fn})"
        elif declared:  # JSON object keys are strings: json.dumps would turn 1 into "1" silently
            yield "_keys(v, name)"


_RUNTIME = '''
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


def _fields(
    v: Any, name: str, known: dict[str, Check], required: tuple[str, ...], extra: Check | None
) -> Any:
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
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        ("somia", "attr")
    ):
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
'''


class _Types:
    """Static type expressions of schema nodes, for options (lenient inputs) or answers.

    For options, a closed object (`additionalProperties: false`) with properties becomes a
    TypedDict, which `emit` writes; an open one stays a Mapping, since a TypedDict would
    refuse the other keys the document allows.
    """

    def __init__(
        self,
        doc: _Document,
        answers: bool,
        emit: Callable[[str, dict[str, Any]], str] | None = None,
    ) -> None:
        self.doc, self.answers, self.emit = doc, answers, emit

    def of(self, schema: Any, classes: dict[int, str] | None = None, hint: str = "") -> str:
        ref, schema = self.doc.resolve(schema)
        hint = ref or hint
        if not isinstance(schema, dict) or not schema:
            return "Any"
        if classes and id(schema) in classes:
            return classes[id(schema)]
        for word in ("oneOf", "anyOf"):
            if word in schema:
                return _union(self.of(sub, classes, hint) for sub in schema[word])
        if "const" in schema and not self.answers:
            return f"Literal[{schema['const']!r}]"
        types = schema.get("type")
        if types is None:
            return "Any"
        return _union(self._one(kind, schema, classes, hint) for kind in _listed(types))

    def _one(
        self, kind: str, schema: dict[str, Any], classes: dict[int, str] | None, hint: str
    ) -> str:
        if kind == "string" and "enum" in schema and not self.answers:
            return f"Literal[{', '.join(repr(v) for v in schema['enum'] if isinstance(v, str))}]"
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "null":
            return "None"
        if kind == "array":
            item = self.of(schema.get("items", {}), classes, f"{hint}Item")
            return f"list[{item}]" if self.answers else f"Sequence[{item}]"
        if self.answers:
            return "dict[str, Any]"
        closed = schema.get("additionalProperties") is False and "properties" in schema
        if closed and self.emit is not None:
            return self.emit(hint, schema)
        return "Mapping[str, Any]"


def _listed(types: Any) -> list[str]:
    return [types] if isinstance(types, str) else list(types)


def _union(parts: Iterator[str] | list[str]) -> str:
    seen: list[str] = []
    for part in parts:
        for piece in part.split(" | "):
            if piece not in seen:
                seen.append(piece)
    if "Any" in seen:
        return "Any"
    return " | ".join(seen)


def _kinds_tuple(schema: Any, doc: _Document | None = None) -> str:
    """The isinstance() tuple an answer field's JSON value must match ('' for any)."""
    types = schema.get("type") if isinstance(schema, dict) else None
    if types is None and doc is not None:  # oneOf/anyOf of typed members: any of their types
        members = [doc.resolve(sub)[1] for sub in schema.get("oneOf", schema.get("anyOf", []))]
        if members and all(isinstance(m, dict) and "type" in m for m in members):
            types = [kind for m in members for kind in _listed(m["type"])]
    if types is None:
        return ""
    mapping = {"string": "str", "integer": "int", "number": "int, float", "boolean": "bool",
               "null": "type(None)", "array": "list", "object": "dict"}  # fmt: skip
    names: list[str] = []
    for kind in _listed(types):
        for name in mapping[kind].split(", "):
            if name not in names:
                names.append(name)
    return "(" + ", ".join(names) + ",)"


_ANSWER_RUNTIME = '''
Table = dict[str, tuple[str, tuple[type, ...] | None, Callable[[Any, str], Any] | None]]


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
        if kinds is not None and (
            not isinstance(value, kinds) or (value.__class__ is bool and bool not in kinds)
        ):
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
            if kinds is not None and (
                not isinstance(item, kinds) or (item.__class__ is bool and bool not in kinds)
            ):
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
'''


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
    return _Compiler(document, field_prefix, curated, reserved, members).module()


class _Compiler:
    def __init__(
        self,
        document: dict[str, Any],
        prefix: str,
        curated: frozenset[str],
        reserved: frozenset[str],
        members: frozenset[str] = frozenset(),
    ) -> None:
        self.doc = _Document(document)
        self.prefix, self.curated, self.reserved = prefix, curated, reserved
        # Names the generated and curated classes use for their own attributes and methods.
        self.members = members | {"extra", "sent", "from_data", "to_dict", "model_dump"}
        self.checks = _Checks(self.doc)
        self.out: list[str] = []
        self.answer_classes: dict[int, str] = {}
        self.answer_out: list[str] = []
        self.parameters: dict[str, tuple[str, Any]] = {}  # keyword -> (check, schema)
        self.typed_dicts: dict[int, str] = {}  # closed request objects' TypedDicts
        self.link_headers: dict[str, str] = {}  # link parameter -> the header it reads

    def module(self) -> str:
        operations = []
        requests: dict[str, Any] = {}
        answers: dict[str, Any] = {}
        for path, item in self.doc.document.get("paths", {}).items():
            for method in ("get", "put", "post", "delete", "patch"):
                if method not in item:
                    continue
                op = item[method]
                request = self._request_schema(op)
                answer = self._answer_schema(op)
                if request:
                    requests[request[0]] = request[1]
                if answer:
                    answers[answer[0]] = answer[1]
                statuses = tuple(
                    sorted(int(code) for code in op.get("responses", {}) if code.isdigit())
                )
                self._parameters(op, item.get("parameters", []))
                self._link_headers(op)
                request_name = request[0] if request else None
                answer_name = answer[0] if answer else None
                operations.append(
                    f"    {op['operationId']!r}: Operation({method.upper()!r}, {path!r}, "
                    f"{request_name!r}, {answer_name!r}, {statuses!r}),"
                )
        for name, schema in requests.items():
            self._request(name, schema)
        for name, schema in answers.items():
            self._answer_class(name, schema, f"{name}Fields")
        head = [
            '"""Facts of the Somia Agent API, compiled from openapi/somia.yaml by `make generate`.',
            "",
            "GENERATED CODE: DO NOT EDIT. Edit the document and run `make generate`.",
            '"""',
            "",
            "# ruff: noqa",
            "from __future__ import annotations",
            "",
            "import copy",
            "import decimal",
            "import math",
            "import re",
            "import sys",
            "import warnings",
            "from collections.abc import Callable, Iterable, Mapping, Sequence, Sized",
            "from typing import Any, ClassVar, Literal, NamedTuple, NoReturn, Required, Self",
            "from typing import TypedDict",
            "",
            "import attrs",
            "",
            "Check = Callable[[Any, str], Any]",
            "",
            "",
            "class Operation(NamedTuple):",
            '    """One operation of the document."""',
            "",
            "    method: str",
            "    path: str",
            "    request: str | None  # the JSON request body's schema",
            "    answer: str | None  # the JSON 200 answer's schema",
            "    statuses: tuple[int, ...]  # every documented status",
            "",
        ]
        body = [
            *head,
            _RUNTIME,
            _ANSWER_RUNTIME,
            *self.checks.constants,
            "",
            "",
            *self.checks.lines,
            *self.out,
            *self.answer_out,
            "OPERATIONS: dict[str, Operation] = {",
            *operations,
            "}",
            "",
            "# The header the document's API key security scheme sends the key in.",
            f"API_KEY_HEADER: str | None = {self._api_key_header()!r}",
            "",
            "# Parameters the answers' links take from a response header: parameter -> header.",
            f"LINK_HEADERS: dict[str, str] = {self.link_headers!r}",
            "",
            "# Path and header parameters, by keyword: checked like body fields.",
            "PARAMETERS: dict[str, Check] = {",
            *(f"    {name!r}: {fn}," for name, (fn, _) in self.parameters.items()),
            "}",
            "",
            "",
            "def check_parameter(name: str, value: Any) -> Any:",
            '    """`value` checked against the document\'s schema of parameter `name`."""',
            "    return PARAMETERS[name](value, name)",
            "",
        ]
        return "\n".join(body)

    def _api_key_header(self) -> str | None:
        """The header of the apiKey scheme the document's security asks for, if any."""
        schemes = self.doc.document.get("components", {}).get("securitySchemes", {})
        for requirement in self.doc.document.get("security", []):
            for name in requirement:
                _, scheme = self.doc.resolve(schemes.get(name, {}))
                if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
                    return str(scheme["name"])
        return None

    def _link_headers(self, op: dict[str, Any]) -> None:
        """Which response header each link parameter reads (`$response.header.<name>`)."""
        for code, response in op.get("responses", {}).items():
            _, response = self.doc.resolve(response)
            for link in response.get("links", {}).values():
                _, link = self.doc.resolve(link)
                for name, value in link.get("parameters", {}).items():
                    if not (isinstance(value, str) and value.startswith("$response.header.")):
                        continue
                    header = value.removeprefix("$response.header.")
                    if self.link_headers.setdefault(name, header) != header:
                        raise FactsError(f"links read {name!r} from two headers ({code})")

    def _parameters(self, op: dict[str, Any], shared: list[Any]) -> None:
        for parameter in [*shared, *op.get("parameters", [])]:
            _, parameter = self.doc.resolve(parameter)
            if parameter.get("in") not in {"path", "header"}:
                continue
            name = python_name(parameter["name"], self.prefix)
            schema = parameter.get("schema", {})
            known = self.parameters.get(name)
            if known is not None:
                if known[1] != schema:
                    raise FactsError(
                        f"parameter {name!r} has different schemas in different operations"
                    )
                continue
            fn = self.checks.compile(schema, f"{op['operationId']}.{parameter['name']}")
            self.parameters[name] = (fn, schema)

    def _request_schema(self, op: dict[str, Any]) -> tuple[str, Any] | None:
        _, body = self.doc.resolve(op.get("requestBody"))
        if not body:
            return None
        media = body.get("content", {}).get("application/json")
        if media is None:
            return None
        name, schema = self.doc.resolve(media["schema"])
        return (name or f"{class_name(op['operationId'])}Body"), schema

    def _answer_schema(self, op: dict[str, Any]) -> tuple[str, Any] | None:
        _, answer = self.doc.resolve(op.get("responses", {}).get("200"))
        media = (answer or {}).get("content", {}).get("application/json")
        if media is None:
            return None
        name, schema = self.doc.resolve(media["schema"])
        return (name or f"{class_name(op['operationId'])}Answer"), schema

    def _request(self, name: str, schema: dict[str, Any]) -> None:
        if schema.get("type") != "object" or "properties" not in schema:
            raise FactsError(f"request body {name} must be an object with properties")
        extra = (
            set(schema) - {"type", "properties", "required", "additionalProperties"} - _ANNOTATIONS
        )
        if extra:
            raise FactsError(
                f"request body {name} uses {', '.join(sorted(extra))} at its top level"
            )
        required = set(schema.get("required", ()))
        types = _Types(self.doc, answers=False, emit=self._typed_dict)
        options, fields, table, docs, deprecated = [], [], [], [], []
        for wire, sub in schema["properties"].items():
            attr = python_name(wire, self.prefix)
            if attr in self.reserved:
                raise FactsError(
                    f"body field {wire!r} of {name} shadows the SDK's keyword {attr!r}"
                )
            check = self.checks.compile(sub, f"{name}.{wire}")
            table.append(f"    {attr!r}: ({wire!r}, {check}),")
            _, resolved = self.doc.resolve(sub)
            static = types.of(sub, hint=f"{name}{class_name(wire)}")
            text = " ".join(str(resolved.get("description", "")).split())
            if "default" in resolved:
                text += f" Server default: {resolved['default']!r}."
            if resolved.get("deprecated") or (isinstance(sub, dict) and sub.get("deprecated")):
                deprecated.append(attr)
                text += " Deprecated."
            docs.append(f"        {attr}: {text}".rstrip())
            if wire in required:
                fields.append(f"    {attr}: {static}")
                if attr not in self.curated:
                    options.append(f"    {attr}: Required[{static}]")
            else:
                optional = _union([static, "None"])
                fields.append(f"    {attr}: {optional} = None")
                if attr not in self.curated:
                    options.append(f"    {attr}: {optional}")
        self._unique(name, [line.split(":")[0].strip() for line in fields], self.members)
        # Mandatory attributes first: attrs wants them before those with defaults.
        fields.sort(key=lambda line: "=" in line)
        snake = _snake(name)
        required_attrs = tuple(
            python_name(w, self.prefix) for w in schema["properties"] if w in required
        )
        description = " ".join(str(schema.get("description", name)).split())
        self.out += [
            f"class {name}Options(TypedDict, total=False):",
            f'    """The body fields of {name} as keyword options; None (or absent) is not sent.',
            "",
            "    Attributes:",
            *docs,
            '    """',
            "",
            *(options or ["    pass"]),
            "",
            "",
            f"_{snake.upper()}: dict[str, tuple[str, Check]] = {{",
            *table,
            "}",
            f"{snake.upper()}_DEPRECATED: frozenset[str] = frozenset({tuple(deprecated)!r})",
            "# keyword -> wire name of each body field",
            f"{snake.upper()}_FIELDS: dict[str, str] = "
            f"{{k: wire for k, (wire, _) in _{snake.upper()}.items()}}",
            "",
            "",
            f"def check_{snake}(options: Mapping[str, Any]) -> dict[str, Any]:",
            f'    """The JSON body of {name} for these options (by keyword), each checked against',
            "    the document; TypeError or ValueError names the option at fault.",
            '    """',
            f"    return _check_body(options, _{snake.upper()}, {required_attrs!r}, "
            f"{snake.upper()}_DEPRECATED)",
            "",
            "",
            "@attrs.define(kw_only=True)",
            f"class {name}Fields:",
            f'    """{description}',
            "",
            "    Fields left as None are not sent; construction checks each one against the",
            "    document.",
            "",
            "    Attributes:",
            *docs,
            '    """',
            "",
            *fields,
            "",
            "    def __attrs_post_init__(self) -> None:",
            "        checked = self.to_dict()",
            f"        for attr, (wire, _) in _{snake.upper()}.items():",
            "            if wire in checked:",
            "                setattr(self, attr, checked[wire])",
            "",
            "    def to_dict(self) -> dict[str, Any]:",
            '        """The JSON body as sent: fields that are None are left out."""',
            f"        options = {{attr: getattr(self, attr) for attr in _{snake.upper()}}}",
            f"        return check_{snake}(options)",
            "",
            "",
        ]

    def _typed_dict(self, hint: str, schema: dict[str, Any]) -> str:
        """The TypedDict of a closed request object (written on first sight)."""
        known = self.typed_dicts.get(id(schema))
        if known:
            return known
        name = f"{class_name(hint)}Dict"
        self.typed_dicts[id(schema)] = name
        types = _Types(self.doc, answers=False, emit=self._typed_dict)
        required = set(schema.get("required", ()))
        lines = []
        for wire, sub in schema["properties"].items():
            if not wire.isidentifier():
                raise FactsError(f"{hint}.{wire}: a closed object's keys must be identifiers")
            static = types.of(sub, hint=f"{hint}{class_name(wire)}")
            lines.append(f"    {wire}: {f'Required[{static}]' if wire in required else static}")
        self.out[:0] = [
            f"class {name}(TypedDict, total=False):",
            f'    """The keys of {hint}, as the document closes them."""',
            "",
            *lines,
            "",
            "",
        ]
        return name

    @staticmethod
    def _unique(owner: str, attrs: list[str], members: frozenset[str]) -> None:
        """Two fields on one Python name, or a field on a name the SDK's classes use, would
        silently hide one of them."""
        seen: set[str] = set()
        for attr in attrs:
            if attr in seen:
                raise FactsError(f"two fields of {owner} have the same Python name {attr!r}")
            if attr in members:
                raise FactsError(
                    f"a field of {owner} is named {attr!r}, which the SDK's classes use for "
                    "something else: rename the field, or the SDK's member"
                )
            seen.add(attr)

    def _answer_class(self, name: str, schema: dict[str, Any], cls: str) -> str:
        if id(schema) in self.answer_classes:
            return self.answer_classes[id(schema)]
        self.answer_classes[id(schema)] = cls
        types = _Types(self.doc, answers=True)
        required = list(schema.get("required", ()))
        fields, table, docs = [], [], []
        for wire, sub in schema.get("properties", {}).items():
            attr = python_name(wire, self.prefix)
            _, resolved = self.doc.resolve(sub)
            static = self._answer_type(name, wire, resolved, types)
            kinds = _kinds_tuple(resolved, self.doc) or "None"
            convert = self._converter(name, wire, resolved)
            table.append(f"    {wire!r}: ({attr!r}, {kinds}, {convert}),")
            docs.append(
                f"        {attr}: {' '.join(str(resolved.get('description', '')).split())}".rstrip()
            )
            if wire in required:
                fields.append(f"    {attr}: {static}")
            elif "default" in resolved:
                default = _default(resolved["default"])
                if convert.endswith(".from_data") and isinstance(resolved["default"], dict):
                    default = f"attrs.Factory(lambda: {convert}({resolved['default']!r}))"
                fields.append(f"    {attr}: {static} = {default}")
            else:
                fields.append(f"    {attr}: {_union([static, 'None'])} = None")
        self._unique(cls, [line.split(":")[0].strip() for line in fields], self.members)
        fields.sort(key=lambda line: "=" in line)
        description = " ".join(str(schema.get("description", name)).split())
        self.answer_out += [
            "@attrs.define(kw_only=True)",
            f"class {cls}(AnswerObject):",
            f'    """{description}',
            "",
            "    Attributes:",
            *docs,
            '    """',
            "",
            *fields,
            "",
            "",
            f"{cls}._table = {{",
            *table,
            "}",
            f"{cls}._required = {tuple(required)!r}",
            "",
            "",
        ]
        return cls

    def _nested(self, parent: str, wire: str, schema: Any) -> str | None:
        """The class of an object schema with properties (generated on first sight)."""
        ref, resolved = self.doc.resolve(schema)
        if isinstance(resolved, dict) and "properties" in resolved:
            cls = ref or f"{parent}{class_name(wire)}"
            return self._answer_class(cls, resolved, cls)
        return None

    def _answer_type(self, parent: str, wire: str, schema: dict[str, Any], types: _Types) -> str:
        nested = self._nested(parent, wire, schema)
        if nested:
            return _union(
                [nested, *(["None"] if "null" in _listed(schema.get("type", [])) else [])]
            )
        if "array" in _listed(schema.get("type", [])):
            item = self._nested(parent, wire, schema.get("items", {}))
            if item:
                return f"list[{item}]"
        return types.of(schema)

    def _converter(self, parent: str, wire: str, schema: dict[str, Any]) -> str:
        nested = self._nested(parent, wire, schema)
        if nested:
            return f"{nested}.from_data"
        if "array" in _listed(schema.get("type", [])) and isinstance(schema.get("items"), dict):
            _, items = self.doc.resolve(schema["items"])
            kinds = _kinds_tuple(items, self.doc) or "None"
            convert = self._converter(parent, wire, items)  # nested arrays: each level checked
            if kinds != "None" or convert != "None":
                return f"_list_of({kinds}, {convert})"
        return "None"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _default(value: Any) -> str:
    if isinstance(value, list | dict):
        if not value:
            return f"attrs.Factory({type(value).__name__})"
        return f"attrs.Factory(lambda: copy.deepcopy({value!r}))"
    return repr(value)
