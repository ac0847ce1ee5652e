"""The live contract suite (live_suite.py) against the fake, and against a live deployment.

`make contract` runs the suite against the deployment the variables name (every 200 is a
paid turn; see live_run.missing_settings_line for the variables); `pytest -m live` does too,
through pytest. Against the fake (loopback HTTP), the same suite runs in `make test`.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from answer_audit import AnswerAudit
from broken_servers import fake_target, serving, turns_ran
from live_plan import (
    LONG_INPUT_CHARS,
    MULTI_LINE_INPUT,
    NON_ASCII_INPUT,
    optional_fields,
    turn_plan,
)
from live_run import TURN_BUDGET, SettingsError, missing_settings, target_from_env
from live_suite import GROUPS, HONEST_TURNS, run_suite

from somia._document import shipped


@pytest.mark.live
@pytest.mark.skipif(bool(missing_settings()), reason="the live contract run needs its variables")
def test_the_live_deployment_keeps_the_documents_promises() -> None:
    report = run_suite(target_from_env())

    print(report.render())
    if not report.passed:
        pytest.fail(report.render(), pytrace=False)


def test_the_fake_keeps_every_promise_within_the_budget() -> None:
    audit = AnswerAudit()

    def strict_answers(ctx: Any, response: Any, case: Any) -> None:
        # Against the fake, answer schemas are closed and each documented field must show.
        if response.status_code == 200:
            headers = [
                (name, value) for name, values in response.headers.items() for value in values
            ]
            audit.add_response(httpx.Response(200, headers=headers, content=response.content))

    with serving() as server:
        report = run_suite(fake_target(server), answer_checks=[strict_answers])
        received = server.requests
        ran = turns_ran(server)
        unsent = server.fake.unsent_answer_fields()

    assert report.passed, report.render()
    assert audit.problems == []
    assert audit.unseen() == []
    assert unsent == []
    assert report.checks_run == list(GROUPS)
    assert report.notes == []  # strong cross-agent check, idempotency honoured
    # Every request went through the ledger, and every paid turn was counted.
    assert report.requests_sent == len(received)
    assert ran <= report.turns_spent  # a replay of a generated request may be counted
    assert report.turns_spent <= HONEST_TURNS <= TURN_BUDGET
    assert report.render().splitlines()[-1] == report.summary()


def test_the_paid_turns_cover_the_request_space() -> None:
    plan = turn_plan(shipped().data, pipeline_version=None)
    bodies = [turn.body for turn in plan]

    assert {(turn.continues is None, turn.streams) for turn in plan} == {
        (True, False),
        (True, True),
        (False, False),
        (False, True),
    }
    inputs = [body["input_data"] for body in bodies]
    assert NON_ASCII_INPUT in inputs
    assert MULTI_LINE_INPUT in inputs
    assert any(isinstance(i, str) and len(i) == LONG_INPUT_CHARS for i in inputs)
    for name in optional_fields(shipped().data):
        assert any(name in body for body in bodies), name
    # Booleans take both values; the rest start with the document's default.
    assert {body.get("trace_enabled") for body in bodies} >= {False, True}
    assert bodies[1]["pipeline_version"] == "production"


def test_a_field_added_to_the_document_is_covered_without_an_edit() -> None:
    document = copy.deepcopy(shipped().data)
    properties = document["components"]["schemas"]["AgentExecutionRequest"]["properties"]
    properties["priority"] = {"type": "string", "enum": ["low", "high"]}
    properties["retries"] = {"type": "integer", "minimum": 0, "maximum": 3}

    bodies = [turn.body for turn in turn_plan(document, pipeline_version=None)]

    assert [body.get("priority") for body in bodies] == [None, "low", "high", "low"]
    assert [body.get("retries") for body in bodies] == [None, 3, 3, 3]


def test_the_pipeline_version_variable_reaches_every_turn() -> None:
    bodies = [turn.body for turn in turn_plan(shipped().data, pipeline_version=7)]

    assert [body["pipeline_version"] for body in bodies] == [7, 7, 7, 7]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SOMIA_AGENT_ID": "abc"}, "SOMIA_AGENT_ID must be a positive integer, not 'abc'"),
        ({"SOMIA_OTHER_AGENT_ID": "0"}, "SOMIA_OTHER_AGENT_ID must be a positive integer"),
        ({"SOMIA_CONTRACT_DEADLINE": "-1"}, "SOMIA_CONTRACT_DEADLINE must be a positive number"),
        ({"SOMIA_API_KEY": ""}, "the live contract run needs SOMIA_API_KEY: set"),
    ],
)
def test_malformed_variables_are_named(changes: dict[str, str], message: str) -> None:
    env = {
        "SOMIA_CONTRACT_BASE_URL": "https://example.invalid",
        "SOMIA_API_KEY": "sk-secret",
        "SOMIA_AGENT_ID": "5",
        **changes,
    }

    with pytest.raises(SettingsError) as raised:
        target_from_env(env)

    assert message in str(raised.value)


def test_variables_give_the_target() -> None:
    env: dict[str, Any] = {
        "SOMIA_CONTRACT_BASE_URL": "https://example.invalid/",
        "SOMIA_API_KEY": "sk-secret",
        "SOMIA_AGENT_ID": "5",
        "SOMIA_API_KEY_HEADER": "apikey",
        "SOMIA_OTHER_AGENT_ID": "6",
        "SOMIA_PIPELINE_VERSION": "12",
        "SOMIA_CONTRACT_DEADLINE": "90",
    }

    target = target_from_env(env)

    assert (target.base_url, target.agent_id, target.other_agent_id) == (
        "https://example.invalid",
        5,
        6,
    )
    assert (target.api_key_header, target.pipeline_version, target.deadline) == ("apikey", 12, 90.0)
    assert "sk-secret" not in repr(target)
    assert (
        target_from_env({**env, "SOMIA_PIPELINE_VERSION": "staging"}).pipeline_version == "staging"
    )


def test_without_another_agent_the_cross_agent_check_is_said_to_be_weak() -> None:
    with serving() as server:
        report = run_suite(fake_target(server, other_agent_id=None), only=["other-agent"])

    assert report.passed, report.render()
    (note,) = report.notes
    assert note.startswith("weak check [other-agent]: SOMIA_OTHER_AGENT_ID is not set")
    assert f"note: {note}" in report.render()


def test_answer_checks_run_on_every_answer_and_report_under_their_group() -> None:
    # Where the fake's strict answers (test_fake_strict_answers.py) plug in.
    seen: list[tuple[int, str]] = []

    def record(ctx: Any, response: Any, case: Any) -> None:
        media = (response.headers.get("content-type") or [""])[0].split(";")[0]
        seen.append((response.status_code, media))
        if response.status_code == 200 and media == "text/event-stream":
            raise AssertionError("no streams today")

    with serving() as server:
        report = run_suite(fake_target(server), only=["paid-turns"], answer_checks=[record])

    assert seen == [
        (200, "application/json"),
        (200, "text/event-stream"),
        (200, "text/event-stream"),
        (200, "application/json"),
    ]
    assert report.failed_checks() == {"paid-turns"}, report.render()
    assert "no streams today" in report.findings[0].line
