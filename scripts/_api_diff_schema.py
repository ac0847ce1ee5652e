"""How two schemas compare, for scripts/api_diff.py: each difference recorded as a `Change`
of a kind of scripts/_api_diff_kinds.py.

Schemas are compared with their `$ref`s resolved, so a renamed component or reordered keys with
the same meaning compare equal. Each schema compares the keywords it knows; any other keyword
that differs is reported as "not classified" (a warning) rather than dropped, and descriptions,
titles and examples are gathered into one "documentation only" line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scripts._api_diff_kinds import Change
from somia._document import Document

Json = Any

DOC_KEYS = frozenset(
    {"description", "summary", "title", "example", "examples", "externalDocs", "$comment"}
    | {"tags", "xml", "links"}  # grouping, XML naming and links: no effect on the SDK's calls
)
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
SCHEMA_KEYS = frozenset(  # the keywords a schema's comparison classifies
    {*LOWER_BOUNDS, *UPPER_BOUNDS, "type", "enum", "const", "format", "pattern", "default"}
    | {"deprecated", "properties", "required", "additionalProperties", "items", "contentSchema"}
    | {"oneOf", "anyOf", "nullable", "uniqueItems", "multipleOf"}
)


@dataclass(frozen=True)
class _Place:
    """Where the walk is: which side of the call, the schema path, and the operation."""

    side: str  # "request" or "response"
    base: str  # a component's name, or a label for an inline schema
    names: tuple[str, ...] = ()  # property names below `base`; "[]" for array items
    root: bool = True  # `base` is the request body itself (its fields are keywords)
    op: str = ""
    status: str = ""
    named: tuple[str, ...] = ()  # the SDK name of a parameter's or header's own schema

    @property
    def anchor(self) -> tuple[Any, ...]:
        """What the changelog names: a field, or the parameter or header itself."""
        if self.named and not self.names:
            return self.named
        return ("field", self.side, self.base, self.root, self.names)

    @property
    def subject(self) -> str:
        return self.base + "".join(n if n == "[]" else f".{n}" for n in self.names)

    def below(self, name: str) -> _Place:
        return _Place(self.side, self.base, (*self.names, name), self.root, self.op, self.status)

    def at_component(self, name: str) -> _Place:
        root = self.root and not self.names
        return _Place(self.side, name, (), root, self.op, self.status, self.named)


def _canon(value: Json) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _show(value: Json) -> str:
    if isinstance(value, str) and not any(c in value for c in '"\n\r\t'):
        return f'"{value}"'  # a pattern reads as written, without JSON's escapes
    return json.dumps(value, ensure_ascii=False)


class SchemaWalk:
    """The bookkeeping of a comparison, and how two schemas compare."""

    def __init__(self, old: dict[str, Json], new: dict[str, Json]) -> None:
        self.old, self.new = old, new
        self.found: dict[tuple[str, str, str], tuple[set[str], set[str], list[Any]]] = {}
        self.docs: dict[str, None] = {}  # places whose documentation changed, in order
        self._stack: set[tuple[int, int, str]] = set()

    # -- bookkeeping -------------------------------------------------------------------------

    def add(
        self, kind: str, subject: str, text: str, op: str = "", status: str = "", anchor: Any = ()
    ) -> None:
        """Record a change; the same change reached again only adds its operation and status."""
        ops, statuses, anchors = self.found.setdefault((kind, subject, text), (set(), set(), []))
        if op:
            ops.add(op)
        if status:
            statuses.add(status)
        anchors.append(anchor)

    def changes(self) -> list[Change]:
        out = [
            Change(kind, subject, text, tuple(sorted(ops)), tuple(sorted(sts)), anchors[0])
            for (kind, subject, text), (ops, sts, anchors) in self.found.items()
        ]
        if self.docs:
            places = list(self.docs)
            named = ", ".join(places[:3]) + (
                f" and {len(places) - 3} more" if len(places) > 3 else ""
            )
            out.append(Change("documentation", "documentation only", f"changed at {named}"))
        return out

    def rest(
        self,
        o: dict[str, Json],
        n: dict[str, Json],
        handled: Iterable[str],
        where: str,
        op: str = "",
        status: str = "",
    ) -> None:
        """Documentation keys to `docs`; any other unhandled keyword that differs, unclassified."""
        skip = set(handled)
        for key in sorted(o.keys() | n.keys()):
            if key in skip or _canon(o.get(key)) == _canon(n.get(key)):
                continue
            if key in DOC_KEYS:
                self.docs[where] = None
            else:
                self.add(
                    "unclassified",
                    where,
                    f"`{key}` changed (not classified: review it)",
                    op,
                    status,
                )

    def deprecation(self, o: Json, n: Json, subject: str, op: str, anchor: Any) -> None:
        was, now = bool(o.get("deprecated")), bool(n.get("deprecated"))
        if now and not was:
            self.add("deprecated", subject, "deprecated", op, anchor=anchor)
        elif was and not now:
            self.add("undeprecated", subject, "no longer deprecated", op, anchor=anchor)

    # -- schemas -----------------------------------------------------------------------------

    def schema(self, old: Json, new: Json, place: _Place) -> None:
        o, oname = Document(self.old).named(old)
        n, nname = Document(self.new).named(new)
        if oname and nname:
            place = place.at_component(nname)
        key = (id(o), id(n), place.side)
        if key in self._stack:  # a recursive schema: its inside is being compared already
            return
        self._stack.add(key)
        try:
            self._schema(Document(self.old).merged(o), Document(self.new).merged(n), place)
        finally:
            self._stack.discard(key)

    def _schema(self, o: dict[str, Json], n: dict[str, Json], place: _Place) -> None:
        side, subject, op, status = place.side, place.subject, place.op, place.status
        field = place.anchor

        def add(kind: str, text: str) -> None:
            self.add(f"{side}-{kind}", subject, text, op, status, field)

        ot, nt = admitted(self.old, o), admitted(self.new, n)
        if ot != nt:
            shift = "changed"
            if ot is None or (nt is not None and nt < ot):
                shift = "narrowed"
            elif nt is None or nt > ot:
                shift = "widened"
            add(f"type-{shift}", f"type {shift} from {_types(ot)} to {_types(nt)}")
        self.enum(o, n, add, side)
        if o.get("format") != n.get("format"):
            of, nf = o.get("format"), n.get("format")
            if side == "request" and nf is None:
                add("format-removed", f"format {of} removed")
            else:
                add("format-changed", f"format changed from {of or 'none'} to {nf or 'none'}")
        self.bounds(o, n, add, side)
        if _canon(o.get("default")) != _canon(n.get("default")):
            if "default" not in n:
                add("default-changed", f"default {_show(o['default'])} removed")
            elif "default" not in o:
                add("default-changed", f"default {_show(n['default'])} added")
            else:
                add(
                    "default-changed",
                    f"default changed from {_show(o['default'])} to {_show(n['default'])}",
                )
        self.deprecation(o, n, subject, op, field)

        def both(json_type: str) -> bool:  # what a changed type rules out was reported above
            return all(t is None or json_type in t for t in (ot, nt))

        if both("object"):
            self.fields(o, n, place)
        for key in ("items", "contentSchema"):
            if key == "items" and not both("array"):
                continue
            if key in o and key in n:
                self.schema(o[key], n[key], place.below("[]") if key == "items" else place)
            elif key in o or key in n:
                self.add(
                    "unclassified",
                    subject,
                    f"`{key}` {'added' if key in n else 'removed'} (not classified: review it)",
                    op,
                    status,
                )
        self.alternatives(o, n, place)
        self.rest(o, n, SCHEMA_KEYS, subject, op, status)

    def enum(self, o: Json, n: Json, add: Any, side: str) -> None:
        ov, nv = values(o), values(n)
        if ov == nv:
            return
        if ov is not None and nv is not None:
            gone = [json.loads(v) for v in sorted(ov - nv)]
            new = [json.loads(v) for v in sorted(nv - ov)]
            if gone:
                add("enum-value-removed", f"enum values removed: {_show(gone)[1:-1]}")
            if new:
                add("enum-value-added", f"enum values added: {_show(new)[1:-1]}")
        elif nv is not None:  # values restricted where any was allowed
            add(
                "bound-tightened",
                f"restricted to {_show([json.loads(v) for v in sorted(nv)])[1:-1]}",
            )
        else:
            add("bound-loosened", "no longer restricted to fixed values")

    def bounds(self, o: Json, n: Json, add: Any, side: str) -> None:
        for key in (*LOWER_BOUNDS, *UPPER_BOUNDS, "multipleOf", "pattern", "uniqueItems"):
            a, b = o.get(key), n.get(key)
            if a == b or (key == "uniqueItems" and bool(a) == bool(b)):
                continue
            if b is None or b is False:
                tighter = False
            elif a is None or key in ("multipleOf", "pattern", "uniqueItems"):
                tighter = True
            else:
                tighter = b > a if key in LOWER_BOUNDS else b < a
            how = "tightened" if tighter else "loosened"
            add(
                f"bound-{how}",
                f"{key} {how} from {_show(a) if a is not None else 'none'} to "
                f"{_show(b) if b is not None else 'none'}",
            )

    def fields(self, o: Json, n: Json, place: _Place) -> None:
        op, status, side = place.op, place.status, place.side
        oprops, nprops = o.get("properties", {}), n.get("properties", {})
        oreq, nreq = set(o.get("required", [])), set(n.get("required", []))
        renamed = self.renames(oprops, nprops)
        for name in sorted(oprops.keys() | nprops.keys()):
            if name in renamed.values():
                continue
            here = place.below(name)
            anchor = here.anchor

            def add(kind: str, text: str, here: _Place = here, anchor: Any = anchor) -> None:
                self.add(kind, here.subject, text, op, status, anchor)

            if name in renamed:
                what = "request field" if side == "request" else "answer field"
                add(f"{side}-field-renamed", f"{what} renamed to {renamed[name]}")
            elif name not in nprops:
                add(
                    f"{side}-field-removed",
                    "request field removed" if side == "request" else "answer field removed",
                )
            elif name not in oprops:
                shown = type_label(self.new, nprops[name])
                if side == "response":
                    add("response-field-added", f"answer field added ({shown})")
                elif name in nreq:
                    add("request-field-added-required", f"required request field added ({shown})")
                else:
                    add("request-field-added", f"optional request field added ({shown})")
            else:
                was, now = name in oreq, name in nreq
                what = "request field" if side == "request" else "answer field"
                if now and not was:
                    add(f"{side}-field-made-required", f"{what} made required")
                elif was and not now:
                    add(f"{side}-field-made-optional", f"{what} made optional")
                self.schema(oprops[name], nprops[name], here)
        oa, na = o.get("additionalProperties", True), n.get("additionalProperties", True)
        if isinstance(oa, dict) and isinstance(na, dict):
            self.schema(oa, na, place.below("*"))
        elif _canon(oa) != _canon(na):
            if na is False:
                tighter, text = True, "unknown fields no longer allowed"
            elif na is True:
                tighter, text = False, "unknown fields allowed"
            else:
                tighter, text = oa is True, "unknown fields must match a schema"
            kind = "bound-tightened" if tighter else "bound-loosened"
            self.add(
                f"{side}-{kind}",
                place.subject,
                text,
                op,
                status,
                place.anchor,
            )

    def renames(self, oprops: Json, nprops: Json) -> dict[str, str]:
        """Removed fields whose schema one added field (only one) has word for word."""
        gone = [k for k in oprops if k not in nprops]
        new = [k for k in nprops if k not in oprops]

        def shape(doc: dict[str, Json], schema: Json) -> str:
            flat = Document(doc).merged(schema)
            return _canon({k: v for k, v in flat.items() if k not in DOC_KEYS})

        out = {}
        for name in gone:
            same = [k for k in new if shape(self.new, nprops[k]) == shape(self.old, oprops[name])]
            twins = [k for k in gone if shape(self.old, oprops[k]) == shape(self.old, oprops[name])]
            if len(same) == 1 and len(twins) == 1:
                out[name] = same[0]
        return out

    def alternatives(self, o: Json, n: Json, place: _Place) -> None:
        """Members of oneOf/anyOf paired by the types they admit (type changes are above)."""
        for key in ("oneOf", "anyOf"):
            olist, nlist = o.get(key, []), n.get(key, [])
            paired: list[tuple[Json, Json]] = []
            rest_new = list(nlist)
            unpaired = []
            for a in olist:
                ta = admitted(self.old, a)
                match = next((b for b in rest_new if admitted(self.new, b) == ta), None)
                if match is None:
                    unpaired.append(a)
                else:
                    rest_new.remove(match)
                    paired.append((a, match))
            if len(unpaired) == len(rest_new):
                paired.extend(zip(unpaired, rest_new, strict=True))
            elif admitted(self.old, o) == admitted(self.new, n):
                self.add(
                    "unclassified",
                    place.subject,
                    f"`{key}` alternatives changed (not classified: review it)",
                    place.op,
                    place.status,
                )
            for a, b in paired:
                self.schema(a, b, place)


def admitted(doc: dict[str, Json], schema: Json) -> frozenset[str] | None:
    """The JSON types a schema admits (integer counted within number), None for any."""
    schema = Document(doc).merged(schema)
    found: frozenset[str] | None = None

    def meet(types: Iterable[str]) -> None:
        nonlocal found
        got = frozenset(types)
        if "number" in got:
            got |= {"integer"}
        found = got if found is None else found & got

    if "const" in schema or "enum" in schema:
        meet(_type_of(v) for v in (values(schema) or ()))
    if "type" in schema:
        t = schema["type"]
        types = [t] if isinstance(t, str) else list(t)
        meet([*types, "null"] if schema.get("nullable") else types)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = [admitted(doc, m) for m in schema[key]]
            if all(p is not None for p in parts):
                meet(t for p in parts if p is not None for t in p)
    return found


def values(schema: Json) -> frozenset[str] | None:
    """The fixed values a schema allows (as canonical JSON), None when not fixed."""
    if "const" in schema:
        return frozenset({_canon(schema["const"])})
    if "enum" in schema:
        return frozenset(_canon(v) for v in schema["enum"])
    return None


def _type_of(value: str) -> str:
    v = json.loads(value)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}[type(v)]


def _types(types: frozenset[str] | None) -> str:
    if types is None:
        return "any"
    shown = set(types)
    if "number" in shown:
        shown.discard("integer")
    return " | ".join(t for t in JSON_TYPES if t in shown)


def type_label(doc: dict[str, Json], schema: Json) -> str:
    """A short type for a line that names a new field or parameter."""
    return _types(admitted(doc, schema or {}))
