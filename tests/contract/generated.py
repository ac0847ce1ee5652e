"""The generated phases of a run: schemathesis' fuzzed requests and its create -> continue
workflows, sent through the run's ledger, with the paid turns the rest of the run left.

They give way: the phases get at most `GENERATED_TURNS` paid turns and never more than the
budget has left beyond the turns kept for the planned probes not yet sent (`reserved()`), and
end quietly when they are spent (a planned probe never waits for them).
"""

from __future__ import annotations

import contextlib
import copy
from typing import TYPE_CHECKING, Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import BaseSchema, Case, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.generation.stateful.state_machine import APIStateMachine

from tests.contract.contract_support import workflow
from tests.contract.ledger import EVENT_STREAM, Exchange, StopRun, utf8_json
from tests.contract.values import Judge

if TYPE_CHECKING:
    from tests.contract.runner import ContractRun

GENERATED_TURNS = 8
"""The most paid turns the generated phases may spend."""
FUZZ_EXAMPLES = 3
STATEFUL_RUNS = 2
STATEFUL_STEPS = 2
# Generation only (no shrinking): failures are recorded, not raised, so nothing is replayed.
_HYPOTHESIS = hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


class _GiveWay(BaseException):
    """The phases' turns are spent: end them (a BaseException, so Hypothesis lets it by)."""


