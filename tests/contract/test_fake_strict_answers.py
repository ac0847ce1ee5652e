"""Strict answers against the fake: only documented fields, and every documented field once.

When the contract tests run against `somia.testing`, the document's answer schemas are
treated as closed (an object schema that lists properties takes no other), and each
documented answer field must appear at least once over the run (issue 12). `AnswerAudit`
checks that from the wire, independently of the fake's own bookkeeping, which
`FakeSomia.unsent_answer_fields()` reports; a contract run against the fake feeds every 200
answer (JSON, and each stream chunk) to an audit and asserts both at the end.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import httpx
import pytest

from somia._document import shipped
from somia.testing import Answer, FakeServer, FakeSomia, echo_agent
from tests.contract.answer_audit import EVENT_STREAM, JSON, AnswerAudit

KEY = "sk-strict"


def run_both_operations(server: FakeServer, agent_id: int, audit: AnswerAudit) -> None:
    """Create and continue a session, as JSON and as a stream, auditing every answer."""
    base = f"{server.base_url}/api/v1/external/agent/{agent_id}/session"
    with httpx.Client(headers=server.headers, timeout=5) as client:
        for stream in (False, True):
            created = client.post(base, json={"input_data": "héllo\nwörld", "stream": stream})
            assert created.status_code == 200, created.text
            audit.add_response(created)
            session_id = created.headers["x-somia-session-id"]
            again = client.post(f"{base}/{session_id}", json={"stream": stream})
            assert again.status_code == 200, again.text
            audit.add_response(again)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeSomia(api_key=KEY, default_agent=echo_agent)
    with FakeServer(fake) as server:
        yield server


def test_the_fakes_answers_hold_only_documented_fields_and_carry_each_one(
    server: FakeServer,
) -> None:
    audit = AnswerAudit()

    run_both_operations(server, 1, audit)

    assert audit.problems == []
    assert audit.unseen() == []
    assert server.fake.unsent_answer_fields() == []


def test_a_field_never_sent_is_reported_by_both_the_audit_and_the_fake(
    server: FakeServer,
) -> None:
    server.fake.register_agent(2, lambda turn: Answer("x", omit=("finished",)))
    audit = AnswerAudit()

    run_both_operations(server, 2, audit)

    expected = [f"{JSON}: finished", f"{EVENT_STREAM}: finished"]
    assert audit.problems == []
    assert audit.unseen() == expected
    assert server.fake.unsent_answer_fields() == expected


def test_the_audit_refuses_an_undocumented_field_at_any_documented_level() -> None:
    document = copy.deepcopy(shipped().data)
    usage = {"type": "object", "properties": {"input_tokens": {"type": "integer"}}}
    document["components"]["schemas"]["AgentSessionResponse"]["properties"]["usage"] = usage
    audit = AnswerAudit(document)

    audit.add(JSON, {"session_id": "s", "surprise": 1})
    audit.add(JSON, {"session_id": "s", "usage": {"input_tokens": 1, "extra": 2}})
    audit.add(JSON, {"session_id": "s", "metadata": {"free": "form"}, "history": [{"any": 1}]})

    assert len(audit.problems) == 2
    assert "surprise" in audit.problems[0]
    assert "extra" in audit.problems[1]
    assert f"{JSON}: usage.input_tokens" not in audit.unseen()
    assert f"{JSON}: finished" in audit.unseen()
