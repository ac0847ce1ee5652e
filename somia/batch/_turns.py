"""One row's turns, run in order on one session, with the runner's own retries: the part
both engines share (Ray workers run it too, so everything here pickles).

A refusal that ran nothing (429, 503, 408, a connection that failed before sending) is
retried with the same key, up to `max_attempts` per turn or the run's deadline; a 429 or 503
tells the limiter to cut concurrency, and a `Retry-After` pauses every worker. Any other
error ends the row as failed: a 4xx says the row is wrong, anything else may have run the
turn (`--retry-failed` sends it again with the same key). A 401, or a server that cannot be
reached, stops the run instead: every row would fail alike.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import attrs

from somia._async_client import AsyncSomiaClient
from somia._errors import ApiError, AuthError, SomiaError
from somia._models import AgentSessionResponse, StreamEvent
from somia._retry import RETRYABLE_STATUSES, RetryPolicy, ran_nothing, retry_after_seconds
from somia._streaming import AsyncStream
from somia.batch._rows import Row
from somia.batch._state import turn_key

__all__ = ["Gate", "RowSettings", "RunStopped", "may_have_run", "record", "run_row"]

EXIT_UNREACHABLE = 3


class Gate(Protocol):
    """The limiter as a worker sees it (in-process, or a Ray actor's proxy)."""

    async def acquire(self, lease: str | None = None) -> int: ...

    def release(
        self,
        token: int,
        *,
        ok: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
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
    backoff: RetryPolicy  # the client's: its backoff between attempts, not its retries

    def time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.time()


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "status_code": getattr(exc, "status_code", None),
        "message": str(exc),
    }


def may_have_run(error: dict[str, Any]) -> bool:
    """Whether a failed row's error leaves open that its last turn ran: not a refusal that
    ran nothing (408, 429, 503) nor another 4xx."""
    status = error.get("status_code")
    if not isinstance(status, int):
        return True  # a cut stream, an error event, a dropped connection ...
    return status >= 500 and status not in RETRYABLE_STATUSES


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
    client: AsyncSomiaClient, row: Row, settings: RowSettings, gate: Gate
) -> dict[str, Any]:
    """Run every turn of `row`; return its output record. RunStopped when the run must stop."""
    lease = str(row.line)
    session_id: str | None = None
    turns: list[dict[str, Any]] = []
    answer: AgentSessionResponse | None = None
    for index, value in enumerate(row.turns):
        key = turn_key(settings.run_id, row.id_json, index)
        started = time.monotonic()
        tries = 0
        while True:
            token = await gate.acquire(lease)
            try:
                answer = await _turn(client, row, session_id, value, key)
                break
            except SomiaError as exc:
                tries += 1
                wait = _after_failure(exc, tries, settings, gate, token, lease)
                if wait is None:
                    return record(row, session_id, turns, None, exc)
                await asyncio.sleep(wait)
            except BaseException:
                gate.release(token, lease=lease)
                raise
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
) -> float | None:
    """Release the slot; the wait before trying again, or None when the row has failed."""
    refused = ran_nothing(exc)
    status = exc.status_code if isinstance(exc, ApiError) else None
    retry_after = retry_after_seconds(exc.headers) if isinstance(exc, ApiError) else None
    gate.release(token, throttled=status in (429, 503), retry_after=retry_after, lease=lease)
    if isinstance(exc, AuthError):
        raise RunStopped(f"the server refused the API key: {exc}") from None
    if not refused:
        return None
    wait = settings.backoff.backoff_delay(tries - 1) if retry_after is None else 0.0
    if tries < settings.max_attempts and (retry_after or wait) < settings.time_left():
        return wait  # a Retry-After pause is waited out in the gate, by every worker
    if status is None:  # every attempt failed to connect
        raise RunStopped(
            f"the server could not be reached ({exc})", exit_code=EXIT_UNREACHABLE
        ) from None
    return None


def record(
    row: Row,
    session_id: str | None,
    turns: list[dict[str, Any]],
    answer: AgentSessionResponse | None,
    error: BaseException | None,
) -> dict[str, Any]:
    """A row's output line, as a dict."""
    return {
        "id": row.id,
        "line": row.line,
        "status": "ok" if error is None else "failed",
        "session_id": session_id,
        "message": answer.message if error is None and answer is not None else None,
        "turns": turns,
        "error": None if error is None else _error(error),
    }
