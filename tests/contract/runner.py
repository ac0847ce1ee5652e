"""A contract run: the plan compiled for a target, sent through one ledger, judged, recorded.

`ContractRun.run_group(group)` sends the probes of one group (and, first, any probe they
need) and returns the group's findings; nothing is sent twice, so a paid turn is never
replayed to check something else. `matrix()` gives every promise with its outcome.
"""

from __future__ import annotations

import base64
import json
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from somia._document import Document, Operation, load
from tests.contract.judge import answer_problems, expectation_problems, stream_problems
from tests.contract.ledger import EVENT_STREAM, Exchange, Ledger, StopRun, utf8_json
from tests.contract.model import (
    GROUPS,
    LEFT_OUT,
    MISSING,
    NOT_PROVOKABLE,
    Finding,
    Probe,
    Ref,
    Request,
    Row,
)
from tests.contract.plan import compile_plan
from tests.contract.settings import Target

AnswerCheck = Callable[[Exchange], None]
"""An extra check of every answer: raises AssertionError to report a problem."""
WRONG_KEY = "sk-somia-contract-wrong-key"
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass
class Outcome:
    """What became of one promise."""

    status: str
    reason: str = ""
    exchange: Exchange | None = None


@dataclass(frozen=True)
class Line(Row):
    """One line of the matrix: a promise, its outcome, and the findings that broke it."""

    findings: tuple[Finding, ...] = ()
    spare: bool = False
    """A spare turn's promise: left out for budget only once the budget is spent."""

    @property
    def excused(self) -> bool:
        """Not tried, and rightly: not provokable, or a spare turn the budget had no room for."""
        return self.status == NOT_PROVOKABLE or (self.spare and self.status == LEFT_OUT)


