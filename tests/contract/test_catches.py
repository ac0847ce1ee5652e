"""The suite catches each kind of broken promise, on the check of that promise.

Each server is the fake with one promise broken, served over loopback HTTP; each test runs
the group of that promise and asserts which checks failed, not merely that one did. The
unbroken fake passes every group (test_suite.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from somia.testing import FakeSomia
from tests.contract.broken_servers import (
    Answer,
    Breakage,
    Request,
    failed_checks,
    fake_target,
    reply,
    run_broken,
    serving,
    turns_ran,
)
from tests.contract.runner import ContractRun

KNOWN_AGENTS = ("1", "2")
KEY = "idempotency-key"


def _keyed(fake: FakeSomia, request: Request) -> bool:
    return request.headers.get(fake.api_key_header) == fake.api_key


# Security.


def _auth_only_on_create(request: Request, fake: FakeSomia) -> None:
    if request.session is not None:
        request.headers[fake.api_key_header] = fake.api_key


def _bearer_accepted(request: Request, fake: FakeSomia) -> None:
    token = request.headers.get("authorization", "")
    if token.startswith("Bearer ") and fake.api_key_header not in request.headers:
        request.headers[fake.api_key_header] = token.removeprefix("Bearer ")


def _query_key_accepted(request: Request, fake: FakeSomia) -> None:
    name, _, value = request.query.partition("=")
    if name == fake.api_key_header and fake.api_key_header not in request.headers:
        request.headers[fake.api_key_header] = value


# Precedence.


def _existence_before_auth(request: Request, fake: FakeSomia) -> Answer | None:
    if request.agent not in KNOWN_AGENTS and not _keyed(fake, request):
        return reply(404, {"detail": "Agent not found"})
    return None


# Bounds.


def _key_refused_at_its_maximum(request: Request, fake: FakeSomia) -> Answer | None:
    if len(request.headers.get(KEY, "")) == 255:
        problem = {"loc": ["header", "Idempotency-Key"], "msg": "too long", "type": "too_long"}
        return reply(422, {"detail": [problem]})
    return None


def _key_pattern_unchecked(request: Request, fake: FakeSomia) -> None:
    value = request.headers.get(KEY)
    if value is not None and not value.isascii():
        request.headers[KEY] = "x"


def _session_id_refused_at_its_maximum(request: Request, fake: FakeSomia) -> Answer | None:
    if request.session is not None and len(request.session) >= 256:
        problem = {"loc": ["path", "session_id"], "msg": "too long", "type": "too_long"}
        return reply(422, {"detail": [problem]})
    return None


def _validation_as_400(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    return Answer(400, answer.headers, answer.body) if answer.status == 422 else answer


def _problems_named_body(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    if answer.status != 422:
        return answer
    detail = answer.json()["detail"]
    return reply(422, {"detail": [{**problem, "loc": ["body"]} for problem in detail]})


# Refusals.


def _create_runs_for_unknown_agents(request: Request, fake: FakeSomia) -> None:
    if request.session is None and request.agent not in KNOWN_AGENTS:
        request.path = request.path.replace(f"/agent/{request.agent}/", "/agent/1/", 1)


def _body_limit_off_by_one(request: Request, fake: FakeSomia) -> Answer | None:
    if len(request.body) >= fake.max_body_bytes:
        return reply(413, {"detail": "Request body too large"})
    return None


def _sessions_through_any_agent(breakage: Breakage) -> Breakage:
    owners: dict[str, str] = breakage.state.setdefault("owners", {})

    def before(request: Request, fake: FakeSomia) -> None:
        owner = owners.get(request.session or "")
        if owner is not None and owner != request.agent:
            request.path = request.path.replace(f"/agent/{request.agent}/", f"/agent/{owner}/", 1)

    def after(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
        if answer.status == 200:
            owners.setdefault(answer.headers["x-somia-session-id"], request.agent)
        return answer

    breakage.before, breakage.after = before, after
    return breakage


# Media types.


def _accept_chooses_the_form(request: Request, fake: FakeSomia) -> None:
    body = request.json()
    if request.headers.get("accept") == "application/json" and isinstance(body, dict):
        request.body = json.dumps({**body, "stream": False}).encode()


def _no_accept_means_json(request: Request, fake: FakeSomia) -> None:
    body = request.json()
    if "accept" not in request.headers and isinstance(body, dict) and body.get("stream") is True:
        request.body = json.dumps({**body, "stream": False}).encode()


# Streams.


def _events(answer: Answer) -> list[bytes]:
    return [block + b"\n\n" for block in answer.body.split(b"\n\n") if block]


def _streams(rewrite: Callable[[list[bytes]], list[bytes]]) -> Breakage:
    def after(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            answer.body = b"".join(rewrite(_events(answer)))
        return answer

    return Breakage(after=after)


def _chunk(event: bytes) -> dict[str, object]:
    data: dict[str, object] = json.loads(event.removeprefix(b"data: "))
    return data


ERROR_EVENT = b'data: {"error": "the agent failed"}\n\n'
SHAPELESS_ERROR = b'data: {"message": "the agent failed"}\n\n'


def _deltas(events: list[bytes]) -> list[bytes]:
    out, previous = [], ""
    for event in events:
        if event.startswith(b"data: {"):
            chunk = _chunk(event)
            message = str(chunk.get("message", ""))
            chunk["message"] = message.removeprefix(previous)
            previous = message
            event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
        out.append(event)
    return out


# Idempotency.


def _keys_scoped_to_one_path(request: Request, fake: FakeSomia) -> None:
    if KEY in request.headers:
        request.headers[KEY] = f"{request.headers[KEY]}@{request.path}"


def _replay_instead_of_conflict(breakage: Breakage) -> Breakage:
    stored: dict[str, Answer] = breakage.state.setdefault("stored", {})

    def after(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
        key = request.headers.get(KEY)
        if key is None:
            return answer
        if answer.status == 409 and key in stored:
            return stored[key]
        if answer.status == 200:
            stored.setdefault(key, answer)
        return answer

    breakage.after = after
    return breakage


def _run_again_yet_refuse_other_bodies(breakage: Breakage) -> Breakage:
    # A key's first body is kept; a repeat with the same body gets a fresh key (so it runs
    # again), while another body still meets the first key (and the fake's 409).
    first: dict[str, bytes] = breakage.state.setdefault("first", {})
    repeats: dict[str, int] = breakage.state.setdefault("repeats", {})

    def before(request: Request, fake: FakeSomia) -> None:
        key = request.headers.get(KEY)
        if key is None or first.setdefault(key, request.body) != request.body:
            return
        repeats[key] = repeats.get(key, 0) + 1
        if repeats[key] > 1:
            request.headers[KEY] = f"{key}-again-{repeats[key]}"

    breakage.before = before
    return breakage


def _drop_session_header(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    answer.headers.pop("x-somia-session-id", None)
    return answer


CREATE, INTERACT = "createSession", "interactSession"
CASES: list[tuple[str, Breakage, str, set[str]]] = [
    # (id, breakage, group run, the promises that must fail, by id without "#n")
    (
        "auth-only-on-create",
        Breakage(before=_auth_only_on_create),
        "security",
        {f"{INTERACT}/security/{s}" for s in ("none", "wrong-ApiKeyAuth")}
        | {f"{INTERACT}/security/moved-{s}" for s in ("header-authorization", "query-x-api-key")},
    ),
    (
        "bearer-accepted",
        Breakage(before=_bearer_accepted),
        "security",
        {f"{op}/security/moved-header-authorization" for op in (CREATE, INTERACT)},
    ),
    (
        "key-in-query-accepted",
        Breakage(before=_query_key_accepted),
        "security",
        {f"{op}/security/moved-query-x-api-key" for op in (CREATE, INTERACT)},
    ),
    (
        "existence-before-auth",
        Breakage(before=_existence_before_auth),
        "precedence",
        {f"{op}/precedence/unauthenticated-before-not-found" for op in (CREATE, INTERACT)},
    ),
    (
        "key-refused-at-its-maximum-length",
        Breakage(before=_key_refused_at_its_maximum),
        "bounds",
        {f"{op}/bounds/header-Idempotency-Key" for op in (CREATE, INTERACT)},
    ),
    (
        "key-pattern-unchecked",
        Breakage(before=_key_pattern_unchecked),
        "bounds",
        {f"{op}/bounds/header-Idempotency-Key" for op in (CREATE, INTERACT)},
    ),
    (
        "session-id-refused-at-its-maximum-length",
        Breakage(before=_session_id_refused_at_its_maximum),
        "bounds",
        {f"{INTERACT}/bounds/path-session_id"},
    ),
    (
        "problems-named-wrongly",
        Breakage(after=_problems_named_body),
        "bounds",
        {
            f"{op}/bounds/{part}"
            for op in (CREATE, INTERACT)
            for part in ("header-Idempotency-Key", "path-agent_id", "body")
        }
        | {f"{INTERACT}/bounds/path-session_id"},
    ),
    (
        "create-runs-for-unknown-agents",
        Breakage(before=_create_runs_for_unknown_agents),
        "refusals",
        {f"{CREATE}/refusals/not-found-path:agent_id"},
    ),
    (
        "body-limit-off-by-one",
        Breakage(before=_body_limit_off_by_one),
        "refusals",
        {f"{op}/refusals/body-at-limit" for op in (CREATE, INTERACT)},
    ),
    (
        "session-through-another-agent",
        _sessions_through_any_agent(Breakage()),
        "refusals",
        {f"{INTERACT}/refusals/owner-session_id"},
    ),
    (
        "accept-chooses-the-form",
        Breakage(before=_accept_chooses_the_form),
        "media",
        {f"{CREATE}/media/turn-2"},
    ),
    (
        "no-accept-means-json",
        Breakage(before=_no_accept_means_json),
        "accept",
        {f"{op}/accept/event-stream-under-none" for op in (CREATE, INTERACT)},
    ),
    (
        "error-then-more-events",
        _streams(lambda events: [events[0], ERROR_EVENT, *events[1:]]),
        "stream",
        {f"{op}/stream/followed-by-error" for op in (CREATE, INTERACT)},
    ),
    (
        "error-without-its-shape",
        _streams(lambda events: [*events[:-1], SHAPELESS_ERROR]),
        "stream",
        {f"{op}/stream/event-data" for op in (CREATE, INTERACT)},
    ),
    (
        "message-as-deltas",
        _streams(_deltas),
        "stream",
        {f"{op}/stream/cumulative-message" for op in (CREATE, INTERACT)},
    ),
    (
        "no-end-event",
        _streams(lambda events: events[:-1]),
        "stream",
        {f"{op}/stream/ends-with" for op in (CREATE, INTERACT)},
    ),
    (
        "keys-scoped-to-one-path",
        Breakage(before=_keys_scoped_to_one_path),
        "idempotency",
        {f"{CREATE}/idempotency/other-agent_id", f"{INTERACT}/idempotency/other-session_id"}
        | {
            f"{a}/idempotency/other-operation-{b}"
            for a, b in ((CREATE, INTERACT), (INTERACT, CREATE))
        },
    ),
    (
        "replays-instead-of-refusing",
        _replay_instead_of_conflict(Breakage()),
        "idempotency",
        {f"{op}/idempotency/other-body" for op in (CREATE, INTERACT)}
        | {f"{CREATE}/idempotency/other-agent_id", f"{INTERACT}/idempotency/other-session_id"}
        | {
            f"{a}/idempotency/other-operation-{b}"
            for a, b in ((CREATE, INTERACT), (INTERACT, CREATE))
        },
    ),
    (
        "runs-a-repeat-again",
        _run_again_yet_refuse_other_bodies(Breakage()),
        "idempotency",
        {f"{op}/idempotency/replay" for op in (CREATE, INTERACT)},
    ),
    (
        "drops-the-session-header",
        Breakage(after=_drop_session_header),
        "generated",
        {f"{CREATE}/generated/fuzz", f"{CREATE}/generated/stateful"},
    ),
]


def _base(check: str) -> str:
    return check.split("#", 1)[0]


@pytest.mark.parametrize(
    ("breakage", "group", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_suite_fails_on_the_check_of_the_broken_promise(
    breakage: Breakage, group: str, expected: set[str]
) -> None:
    run = run_broken(breakage, group)

    failed = {_base(check) for check in failed_checks(run)}
    assert failed == expected, "\n".join(finding.line for finding in run.findings)
    assert all(finding.group == group for finding in run.findings)


def test_an_honest_run_leaves_a_promise_out_for_budget_only_once_the_budget_is_spent() -> None:
    run = run_broken(None)

    left = [line for line in run.matrix() if line.status == "left out for budget"]
    assert run.findings == []
    assert run.not_run() == []
    assert not left or run.ledger.turns_spent == run.target.budget, (
        f"{run.ledger.turns_spent} of {run.target.budget} spent, yet left out: "
        + ", ".join(line.promise for line in left)
    )


def test_a_validation_refusal_with_another_status_fails_each_bound() -> None:
    run = run_broken(Breakage(after=_validation_as_400), "bounds")

    refusals = [p for p in run.plan.of("bounds") if p.expect.status == 422]
    assert {f.check for f in run.findings} == {p.id for p in refusals}
    assert all(", got 400 " in finding.line for finding in run.findings)


def test_a_server_without_a_body_limit_is_refused_nothing_runs() -> None:
    run = run_broken(None, "refusals", fake={"max_body_bytes": 10**9})

    assert {_base(c) for c in failed_checks(run)} == {
        f"{op}/refusals/body-too-large" for op in (CREATE, INTERACT)
    }
    # The oversized body is not JSON at its end: such a server answers 422, running nothing.
    assert all("expected 413, got 422" in f.line for f in run.findings)
    assert run.ledger.turns_spent == 1  # the session the ownership probe continues


def test_a_server_that_ignores_idempotency_keys_is_noted_not_failed() -> None:
    def ignore(request: Request, fake: FakeSomia) -> None:
        request.headers.pop(KEY, None)

    run = run_broken(Breakage(before=ignore), "idempotency")

    assert run.findings == []
    assert any(note.startswith("idempotency not honoured") for note in run.notes)
    statuses = {row.id: row.status for row in run.matrix() if row.group == "idempotency"}
    assert statuses[f"{CREATE}/idempotency/replay"] == "passed"
    assert statuses[f"{CREATE}/idempotency/other-agent_id"] == "not provokable"


def _starts_sessions_for_unknown_ids(request: Request, fake: FakeSomia) -> None:
    if request.session is not None and request.session not in fake.session_ids:
        request.path = request.path.rsplit("/", 1)[0]
    if request.agent not in KNOWN_AGENTS:
        request.path = request.path.replace(f"/agent/{request.agent}/", "/agent/1/", 1)


def test_a_deployment_that_runs_turns_where_404_is_documented_is_stopped_at_the_budget() -> None:
    with serving(Breakage(before=_starts_sessions_for_unknown_ids)) as server:
        run = ContractRun(fake_target(server, budget=6))
        run.run_all()
        ran = turns_ran(server)
        sent = len(server.requests)
    run.close()

    assert run.stopped is not None
    assert run.stopped.check == "budget"
    assert run.stopped.line.startswith("the budget of 6 paid turns is spent after ")
    assert ran <= run.ledger.turns_spent == 6
    assert sent == run.ledger.requests_sent  # nothing sent once the budget was spent
    left = [row for row in run.not_run() if row.status == "left out for budget"]
    assert left, "the planned promises after the stop are left out, and so the run fails"


def test_the_deadline_stops_a_slow_deployment() -> None:
    with serving() as server:
        server.faults.delay_next(100, seconds=0.4)
        run = ContractRun(fake_target(server, deadline=1.0))
        run.run_group("security")
    run.close()

    assert run.stopped is not None
    assert run.stopped.check == "deadline"
    assert run.ledger.requests_sent < 5
