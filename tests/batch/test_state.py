"""An output's state file and lock: one run at a time on an output, a state file that is
checked before its run id is used, and an output that two runs wrote mended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from somia._cli import main
from somia.batch import StateError
from somia.testing import FakeServer
from tests.batch.batch_helpers import (
    HoldingAgent,
    InThread,
    assert_exactly_once,
    read_output,
    run,
)


def _state_file(output: Path) -> Path:
    return output.with_name(output.name + ".state.json")


def test_a_second_run_on_an_output_in_use_is_refused_with_2(
    somia_server: FakeServer,
    rows_file: Path,
    output: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = HoldingAgent("input 0")
    somia_server.fake.register_agent(1, agent)
    first = InThread(lambda: run(somia_server, rows_file, output))
    assert agent.started.wait(30)
    monkeypatch.setenv("SOMIA_BASE_URL", somia_server.base_url)
    monkeypatch.setenv("SOMIA_API_KEY", somia_server.api_key)
    try:
        second = main(["batch", str(rows_file), "-o", str(output), "--agent-id", "1"])
    finally:
        agent.release.set()
    summary = first.result()

    err = capsys.readouterr().err
    assert second == 2
    assert f"{output}: another run is writing this output (process " in err
    assert (summary.exit_code, summary.ok) == (0, 20)
    assert_exactly_once(somia_server, output, rows=20, turns=20)
    assert not output.with_name("out.jsonl.lock").exists()  # the lock goes with its run


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda state: [state], "not a JSON object"),
        (lambda state: {**state, "run_id": ""}, "run_id is not 32 hexadecimal digits"),
        (lambda state: {**state, "run_id": 7}, "run_id is not 32 hexadecimal digits"),
        (lambda state: {**state, "rows": "20"}, "rows is not a count"),
        (lambda state: {**state, "lines": -1}, "lines is not a count"),
        (lambda state: {k: v for k, v in state.items() if k != "input_sha256"}, "missing"),
        (lambda state: {**state, "extra": 1}, "extra"),
        (lambda state: {k: v for k, v in state.items() if k != "version"}, "no version"),
    ],
    ids=["array", "empty-run-id", "int-run-id", "rows", "lines", "missing", "extra", "version"],
)
def test_a_damaged_state_file_is_refused_before_anything_is_sent(
    somia_server: FakeServer, rows_file: Path, output: Path, change: object, problem: str
) -> None:
    run(somia_server, rows_file, output)
    output.write_text("".join(output.read_text().splitlines(keepends=True)[:5]))
    state = json.loads(_state_file(output).read_text())
    _state_file(output).write_text(json.dumps(change(state)))  # type: ignore[operator]
    somia_server.fake.clear_requests()

    with pytest.raises(StateError, match="not a somia batch state file") as caught:
        run(somia_server, rows_file, output)

    assert problem in str(caught.value)
    assert somia_server.requests == []


def test_an_output_two_runs_wrote_is_refused_then_mended_by_drop_repeats(
    somia_server: FakeServer, rows_file: Path, output: Path
) -> None:
    somia_server.faults.fail_next(1, status=500)  # one row failed ...
    run(somia_server, rows_file, output, concurrency=1)
    lines = output.read_text().splitlines(keepends=True)
    failed = next(line for line in lines if '"failed"' in line)
    ok_twin = json.dumps({**json.loads(failed), "status": "ok", "error": None}) + "\n"
    # ... and a second run at once wrote it ok, and three rows again.
    output.write_text("".join([*lines, ok_twin, *lines[:3]]))

    with pytest.raises(StateError, match=r"is there twice .*--drop-repeats"):
        run(somia_server, rows_file, output)
    mended = run(somia_server, rows_file, output, drop_repeats=True)

    records = read_output(output)
    assert (mended.exit_code, mended.sent, mended.repeats_dropped) == (0, 0, 4)
    assert "dropped 4 repeated lines" in mended.describe()
    assert sorted(r["line"] for r in records) == list(range(1, 21))
    assert {r["status"] for r in records} == {"ok"}  # the ok line of the row won