class ContractRun:
    """One run of the contract suite against a target."""

    def __init__(
        self,
        target: Target,
        *,
        document: Document | Mapping[str, Any] | str | Path | None = None,
        answer_checks: Sequence[AnswerCheck] = (),
    ) -> None:
        self.target = target
        self.doc = load(document)
        self.plan = compile_plan(self.doc, target)
        self.ledger = Ledger(target)
        self.answer_checks = list(answer_checks)
        self.nonce = uuid.uuid4().hex[:12]
        self.outcomes: dict[str, Outcome] = {}
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self.seen: dict[str, int] = {}
        """Per watched rule, how many answers it was checked on."""
        self.honoured: dict[str, bool] = {}
        self.left_out: dict[str, str] = {}
        """Watched promises the budget left out, with the reason."""
        self.stopped: StopRun | None = None
        self.groups_run: list[str] = []
        self.groups: tuple[str, ...] = GROUPS
        """The groups this run will run (a session's selection): turns are kept for them."""
        self.seconds = 0.0
        """The time the run's groups took (the session may run other tests between them)."""

    def close(self) -> None:
        self.ledger.close()

    # Running.

    def run_group(self, group: str) -> list[Finding]:
        """Send the probes of `group` (once), and return the group's findings."""
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}; the groups: {', '.join(GROUPS)}")
        if group not in self.groups_run:
            self.groups_run.append(group)
            started = time.monotonic()
            try:
                self._run_group(group)
            finally:
                self.seconds += time.monotonic() - started
        return [finding for finding in self.findings if finding.group == group]

    def _run_group(self, group: str) -> None:
        for probe in self.plan.of(group):
            self.run_probe(probe)
        if group == "stream":  # the streams it watches
            for probe in self.plan.probes:
                if probe.expect.media == EVENT_STREAM:
                    self.run_probe(probe)
        if group == "generated":
            from tests.contract.generated import run_generated

            run_generated(self)

    def run_all(self) -> None:
        for group in GROUPS:
            self.run_group(group)

    def run_probe(self, probe: Probe) -> Outcome:
        if probe.id in self.outcomes:
            return self.outcomes[probe.id]
        for need in probe.needs:
            self.run_probe(self.plan.probe(need))
        outcome = self._outcome(probe)
        self.outcomes[probe.id] = outcome
        return outcome

    def _outcome(self, probe: Probe) -> Outcome:
        if self.stopped is not None:
            return Outcome(LEFT_OUT, self.stopped.line)
        if probe.when_honoured is not None and not self.honoured.get(probe.when_honoured):
            return Outcome(
                NOT_PROVOKABLE, "the deployment does not honour Idempotency-Key (optional)"
            )
        if probe.spare:
            cost = 1 + sum(self.plan.probe(need).paid for need in self.unrun(probe.needs))
            room = self.target.budget - self.ledger.turns_spent - self.reserved()
            if cost > room:
                return Outcome(LEFT_OUT, self.no_room(room))
        try:
            request = self.build(probe.request)
        except _Unresolved as exc:
            return Outcome(NOT_RUN, str(exc))
        try:
            exchange = self.ledger.send(request, probe.id)
        except StopRun as stop:
            self.stopped = stop
            return Outcome(LEFT_OUT, stop.line)
        if probe.tells_honour is not None and not self.honoured.get(probe.tells_honour):
            return self.told(probe, exchange)
        before = len(self.findings)
        try:
            self.judge(probe, exchange)
        except Exception as exc:  # a crash of a check is a failure of its promise
            self.finding(
                probe.group,
                probe.id,
                probe.promise,
                exchange,
                "a judgement",
                f"{type(exc).__name__}: {exc}",
                traceback.format_exc(),
            )
        return Outcome(FAILED if len(self.findings) > before else PASSED, exchange=exchange)

    # The budget.

    def unrun(self, ids: Sequence[str]) -> list[str]:
        """`ids` and the probes they need, transitively, that have not run yet."""
        found: list[str] = []
        for probe_id in ids:
            if probe_id not in self.outcomes and probe_id not in found:
                found += [*self.unrun(self.plan.probe(probe_id).needs), probe_id]
        return list(dict.fromkeys(found))

    def reserved(self) -> int:
        """The paid turns kept for the run's planned probes (spares aside) not yet sent: one
        each that an honest deployment pays for, and one more while any free one is left
        (the ledger sends nothing once the budget is spent)."""
        waiting = self.unrun(
            [p.id for p in self.plan.probes if p.group in self.groups and not p.spare]
        )
        paid = sum(self.plan.probe(probe_id).paid for probe_id in waiting)
        return paid + (paid < len(waiting))

    def no_room(self, room: int) -> str:
        spent, budget = self.ledger.turns_spent, self.target.budget
        if spent >= budget:
            return (
                f"all {budget} paid turns of the budget were spent; SOMIA_CONTRACT_BUDGET raises it"
            )
        return (
            f"{spent} of {budget} paid turns spent, the other {budget - spent} kept for "
            "planned promises not yet tried"
            if room <= 0
            else f"{room} paid turns left, fewer than it needs"
        )

    # Building requests.

    def build(self, spec: Request) -> httpx.Request:
        """The HTTP request a plan's request stands for, its values resolved."""
        op = self.doc.operation(spec.operation)
        path = op.path
        values = {name: self.resolve(value) for name, value in spec.path.items()}
        for name, value in values.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        headers = {name: str(self.resolve(value)) for name, value in spec.headers.items()}
        params = {name: str(self.resolve(value)) for name, value in spec.query.items()}
        self.credentials(spec.credentials, headers, params)
        content: bytes | None = spec.raw
        if content is None and spec.body is not MISSING:
            body = self.resolve(spec.body)
            content = utf8_json(body)
        if content is not None and spec.content_type is not None:
            headers["Content-Type"] = spec.content_type
        request = self.ledger.client.build_request(
            op.method.upper(),
            self.target.base_url + path,
            # As bytes: a value a client may send holds latin-1, which httpx would refuse.
            headers=[(name.encode(), value.encode("latin-1")) for name, value in headers.items()],
            params=params or None,
            content=content,
        )
        if spec.accept is None:
            del request.headers["accept"]
        else:
            request.headers["accept"] = spec.accept
        request.extensions["somia_path"] = values
        return request

    def credentials(self, kind: str, headers: dict[str, str], params: dict[str, str]) -> None:
        key = self.target.api_key
        header = self.target.api_key_header or self.doc.api_key_header() or "x-api-key"
        if kind == "valid":
            headers[header] = key
        elif kind.startswith("wrong:"):
            scheme = self.doc.data["components"]["securitySchemes"][kind.split(":", 1)[1]]
            scheme = self.doc.resolve(scheme)
            if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "basic":
                token = base64.b64encode(b"somia-contract:wrong").decode()
                headers["Authorization"] = f"Basic {token}"
            elif scheme.get("type") == "http":
                headers["Authorization"] = f"Bearer {WRONG_KEY}"
            elif scheme.get("in") == "query":
                params[scheme["name"]] = WRONG_KEY
            else:
                name = header if scheme.get("name") == self.doc.api_key_header() else scheme["name"]
                headers[name] = WRONG_KEY
        elif kind.startswith("moved:"):
            _, where, name = kind.split(":", 2)
            if where == "query":
                params[name] = key
            elif name.lower() == "authorization":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers[name] = key

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, Ref):
            return value
        if value.kind == "key":
            return f"somia-contract-{self.nonce}-{value.name.replace('/', '-')}"
        outcome = self.outcomes.get(value.probe)
        exchange = None if outcome is None else outcome.exchange
        if exchange is None or exchange.response is None or exchange.status != 200:
            raise _Unresolved(f"{value.probe} gave no answer to read {value.name} from")
        found = _runtime(value.name, exchange)
        if found is None:
            raise _Unresolved(f"{value.probe}'s answer has no {value.name}")
        return found

    # Judging.

    def judge(self, probe: Probe, exchange: Exchange) -> None:
        op = self.doc.operation(probe.request.operation)
        group, check, promise = probe.group, probe.id, probe.promise
        expect = probe.expect
        if exchange.response is None:
            self.finding(group, check, promise, exchange, "an answer", exchange.got())
            return
        if exchange.status != expect.status:
            self.finding(group, check, promise, exchange, str(expect.status), exchange.got())
            return
        problems = expectation_problems(expect, exchange) + self.answer_problems(op, exchange)
        for problem in problems:
            self.finding(group, check, promise, exchange, "an answer as documented", problem)
        if expect.replay_of is not None:
            self.replayed(probe, exchange)
        if exchange.media == EVENT_STREAM and exchange.status == 200:
            self.watch_stream(op.id, exchange)

    def answer_problems(self, op: Operation, exchange: Exchange) -> list[str]:
        """Where an answer breaks the document, and what the run's extra checks found."""
        problems = answer_problems(self.doc, op, exchange)
        for check in self.answer_checks:
            try:
                check(exchange)
            except AssertionError as exc:
                problems.append(str(exc))
        return problems

    def told(self, probe: Probe, exchange: Exchange) -> Outcome:
        """The outcome of a probe sent after its replay probe found the key not honoured."""
        replay = self.plan.probe(probe.tells_honour or "")
        if exchange.status == 200:
            return Outcome(
                NOT_PROVOKABLE,
                "the deployment does not honour Idempotency-Key (optional)",
                exchange,
            )
        if exchange.status == probe.expect.status:
            self.notes.pop()  # it keeps keys after all: the replay was wrong
            self.outcomes[replay.id].status = FAILED
            promise = replay.promise
            got = f"another session (the same key with another body: {exchange.status})"
            replayed = self.outcomes[replay.id].exchange
            assert replayed is not None
            self.finding(
                replay.group, replay.id, promise, replayed, "a replay of the stored answer", got
            )
            return Outcome(PASSED, exchange=exchange)
        self.judge(probe, exchange)
        return Outcome(FAILED, exchange=exchange)

    def replayed(self, probe: Probe, exchange: Exchange) -> None:
        """Whether a request sent again with its key got the stored answer (the same JSON, or
        the same events): continuing a session, a turn run again has the same session id."""
        first = self.outcomes[probe.expect.replay_of or ""].exchange
        assert first is not None
        same = _answer_of(first) == _answer_of(exchange)
        self.honoured[probe.id] = same
        if same:
            self.ledger.refund(probe.id)  # a replay runs nothing
            return
        self.notes.append(
            f"idempotency not honoured (optional in the document): {probe.id} sent a turn's "
            "request again with its Idempotency-Key and got another answer, so the turn ran "
            "again; the other Idempotency-Key promises were not tried"
        )

    def watch_stream(self, operation: str, exchange: Exchange) -> None:
        """Check every watched stream rule of `operation` on one streamed answer."""
        op = self.doc.operation(operation)
        problems = stream_problems(self.doc, op, exchange)
        for watch in self.plan.watches:
            if watch.operation != operation or watch.group != "stream":
                continue
            self.seen[watch.id] = self.seen.get(watch.id, 0) + 1
            for problem in problems.get((watch.check, watch.arg), [])[:1]:
                self.finding(
                    "stream",
                    watch.id,
                    watch.promise,
                    exchange,
                    "every event as the rule says",
                    problem,
                    cause=(watch.id, problem[:40]),
                )

    def finding(
        self,
        group: str,
        check: str,
        promise: str,
        exchange: Exchange,
        expected: str,
        got: str,
        detail: str = "",
        cause: tuple[str, ...] = (),
    ) -> None:
        finding = Finding(
            group=group,
            check=check,
            promise=promise,
            request=exchange.line,
            expected=expected,
            got=got,
            detail=detail or _detail(exchange),
            reproduce=self.ledger.reproduce(exchange),
            cause=cause or (check, expected, got),
        )
        for known in self.findings:
            if known.cause == finding.cause:
                known.repeats += 1
                return
        self.findings.append(finding)

    # The matrix.

    def matrix(self) -> list[Line]:
        """Every promise of the plan with its outcome so far."""
        failed: dict[str, list[Finding]] = {}
        for finding in self.findings:
            failed.setdefault(finding.check, []).append(finding)
        lines = []
        for probe in self.plan.probes:
            outcome = self.outcomes.get(probe.id, Outcome(NOT_RUN, "never sent"))
            found = tuple(failed.get(probe.id, []))
            promise = probe.id, probe.group, probe.operation, probe.promise
            lines.append(Line(*promise, outcome.status, outcome.reason, found, probe.spare))
        for watch in self.plan.watches:
            found = tuple(failed.get(watch.id, []))
            seen = self.seen.get(watch.id, 0)
            status = FAILED if found else PASSED if seen else NOT_RUN
            reason = f"checked on {seen} answer{'s' * (seen != 1)}" if seen else "never seen"
            if not seen and watch.id in self.left_out:
                status, reason = LEFT_OUT, self.left_out[watch.id]
            elif not seen and self.stopped is not None:
                status, reason = LEFT_OUT, self.stopped.line
            promise = watch.id, watch.group, watch.operation, watch.promise
            # The generated phases only ever take what the budget leaves, as spare turns do.
            lines.append(Line(*promise, status, reason, found, watch.id in self.left_out))
        lines += [Line(*vars(row).values()) for row in self.plan.rows]
        order = {group: index for index, group in enumerate(GROUPS)}
        return sorted(lines, key=lambda line: order[line.group])

    def not_run(self) -> list[Line]:
        """The planned promises that were never tried (a run that leaves one fails)."""
        rows = {row.id for row in self.plan.rows}
        return [
            line
            for line in self.matrix()
            if line.status in (NOT_RUN, LEFT_OUT) and line.id not in rows and not line.excused
        ]

    def keywords(self) -> tuple[set[str], set[str]]:
        """(the request keywords the sent probes exercised, those none did)."""
        sent = {pid for pid, outcome in self.outcomes.items() if outcome.exchange is not None}
        exercised = {kw for probe in self.plan.probes if probe.id in sent for kw in probe.keywords}
        return exercised & self.plan.keywords, self.plan.keywords - exercised


