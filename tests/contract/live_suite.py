"""The live contract suite: one run against a deployment, within a budget of paid turns.

`run_suite(target)` runs every check group in order and returns a `Report`; the same run holds
the fake server (in `make test`) and a live deployment (`make contract`) to openapi/somia.yaml.

- `auth`, `agent-id`, `invalid-body`, `unknown-session`: one request each, no paid turn on an
  honest deployment; each checks a status the document promises that schemathesis cannot see.
- `paid-turns`: the turns of `live_plan.turn_plan` (both operations, both media types, every
  optional request field, non-ASCII, multi-line and long input).
- `other-agent`: the run's own session continued through another agent id is not found.
- `idempotency`: optional in the document; checked when the server honours keys.
- `fuzz`, `stateful`: schemathesis' generated requests and create -> continue workflows.

Every answer is also validated by schemathesis' checks (the documented schemas included) and
by the checks `contract_support` registers. `answer_checks` adds more, run on every answer:
the fake's strict answers (tests/contract/test_fake_strict_answers.py) plug in there.
"""

from __future__ import annotations

import contextlib
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import hypothesis
import schemathesis
import yaml
from contract_support import SPEC, workflow
from hypothesis import HealthCheck, Phase
from hypothesis.stateful import run_state_machine_as_test
from live_plan import (
    CREATE,
    INTERACT,
    agent_id_schema,
    agent_ids_below_minimum,
    candidates,
    optional_fields,
    schema_breaking_body,
    turn_plan,
)
from live_run import Exchange, Finding, Ledger, Report, StopRun, Target, short
from schemathesis import BaseSchema, Case, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.generation.stateful.state_machine import APIStateMachine

from somia._document import shipped

CheckFunction = Callable[..., Any]

GROUPS = (
    "auth",
    "agent-id",
    "invalid-body",
    "unknown-session",
    "paid-turns",
    "other-agent",
    "idempotency",
    "fuzz",
    "stateful",
)

# Generated requests: few, since each positive create is a paid turn. Generation only (no
# shrinking): failures are recorded, not raised, so nothing is replayed.
FUZZ_EXAMPLES = 3
STATEFUL_RUNS = 2
STATEFUL_STEPS = 2
_HYPOTHESIS = hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
HONEST_TURNS = 4 + 1 + FUZZ_EXAMPLES + STATEFUL_RUNS * (1 + STATEFUL_STEPS)
"""The most paid turns an honest deployment spends: the planned turns, the idempotency
check's first request, the fuzzed creates, and each workflow's create and steps."""

SESSION_HEADER = "x-somia-session-id"


