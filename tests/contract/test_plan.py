"""The plan of the shipped document: what it promises to probe, and what it leaves out."""

from __future__ import annotations

from collections import Counter

import pytest

from somia._document import shipped
from tests.contract.generated import GENERATED_TURNS, _Phase, schema_for
from tests.contract.model import LEFT_OUT, NOT_PROVOKABLE
from tests.contract.plan import compile_plan
from tests.contract.recipes import sendable_header
from tests.contract.runner import ContractRun
from tests.contract.settings import BUDGET, Target

TARGET = Target("http://contract.invalid", "sk-contract", 1, other_agent_id=2)


def test_every_probe_expects_a_status_its_operation_documents() -> None:
    doc = shipped()
    plan = compile_plan(doc, TARGET)

    for probe in plan.probes:
        assert probe.expect.status in doc.responses(doc.operation(probe.operation)), probe.id
    refusals = [p for p in plan.probes if p.group == "bounds" and p.expect.status == 422]
    assert refusals
    assert all(p.expect.names is not None for p in refusals)


def test_an_honest_deployment_spends_twelve_planned_turns_then_generated_then_spares() -> None:
    plan = compile_plan(shipped(), TARGET)

    paid = [p.id for p in plan.probes if p.paid and not p.spare]
    # Four turns (each operation, each answer form), six more so that each answer form meets
    # each Accept value, and, if keys are not honoured, two replays that run again; the
    # generated phases take at most GENERATED_TURNS, the spare turns what is left.
    assert Counter(p.split("/")[1] for p in paid) == {"media": 4, "accept": 6, "idempotency": 2}
    assert len(paid) + GENERATED_TURNS == BUDGET == 20
    assert plan.spares() == 10
    spares = [p for p in plan.probes if p.spare]
    assert plan.probes[-len(spares) :] == spares  # sent last, with what is left


def test_each_answer_form_of_each_operation_is_planned_under_each_accept_value() -> None:
    plan = compile_plan(shipped(), TARGET)
    values: list[str | None] = ["application/json", "text/event-stream"]
    values += ["application/json, text/event-stream", "*/*", None]

    turns = [p for p in plan.probes if p.group in ("media", "accept")]
    planned = Counter((p.operation, p.expect.media, p.request.accept) for p in turns)
    required = {(p.expect.media, p.request.accept) for p in turns if not p.spare}

    assert planned == {
        (op, media, accept): 1
        for op in ("createSession", "interactSession")
        for media in ("application/json", "text/event-stream")
        for accept in values
    }
    assert required == {(media, accept) for _, media, accept in planned}  # every pair, spares aside
    assert not any(r.status == LEFT_OUT for r in plan.rows)


def test_what_cannot_be_provoked_says_why() -> None:
    plan = compile_plan(shipped(), TARGET)

    reasons = {r.id: r.reason for r in plan.rows if r.status == NOT_PROVOKABLE}

    assert set(reasons) == {
        f"{op}/refusals/{slug}"
        for op in ("createSession", "interactSession")
        for slug in ("400", "429", "500", "503", "forbidden")
    }
    assert reasons["createSession/refusals/forbidden"].endswith("set SOMIA_FORBIDDEN_AGENT_ID")
    assert reasons["createSession/refusals/503"].startswith("no x-somia-refusals rule answers 503")


def test_a_forbidden_agent_gives_a_403_probe_on_every_operation() -> None:
    plan = compile_plan(shipped(), Target("http://x.invalid", "k", 1, forbidden_agent_id=9))

    forbidden = [p for p in plan.probes if p.expect.rule == "forbidden"]

    assert {p.operation for p in forbidden} == {"createSession", "interactSession"}
    assert all(p.expect.status == 403 and p.request.path["agent_id"] == 9 for p in forbidden)


@pytest.mark.parametrize(
    ("text", "sendable"),
    [
        ("abc", True),
        ("", True),
        ("é", True),
        ("a b", True),
        (" a", False),
        ("a\t", False),
        ("\n", False),
        ("\x00", False),
        ("\x7f", False),
        ("\u3000", False),
        ("😀", False),
    ],
)
def test_header_values_are_those_a_client_can_send_unchanged(text: str, sendable: bool) -> None:
    assert sendable_header(text) is sendable


def test_a_generated_valid_case_that_ecma_262_refuses_is_not_sent() -> None:
    # schemathesis reads `\S` with Python's rules, where U+FEFF is not white space; the
    # document's patterns are ECMA-262's, where it is: the fake refuses it, rightly.
    run = ContractRun(TARGET)
    phase = _Phase(run, allowance=1)
    operation = schema_for(run)["/api/v1/external/agent/{agent_id}/session"]["POST"]
    kept = operation.Case(path_parameters={"agent_id": 5}, body={"pipeline_version": "v1"})
    refused = operation.Case(path_parameters={"agent_id": 5}, body={"pipeline_version": "\ufeff"})

    sent = (phase.pin(kept), phase.pin(refused))
    run.close()

    assert sent == (True, False)
    assert kept.path_parameters == {"agent_id": 1}  # the run's own agent
