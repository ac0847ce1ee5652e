"""Recipes: how to break one rule of `x-somia-refusals` in a request, and how to combine them.

A `Fault` changes one part of a request (its credentials, its body, one parameter) so that
it breaks one rule. A probe is a valid request with faults applied; the status it must get
is the status of the first of their rules in the document's order. So every negative probe
can carry a fault of a later rule as a safety: a deployment that misses the rule under test
answers the later rule's status, and runs no paid turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from somia._document import Document, Operation
from tests.contract.model import MISSING, Expect, Request
from tests.contract.settings import Target
from tests.contract.values import Judge, edges, made_up_value, wrong_type

# The rules a recipe exists for; a rule of the document not listed has none yet.
RECIPES = frozenset(
    {
        "body-too-large",
        "unauthenticated",
        "invalid-request",
        "unsupported-media-type",
        "forbidden",
        "not-found",
        "idempotency-conflict",
    }
)
# A rule whose recipes fall to another when the document does not list it.
FALLBACK = {"unsupported-media-type": "invalid-request"}
_TEXT_SAFE = {0x09, *range(0x20, 0x7F), *range(0x80, 0x100)}


class Fault(NamedTuple):
    rule: str
    part: str
    """What it changes: "credentials", "body", "path:<name>", "header:<name>"."""
    apply: Callable[[Request], Request]
    names: tuple[str, ...] | None
    """For an invalid request: where the problem is (a `loc` prefix)."""
    what: str


class ParamEdge(NamedTuple):
    """A value of a parameter as text on the wire, with the schema's verdict."""

    wire: str
    valid: bool
    keywords: frozenset[str]
    why: str


def sendable_header(text: str) -> bool:
    """Whether an HTTP client can send `text` as a header value and have it arrive as is:
    latin-1 without control characters (a tab inside), no white space at either end."""
    if text != text.strip(" \t"):
        return False
    return all(ord(char) in _TEXT_SAFE for char in text)


