"""The live contract suite catches each broken promise, on the check for that promise.

Each server here is the fake with one promise broken, served over loopback HTTP; each test
runs only the check group it needs and asserts which check failed, not merely that one did.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from broken_servers import Answer, Breakage, Request, fake_target, reply, serving, turns_ran
from live_plan import LONG_INPUT_CHARS, optional_fields
from live_run import ENV_API_KEY, Report
from live_suite import run_suite

from somia._document import shipped
from somia.testing import FakeSomia


def run_broken(breakage: Breakage, *groups: str, **target: Any) -> Report:
    with serving(breakage) as server:
        return run_suite(fake_target(server, **target), only=groups or None)


def _forbid_wrong_keys(request: Request, fake: FakeSomia) -> Answer | None:
    key = request.headers.get(fake.api_key_header)
    return reply(403, {"detail": "Forbidden"}) if key not in (None, fake.api_key) else None


def _forbid_missing_keys(request: Request, fake: FakeSomia) -> Answer | None:
    return (
        reply(403, {"detail": "Forbidden"}) if fake.api_key_header not in request.headers else None
    )


def _ignore_missing_keys(request: Request, fake: FakeSomia) -> None:
    request.headers.setdefault(fake.api_key_header, fake.api_key)


def _accept_agent_ids_below_one(request: Request, fake: FakeSomia) -> None:
    if request.agent in ("0", "-1"):
        request.path = request.path.replace(f"/agent/{request.agent}/", "/agent/1/", 1)


def _validation_as_400(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    return Answer(400, answer.headers, answer.body) if answer.status == 422 else answer


def _validation_with_plain_detail(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    return reply(422, {"detail": "Unprocessable entity"}) if answer.status == 422 else answer


def _start_sessions_for_unknown_ids(request: Request, fake: FakeSomia) -> None:
    if request.session is not None and request.session not in fake.session_ids:
        request.path = request.path.rsplit("/", 1)[0]


def _find_sessions_through_any_agent(breakage: Breakage) -> Breakage:
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


def _replay_instead_of_conflict(breakage: Breakage) -> Breakage:
    stored: dict[str, Answer] = breakage.state.setdefault("stored", {})

    def after(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
        key = request.headers.get("idempotency-key")
        if key is None:
            return answer
        if answer.status == 409 and key in stored:
            return stored[key]
        if answer.status == 200:
            stored.setdefault(key, answer)
        return answer

    breakage.after = after
    return breakage


def _run_again_instead_of_replaying(breakage: Breakage) -> Breakage:
    # A key's first body is kept; a repeat with the same body gets a fresh key (so it runs
    # again), while another body still meets the first key (and the fake's 409).
    first: dict[str, bytes] = breakage.state.setdefault("first", {})
    repeats: dict[str, int] = breakage.state.setdefault("repeats", {})

    def before(request: Request, fake: FakeSomia) -> None:
        key = request.headers.get("idempotency-key")
        if key is None or first.setdefault(key, request.body) != request.body:
            return
        repeats[key] = repeats.get(key, 0) + 1
        if repeats[key] > 1:
            request.headers["idempotency-key"] = f"{key}-again-{repeats[key]}"

    breakage.before = before
    return breakage


def _ignore_idempotency_keys(request: Request, fake: FakeSomia) -> None:
    request.headers.pop("idempotency-key", None)


def _fail_when(test: Callable[[dict[str, Any]], bool]) -> Breakage:
    def before(request: Request, fake: FakeSomia) -> Answer | None:
        body = request.json()
        if isinstance(body, dict) and test(body):
            return reply(500, {"detail": "Internal server error"})
        return None

    return Breakage(before=before)


def _input(body: dict[str, Any]) -> str:
    value = body.get("input_data")
    return value if isinstance(value, str) else ""


CASES: list[tuple[str, Breakage, str, str, str]] = [
    # (id, breakage, group run, check expected to fail, text of its short line)
    (
        "wrong-key-403",
        Breakage(before=_forbid_wrong_keys),
        "auth",
        "auth-wrong-key",
        "expected 401, got 403",
    ),
    (
        "no-key-403",
        Breakage(before=_forbid_missing_keys),
        "auth",
        "auth-no-key",
        "expected 401, got 403",
    ),
    (
        "no-key-ignored",
        Breakage(before=_ignore_missing_keys),
        "auth",
        "auth-no-key",
        "expected 401, got 200",
    ),
    (
        "agent-id-below-1-accepted",
        Breakage(before=_accept_agent_ids_below_one),
        "agent-id",
        "agent-id",
        "expected 422, got 200",
    ),
    (
        "validation-as-400",
        Breakage(after=_validation_as_400),
        "invalid-body",
        "invalid-body",
        "got 400",
    ),
    (
        "validation-body-undocumented",
        Breakage(after=_validation_with_plain_detail),
        "invalid-body",
        "invalid-body",
        "Response violates schema",
    ),
    (
        "unknown-session-started",
        Breakage(before=_start_sessions_for_unknown_ids),
        "unknown-session",
        "unknown-session",
        "expected 404, got 200",
    ),
    (
        "session-through-other-agent",
        _find_sessions_through_any_agent(Breakage()),
        "other-agent",
        "other-agent",
        "expected 404, got 200",
    ),
    (
        "idempotency-replays-other-body",
        _replay_instead_of_conflict(Breakage()),
        "idempotency",
        "idempotency",
        "expected 409, got 200",
    ),
    (
        "idempotency-runs-again",
        _run_again_instead_of_replaying(Breakage()),
        "idempotency",
        "idempotency",
        "(a replay)",
    ),
    (
        "500-on-non-ascii-input",
        _fail_when(lambda body: not _input(body).isascii()),
        "paid-turns",
        "paid-turns",
        "expected 200, got 500",
    ),
    (
        "500-on-multi-line-input",
        _fail_when(lambda body: "\n" in _input(body)),
        "paid-turns",
        "paid-turns",
        "expected 200, got 500",
    ),
    (
        "500-on-long-input",
        _fail_when(lambda body: len(_input(body)) >= LONG_INPUT_CHARS),
        "paid-turns",
        "paid-turns",
        "expected 200, got 500",
    ),
    (
        "500-on-streamed-continue",
        _fail_when(lambda body: body.get("stream") is True and "\n" in _input(body)),
        "paid-turns",
        "paid-turns",
        "continue, stream",
    ),
]


@pytest.mark.parametrize(
    ("breakage", "group", "check", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_suite_fails_on_the_check_of_the_broken_promise(
    breakage: Breakage, group: str, check: str, line: str
) -> None:
    report = run_broken(breakage, group)

    assert report.failed_checks() == {check}, report.render()
    assert any(line in finding.line for finding in report.findings), report.render()


@pytest.mark.parametrize("name", sorted(optional_fields(shipped().data)))
def test_a_500_on_any_optional_request_field_fails_the_paid_turns(name: str) -> None:
    report = run_broken(_fail_when(lambda body: name in body), "paid-turns")

    assert report.failed_checks() == {"paid-turns"}, report.render()


def test_a_server_that_ignores_idempotency_keys_is_reported_not_failed() -> None:
    report = run_broken(Breakage(before=_ignore_idempotency_keys), "idempotency")

    assert report.passed, report.render()
    assert any(note.startswith("idempotency not honoured") for note in report.notes), (
        report.render()
    )


def test_the_budget_stops_a_deployment_that_runs_turns_where_404_is_documented() -> None:
    # Only the groups whose paid turns do not depend on generated cases: the budget an honest
    # deployment fits in, found by running one, is one turn short for the broken one.
    groups = ("unknown-session", "paid-turns", "idempotency")
    with serving() as honest:
        control = run_suite(fake_target(honest), only=groups)
    assert control.failed_checks() == set(), control.render()
    budget = control.turns_spent + 1
    breakage = Breakage(before=_start_sessions_for_unknown_ids)
    with serving(breakage) as server:
        report = run_suite(fake_target(server, budget=budget), only=groups)
        ran = turns_ran(server)

    assert report.failed_checks() == {"unknown-session", "budget"}, report.render()
    # Counted turns never fall short of the turns that ran (a replay may be counted).
    assert ran <= report.turns_spent == report.target.budget
    assert (
        f"STOP [budget] the budget of {report.target.budget} paid turns is spent" in report.render()
    )


def test_the_deadline_stops_a_slow_deployment() -> None:
    with serving() as server:
        server.faults.delay_next(100, seconds=0.4)
        report = run_suite(fake_target(server, deadline=1.0))

    assert "deadline" in report.failed_checks(), report.render()
    assert report.requests_sent < 10


def _drop_session_header(request: Request, answer: Answer, fake: FakeSomia) -> Answer:
    answer.headers.pop("x-somia-session-id", None)
    return answer


@pytest.mark.parametrize("group", ["fuzz", "stateful"])
def test_the_schemathesis_phases_report_answers_without_the_session_header(group: str) -> None:
    report = run_broken(Breakage(after=_drop_session_header), group)

    assert report.failed_checks() == {group}, report.render()
    assert "X-Somia-Session-Id" in report.render()


def test_each_failure_is_one_line_first_then_its_detail_once() -> None:
    report = run_broken(
        Breakage(before=_forbid_wrong_keys, after=_validation_as_400), "auth", "invalid-body"
    )
    text = report.render()
    lines = text.splitlines()

    assert len(report.findings) == 2, text
    assert lines[1:3] == [finding.line for finding in report.findings]
    assert lines[1].startswith("FAIL [auth-wrong-key] a wrong API key is answered 401: POST ")
    assert lines[1].endswith('expected 401, got 403 \'{"detail": "Forbidden"}\'')
    for finding in report.findings:
        assert text.count(finding.line) == 1
        assert text.count(f"[{finding.check}] {finding.promise}\n") == 1  # the detail's header
    assert lines[-1] == report.summary()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("breakage", "group", "expected"),
    [
        (Breakage(before=_forbid_wrong_keys), "auth", "403"),
        (Breakage(before=_forbid_missing_keys), "auth", "403"),
        (_fail_when(lambda body: not _input(body).isascii()), "paid-turns", "500"),
    ],
    ids=["wrong-key", "no-key", "valid-key"],
)
def test_the_reproduction_command_reproduces_without_showing_the_key(
    breakage: Breakage, group: str, expected: str
) -> None:
    with serving(breakage) as server:
        report = run_suite(fake_target(server), only=[group])
        (finding, *_) = report.findings
        env = {**os.environ, ENV_API_KEY: server.api_key}
        done = subprocess.run(
            ["sh", "-c", finding.reproduce],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )

    assert done.stdout.startswith(f"HTTP/1.1 {expected} "), (
        finding.reproduce,
        done.stdout,
        done.stderr,
    )
    assert server.api_key not in report.render()
    if group == "paid-turns":
        assert f'"{server.api_key_header}: ${ENV_API_KEY}"' in finding.reproduce
    else:
        assert f"${ENV_API_KEY}" not in finding.reproduce


def _needs_pipeline_version(version: str) -> Breakage:
    """A deployment on which only pipeline `version` exists (others: 404, nothing runs)."""

    def before(request: Request, fake: FakeSomia) -> Answer | None:
        body = request.json()
        authorised = fake.api_key == request.headers.get(fake.api_key_header)
        other = isinstance(body, dict) and body.get("pipeline_version", "production") != version
        if authorised and other and request.agent == "1":
            return reply(404, {"detail": "Pipeline version not found"})
        return None

    return Breakage(before=before)


def test_a_deployment_that_needs_a_pipeline_version_passes_with_the_variable() -> None:
    with serving() as server:
        plain = run_suite(fake_target(server))

    report = run_broken(_needs_pipeline_version("v7"), pipeline_version="v7")

    assert report.passed, report.render()
    # Generated requests carry it too: as many of them ran a turn as on the plain fake.
    assert report.turns_spent == plain.turns_spent


def test_without_the_pipeline_version_such_a_deployment_fails_the_paid_turns() -> None:
    report = run_broken(_needs_pipeline_version("v7"), "paid-turns")

    assert report.failed_checks() == {"paid-turns"}, report.render()
    assert "expected 200, got 404" in report.findings[0].line
