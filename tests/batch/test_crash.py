"""`somia batch` killed (SIGKILL after N rows, or in the middle of writing one) or
interrupted (Ctrl-C), then run again: every row once in the output, and, from the fake's
record, every turn run once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from somia.testing import FakeServer
from tests.batch.batch_helpers import (
    HoldingAgent,
    assert_exactly_once,
    one_turn_rows,
    write_rows,
)

pytestmark = pytest.mark.slow

# Runs `somia batch` in a process that SIGKILLs itself when it is about to write output line
# KILL_AFTER + 1: after that many lines, or, with KILL_TORN=1, half way through that line.
_KILLING = """
import os, signal, sys
from somia.batch import _output
after, torn, written = int(os.environ["KILL_AFTER"]), os.environ.get("KILL_TORN") == "1", [0]
write = _output.Writer.write
def killing_write(self, record):
    if written[0] == after:
        if torn:
            line = _output.encode(record)
            self._file.write(line[: len(line) // 2])
            self._file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    write(self, record)
    written[0] += 1
_output.Writer.write = killing_write
from somia._cli import main
sys.exit(main(sys.argv[1:]))
"""


def _batch(
    server: FakeServer,
    source: Path,
    output: Path,
    *,
    kill_after: int | None = None,
    torn: bool = False,
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SOMIA_BASE_URL": server.base_url,
        "SOMIA_API_KEY": server.api_key,
        "KILL_AFTER": str(kill_after),
        "KILL_TORN": "1" if torn else "0",
    }
    command = ["batch", str(source), "-o", str(output), "--agent-id", "1", "--no-progress"]
    program = ["-c", _KILLING] if kill_after is not None else ["-m", "somia"]
    return subprocess.Popen(
        [sys.executable, *program, *command],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C reaches it even when the suite runs with SIGINT ignored (a background job).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=60)
    return process.returncode, err


@pytest.mark.parametrize("torn", [False, True], ids=["after-a-line", "mid-line"])
def test_a_killed_run_resumed_runs_every_turn_once(
    somia_server: FakeServer, tmp_path: Path, torn: bool
) -> None:
    somia_server.fake.turn_latency = 0.05
    source = write_rows(tmp_path / "in.jsonl", one_turn_rows(60))
    output = tmp_path / "out.jsonl"

    killed, _ = _finished(_batch(somia_server, source, output, kill_after=25, torn=torn))
    text = output.read_text()
    ran_before = len(somia_server.fake.turns_run)
    status, err = _finished(_batch(somia_server, source, output))

    assert killed == -signal.SIGKILL
    assert text.count("\n") == 25
    assert text.endswith("\n") is not torn
    assert ran_before > 25  # turns were in flight at the kill: the resume replays them
    assert status == 0, err
    assert "60 of 60 rows ok" in err
    assert "35 rows (35 turns)" in err
    assert_exactly_once(somia_server, output, rows=60, turns=60)


def test_a_multi_turn_row_killed_mid_session_continues_its_session(
    somia_server: FakeServer, tmp_path: Path
) -> None:
    agent = HoldingAgent("slow-b")
    somia_server.fake.register_agent(1, agent)
    rows = [{"id": "slow", "turns": ["slow-a", "slow-b", "slow-c"]}, *one_turn_rows(10)]
    source = write_rows(tmp_path / "in.jsonl", rows)
    output = tmp_path / "out.jsonl"

    process = _batch(somia_server, source, output, kill_after=8)
    assert agent.started.wait(30)
    killed, _ = _finished(process)  # the second turn is still running at the server
    agent.release.set()
    status, err = _finished(_batch(somia_server, source, output))

    assert killed == -signal.SIGKILL
    assert status == 0, err
    assert_exactly_once(somia_server, output, rows=11, turns=13)
    record = next(r for r in output.read_text().splitlines() if '"slow"' in r)
    session = somia_server.fake.history(record.split('"session_id": "')[1].split('"')[0])
    inputs = [entry["content"] for entry in session if entry["role"] == "user"]
    assert inputs == ["slow-a", "slow-b", "slow-c"]


def test_ctrl_c_stops_with_130_and_leaves_a_resumable_output(
    somia_server: FakeServer, tmp_path: Path
) -> None:
    somia_server.fake.turn_latency = 0.05
    source = write_rows(tmp_path / "in.jsonl", one_turn_rows(200))
    output = tmp_path / "out.jsonl"

    process = _batch(somia_server, source, output)
    deadline = time.monotonic() + 30
    while not (output.exists() and output.read_text().count("\n") >= 10):
        assert time.monotonic() < deadline
        assert process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    interrupted, err = _finished(process)
    written = output.read_text()
    status, _ = _finished(_batch(somia_server, source, output))

    assert interrupted == 130, err
    assert "interrupted; the output is resumable" in err
    assert written.endswith("\n")
    assert status == 0
    assert_exactly_once(somia_server, output, rows=200, turns=200)
