"""The planner's state and bookkeeping, shared by the modules that plan each group."""

from __future__ import annotations

from typing import Any

from somia._document import Document, Operation
from tests.contract.model import NOT_PROVOKABLE, Expect, Plan, Probe, Request, Row, Watch
from tests.contract.recipes import Fault, Recipes, body_keywords
from tests.contract.settings import Target
from tests.contract.turns import AcceptPool
from tests.contract.values import keywords


def loc_of(label: str) -> tuple[str, ...]:
    """The `loc` prefix of a body label: `body.tags[]` is ("body", "tags")."""
    parts = [part.split("|")[0].removesuffix("[]") for part in label.split(".")]
    return tuple(part for part in parts if part)


class PlannerBase:
    """What every group's planning reads and adds to."""

    def __init__(self, doc: Document, target: Target) -> None:
        self.doc = doc
        self.target = target
        self.recipes = Recipes(doc, target)
        self.plan = Plan()
        self.turns: dict[str, list[Probe]] = {}
        self.accepts: tuple[AcceptPool, set[tuple[str, str, str | None]]] = (AcceptPool([]), set())
        """The Accept values, and the (operation, media type, Accept) the media turns tried."""
        self.turns_planned = 0
        self._ids: set[str] = set()

    def add(
        self,
        group: str,
        op: Operation,
        slug: str,
        promise: str,
        request: Request,
        expect: Expect,
        **more: Any,
    ) -> Probe:
        base = f"{op.id}/{group}/{slug}"
        if expect.status not in self.doc.responses(op):
            self.row(group, op, slug, promise, f"{op.id} does not document {expect.status}")
            return Probe(base, group, op.id, promise, request, expect)
        probe_id, n = base, 1
        while probe_id in self._ids:
            n += 1
            probe_id = f"{base}#{n}"
        self._ids.add(probe_id)
        probe = Probe(probe_id, group, op.id, f"{op.id}: {promise}", request, expect, **more)
        self.plan.probes.append(probe)
        return probe

    def row(
        self,
        group: str,
        op: Operation,
        slug: str,
        promise: str,
        reason: str,
        status: str = NOT_PROVOKABLE,
    ) -> None:
        self.plan.rows.append(
            Row(f"{op.id}/{group}/{slug}", group, op.id, f"{op.id}: {promise}", status, reason)
        )

    def watch(self, group: str, op: Operation, check: str, promise: str, arg: str = "") -> None:
        slug = f"{check}-{arg}" if arg else check
        self.plan.watches.append(
            Watch(f"{op.id}/{group}/{slug}", group, op.id, f"{op.id}: {promise}", check, arg)
        )

    def inventory(self, op: Operation) -> None:
        found = self.plan.keywords
        for parameter in self.doc.parameters(op):
            label = f"{parameter['in']} {parameter['name']}"
            found |= {
                f"{op.id} {mark}" for mark in keywords(self.doc, parameter.get("schema", {}), label)
            }
            if parameter.get("required") and parameter["in"] != "path":
                found.add(f"{op.id} {label}: required")
        schema = self.doc.request_schema(op)
        if schema is not None:
            found |= {f"{op.id} {mark}" for mark in keywords(self.doc, schema, "body")}
        found |= set(body_keywords(self.doc, op))

    def refusal(
        self,
        group: str,
        op: Operation,
        slug: str,
        promise: str,
        start: tuple[Request, list[Fault]],
        faults: list[Fault | None],
        **more: Any,
    ) -> Expect:
        """Add the probe of `start` (a valid request and the faults it carries) with `faults`
        applied; it must get the status of the first of their rules (`{status}` in
        `promise`). Returns what it must get."""
        base, implied = start
        request, first = self.recipes.compose(base, implied, [f for f in faults if f])
        expect = self.recipes.expect(first)
        assert expect is not None, f"{op.id} {slug}: no fault of a refusal rule"
        promise = promise.replace("{status}", str(expect.status))
        self.add(group, op, slug, promise, request, expect, **more)
        return expect

    def status(self, rule: str) -> int | None:
        found = self.recipes.rule(rule)
        return None if found is None else self.recipes.status[found]
