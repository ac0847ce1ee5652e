"""One row's turns, run in order on one session, with the runner's own retries: the part
both engines share (Ray workers run it too, so everything here pickles).

A refusal that ran nothing (429, 503, 408, a connection that failed before sending) is
retried with the same key, up to `max_attempts` per turn, after at least the client's
backoff; a 429 or 503 tells the limiter to cut concurrency, and a `Retry-After` (up to the
client's `max_retry_after`; a longer one fails the row) pauses every worker. Any other error
ends the row as failed: a 4xx says the row is wrong, anything else may have run the turn
(`--retry-failed` sends it again with the same key). A 401, or a server that cannot be
reached, stops the run instead: every row would fail alike. A turn that cannot start before
the run's deadline leaves its row for the next run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import attrs

from somia._async_client import AsyncSomiaClient
from somia._errors import ApiError, AuthError, SomiaError
from somia._models import AgentSessionResponse, StreamEvent
from somia._retry import RetryPolicy, ran_nothing, retry_after_seconds
from somia._streaming import AsyncStream
from somia.batch._rows import Row
from somia.batch._state import turn_key

__all__ = ["Gate", "RowSettings", "RunStopped", "error_of", "may_have_run", "record", "run_row"]

EXIT_UNREACHABLE = 3


class Gate(Protocol):
    """The limiter as a worker sees it (in-process, or a Ray actor's proxy)."""

    reached: bool  # whether a call got any answer (on Ray: a call of this worker)

    async def acquire(
        self, lease: str | None = None, deadline: float | None = None
    ) -> int | None: ...

    def release(
        self,
        token: int,
        *,
        ok: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
        connect_failed: bool = False,
        lease: str | None = None,
    ) -> None: ...


class RunStopped(Exception):
    """The run cannot go on (rows left unsent stay resumable); `exit_code` for the CLI."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunStopped, (str(self), self.exit_code))


@attrs.frozen
class RowSettings:
    """What every row of a run shares: its id, attempts per turn and deadline."""

    run_id: str
    max_attempts: int
    deadline: float | None  # wall-clock time (time.time()), shared with Ray workers
    backoff: RetryPolicy  # the client's backoff and max_retry_after, not its retries

    def time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.time()


UNREACHED_ATTEMPTS = 3
"""Attempts per turn while no call of the run has reached the server (the SDK's default:
one call and two retries); then the run stops with exit status 3."""


def error_of(exc: BaseException, attempts: int, note: str = "") -> dict[str, Any]:
    """The `error` of an output line: what failed, after how many attempts, and whether
    the turn may have run."""
    message = str(exc)
    return {
        "type": type(exc).__name__,
        "status_code": getattr(exc, "status_code", None),
        "message": f"{message} ({note})" if note else message,
        "attempts": attempts,
        "may_have_run": may_have_run(exc),
    }


def may_have_run(exc: BaseException) -> bool:
    """Whether a failed turn may have run: not a refusal that ran nothing (408, 429, 503,
    no connection) nor another 4xx. A 5xx, a cut stream, a dropped connection or an answer
    the SDK could not read (even a 200) may follow a turn that ran."""
    if isinstance(exc, SomiaError) and ran_nothing(exc):
        return False
    return not (isinstance(exc, ApiError) and exc.status_code < 500)


async def _turn(
    client: AsyncSomiaClient, row: Row, session_id: str | None, value: Any, key: str
) -> AgentSessionResponse:
    stream: AsyncStream[StreamEvent] = await client.sessions.run(
        row.agent_id,
        session_id=session_id,
        stream=True,
        input_data=value,
        idempotency_key=key,
        **row.options,
    )
    async with stream:
        return await stream.final_response()


async def run_row(
    client: AsyncSomiaClient, row: Row, settings: RowSettings, gate: Gate, lease: str = ""
) -> dict[str, Any] | None:
    """Run every turn of `row`; return its output record, or None when one of its turns
    could not start before the run's deadline (the row is left for the next run).
    RunStopped when the run must stop. The row's limiter slot is leased by `lease` (its
    input line by default): a rerun of the row (a retried Ray task) takes it back."""
    lease = lease or str(row.line)
    session_id: str | None = None
    turns: list[dict[str, Any]] = []
    answer: AgentSessionResponse | None = None
    for index, value in enumerate(row.turns):
        key = turn_key(settings.run_id, row.id_json, index)
        started = time.monotonic()
        tries = 0
        while True:
            token = await gate.acquire(lease, settings.deadline)
            if token is None:
                return None
            try:
                answer = await _turn(client, row, session_id, value, key)
                break
            except SomiaError as exc:
                tries += 1
                wait = _after_failure(exc, tries, settings, gate, token, lease)
                if isinstance(wait, str):
                    return record(row, session_id, turns, None, exc, tries, wait)
                if wait is None:
                    return None
                await asyncio.sleep(wait)
            except BaseException:
                gate.release(token, lease=lease)
                raise
        gate.reached = True
        gate.release(token, ok=True, lease=lease)
        session_id = answer.session_id
        turns.append(
            {
                "request_id": answer.request_id,
                "attempts": tries + answer.http.attempts if answer.http else tries + 1,
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    return record(row, session_id, turns, answer, None)


def _after_failure(
    exc: SomiaError, tries: int, settings: RowSettings, gate: Gate, token: int, lease: str
) -> float | str | None:
    """Release the slot, and say what comes next: the seconds to wait before the next
    attempt; a note (maybe "") when the row has failed; None when the deadline comes
    first (the row is left for the next run). RunStopped when the run must stop."""
    refused = ran_nothing(exc)
    status = exc.status_code if isinstance(exc, ApiError) else None
    connect_failed = refused and status is None
    gate.reached = gate.reached or not connect_failed
    retry_after = retry_after_seconds(exc.headers) if isinstance(exc, ApiError) else None
    cap = settings.backoff.max_retry_after
    too_long = retry_after is not None and retry_after > cap
    gate.release(
        token,
        throttled=status in (429, 503),
        retry_after=None if too_long else retry_after,
        connect_failed=connect_failed,
        lease=lease,
    )
    if isinstance(exc, AuthError):
        raise RunStopped(f"the server refused the API key: {exc}") from None
    if not refused:
        return ""
    if too_long:
        return (
            f"not retried: the server asked to wait {retry_after:g} s, longer than "
            f"max_retry_after ({cap:g} s)"
        )
    limit = (
        settings.max_attempts if gate.reached else min(settings.max_attempts, UNREACHED_ATTEMPTS)
    )
    if tries >= limit:
        if connect_failed:  # every attempt failed to connect
            raise RunStopped(
                f"the server could not be reached ({exc}; {tries} attempts)",
                exit_code=EXIT_UNREACHABLE,
            ) from None
        return f"after {tries} attempts"
    # At least the backoff, even after a Retry-After of 0; a longer Retry-After pauses every
    # worker, in the gate.
    wait = settings.backoff.backoff_delay(tries - 1)
    if max(wait, retry_after or 0.0) >= settings.time_left():
        return None
    return wait


def record(
    row: Row,
    session_id: str | None,
    turns: list[dict[str, Any]],
    answer: AgentSessionResponse | None,
    error: BaseException | None,
    attempts: int = 1,
    note: str = "",
) -> dict[str, Any]:
    """A row's output line, as a dict."""
    return {
        "id": row.id,
        "line": row.line,
        "status": "ok" if error is None else "failed",
        "session_id": session_id,
        "message": answer.message if error is None and answer is not None else None,
        "turns": turns,
        "error": None if error is None else error_of(error, attempts, note),
    }
