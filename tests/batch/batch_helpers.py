"""Helpers of the batch runner's tests: input files, outputs read back, and runs against a
fake server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from somia.batch import BatchSummary, run_batch
from somia.testing import FakeServer, Turn, echo_agent


def write_rows(path: Path, rows: Iterable[dict[str, Any] | str]) -> Path:
    """A JSONL input: dicts as JSON lines, strings as they are."""
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines))
    return path


def one_turn_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": f"row-{i}", "input_data": f"input {i}"} for i in range(start, start + count)]


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def connection(server: FakeServer) -> dict[str, Any]:
    """Client options for the fake server: its URL and key, a short timeout."""
    return {"base_url": server.base_url, "api_key": server.api_key, "timeout": 10.0}


def run(server: FakeServer, source: Path, output: Path, **options: Any) -> BatchSummary:
    """A batch run against the fake server, agent 1 unless the rows say otherwise."""
    options.setdefault("agent_id", 1)
    return run_batch(source, output, client_options=connection(server), **options)


class InThread:
    """`call()` running in a daemon thread: a run that never ends fails its test (`result`
    says so after `seconds`) instead of hanging the suite."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._outcome: list[Any] = []
        self._done = threading.Event()

        def target() -> None:
            try:
                self._outcome.append(call())
            except BaseException as exc:  # handed to result()
                self._outcome.append(exc)
            self._done.set()

        threading.Thread(target=target, daemon=True).start()

    def result(self, seconds: float = 30.0) -> Any:
        assert self._done.wait(seconds), f"still running after {seconds} s"
        (outcome,) = self._outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def assert_exactly_once(server: FakeServer, output: Path, rows: int, turns: int) -> None:
    """Every row is in the output once, ok, and the fake ran every turn once."""
    records = read_output(output)
    assert len(records) == rows
    assert len({record["line"] for record in records}) == rows
    assert {record["status"] for record in records} == {"ok"}
    ran = server.fake.turns_run
    assert sorted(ran.values()) == [1] * turns, [n for n in ran.values() if n != 1]


class CountingAgent:
    """An echo agent that takes `seconds` a turn and counts the most turns run at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.most = 0
        self._now = 0
        self._lock = threading.Lock()

    def __call__(self, turn: Turn) -> list[str]:
        with self._lock:
            self._now += 1
            self.most = max(self.most, self._now)
        time.sleep(self.seconds)
        with self._lock:
            self._now -= 1
        return echo_agent(turn)


class HoldingAgent:
    """An echo agent that holds the turn whose input is `held` until `release` is set;
    `started` is set when that turn starts."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, turn: Turn) -> list[str]:
        if turn.input_data == self.held:
            self.started.set()
            self.release.wait(60)
        return echo_agent(turn)
