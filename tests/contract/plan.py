"""The promise matrix, compiled from the document alone: `compile_plan(document, target)`.

For every operation, through `somia._document`:

- security: each security scheme, wrong; no credentials; the key in another place;
- precedence: each pair of refusal rules the request can break at once, the first one wins;
- bounds: each parameter and body field at the edges of each keyword of its schema;
- refusals: each documented status, by the recipe of its `x-somia-refusals` rule, or a
  "not provokable" row saying why not;
- media: one paid turn per media type of the `200` (its `x-somia-when`), each under another
  `Accept` value a client may send, carrying every optional field;
- idempotency: the same key again (a replay), and with another body, path and operation;
- generated: schemathesis' requests, with the turns the budget leaves;
- accept: each answer form under each `Accept` value: one turn for each (form, Accept) pair
  the media turns left untried, then spare turns (every operation) with what is left;
- stream: the `x-somia-stream` rules, watched on every event of every stream.

Nothing here names a field, a status or a header of the document: a new parameter, bound,
status with a recipe, security scheme or operation gives new probes with no edit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from somia._document import Document, Operation
from tests.contract.model import GROUPS, Plan, Request
from tests.contract.plan_base import PlannerBase, loc_of
from tests.contract.plan_free import FreeGroups
from tests.contract.plan_paid import PaidGroups
from tests.contract.recipes import Fault
from tests.contract.settings import Target

__all__ = ["PlannerBase", "compile_plan", "loc_of"]


def compile_plan(doc: Document, target: Target) -> Plan:
    """Every promise of `doc` for `target`, in the order a run takes them (deterministic)."""
    return _Planner(doc, target).compile()


class _Planner(FreeGroups, PaidGroups):
    def compile(self) -> Plan:
        ops = self.doc.operations()
        for op in ops:
            self.inventory(op)
        for step in (self.security, self.precedence, self.bounds, self.refusals):
            for op in ops:
                step(op)
        self.media(ops)
        for op in ops:
            self.ownership(op)
            self.idempotency(op)
            self.stream(op)
        self.accept(ops)
        for op in ops:
            self.watch(
                "generated",
                op,
                "fuzz",
                "schemathesis' generated requests are answered as documented",
            )
        if ops:
            self.watch(
                "generated",
                ops[0],
                "stateful",
                "schemathesis' workflows along the document's links are answered as documented",
            )
        order = {group: index for index, group in enumerate(GROUPS)}
        self.plan.probes.sort(key=lambda probe: order[probe.group])
        return self.plan

    # security

    def security(self, op: Operation) -> None:
        alternatives = self.doc.security(op)
        if not alternatives:
            return
        if self.status("unauthenticated") is None:
            self.row(
                "security",
                op,
                "rule",
                "refuses requests without valid credentials",
                "x-somia-refusals names no unauthenticated rule",
            )
            return
        base, implied = self.recipes.base(op)
        safety = self.recipes.safety(op, "credentials", "unauthenticated")
        schemes = {
            name: scheme for alternative in alternatives for name, scheme in alternative.items()
        }
        variants = [("none", "without credentials")]
        for name, scheme in schemes.items():
            if _credential_kind(scheme) is None:
                self.row(
                    "security",
                    op,
                    f"wrong-{name}",
                    f"refuses a wrong {name} credential",
                    f"no recipe for a {scheme.get('type')} scheme",
                )
            else:
                variants.append((f"wrong:{name}", f"with a wrong {name} credential only"))
        primary = self.target.api_key_header or self.doc.api_key_header()
        for place in _moved_places(schemes, primary, self.doc.api_key_header()):
            variants.append(
                (
                    f"moved:{place}",
                    f"with the key in {place.replace(':', ' ')} instead of header {primary}",
                )
            )
        for credentials, what in variants:
            change = Fault(
                "unauthenticated",
                "credentials",
                _credentials(credentials),
                None,
                what,
            )
            also = f" (and {safety.what})" if safety else ""
            self.refusal(
                "security",
                op,
                credentials.replace(":", "-"),
                f"a request {what}{also} is answered {{status}}",
                (base, implied),
                [change, safety],
            )

    # precedence

    def precedence(self, op: Operation) -> None:
        base, implied = self.recipes.base(op)
        rules = [refusal.rule for refusal in self.doc.refusals()]
        for index, first_rule in enumerate(rules):
            for later in rules[index + 1 :]:
                pair = next(
                    (
                        (a, b)
                        for a in self.recipes.faults(op, first_rule)
                        for b in self.recipes.faults(op, later)
                        if a.part != b.part
                    ),
                    None,
                )
                if pair is None:
                    continue
                request, first = self.recipes.compose(base, implied, list(pair))
                expect = self.recipes.expect(first)
                if expect is None or expect.rule != first_rule:
                    continue
                promise = (
                    f"a request breaking {first_rule} ({pair[0].what}) and {later} "
                    f"({pair[1].what}) is answered {expect.status}: {first_rule} is checked first"
                )
                self.add("precedence", op, f"{first_rule}-before-{later}", promise, request, expect)


def _credential_kind(scheme: dict[str, Any]) -> str | None:
    if scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query"):
        return "apiKey"
    if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() in (
        "bearer",
        "basic",
    ):
        return "http"
    return None


def _moved_places(
    schemes: dict[str, dict[str, Any]], primary: str | None, documented: str | None
) -> list[str]:
    """Where the valid key must not be taken from: other headers and the query string."""
    if primary is None:
        return []
    places = ["header:authorization", f"query:{primary}"]
    names = {documented, *(s.get("name") for s in schemes.values() if s.get("type") == "apiKey")}
    places += [
        f"header:{name}"
        for name in sorted(n for n in names if n)
        if name.lower() != primary.lower()
    ]
    return places


def _credentials(kind: str) -> Callable[[Request], Request]:
    return lambda request: request.with_(credentials=kind)
