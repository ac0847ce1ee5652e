"""Running a batch again continues it: the same keys, nothing mixed, one line per row."""

from __future__ import annotations

from pathlib import Path

import pytest

from somia.batch import StateError, sort_output
from somia.testing import FakeServer
from tests.batch.batch_helpers import (
    HoldingAgent,
    InThread,
    assert_exactly_once,
    one_turn_rows,
    read_output,
    run,
    write_rows,
)


def _keep_lines(output: Path, count: int, torn: str = "") -> list[str]:
    lines = output.read_text().splitlines(keepends=True)
    output.write_text("".join(lines[:count]) + torn)
    return lines


def test_a_run_over_a_complete_output_sends_nothing(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    first = run(somia_server, rows_file, output)
    before = output.read_bytes()
    somia_server.fake.clear_requests()

    again = run(somia_server, rows_file, output)

    assert (first.exit_code, first.sent, first.ok) == (0, 20, 20)
    assert (again.exit_code, again.sent, again.skipped, again.ok) == (0, 0, 20, 20)
    assert somia_server.requests == []
    assert output.read_bytes() == before


def test_a_resume_sends_the_missing_rows_with_the_keys_they_had(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output)
    lines = _keep_lines(output, 12)  # as if the run had stopped after 12 rows
    somia_server.fake.clear_requests()

    again = run(somia_server, rows_file, output)

    assert (again.sent, again.skipped) == (8, 12)
    assert len(somia_server.requests) == 8
    # The 8 rows had run before the "crash": their keys replayed them, nothing ran again.
    assert_exactly_once(somia_server, output, rows=20, turns=20)
    assert output.read_text().startswith("".join(lines[:12]))


def test_a_torn_last_line_is_cut_off_said_and_its_row_sent_again(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output)
    lines = _keep_lines(output, 15, torn='{"id": "row-3", "line": 4, "sta')

    again = run(somia_server, rows_file, output)

    assert (again.sent, again.torn_lines) == (5, 1)
    assert "cut off the output's torn last line" in again.describe()
    assert_exactly_once(somia_server, output, rows=20, turns=20)
    assert output.read_text().startswith("".join(lines[:15]))


def test_a_whole_last_line_without_its_line_end_is_kept(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output)
    whole = output.read_text()
    output.write_text(whole.removesuffix("\n"))

    again = run(somia_server, rows_file, output)

    assert (again.exit_code, again.sent, again.torn_lines) == (0, 0, 0)
    assert output.read_text() == whole


def test_rows_added_to_the_input_during_a_run_are_not_this_runs(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    agent = HoldingAgent("input 0")
    somia_server.fake.register_agent(1, agent)
    checked = rows_file.read_bytes()
    running = InThread(lambda: run(somia_server, rows_file, output))
    assert agent.started.wait(30)
    write_rows(rows_file, one_turn_rows(23))  # 3 rows more, while the run runs
    agent.release.set()
    summary = running.result()
    rows_file.write_bytes(checked)  # the input as the run checked it: it can be resumed
    again = run(somia_server, rows_file, output)

    assert (summary.rows, summary.ok, summary.not_run) == (20, 20, 0)
    assert sorted(r["line"] for r in read_output(output)) == list(range(1, 21))
    assert (again.exit_code, again.sent) == (0, 0)


def test_an_output_row_whose_id_is_not_its_input_lines_is_refused(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output, sort=True)
    lines = output.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace('"row-4"', '"row-40"')  # input line 5's row, another id
    output.write_text("".join(lines))
    somia_server.fake.clear_requests()

    with pytest.raises(StateError, match="row of input line 5 does not have that line's id"):
        run(somia_server, rows_file, output)
    assert somia_server.requests == []


def test_a_changed_input_is_refused(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output)
    write_rows(rows_file, one_turn_rows(21))
    somia_server.fake.clear_requests()

    with pytest.raises(StateError, match="not the one this output was made from"):
        run(somia_server, rows_file, output)
    assert somia_server.requests == []


@pytest.mark.parametrize(
    "change", [{"agent_id": 2}, {"options": {"tags": ["other"]}}], ids=["agent", "options"]
)
def test_other_request_options_are_refused(
    somia_server: FakeServer, rows_file: Path, output: Path, change: dict[str, object]
) -> None:
    run(somia_server, rows_file, output)

    with pytest.raises(StateError, match="agent id or request options differ"):
        run(somia_server, rows_file, output, **change)


def test_the_pace_of_a_run_is_no_part_of_its_identity(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output, concurrency=2)
    _keep_lines(output, 10)

    again = run(somia_server, rows_file, output, concurrency=(2, 8), max_rate=1000)

    assert again.sent == 10


def test_an_output_without_its_state_file_is_refused(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output)
    output.with_name(output.name + ".state.json").unlink()

    with pytest.raises(StateError, match="no state file"):
        run(somia_server, rows_file, output)


def test_a_new_output_is_a_new_run_with_new_keys(
    somia_server: FakeServer, rows_file: Path, tmp_path: Path
) -> None:
    first = run(somia_server, rows_file, tmp_path / "a.jsonl")
    second = run(somia_server, rows_file, tmp_path / "b.jsonl")

    assert first.run_id != second.run_id
    assert sorted(somia_server.fake.turns_run.values()) == [1] * 40  # 40 keys, each ran once


def test_retry_failed_sends_failed_rows_again_and_keeps_one_line_per_row(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(2, status=500)  # the turn may have run: the rows fail
    first = run(somia_server, rows_file, output, concurrency=1)
    again = run(somia_server, rows_file, output, retry_failed=True)

    assert (first.exit_code, first.failed, first.may_have_run) == (1, 2, 2)
    assert (again.exit_code, again.sent, again.ok, again.failed) == (0, 2, 20, 0)
    records = read_output(output)
    assert len(records) == 20
    assert {r["status"] for r in records} == {"ok"}


def test_a_resume_without_retry_failed_leaves_failed_rows_as_they_are(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(1, status=500)
    run(somia_server, rows_file, output, concurrency=1)

    again = run(somia_server, rows_file, output)

    assert (again.exit_code, again.sent, again.failed) == (1, 0, 1)


def test_sort_writes_the_output_in_input_order(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.fake.turn_latency = 0.01
    run(somia_server, rows_file, output)
    _keep_lines(output, 20, torn='{"id": "row-0", "li')

    sort_output(output)

    assert [r["line"] for r in read_output(output)] == list(range(1, 21))


def test_sort_as_an_option_of_the_run(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    run(somia_server, rows_file, output, sort=True)
    assert [r["id"] for r in read_output(output)] == [f"row-{i}" for i in range(20)]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("not json\n", "line 21: not a row of somia batch"),
        ('{"id": "x", "line": 9}\n', "line 21: not a row of somia batch"),
        ('{"id": "x", "line": 99, "status": "ok"}\n', "no input line 99"),
        ('{"id": "row-0", "line": 1, "status": "ok"}\n', "input line 1 is there twice"),
    ],
)
def test_an_output_with_a_line_that_is_no_row_of_the_input_is_refused(
    somia_server: FakeServer, rows_file: Path, output: Path, line: str, error: str
) -> None:
    run(somia_server, rows_file, output)
    with output.open("a") as file:
        file.write(line)

    with pytest.raises(StateError, match=error):
        run(somia_server, rows_file, output)
