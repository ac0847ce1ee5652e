"""Planning the groups that cost nothing: parameters and body at their edges, refusals."""

from __future__ import annotations

from typing import Any

from somia._document import Operation
from tests.contract.model import MISSING, Expect, Request, shown
from tests.contract.plan_base import PlannerBase, loc_of
from tests.contract.recipes import RECIPES, Fault, Recipes, oversized
from tests.contract.values import edges


class FreeGroups(PlannerBase):
    # bounds

    def bounds(self, op: Operation) -> None:
        rule = self.recipes.rule("invalid-request")
        if rule is None:
            return
        for parameter in self.doc.parameters(op):
            where, name = parameter["in"], parameter["name"]
            for edge in self.recipes.param_edges(op, parameter):
                change = Recipes.setter(where, name, edge.wire)
                self.edge(
                    op,
                    f"{where}:{name}",
                    (where, name),
                    change,
                    edge.valid,
                    edge.keywords,
                    f"{where} {name} = {shown(edge.wire)} ({edge.why})",
                )
            if parameter.get("required") and where != "path":
                drop = _dropper(where, name)
                self.edge(
                    op,
                    f"{where}:{name}",
                    (where, name),
                    drop,
                    False,
                    frozenset({f"{op.id} {where} {name}: required"}),
                    f"without the required {where} {name}",
                )
        schema = self.doc.request_schema(op)
        if schema is None:
            return
        for found in edges(self.doc, schema, "body"):
            change = _body_setter(found.value)
            marks = frozenset(f"{op.id} {mark}" for mark in found.keywords)
            self.edge(
                op,
                "body",
                loc_of(found.label),
                change,
                found.valid,
                marks,
                f"body {shown(found.value, 60)} ({found.why})",
            )

    def edge(
        self,
        op: Operation,
        part: str,
        loc: tuple[str, ...],
        change: Any,
        valid: bool,
        marks: frozenset[str],
        what: str,
    ) -> None:
        base, implied = self.recipes.base(op)
        safety = self.recipes.safety(op, part, "invalid-request")
        slug = part.replace(":", "-")
        if not valid:
            fault = Fault("invalid-request", part, change, loc, what)
            promise = f"refuses {what}: answered {{status}} naming {'.'.join(loc)}"
            start = (base, implied)
            self.refusal("bounds", op, slug, promise, start, [fault, safety], keywords=marks)
            return
        probe = Fault("", part, change, None, what)
        request, first = self.recipes.compose(base, implied, [probe, *([safety] if safety else [])])
        expect = self.recipes.expect(first)
        if expect is None:  # nothing else to refuse: another part made invalid
            other = next(
                (f for f in self.recipes.faults(op, "invalid-request") if f.part != part), None
            )
            if other is None:
                reason = "no refusal can stand in for the paid turn that would show it"
                self.row("bounds", op, slug, f"accepts {what}", reason)
                return
            request, first = self.recipes.compose(base, implied, [probe, other])
            expect = self.recipes.expect(first)
            assert expect is not None
            expect = Expect(expect.status, expect.rule, names=other.names, not_names=loc)
        promise = f"accepts {what}: answered {expect.status}, as the next check decides"
        self.add("bounds", op, slug, promise, request, expect, keywords=marks)

    # refusals

    def refusals(self, op: Operation) -> None:
        base, implied = self.recipes.base(op)
        for status, response in self.doc.responses(op).items():
            if 200 <= status < 300:
                continue
            rules = [r.rule for r in self.doc.refusals() if r.status == status]
            if not rules:
                what = " ".join(str(response.get("description", "")).split())
                self.row(
                    "refusals",
                    op,
                    str(status),
                    f"answers {status} when the deployment is in that state",
                    f"no x-somia-refusals rule answers {status}: it comes from the "
                    f"deployment's state, not the request ({what})",
                )
            for rule in rules:
                if rule not in RECIPES:
                    self.row(
                        "refusals",
                        op,
                        rule,
                        f"answers {status} ({rule})",
                        f"no recipe for the rule {rule} yet",
                    )
                elif rule == "body-too-large":
                    self.too_large(op, base, implied)
                elif rule in ("invalid-request", "unsupported-media-type"):
                    self.malformed(op, base, implied, rule)
                elif rule == "forbidden":
                    self.forbidden(op, base, implied)
                elif rule == "not-found":
                    for fault in self.recipes.faults(op, "not-found"):
                        promise = f"a request with {fault.what} is answered {{status}}"
                        start = (base, implied)
                        self.refusal(
                            "refusals", op, f"not-found-{fault.part}", promise, start, [fault]
                        )

    def too_large(self, op: Operation, base: Request, implied: list[Fault]) -> None:
        limit = self.doc.max_body_bytes(op)
        if limit is None:
            self.row(
                "refusals",
                op,
                "body-too-large",
                "refuses a body over its size limit",
                "the request body states no x-somia-max-body-bytes",
            )
            return
        marks = frozenset({f"{op.id} body: x-somia-max-body-bytes"})
        (fault,) = self.recipes.too_large(op)
        promise = f"refuses {fault.what}: answered {{status}}"
        start = (base, implied)
        self.refusal("refusals", op, "body-too-large", promise, start, [fault], keywords=marks)
        raw = oversized(limit)
        at_limit = Fault(
            "invalid-request",
            "body",
            lambda r: r.with_(raw=raw),
            ("body",),
            f"a body of exactly {limit} bytes, not JSON at its end",
        )
        promise = f"reads {at_limit.what}: answered {{status}} (not too large)"
        self.refusal("refusals", op, "body-at-limit", promise, start, [at_limit], keywords=marks)

    def malformed(self, op: Operation, base: Request, implied: list[Fault], rule: str) -> None:
        body = self.doc.request_body(op)
        if not body:
            return
        marks = {"content": frozenset({f"{op.id} body: content"})}
        kinds = {
            "unsupported-media-type": [
                (
                    "content-type",
                    "the body as text/plain",
                    lambda r: r.with_(content_type="text/plain"),
                    "content",
                )
            ],
            "invalid-request": [
                (
                    "not-json",
                    "a body that is not JSON",
                    lambda r: r.with_(raw=b'{"input_data": '),
                    "",
                )
            ],
        }[rule]
        if rule == "invalid-request" and body.get("required"):
            marks["required"] = frozenset({f"{op.id} body: required"})
            kinds.append(
                (
                    "missing",
                    "no body",
                    lambda r: r.with_(body=MISSING, content_type=None),
                    "required",
                )
            )
        if rule == "invalid-request" and "unsupported-media-type" not in self.recipes.status:
            kinds.append(
                (
                    "content-type",
                    "the body as text/plain",
                    lambda r: r.with_(content_type="text/plain"),
                    "content",
                )
            )
        for slug, what, apply, mark in kinds:
            fault = Fault(rule, "body", apply, ("body",), what)
            safety = self.recipes.safety(op, "body", rule)
            self.refusal(
                "refusals",
                op,
                slug,
                f"refuses {what}: answered {{status}}",
                (base, implied),
                [fault, safety],
                keywords=marks.get(mark, frozenset()),
            )

    def forbidden(self, op: Operation, base: Request, implied: list[Fault]) -> None:
        faults = self.recipes.faults(op, "forbidden")
        if not faults:
            self.row(
                "refusals",
                op,
                "forbidden",
                "refuses a resource the key may not use",
                "needs such a resource: set SOMIA_FORBIDDEN_AGENT_ID",
            )
        for fault in faults:
            promise = f"a request with {fault.what} is answered {{status}}"
            self.refusal("refusals", op, "forbidden", promise, (base, implied), [fault])


def _dropper(where: str, name: str) -> Any:
    def apply(request: Request) -> Request:
        if where == "query":
            return request.with_(query={k: v for k, v in request.query.items() if k != name})
        return request.with_(headers={k: v for k, v in request.headers.items() if k != name})

    return apply


def _body_setter(value: Any) -> Any:
    return lambda request: request.with_(body=value)