class _Unresolved(Exception):
    """A value of the request could not be read from an earlier answer."""


def _runtime(expression: str, exchange: Exchange) -> Any:
    """The value of an OpenAPI runtime expression on an exchange (the forms links use)."""
    if expression.startswith("$response.header."):
        assert exchange.response is not None
        return exchange.response.headers.get(expression.removeprefix("$response.header."))
    if expression.startswith("$request.path."):
        return exchange.request.extensions["somia_path"].get(
            expression.removeprefix("$request.path.")
        )
    if expression.startswith("$response.body#/"):
        value: Any = json.loads(exchange.body)
        for part in expression.split("#/", 1)[1].split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    return None


def _answer_of(exchange: Exchange) -> Any:
    """An answer as data: its JSON, or the data of each event of its stream."""
    if exchange.events is not None:
        return [event.data for event in exchange.events]
    try:
        return json.loads(exchange.body)
    except ValueError:
        return exchange.body


def _detail(exchange: Exchange) -> str:
    """The request as sent and the answer as received, for the detail section."""
    lines = []
    content = exchange.request.content
    if content:
        text = content[:400].decode("utf-8", "replace")
        more = f"... ({len(content)} bytes)" if len(content) > 400 else ""
        lines.append(f"request body: {text}{more}")
    if exchange.response is not None:
        text = exchange.body[:600].decode("utf-8", "replace")
        lines.append(f"answer: {exchange.status} {exchange.media} {text}")
    elif exchange.error is not None:
        lines.append(f"no answer: {type(exchange.error).__name__}: {exchange.error}")
    return "\n".join(lines)