def wire_text(value: Any) -> str | None:
    """A JSON value as a parameter's text (None: no text stands for it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return None


def wire_value(text: str, types: list[str]) -> Any:
    """The JSON value a server reads from a parameter's text, by its schema's types."""
    if ("integer" in types or "number" in types) and text.lstrip("-").isdigit() and text:
        return int(text)
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


class Recipes:
    """The faults one document and target allow, per operation."""

    def __init__(self, doc: Document, target: Target) -> None:
        self.doc = doc
        self.target = target
        self.order = {refusal.rule: index for index, refusal in enumerate(doc.refusals())}
        self.status = {refusal.rule: refusal.status for refusal in doc.refusals()}
        self._edges: dict[tuple[str, str, str], list[ParamEdge]] = {}

    def rule(self, name: str) -> str | None:
        """The rule of the document a recipe of `name` stands for (None: none)."""
        while name not in self.status:
            if name not in FALLBACK:
                return None
            name = FALLBACK[name]
        return name

    # The valid request every probe starts from, and the faults it already carries.

    def base(self, op: Operation) -> tuple[Request, list[Fault]]:
        """A valid request of `op` that costs nothing to send: a resource the target does
        not name (a session) is one that does not exist, so the request carries that fault."""
        path: dict[str, Any] = {}
        implied: list[Fault] = []
        own = self.target.resources("own")
        for parameter in self.parameters(op, "path"):
            name, resource = parameter["name"], parameter.get("x-somia-resource")
            if resource in own:
                path[name] = own[resource]
            elif resource is not None:
                path[name] = self.unknown(parameter)
                implied += self.not_found(op, parameter)
            else:
                path[name] = made_up_value(name, self.doc.merged(parameter.get("schema", {})))
        headers = {
            p["name"]: made_up_value(p["name"], self.doc.merged(p.get("schema", {})))
            for p in self.parameters(op, "header")
            if p.get("required")
        }
        body = self.minimal_body(op)
        return Request(op.id, path, headers, body=body), implied

    def parameters(self, op: Operation, where: str) -> list[dict[str, Any]]:
        return [p for p in self.doc.parameters(op) if p["in"] == where]

    def minimal_body(self, op: Operation) -> Any:
        """The smallest valid body: the required fields only (MISSING when there is none)."""
        schema = self.doc.request_schema(op)
        if schema is None:
            return MISSING
        merged = self.doc.merged(schema)
        properties = merged.get("properties", {})
        return {
            name: made_up_value(name, self.doc.merged(properties.get(name, {})))
            for name in merged.get("required", [])
        }

    def unknown(self, parameter: dict[str, Any]) -> Any:
        """A valid value of a resource parameter that names nothing."""
        schema = self.doc.merged(parameter.get("schema", {}))
        known = {
            *self.target.resources("own").values(),
            *self.target.resources("other").values(),
            *self.target.resources("forbidden").values(),
        }
        if "integer" in self.doc.types(schema):
            value = int(schema.get("maximum", 2**31 - 1))
            while value in known:
                value -= 1
            return value
        text = f"somia-contract-no-such-{parameter.get('x-somia-resource', 'thing')}"
        low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", len(text)))
        return (text * (low // len(text) + 1))[: max(low, min(high, len(text)))]

    # Faults per rule.

    def faults(self, op: Operation, rule: str) -> list[Fault]:
        """Every fault of `rule` that `op` allows (free to send: no paid turn needed)."""
        makers: dict[str, Callable[[Operation], list[Fault]]] = {
            "body-too-large": self.too_large,
            "unauthenticated": self.unauthenticated,
            "invalid-request": self.invalid,
            "forbidden": self.forbidden,
            "not-found": lambda op: [
                fault for p in self.parameters(op, "path") for fault in self.not_found(op, p)
            ],
        }
        maker = makers.get(rule)
        return [] if maker is None else maker(op)

    def too_large(self, op: Operation) -> list[Fault]:
        limit = self.doc.max_body_bytes(op)
        if limit is None or self.doc.request_schema(op) is None:
            return []
        raw = oversized(limit + 1)
        what = f"a body of {limit + 1} bytes (over {limit}), not JSON at its end"
        return [Fault("body-too-large", "body", lambda r: r.with_(raw=raw), None, what)]

    def unauthenticated(self, op: Operation) -> list[Fault]:
        if not self.doc.security(op):
            return []
        return [
            Fault(
                "unauthenticated",
                "credentials",
                lambda r: r.with_(credentials="none"),
                None,
                "no credentials",
            )
        ]

    def invalid(self, op: Operation) -> list[Fault]:
        found = []
        body = self.minimal_body(op)
        schema = self.doc.request_schema(op)
        if schema is not None:
            for name, sub in self.doc.properties(schema).items():
                wrong = wrong_type(sub)
                if wrong is not None:
                    changed = {**body, name: wrong}
                    found.append(
                        Fault(
                            "invalid-request",
                            "body",
                            _body(changed),
                            ("body", name),
                            f"body field {name} = {wrong!r}",
                        )
                    )
                    break
        for where in ("header", "path"):
            for parameter in self.parameters(op, where):
                bad = next((e for e in self.param_edges(op, parameter) if not e.valid), None)
                if bad is None:
                    continue
                name = parameter["name"]
                part = f"{where}:{name}"
                found.append(
                    Fault(
                        "invalid-request",
                        part,
                        self.setter(where, name, bad.wire),
                        (where, name),
                        f"{where} {name} = {bad.wire!r}",
                    )
                )
        return found

    def forbidden(self, op: Operation) -> list[Fault]:
        forbidden = self.target.resources("forbidden")
        return [
            Fault(
                "forbidden",
                f"path:{p['name']}",
                self.setter("path", p["name"], forbidden[p["x-somia-resource"]]),
                None,
                f"{p['x-somia-resource']} {forbidden[p['x-somia-resource']]}, which the key "
                "may not use",
            )
            for p in self.parameters(op, "path")
            if p.get("x-somia-resource") in forbidden
        ]

    def not_found(self, op: Operation, parameter: dict[str, Any]) -> list[Fault]:
        resource = parameter.get("x-somia-resource")
        if resource is None:
            return []
        value = self.unknown(parameter)
        name = parameter["name"]
        what = f"{name} {value!r}, which names no {resource}"
        return [Fault("not-found", f"path:{name}", self.setter("path", name, value), None, what)]

    @staticmethod
    def setter(where: str, name: str, value: Any) -> Callable[[Request], Request]:
        def apply(request: Request) -> Request:
            if where == "path":
                return request.with_(path={**request.path, name: value})
            if where == "query":
                return request.with_(query={**request.query, name: value})
            return request.with_(headers={**request.headers, name: value})

        return apply

    # Combining faults into probes.

    def compose(
        self, base: Request, implied: list[Fault], wanted: list[Fault]
    ) -> tuple[Request, Fault | None]:
        """`base` with the faults applied (an implied fault on a part `wanted` changes is
        dropped), and the fault whose rule comes first."""
        parts = {fault.part for fault in wanted}
        faults = [fault for fault in implied if fault.part not in parts] + wanted
        request = base
        for fault in faults:
            request = fault.apply(request)
        ranked = [fault for fault in faults if fault.rule in self.order]
        first = min(ranked, key=lambda fault: self.order[fault.rule], default=None)
        return request, first

    def expect(self, first: Fault | None, **extra: Any) -> Expect | None:
        """What a request whose first-ranked fault is `first` must get."""
        if first is None:
            return None
        names = first.names if first.rule == "invalid-request" else None
        return Expect(self.status[first.rule], first.rule, names=names, **extra)

    def safety(self, op: Operation, part: str, after: str) -> Fault | None:
        """A fault of a rule checked after `after`, on another part than `part`, that keeps a
        deployment missing the rule under test from running a turn."""
        for refusal in self.doc.refusals()[self.order[after] + 1 :]:
            for fault in self.faults(op, refusal.rule):
                if fault.part != part:
                    return fault
        return None

    # Parameters at their edges.

    def param_edges(self, op: Operation, parameter: dict[str, Any]) -> list[ParamEdge]:
        """A parameter's edge values as text a client can send, each judged as the server
        reads it (digits as a number where the schema takes one)."""
        where, name = parameter["in"], parameter["name"]
        cached = self._edges.get((op.id, where, name))
        if cached is not None:
            return cached
        schema = parameter.get("schema", {})
        judge = Judge(self.doc, schema)
        types = self.doc.types(schema)
        found: dict[str, ParamEdge] = {}
        for edge in edges(self.doc, schema, f"{where} {name}"):
            wire = wire_text(edge.value)
            if (
                wire is None
                or (where == "path" and wire == "")
                or (where == "header" and not sendable_header(wire))
            ):
                continue
            marks = frozenset(f"{op.id} {mark}" for mark in edge.keywords)
            if wire in found:
                old = found[wire]
                found[wire] = old._replace(keywords=old.keywords | marks)
            else:
                valid = judge(wire_value(wire, types))
                found[wire] = ParamEdge(wire, valid, marks, edge.why)
        self._edges[(op.id, where, name)] = list(found.values())
        return self._edges[(op.id, where, name)]


def oversized(size: int) -> bytes:
    """A body of exactly `size` bytes that is JSON until its end, where it is cut off."""
    head = b'{"input_data": "'
    return head + b"x" * (size - len(head))


def body_keywords(doc: Document, op: Operation) -> Iterator[str]:
    """The request body's own keywords: its media types, `required`, the size limit."""
    body = doc.request_body(op)
    if not body:
        return
    yield f"{op.id} body: content"
    if body.get("required"):
        yield f"{op.id} body: required"
    if doc.max_body_bytes(op) is not None:
        yield f"{op.id} body: x-somia-max-body-bytes"


def _body(value: Any) -> Callable[[Request], Request]:
    return lambda request: request.with_(body=value)
