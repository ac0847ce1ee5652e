"""A checked batch run, ready to go: the arguments, the input's scan, the run's state and
where its output stands; and what both engines do with each finished row."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from somia._async_client import AsyncSomiaClient
from somia._redact import REDACTED
from somia._retry import RetryPolicy
from somia._validation import check_agent_id
from somia.batch._limiter import Limiter, LimiterStats
from somia.batch._output import Done, Writer, drop_failed, drop_repeats, read_done
from somia.batch._progress import Progress
from somia.batch._rows import Row, Scan, read_rows, row_options, scan_input
from somia.batch._state import RunLock, RunState, StateError, request_fingerprint, state_path
from somia.batch._turns import RowSettings

__all__ = ["Plan", "check_client_options", "finish", "prepare", "showing"]

DEFAULT_CONCURRENCY = 64
START_CONCURRENCY = 4
DEFAULT_MAX_ATTEMPTS = 20
# The runner's own: it retries by itself (its backoff and max_retry_after are the client's).
_RETRY_OPTIONS = ("retries",)


def _without_key(options: Mapping[str, Any]) -> str:
    return repr({k: REDACTED if k == "api_key" else v for k, v in options.items()})


@attrs.frozen
class Plan:
    """A checked run, ready to go: what the engines need. It holds the output's lock until
    `close()`."""

    input: Path
    output: Path
    state: RunState
    scan: Scan
    done: Done
    agent_id: int | None
    options: Mapping[str, Any]
    client_options: Mapping[str, Any] = attrs.field(repr=_without_key)
    settings: RowSettings
    low: int
    high: int
    max_rate: float | None
    lock: RunLock = attrs.field(repr=False)
    repeats_dropped: int = 0

    def rows(self) -> Iterator[Row]:
        """The rows not in the output yet, in input order, from the lines the scan checked."""
        return read_rows(self.input, self.agent_id, self.options, self.done.marks, self.scan.size)

    def limiter(self) -> Limiter:
        return Limiter(self.low, self.high, START_CONCURRENCY, self.max_rate)

    def close(self) -> None:
        """Let go of the output's lock."""
        self.lock.release()


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


def check_client_options(
    client_options: Mapping[str, Any] | None, *, on_ray: bool
) -> tuple[dict[str, Any], RetryPolicy]:
    """The options the runner's clients are built with, checked as a client checks them (no
    connection is opened), and their backoff and max_retry_after. On Ray, neither the key
    nor an http client: each worker makes its own client, the key from its environment."""
    client_options = dict(client_options or {})
    taken = [name for name in _RETRY_OPTIONS if name in client_options]
    if taken:
        raise ValueError(f"{taken[0]} is the runner's: it retries by itself (max_attempts)")
    if on_ray and "api_key" in client_options:
        raise ValueError(
            "Ray workers read SOMIA_API_KEY from their own environment: "
            "the key is never sent to them"
        )
    if on_ray and "http_client" in client_options:
        raise ValueError("Ray workers make their own http clients")
    stand_in = {"api_key": "stand-in"} if on_ray else {}  # Ray's workers have the key
    checked = AsyncSomiaClient(**{**client_options, **stand_in})
    return client_options, checked._config.retry


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
    repeats: bool = False,
    on_ray: bool = False,
) -> Plan:
    """Check the arguments and the whole input, lock the output and find where it stands;
    nothing is sent. TypeError/ValueError (InputError, StateError) say what is wrong, and
    OSError what the file system refused."""
    low, high = _concurrency(concurrency)
    _positive("max_rate", max_rate)
    _positive("deadline", deadline)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be an int of 1 or more, not {max_attempts!r}")
    client_options, backoff = check_client_options(client_options, on_ray=on_ray)
    request_options = row_options(options)
    if agent_id is not None:
        check_agent_id(agent_id)
    source, target = _input_file(input), _output_file(output)
    if target.exists() and target.samefile(source):
        raise ValueError("the output cannot be the input")
    lock = RunLock(target)
    try:
        existing = _existing_state(target)
        dropped = drop_repeats(target) if repeats and existing is not None else 0
        done = read_done(target, existing.lines if existing is not None else 0)
        scan = scan_input(source, agent_id, request_options, done if existing is not None else None)
        fresh = RunState.new(
            scan.sha256, request_fingerprint(agent_id, request_options), scan.rows, scan.lines
        )
        state = _continue(target, existing, fresh, scan) if existing else _start(target, fresh)
        done.ids = None  # checked: its memory goes
        if retry_failed and done.failed:
            drop_failed(target, done)
    except BaseException:
        lock.release()
        raise
    settings = RowSettings(
        state.run_id,
        max_attempts,
        None if deadline is None else time.time() + deadline,
        backoff,
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
        lock,
        dropped,
    )


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _input_file(input: str | os.PathLike[str]) -> Path:
    """The input, a regular file: it is read twice (checked, then run), and on a resume
    again."""
    if os.fspath(input) == "-":
        raise ValueError(
            "the input cannot be standard input: a run checks its whole input before it "
            "sends anything, and a resume reads it again; save the rows to a file"
        )
    source = Path(input)
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise ValueError(f"{source}: no such input file") from None
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{source}: the input is {_kind(mode)}, not a file: it is read twice, and again "
            "on a resume; save the rows to a file"
        )
    return source


def _output_file(output: str | os.PathLike[str]) -> Path:
    """The output, a regular file or none yet, in a folder that exists."""
    if os.fspath(output) == "-":
        raise ValueError(
            "the output cannot be standard output: a run is continued from its output file"
        )
    target = Path(output)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise ValueError(f"{target}: its folder {target.parent} does not exist") from None
        return target
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{target}: the output is {_kind(mode)}, not a file: a run appends its rows to a "
            "file, and is continued from it"
        )
    return target


def _existing_state(output: Path) -> RunState | None:
    """The state of the run an existing output belongs to; None for a new run."""
    path = state_path(output)
    has_rows = output.exists() and output.stat().st_size > 0
    if has_rows and not path.exists():
        raise StateError(
            f"{output} has rows but no state file ({path.name}): it is not the output of a "
            "run this command can continue; give a new --output"
        )
    if has_rows or (output.exists() and path.exists()):
        return RunState.load(path)
    return None


def _continue(output: Path, state: RunState, fresh: RunState, scan: Scan) -> RunState:
    """The run of an existing output, once its input and rows are checked."""
    state.check(state_path(output), fresh)
    if scan.stranger_count:  # the same input, so the output was written by hand
        more = scan.stranger_count - len(scan.strangers)
        raise StateError(
            f"{output}: "
            + "; ".join(scan.strangers)
            + (f" (and {more} more)" if more else "")
            + ": an output line that is no row of the input; remove it, or give a new --output"
        )
    return state


def _start(output: Path, fresh: RunState) -> RunState:
    """A new run: its output, then its state (a crash between leaves no state)."""
    output.touch()
    fresh.save(state_path(output))
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
    if not ok and record["error"]["may_have_run"]:
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
