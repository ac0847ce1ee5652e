"""The contract suite: one test per group of the document's promises (`GROUPS`), in the order
a run takes them (those that cost nothing first), each asserting its group's findings.

Against the fake server in `make test`; against a deployment with `make contract` (`--live`).
The plan and its outcome are in the session's `contract` run (conftest.py).
"""

from __future__ import annotations

import pytest

from somia.testing import FakeServer
from tests.contract.answer_audit import AnswerAudit
from tests.contract.model import GROUPS
from tests.contract.report import hide_key, matrix_text
from tests.contract.runner import ContractRun

pytestmark = pytest.mark.contract_suite


def held(run: ContractRun, group: str) -> None:
    """Run a group's probes and fail with one line per broken promise."""
    lines = [finding.line for finding in run.run_group(group)]
    if run.stopped is not None:
        lines.append(f"STOP [{run.stopped.check}] {run.stopped.line}")
    if lines:
        pytest.fail(hide_key(run, "\n".join(lines)), pytrace=False)


@pytest.mark.parametrize("group", GROUPS)
def test_the_group_of_promises_holds(contract: ContractRun, group: str) -> None:
    held(contract, group)


def test_every_planned_promise_was_tried(contract: ContractRun) -> None:
    contract.run_all()  # nothing twice: what ran is kept

    left = contract.not_run()

    assert not left, hide_key(
        contract, "\n".join(f"{row.status}: {row.promise} ({row.reason})" for row in left)
    )


@pytest.mark.fake_only
def test_the_fakes_run_exercises_every_request_keyword(contract: ContractRun) -> None:
    contract.run_all()

    exercised, missing = contract.keywords()

    assert not missing, matrix_text(contract, full=False)
    assert exercised == contract.plan.keywords


@pytest.mark.fake_only
def test_the_fakes_answers_are_strict_and_every_request_went_through_the_ledger(
    contract: ContractRun, contract_server: FakeServer, answer_audit: AnswerAudit
) -> None:
    contract.run_all()
    received = contract_server.requests
    ran = sum(
        1
        for session in contract_server.fake.session_ids
        for entry in contract_server.fake.history(session)
        if entry["role"] == "assistant"
    )

    assert answer_audit.problems == []
    assert answer_audit.unseen() == []
    assert contract_server.fake.unsent_answer_fields() == []
    assert contract.ledger.requests_sent == len(received)
    assert ran <= contract.ledger.turns_spent <= contract.target.budget
    assert contract.notes[-1].startswith("generated requests: ")
