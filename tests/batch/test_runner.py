"""The batch runner against the fake server and its faults: refusals retried with the same
key, rows failed alone, runs stopped whole, multi-turn sessions, and what a person sees."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from somia.batch import _progress, arun_batch, run_batch
from somia.batch._plan import prepare
from somia.testing import FakeServer
from tests.batch.batch_helpers import (
    CountingAgent,
    HoldingAgent,
    InThread,
    assert_exactly_once,
    connection,
    one_turn_rows,
    read_output,
    run,
    write_rows,
)
from tests.harness import OK, ScriptedServer, free_port


def test_every_row_gets_one_line_with_its_answer(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    summary = run(somia_server, rows_file, output)

    records = read_output(output)
    assert summary.exit_code == 0
    assert sorted(r["line"] for r in records) == list(range(1, 21))
    first = next(r for r in records if r["id"] == "row-3")
    assert first["status"] == "ok"
    assert first["message"] == "You said: input 3"
    assert first["error"] is None
    assert first["session_id"] in somia_server.fake.session_ids
    (turn,) = first["turns"]
    assert turn["attempts"] == 1
    assert turn["request_id"].startswith("req_")
    assert turn["seconds"] >= 0
    assert_exactly_once(somia_server, output, rows=20, turns=20)


def test_multi_turn_rows_run_their_turns_in_order_on_one_session(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(
        tmp_path / "in.jsonl",
        [{"id": i, "turns": [f"{i}a", f"{i}b", f"{i}c"]} for i in range(5)],
    )

    summary = run(somia_server, source, output)

    assert (summary.exit_code, summary.turns) == (0, 15)
    for record in read_output(output):
        history = somia_server.fake.history(record["session_id"])
        i = record["id"]
        assert [e["content"] for e in history if e["role"] == "user"] == [f"{i}a", f"{i}b", f"{i}c"]
        assert record["message"] == f"You said: {i}c"
        assert len(record["turns"]) == 3
    assert_exactly_once(somia_server, output, rows=5, turns=15)


def test_a_retry_after_pauses_every_worker_and_the_refused_turn_runs_once(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.fake.turn_latency = 0.05
    somia_server.faults.fail_next(1, status=429, retry_after="1")

    summary = run(somia_server, rows_file, output)

    requests = somia_server.requests
    refused = next(r for r in requests if r.status == 429)
    during = [r for r in requests if refused.time + 0.2 < r.time < refused.time + 0.9]
    assert during == []  # the workers that were free waited too
    assert (summary.exit_code, summary.throttled) == (0, 1)
    refused_row = next(r for r in read_output(output) if r["turns"][0]["attempts"] == 2)
    assert refused_row["turns"][0]["seconds"] >= 1.0
    assert_exactly_once(somia_server, output, rows=20, turns=20)


def test_503s_are_retried_until_max_attempts_then_the_row_fails(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(3, status=503)

    summary = run(somia_server, rows_file, output, concurrency=1, max_attempts=3)

    failed = [r for r in read_output(output) if r["status"] == "failed"]
    assert (summary.exit_code, summary.failed, summary.throttled) == (1, 1, 3)
    assert summary.may_have_run == 0  # a 503 ran nothing
    error = failed[0]["error"]
    assert (error["type"], error["status_code"], error["attempts"]) == (
        "ServiceUnavailableError",
        503,
        3,
    )
    assert error["message"].endswith("(after 3 attempts)")
    assert error["may_have_run"] is False
    assert failed[0]["turns"] == []


def test_a_retry_after_of_0_still_waits_the_backoff(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(1, status=429, retry_after="0")
    options = {**connection(somia_server), "retry_backoff_seconds": 0.4}

    run_batch(rows_file, output, agent_id=1, client_options=options, concurrency=1)

    refused, again = somia_server.requests[:2]
    assert refused.status == 429
    assert again.headers["idempotency-key"] == refused.headers["idempotency-key"]
    assert again.time - refused.time >= 0.3  # the backoff, less its jitter


def test_a_retry_after_longer_than_max_retry_after_fails_its_row_at_once(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(1, status=429, retry_after="100000")

    summary = InThread(lambda: run(somia_server, rows_file, output, concurrency=1)).result()

    failed = [r for r in read_output(output) if r["status"] == "failed"]
    assert (summary.exit_code, summary.ok, summary.failed, summary.may_have_run) == (1, 19, 1, 0)
    assert failed[0]["error"]["message"].endswith(
        "(not retried: the server asked to wait 100000 s, longer than max_retry_after (60 s))"
    )


def test_a_503_with_attempts_left_is_retried_with_the_same_key(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(2, status=503)

    summary = run(somia_server, rows_file, output, concurrency=1)

    assert summary.exit_code == 0
    keys = [r.headers["idempotency-key"] for r in somia_server.requests[:3]]
    assert len(set(keys)) == 1
    assert_exactly_once(somia_server, output, rows=20, turns=20)


def test_a_cut_stream_fails_its_row_and_retry_failed_replays_the_turn(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.cut_stream_after(1)
    somia_server.faults.error_event_after(0)

    first = run(somia_server, rows_file, output, concurrency=1)
    again = run(somia_server, rows_file, output, retry_failed=True)

    assert (first.failed, first.may_have_run) == (2, 2)
    assert (again.sent, again.exit_code) == (2, 0)
    assert_exactly_once(somia_server, output, rows=20, turns=20)  # replayed, not run again


def test_delayed_answers_only_slow_the_run(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.delay_next(4, seconds=0.3)

    assert run(somia_server, rows_file, output).exit_code == 0
    assert_exactly_once(somia_server, output, rows=20, turns=20)


def test_a_row_the_server_calls_wrong_fails_alone(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    rows = [*one_turn_rows(3), {"id": "lost", "input_data": "x", "agent_id": 404}]
    source = write_rows(tmp_path / "in.jsonl", rows)

    summary = run(somia_server, source, output)

    failed = [r for r in read_output(output) if r["status"] == "failed"]
    assert (summary.exit_code, summary.ok, summary.failed, summary.may_have_run) == (1, 3, 1, 0)
    assert [(r["id"], r["error"]["status_code"]) for r in failed] == [("lost", 404)]
    assert len([r for r in somia_server.requests if r.status == 404]) == 1  # not retried


def test_a_refused_key_stops_the_run_and_leaves_it_resumable(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    options = {**connection(somia_server), "api_key": "sk-wrong"}

    summary = run_batch(rows_file, output, agent_id=1, client_options=options)
    again = run(somia_server, rows_file, output)

    assert (summary.exit_code, summary.not_run, summary.sent) == (1, 20, 0)
    assert summary.stopped is not None
    assert "refused the API key" in summary.stopped
    assert "sk-wrong" not in summary.describe()
    assert (again.exit_code, again.sent) == (0, 20)


def test_an_unreachable_server_stops_the_run_after_a_few_attempts_with_status_3(
    rows_file: Path,
    output: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_progress, "LINE_SECONDS", 0.05)
    options = {"base_url": f"http://127.0.0.1:{free_port()}", "api_key": "sk-x"}

    summary = InThread(
        lambda: run_batch(rows_file, output, agent_id=1, client_options=options, progress=True)
    ).result()

    assert (summary.exit_code, summary.not_run) == (3, 20)
    assert summary.stopped is not None
    assert "could not be reached" in summary.stopped
    assert summary.stopped.endswith("; 3 attempts)")  # not --max-attempts: nothing connected
    assert output.read_text() == ""
    assert "failed to connect" in capsys.readouterr().err.splitlines()[-1]


def test_an_answer_that_cannot_be_read_counts_as_may_have_run(
    server: ScriptedServer, tmp_path: Path, output: Path
) -> None:
    server.script(OK)  # a 200 JSON answer to a streamed call: the turn may have run
    source = write_rows(tmp_path / "in.jsonl", one_turn_rows(1))
    options = {"base_url": server.base_url, "api_key": "sk-x"}

    summary = run_batch(source, output, agent_id=1, client_options=options)

    (failed,) = read_output(output)
    assert (summary.exit_code, summary.failed, summary.may_have_run) == (1, 1, 1)
    assert (failed["error"]["type"], failed["error"]["status_code"]) == (
        "InvalidResponseError",
        200,
    )
    assert failed["error"]["may_have_run"] is True


def test_a_deadline_stops_starting_rows_and_a_run_again_finishes(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(tmp_path / "in.jsonl", one_turn_rows(30))
    somia_server.fake.turn_latency = 0.1

    first = run(somia_server, source, output, concurrency=(1, 2), deadline=0.35)
    again = run(somia_server, source, output)

    assert first.exit_code == 1
    assert 0 < first.sent < 30
    assert first.not_run == 30 - first.sent
    assert first.stopped == "the run's deadline passed"
    assert again.exit_code == 0
    assert_exactly_once(somia_server, output, rows=30, turns=30)


def test_no_turn_starts_after_the_deadline_while_the_rate_spaces_starts(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    summary = InThread(
        lambda: run(somia_server, rows_file, output, max_rate=0.5, deadline=1)
    ).result(10)  # the second start is due 2 s in: after the deadline

    assert (summary.exit_code, summary.sent, summary.not_run) == (1, 1, 19)
    assert summary.stopped == "the run's deadline passed"
    assert len(somia_server.requests) == 1


def test_a_pause_past_the_deadline_ends_the_run_and_leaves_its_rows(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(1, status=429, retry_after="30")

    summary = InThread(lambda: run(somia_server, rows_file, output, deadline=1)).result(10)

    assert (summary.exit_code, summary.failed) == (1, 0)  # the refused row is left, not failed
    assert summary.ok + summary.not_run == 20
    again = run(somia_server, rows_file, output)
    assert again.exit_code == 0
    assert_exactly_once(somia_server, output, rows=20, turns=20)


def test_no_refused_turn_is_sent_again_after_the_deadline(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(10_000, status=503)
    started = time.time()

    summary = InThread(lambda: run(somia_server, rows_file, output, deadline=1)).result(10)

    assert (summary.ok, summary.failed, summary.not_run) == (0, 0, 20)
    assert max(r.time for r in somia_server.requests) < started + 1.2
    somia_server.faults.clear()


def test_workers_are_no_more_than_the_rows_left(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    agent = HoldingAgent("input 0")
    somia_server.fake.register_agent(1, agent)
    source = write_rows(tmp_path / "in.jsonl", one_turn_rows(3))
    loop = asyncio.new_event_loop()
    options = connection(somia_server)
    running = InThread(
        lambda: loop.run_until_complete(
            arun_batch(source, output, agent_id=1, client_options=options, concurrency=300_000)
        )
    )
    assert agent.started.wait(30)

    async def tasks() -> int:
        return len(asyncio.all_tasks())

    try:
        count = asyncio.run_coroutine_threadsafe(tasks(), loop).result(30)
    finally:
        agent.release.set()
    summary = running.result()
    loop.close()

    assert summary.exit_code == 0
    assert count <= 5  # the run, its progress ticker, 3 workers


def test_concurrency_grows_from_four_and_never_passes_its_maximum(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    agent = CountingAgent(0.03)
    somia_server.fake.register_agent(1, agent)
    source = write_rows(tmp_path / "in.jsonl", one_turn_rows(80))

    assert run(somia_server, source, output, concurrency=(1, 10)).exit_code == 0
    assert 4 < agent.most <= 10


def test_without_a_terminal_progress_is_a_line_every_few_seconds(
    somia_server: FakeServer,
    rows_file: Path,
    output: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_progress, "LINE_SECONDS", 0.05)
    somia_server.fake.turn_latency = 0.05

    run(somia_server, rows_file, output, concurrency=(1, 2), progress=True)

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("somia batch: ") for line in lines)
    assert "/20 rows (0 failed)" in lines[-1]
    assert "rows/s, concurrency " in lines[-1]


def test_the_async_core_runs_inside_a_running_loop(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    summary = asyncio.run(
        arun_batch(rows_file, output, agent_id=1, client_options=connection(somia_server))
    )
    assert summary.ok == 20


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": (5, 2)}, "concurrency"),
        ({"max_rate": -1}, "max_rate"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"deadline": 0}, "deadline"),
        ({"engine": "dask"}, "engine"),
        ({"options": {"stream": True}}, "'stream' cannot be set"),
        ({"options": {"nope": 1}}, "unknown option 'nope'"),
        ({"options": {"trace_enabled": "yes"}}, "trace_enabled"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    somia_server: FakeServer,
    rows_file: Path,
    output: Path,
    options: dict[str, object],
    error: str,
) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        run(somia_server, rows_file, output, **options)
    assert not output.exists()
    assert somia_server.requests == []


def test_no_repr_of_a_run_shows_the_key(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    plan = prepare(
        rows_file,
        output,
        agent_id=1,
        options=None,
        client_options=connection(somia_server),
        concurrency=4,
        max_rate=None,
        max_attempts=3,
        deadline=None,
        retry_failed=False,
    )
    plan.close()

    assert somia_server.api_key not in repr(plan)
    assert "'api_key': '<redacted>'" in repr(plan)


def test_the_runner_keeps_its_retries_to_itself(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    options = {**connection(somia_server), "retries": 3}
    with pytest.raises(ValueError, match="retries is the runner's"):
        run_batch(rows_file, output, agent_id=1, client_options=options)