def schema_for(run: ContractRun) -> BaseSchema:
    """The run's document for schemathesis; the ledger adds the key (under the target's
    header, which the document's scheme is renamed to)."""
    document = copy.deepcopy(run.doc.data)
    header = run.target.api_key_header
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        if header and scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            scheme["name"] = header
    config = SchemathesisConfig.from_dict(
        {
            "base-url": run.target.base_url,
            "request-timeout": run.target.request_timeout,
            "checks": {
                # Its probes would bypass the budget; the security group holds auth.
                "ignored_auth": {"enabled": False},
                # A saturated platform answers 503 (documented, nothing ran).
                "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]},
            },
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


def run_generated(run: ContractRun) -> None:
    allowance = min(GENERATED_TURNS, run.target.budget - run.ledger.turns_spent - run.reserved())
    watches = [w for w in run.plan.watches if w.group == "generated"]
    if run.stopped is not None:
        return
    if allowance <= 0:
        for watch in watches:
            run.left_out[watch.id] = run.no_room(allowance)
        return
    phase = _Phase(run, allowance)
    with contextlib.suppress(_GiveWay):
        for watch in watches:
            if watch.check == "fuzz":
                phase.fuzz(watch.id, watch.operation)
        for watch in watches:
            if watch.check == "stateful":
                phase.stateful(watch.id)
    for watch in watches:
        if not run.seen.get(watch.id) and run.stopped is None:
            run.left_out[watch.id] = (
                f"the {allowance} paid turns of the generated phases were spent"
            )
    run.notes.append(
        f"generated requests: {phase.sent} sent, {run.ledger.turns_spent - phase.start} paid "
        f"turns of the {allowance} they could spend"
    )


class _Phase:
    def __init__(self, run: ContractRun, allowance: int) -> None:
        self.run = run
        self.allowance = allowance
        self.start = run.ledger.turns_spent
        self.sent = 0
        self.schema = schema_for(run)
        self.judges: dict[str, Judge] = {}
        self.keys = 0

    def send(self, watch: str, case: Case[Any]) -> Exchange:
        run = self.run
        if run.ledger.turns_spent - self.start >= self.allowance:
            raise _GiveWay
        kwargs = case.as_transport_kwargs(base_url=run.target.base_url)
        headers = {
            k: v for k, v in kwargs["headers"].items() if k.lower() != "x-schemathesis-testcaseid"
        }
        params: dict[str, str] = dict(kwargs.get("params") or {})
        run.credentials("valid", headers, params)
        content = kwargs.get("data")
        if "json" in kwargs:
            content = utf8_json(kwargs["json"])
        request = run.ledger.client.build_request(
            kwargs["method"], kwargs["url"], headers=headers, params=params or None, content=content
        )
        request.extensions["somia_path"] = dict(case.path_parameters or {})
        try:
            exchange = run.ledger.send(request, watch)
        except StopRun as stop:
            run.stopped = stop
            raise _GiveWay from None
        self.sent += 1
        run.seen[watch] = run.seen.get(watch, 0) + 1
        return exchange

    def judge(self, watch: str, case: Case[Any], exchange: Exchange, recorder: Any = None) -> None:
        run = self.run
        promise = next(w.promise for w in run.plan.watches if w.id == watch)
        if exchange.response is None:
            run.finding("generated", watch, promise, exchange, "an answer", exchange.got())
            return
        op = run.doc.operation(case.operation.definition.raw.get("operationId", ""))
        response = exchange.read_response()
        failures: list[Failure] = []
        try:
            case.validate_response(
                response, transport_kwargs={"base_url": run.target.base_url}, recorder=recorder
            )
        except Failure as exc:
            failures.append(exc)
        except BaseExceptionGroup as group:
            found = [f for f in _leaves(group) if isinstance(f, Failure)]
            if len(found) != len(list(_leaves(group))):
                raise
            failures += found
        for failure in failures:
            first = _first_line(failure.message.strip()) or failure.title
            cause = (watch, failure.title, first)
            run.finding(
                "generated",
                watch,
                promise,
                exchange,
                f"an answer the document allows ({failure.title})",
                f"{exchange.status}: {first[:160]}",
                cause=cause,
            )
        # An undocumented status is schemathesis' to report (status_code_conformance).
        documented = exchange.status in run.doc.responses(op)
        for problem in run.answer_problems(op, exchange) if documented else []:
            expected = "an answer as documented"
            run.finding(
                "generated",
                watch,
                promise,
                exchange,
                expected,
                problem,
                cause=(watch, problem[:60]),
            )
        if exchange.status == 200 and exchange.media == EVENT_STREAM:
            run.watch_stream(op.id, exchange)

    def positive(self, case: Case[Any]) -> bool:
        mode = getattr(getattr(getattr(case.meta, "generation", None), "mode", None), "value", None)
        return mode in (None, "positive")

    def pin(self, case: Case[Any]) -> bool:
        """Give a generated valid request the run's agent, pipeline version and a key of its
        own; and drop one that schemathesis thinks valid by Python's regular expressions but
        that the document refuses (its patterns are ECMA-262: U+FEFF is white space there):
        False for such a case."""
        if not self.positive(case):
            return True
        run = self.run
        op = run.doc.operation(case.operation.definition.raw.get("operationId", ""))
        own = run.target.resources("own")
        for parameter in run.doc.parameters(op):
            resource = parameter.get("x-somia-resource")
            if parameter["in"] == "path" and resource in own and case.path_parameters is not None:
                case.path_parameters = {**case.path_parameters, parameter["name"]: own[resource]}
        key = run.doc.idempotency(op)
        if key is not None and case.headers and key.header in case.headers:
            self.keys += 1
            case.headers = {  # type: ignore[assignment]
                **case.headers,
                key.header: f"somia-contract-{run.nonce}-gen-{self.keys}",
            }
        version = run.target.pipeline_version
        if version is not None and isinstance(case.body, dict):
            case.body = {**case.body, "pipeline_version": version}
        schema = run.doc.request_schema(op)
        if schema is not None:
            judge = self.judges.setdefault(op.id, Judge(run.doc, schema))
            return judge(case.body)
        return True

    def fuzz(self, watch: str, operation: str) -> None:
        op = self.run.doc.operation(operation)
        api_operation = self.schema[op.path][op.method.upper()]
        own = self.run.target.resources("own")
        fixed = {
            p["name"]: own[p["x-somia-resource"]]
            for p in self.run.doc.parameters(op)
            if p["in"] == "path" and p.get("x-somia-resource") in own
        }

        @hypothesis.given(case=api_operation.as_strategy(path_parameters=fixed or None))
        @hypothesis.settings(_HYPOTHESIS, max_examples=FUZZ_EXAMPLES)
        def each(case: Case[Any]) -> None:
            if not self.pin(case):
                hypothesis.reject()
            self.judge(watch, case, self.send(watch, case))

        each()

    def stateful(self, watch: str) -> None:
        phase = self
        own = self.run.target.resources("own")
        machine: type[APIStateMachine] = workflow(self.schema, agent_id=own.get("agent"))

        class Workflow(machine):  # type: ignore[valid-type, misc]
            def call(self, case: Case[Any], **kwargs: Any) -> Response:
                if not phase.pin(case):
                    hypothesis.reject()
                self.exchange = phase.send(watch, case)
                if self.exchange.response is None:
                    phase.judge(watch, case, self.exchange)
                    raise _GiveWay
                return Response.from_httpx(self.exchange.read_response(), verify=True)

            def validate_response(
                self, response: Response, case: Case[Any], *a: Any, **k: Any
            ) -> None:
                phase.judge(watch, case, self.exchange, recorder=self.recorder)

        settings = hypothesis.settings(
            _HYPOTHESIS, max_examples=STATEFUL_RUNS, stateful_step_count=STATEFUL_STEPS
        )
        run_state_machine_as_test(Workflow, settings=settings)


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found += _leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner]
    return found


def _first_line(message: str) -> str:
    """The first line of a failure message, with the next one when it only leads in to it."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]
