"""A checked batch run, ready to go: the arguments, the input's scan, the run's state and
where its output stands; and what both engines do with each finished row."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from somia._async_client import AsyncSomiaClient
from somia._validation import check_agent_id
from somia.batch._limiter import Limiter, LimiterStats
from somia.batch._output import Done, Writer, drop_failed, read_done
from somia.batch._progress import Progress
from somia.batch._rows import Row, Scan, read_rows, row_options, scan_input
from somia.batch._state import RunState, StateError, request_fingerprint, state_path
from somia.batch._turns import RowSettings, may_have_run

__all__ = ["Plan", "finish", "prepare", "showing"]

DEFAULT_CONCURRENCY = 64
START_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 20
_RETRY_OPTIONS = ("retries", "max_retry_after")  # the runner's own; the backoff is the client's


@attrs.frozen
class Plan:
    """A checked run, ready to go: what the engines need."""

    input: Path
    output: Path
    state: RunState
    scan: Scan
    done: Done
    agent_id: int | None
    options: Mapping[str, Any]
    client_options: Mapping[str, Any]
    settings: RowSettings
    low: int
    high: int
    max_rate: float | None

    def rows(self) -> Iterator[Row]:
        """The rows not in the output yet, in input order."""
        return read_rows(self.input, self.agent_id, self.options, self.done.marks)

    def limiter(self) -> Limiter:
        return Limiter(self.low, self.high, START_CONCURRENCY, self.max_rate)


def _concurrency(value: int | tuple[int, int]) -> tuple[int, int]:
    low, high = value if isinstance(value, tuple) else (1, value)
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int):
            raise TypeError(f"concurrency must be an int or (min, max), not {value!r}")
    if not 1 <= low <= high:
        raise ValueError(f"concurrency must be 1 or more, its minimum at most its maximum: {value}")
    return low, high


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be positive, not {value}")


def prepare(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    agent_id: int | None,
    options: Mapping[str, Any] | None,
    client_options: Mapping[str, Any] | None,
    concurrency: int | tuple[int, int],
    max_rate: float | None,
    max_attempts: int,
    deadline: float | None,
    retry_failed: bool,
    on_ray: bool = False,
) -> Plan:
    """Check the arguments and the whole input, and find where the output stands; nothing
    is sent. TypeError/ValueError (InputError, StateError) say what is wrong."""
    low, high = _concurrency(concurrency)
    _positive("max_rate", max_rate)
    _positive("deadline", deadline)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be an int of 1 or more, not {max_attempts!r}")
    client_options = dict(client_options or {})
    taken = [name for name in _RETRY_OPTIONS if name in client_options]
    if taken:
        raise ValueError(f"{taken[0]} is the runner's: it retries by itself (max_attempts)")
    if on_ray and "api_key" in client_options:
        raise ValueError(
            "the Ray engine's workers read SOMIA_API_KEY from their own environment: "
            "the key is never sent to them"
        )
    if on_ray and "http_client" in client_options:
        raise ValueError("the Ray engine's workers make their own http clients")
    # Checked as a client checks them (no connection is opened); Ray's workers have the key.
    checked = AsyncSomiaClient(**{**client_options, **({"api_key": "stand-in"} if on_ray else {})})
    request_options = row_options(options)
    if agent_id is not None:
        check_agent_id(agent_id)
    source, target = Path(input), Path(output)
    if not source.is_file():
        raise ValueError(f"{source}: no such input file")
    if target.resolve() == source.resolve():
        raise ValueError("the output cannot be the input")
    scan = scan_input(source, agent_id, request_options)
    fingerprint = request_fingerprint(agent_id, request_options)
    state = _state(target, scan, fingerprint)
    done = read_done(target, scan.lines)
    if retry_failed and done.failed:
        drop_failed(target, done)
    started = time.time()
    settings = RowSettings(
        state.run_id,
        max_attempts,
        None if deadline is None else started + deadline,
        checked._config.retry,  # the client's backoff
    )
    return Plan(
        source,
        target,
        state,
        scan,
        done,
        agent_id,
        request_options,
        client_options,
        settings,
        low,
        high,
        max_rate,
    )


def _state(output: Path, scan: Scan, fingerprint: str) -> RunState:
    path = state_path(output)
    fresh = RunState.new(scan.sha256, fingerprint, scan.rows, scan.lines)
    has_rows = output.exists() and output.stat().st_size > 0
    if has_rows and not path.exists():
        raise StateError(
            f"{output} has rows but no state file ({path.name}): it is not the output of a "
            "run this command can continue; give a new --output"
        )
    if has_rows or (output.exists() and path.exists()):
        state = RunState.load(path)
        state.check(path, fresh)
        return state
    output.touch()  # first the output, then its state: a crash between leaves no state
    fresh.save(path)
    return fresh


def finish(
    record: dict[str, Any], writer: Writer, progress: Progress, tally: dict[str, int]
) -> None:
    """Write a finished row and count it."""
    writer.write(record)
    ok = record["status"] == "ok"
    progress.row(ok)
    tally["sent"] += 1
    tally["turns"] += len(record["turns"])
    if not ok and may_have_run(record["error"]):
        tally["may_have_run"] += 1


@contextlib.asynccontextmanager
async def showing(
    progress: Progress, stats: Callable[[], Awaitable[LimiterStats]]
) -> AsyncIterator[None]:
    """Refresh the progress display every `progress.interval` seconds meanwhile."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(progress.interval)
            progress.show(await stats())

    task = asyncio.create_task(tick()) if progress.interval else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