def live_schema(target: Target) -> BaseSchema:
    """The document for schemathesis, sending nothing by itself (the ledger adds the key)."""
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["components"]["securitySchemes"]["ApiKeyAuth"]["name"] = target.api_key_header
    config = SchemathesisConfig.from_dict(
        {
            "base-url": target.base_url,
            "request-timeout": target.request_timeout,
            "checks": {
                # Its probes would bypass the budget; the auth group demands exactly 401.
                "ignored_auth": {"enabled": False},
                # A saturated platform answers 503 (documented, nothing ran).
                "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]},
            },
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


class Suite:
    """One run: the target, its ledger and report, and the sessions its turns created."""

    def __init__(self, target: Target, *, answer_checks: Sequence[CheckFunction] = ()) -> None:
        self.target = target
        self.document = shipped().data
        self.schema = live_schema(target)
        self.ledger = Ledger(target)
        self.report = Report(target)
        self.answer_checks = list(answer_checks)
        self.sessions: list[str] = []

    # Building, sending and judging requests.

    def body(self, **fields: Any) -> dict[str, Any]:
        """A valid body: the document's first input example, the pipeline version if set."""
        inputs = candidates("input_data", optional_fields(self.document).get("input_data", {}))
        body: dict[str, Any] = {"input_data": inputs[0]}
        if self.target.pipeline_version is not None:
            body["pipeline_version"] = self.target.pipeline_version
        return {**body, **fields}

    def case(
        self,
        *,
        body: dict[str, Any],
        agent_id: int | None = None,
        session_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Case[Any]:
        path = CREATE if session_id is None else INTERACT
        parameters: dict[str, Any] = {
            "agent_id": self.target.agent_id if agent_id is None else agent_id
        }
        if session_id is not None:
            parameters["session_id"] = session_id
        operation = self.schema[path]["POST"]
        return operation.Case(
            path_parameters=parameters,
            headers=dict(headers or {}),
            body=body,
            media_type="application/json",
        )

    def send(self, check: str, case: Case[Any]) -> Exchange:
        """Send `case` through the ledger and record every check failure of its answer."""
        exchange = self.ledger.send(case)
        if exchange.response is None:
            self.finding(check, "every request is answered", exchange, "an answer", exchange.got())
        else:
            self.validate(check, exchange)
        return exchange

    def ask(
        self, check: str, promise: str, case: Case[Any], status: int, *, key: str = "valid"
    ) -> Exchange:
        """Send `case`; a finding unless it is answered `status` (then validated too).

        An unexpected status is the one finding for its exchange: the schema checks of that
        answer would only say the same again.
        """
        exchange = self.ledger.send(case, key=key)
        if exchange.status != status:
            self.finding(check, promise, exchange, str(status), exchange.got())
        else:
            self.validate(check, exchange)
        return exchange

    def finding(
        self, check: str, promise: str, exchange: Exchange, expected: str, got: str
    ) -> None:
        self.report.add(
            Finding(
                check=check,
                promise=promise,
                request=exchange.request_line,
                expected=expected,
                got=got,
                detail=_detail(exchange),
                reproduce=self.ledger.reproduce(exchange),
            )
        )

    def validate(self, check: str, exchange: Exchange, *, recorder: Any = None) -> None:
        """Record the failures of schemathesis' checks (and `answer_checks`) on the answer."""
        assert exchange.response is not None
        try:
            exchange.case.validate_response(
                exchange.response,
                additional_checks=self.answer_checks,
                transport_kwargs={"base_url": self.target.base_url},
                recorder=recorder,
            )
        except Failure as failure:
            self._failed(check, exchange, [failure])
        except BaseExceptionGroup as group:
            found = [f for f in _leaves(group) if isinstance(f, Failure)]
            if len(found) != len(list(_leaves(group))):
                raise
            self._failed(check, exchange, found)

    def _failed(self, check: str, exchange: Exchange, failures: Iterable[Failure]) -> None:
        for failure in failures:
            message = failure.message.strip()
            first = _first_line(message) or failure.title
            self.report.add(
                Finding(
                    check=check,
                    promise=f"the answer conforms to the document ({failure.title})",
                    request=exchange.request_line,
                    expected="an answer the document allows",
                    got=f"{exchange.status}: {short(first, 160)}",
                    detail=_detail(exchange, message),
                    reproduce=self.ledger.reproduce(exchange),
                    # The same failure of the same operation, whatever the generated values.
                    cause=(check, exchange.case.method, exchange.case.path, failure.title, first),
                )
            )

    def session_of(self, exchange: Exchange) -> str | None:
        """The session id an answer names in its header."""
        if exchange.response is None:
            return None
        values = exchange.response.headers.get(SESSION_HEADER) or []
        return str(values[0]) if values else None

    # The check groups, in the order they run.

    def check_auth(self) -> None:
        for key, check, promise in (
            ("wrong", "auth-wrong-key", "a wrong API key is answered 401"),
            ("none", "auth-no-key", "a request without the API key is answered 401"),
        ):
            self.ask(check, promise, self.case(body=self.body()), 401, key=key)

    def check_agent_id(self) -> None:
        for agent_id in agent_ids_below_minimum(self.document):
            promise = f"agent_id {agent_id} (below the document's minimum) is answered 422"
            self.ask("agent-id", promise, self.case(body=self.body(), agent_id=agent_id), 422)

    def check_invalid_body(self) -> None:
        name, body = schema_breaking_body(self.document)
        if self.target.pipeline_version is not None and name != "pipeline_version":
            body["pipeline_version"] = self.target.pipeline_version
        promise = f"a body breaking the schema ({name}: {body[name]!r}) is answered 422"
        self.ask("invalid-body", promise, self.case(body=body), 422)

    def check_unknown_session(self) -> None:
        case = self.case(body=self.body(), session_id=str(uuid.uuid4()))
        self.ask("unknown-session", "continuing an unknown session is answered 404", case, 404)

    def check_paid_turns(self) -> None:
        created: dict[int, str] = {}
        plan = turn_plan(self.document, pipeline_version=self.target.pipeline_version)
        for index, turn in enumerate(plan):
            session_id = None if turn.continues is None else created.get(turn.continues)
            if turn.continues is not None and session_id is None:
                self.report.notes.append(
                    f"paid turn {index + 1} ({turn.label}) not sent: "
                    f"turn {turn.continues + 1} created no session"
                )
                continue
            promise = f"a valid turn ({turn.label}) is answered 200"
            case = self.case(body=turn.body, session_id=session_id)
            exchange = self.ask("paid-turns", promise, case, 200)
            found = self.session_of(exchange)
            if exchange.status != 200 or found is None:
                continue  # reported already (the status, or the missing header)
            if session_id is not None and found != session_id:
                promise = "a continued session keeps its id"
                self.finding("paid-turns", promise, exchange, session_id, found)
            created[index] = found
            self.sessions.append(found)

    def check_other_agent(self) -> None:
        if not self.sessions:
            promise = "a valid create is answered 200"
            exchange = self.ask("other-agent", promise, self.case(body=self.body()), 200)
            found = self.session_of(exchange)
            if exchange.status != 200 or found is None:
                return
            self.sessions.append(found)
        other = self.target.other_agent_id
        if other is None:
            other = self._unlikely_agent_id()
            self.report.notes.append(
                "weak check [other-agent]: SOMIA_OTHER_AGENT_ID is not set, so the session was "
                f"continued through agent {other}, which likely does not exist: its 404 may only "
                "mean 'no such agent'. Set SOMIA_OTHER_AGENT_ID to another agent of the account."
            )
        case = self.case(body=self.body(), agent_id=other, session_id=self.sessions[0])
        promise = f"the run's session continued through another agent ({other}) is answered 404"
        self.ask("other-agent", promise, case, 404)

    def _unlikely_agent_id(self) -> int:
        highest = int(agent_id_schema(self.document).get("maximum", 2**63 - 1))
        return highest if highest != self.target.agent_id else highest - 1

    def check_idempotency(self) -> None:
        """A server that honours keys replays a repeat, and answers 409 to another body."""
        key = {"Idempotency-Key": f"somia-contract-{uuid.uuid4()}"}
        body = self.body(input_data="Idempotency check")
        changed = self.body(input_data="Idempotency check, changed")
        promise = "a first request with an Idempotency-Key is answered 200"
        first = self.ask("idempotency", promise, self.case(body=body, headers=key), 200)
        session = self.session_of(first)
        if first.status != 200 or session is None:
            return
        again = self.send("idempotency", self.case(body=body, headers=key))
        other = self.send("idempotency", self.case(body=changed, headers=key))
        replayed = again.status == 200 and self.session_of(again) == session
        if replayed:
            self.ledger.refund()  # a replay runs nothing
        conflict = other.status == 409
        if not replayed and not conflict:
            self.report.notes.append(
                "idempotency not honoured (optional in the document): a repeat with the same "
                f"key and body was answered {again.status} for session {self.session_of(again)} "
                f"(not a replay of {session}); the same key with another body {other.status}"
            )
            return
        if not replayed:
            promise = "the same Idempotency-Key and body again replay the stored answer"
            got = f"{again.got()} for session {self.session_of(again)}"
            self.finding(
                "idempotency", promise, again, f"200 for session {session} (a replay)", got
            )
        if not conflict:
            promise = "the same Idempotency-Key with a different body is answered 409"
            self.finding("idempotency", promise, other, "409", other.got())

    def check_fuzz(self) -> None:
        for path in (CREATE, INTERACT):
            operation = self.schema[path]["POST"]
            strategy = operation.as_strategy(path_parameters={"agent_id": self.target.agent_id})

            @hypothesis.given(case=strategy)
            @hypothesis.settings(_HYPOTHESIS, max_examples=FUZZ_EXAMPLES)
            def run(case: Case[Any]) -> None:
                self._pin(case)
                self.send("fuzz", case)

            run()

    def check_stateful(self) -> None:
        suite = self
        machine: type[APIStateMachine] = workflow(self.schema, agent_id=self.target.agent_id)

        class Workflow(machine):  # type: ignore[valid-type, misc]
            def call(self, case: Case[Any], **kwargs: Any) -> Response:
                suite._pin(case)
                self.exchange = suite.ledger.send(case)
                if self.exchange.response is None:
                    got = self.exchange.got()
                    suite.finding(
                        "stateful", "every request is answered", self.exchange, "an answer", got
                    )
                    raise _EndWorkflows
                return self.exchange.response

            def validate_response(
                self, response: Response, case: Case[Any], *a: Any, **k: Any
            ) -> None:
                suite.validate("stateful", self.exchange, recorder=self.recorder)

        settings = hypothesis.settings(
            _HYPOTHESIS, max_examples=STATEFUL_RUNS, stateful_step_count=STATEFUL_STEPS
        )
        with contextlib.suppress(_EndWorkflows):
            run_state_machine_as_test(Workflow, settings=settings)

    def _pin(self, case: Case[Any]) -> None:
        """Give a generated valid request the run's agent and pipeline version (if set).

        schemathesis' `parameters` setting does not reach `as_strategy` or the state machine.
        """
        mode = getattr(getattr(getattr(case.meta, "generation", None), "mode", None), "value", None)
        if mode not in (None, "positive"):
            return
        if case.path_parameters is not None and "agent_id" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "agent_id": self.target.agent_id}
        version = self.target.pipeline_version
        if version is not None and isinstance(case.body, dict):
            case.body = {**case.body, "pipeline_version": version}


class _EndWorkflows(BaseException):
    """A workflow step got no answer (reported): end the workflows. A BaseException, so that
    Hypothesis does not replay the step (a paid turn) to report it."""


def run_suite(
    target: Target,
    *,
    only: Iterable[str] | None = None,
    answer_checks: Sequence[CheckFunction] = (),
) -> Report:
    """Run the check groups (`only`: some of `GROUPS`) against `target`; the report."""
    chosen = list(GROUPS if only is None else only)
    unknown = set(chosen) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown check groups {sorted(unknown)}; known: {', '.join(GROUPS)}")
    suite = Suite(target, answer_checks=answer_checks)
    report = suite.report
    try:
        for group in GROUPS:
            if group not in chosen:
                continue
            try:
                getattr(suite, "check_" + group.replace("-", "_"))()
            except Exception as exc:  # a crash of one group is a failure, not the run's end
                report.add(
                    Finding(
                        group,
                        "the check ran to its end",
                        "-",
                        "no error",
                        f"{type(exc).__name__}: {short(str(exc), 160)}",
                        detail=traceback.format_exc(),
                    )
                )
            report.checks_run.append(group)
    except StopRun as stop:
        report.stopped = stop
    finally:
        suite.ledger.session.close()
        report.requests_sent = suite.ledger.requests_sent
        report.turns_spent = suite.ledger.turns_spent
        report.seconds = suite.ledger.elapsed
    return report


def _leaves(group: BaseExceptionGroup[Any]) -> Iterable[BaseException]:
    for inner in group.exceptions:
        if isinstance(inner, BaseExceptionGroup):
            yield from _leaves(inner)
        else:
            yield inner


def _first_line(message: str) -> str:
    """The first line of a failure message, with the next one when it only leads in to it."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def _detail(exchange: Exchange, message: str = "") -> str:
    """The request as sent and the answer as received, for the detail section."""
    lines = []
    if message:
        lines.append(message)
    prepared = exchange.prepared
    if prepared is not None and prepared.body:
        body = (
            prepared.body.decode("utf-8", "replace")
            if isinstance(prepared.body, bytes)
            else str(prepared.body)
        )
        lines.append(f"request body: {short(body, 400)}")
    if exchange.response is not None:
        content_type = (exchange.response.headers.get("content-type") or [""])[0]
        text = exchange.response.content.decode("utf-8", "replace")
        lines.append(f"answer: {exchange.response.status_code} {content_type} {short(text, 600)}")
    elif exchange.error is not None:
        lines.append(f"no answer: {type(exchange.error).__name__}: {exchange.error}")
    return "\n".join(lines)
