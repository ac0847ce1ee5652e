"""`run_batch` / `arun_batch`: prepare the run, send the rows left (in-process on
asyncio, or on Ray), and sum up."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from somia._async_client import AsyncSomiaClient
from somia.batch._limiter import Limiter, LimiterStats
from somia.batch._output import Writer, sort_output
from somia.batch._plan import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    Plan,
    finish,
    prepare,
    showing,
)
from somia.batch._progress import Progress
from somia.batch._turns import RunStopped, run_row

__all__ = ["BatchSummary", "arun_batch", "run_batch"]

Engine = Literal["asyncio", "ray"]


@attrs.frozen
class BatchSummary:
    """What a batch run did, and where its output stands.

    `rows` counts the input's rows; `ok` and `failed` the rows the output holds now;
    `skipped` those it held before this run (a resume); `sent` the rows this run ran;
    `not_run` those still missing (an interrupted or stopped run: run it again).
    `may_have_run` counts the rows of this run that failed after their last turn may have
    run (a dropped connection, a 5xx, an answer that could not be read): `retry_failed=True`
    sends them again with the same keys. `torn_lines` counts torn last lines cut off the
    output (a run stopped while writing one: its row runs again), `repeats_dropped` the
    lines `drop_repeats=True` removed.
    """

    output: Path
    run_id: str
    rows: int
    ok: int
    failed: int
    skipped: int
    sent: int
    not_run: int
    turns: int
    throttled: int
    may_have_run: int
    seconds: float
    stopped: str | None = None  # why the run stopped before its end
    torn_lines: int = 0
    repeats_dropped: int = 0
    exit_code: int = 0
    """The `somia batch` exit status: 0 every row ok, 1 some failed or not run, 3 the
    server could not be reached."""

    def describe(self) -> str:
        """The summary a person reads at the end of a run."""
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.output}: {self.ok} of {self.rows} rows ok, {self.failed} failed"
            + (f", {self.not_run} not run yet" if self.not_run else ""),
            f"this run: {self.sent} rows ({self.turns} turns) in {self.seconds:.1f} s "
            f"({rate:.1f} rows/s), {self.throttled} throttled (429/503)"
            + (f", {self.skipped} rows already done" if self.skipped else ""),
        ]
        if self.torn_lines:
            lines.append(
                "cut off the output's torn last line (a run stopped while writing it): its "
                "row ran again"
            )
        if self.repeats_dropped:
            lines.append(f"dropped {self.repeats_dropped} repeated lines (one line per row)")
        if self.stopped:
            lines.append(f"stopped: {self.stopped}")
        if self.not_run:
            lines.append("run the same command again to continue where it stopped")
        if self.may_have_run:
            lines.append(
                f"{self.may_have_run} failed rows may have run their last turn: "
                "--retry-failed sends them again with the same keys"
            )
        if self.not_run or self.may_have_run or self.skipped:
            lines.append(
                "each turn's Idempotency-Key comes from this run, its row and its turn: a "
                "server that honours keys replays what already ran; on one that does not, "
                "the rows in flight when a run stopped are sent again from their first turn "
                "(their finished turns run again, in a new session)"
            )
        return "\n".join(lines)


async def _local(plan: Plan, writer: Writer, progress: Progress, tally: dict[str, int]) -> None:
    """The asyncio engine: up to `high` rows at once in this process."""
    limiter = plan.limiter()
    rows = plan.rows()
    stopped: list[RunStopped] = []

    async def worker(client: AsyncSomiaClient) -> None:
        for row in rows:
            if stopped or plan.settings.time_left() <= 0:
                return
            try:
                record = await run_row(client, row, plan.settings, limiter)
            except RunStopped as exc:
                stopped.append(exc)
                return
            if record is None:  # the deadline came first
                return
            finish(record, writer, progress, tally)

    client = AsyncSomiaClient(**plan.client_options, retries=0)
    async with client, showing(progress, lambda: _stats(limiter)):
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(plan.high, progress.total)):  # no more than rows left
                    group.create_task(worker(client))
        except BaseExceptionGroup as group:  # the first worker's error, as it was raised
            raise group.exceptions[0] from None
    tally["throttled"] = limiter.throttled
    if stopped:
        raise stopped[0]


async def _stats(limiter: Limiter) -> LimiterStats:
    return limiter.stats()


async def arun_batch(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    agent_id: int | None = None,
    options: Mapping[str, Any] | None = None,
    client_options: Mapping[str, Any] | None = None,
    concurrency: int | tuple[int, int] = DEFAULT_CONCURRENCY,
    max_rate: float | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    deadline: float | None = None,
    retry_failed: bool = False,
    drop_repeats: bool = False,
    sort: bool = False,
    engine: Engine = "asyncio",
    ray_address: str | None = None,
    progress: bool = False,
) -> BatchSummary:
    """Run an agent over every row of `input` (JSONL), writing one line per row to `output`.

    Running it again with the same output continues the run: rows already there are
    skipped, and the others are sent again with the idempotency keys they had before.
    See `run_batch` for the arguments.
    """
    if engine not in ("asyncio", "ray"):
        raise ValueError(f"engine must be 'asyncio' or 'ray', not {engine!r}")
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise ImportError("the Ray engine needs ray: pip install 'somia[ray]'") from exc
    plan = prepare(
        input,
        output,
        agent_id=agent_id,
        options=options,
        client_options=client_options,
        concurrency=concurrency,
        max_rate=max_rate,
        max_attempts=max_attempts,
        deadline=deadline,
        retry_failed=retry_failed,
        repeats=drop_repeats,
        on_ray=engine == "ray",
    )
    try:
        return await _run(plan, engine, ray_address, progress=progress, sort=sort)
    finally:
        plan.close()


async def _run(
    plan: Plan, engine: Engine, ray_address: str | None, *, progress: bool, sort: bool
) -> BatchSummary:
    done = plan.done
    skipped = done.ok + done.failed
    pending = plan.scan.rows - skipped
    tally = {"sent": 0, "turns": 0, "throttled": 0, "may_have_run": 0}
    shown = Progress(pending, on=progress and pending > 0)
    if done.torn:
        shown.note("cut off the output's torn last line: its row runs again")
    started = time.monotonic()
    stopped: RunStopped | None = None
    try:
        if pending:
            writer = Writer(plan.output)
            try:
                if engine == "ray":
                    from somia.batch._ray import run_on_ray

                    await run_on_ray(plan, ray_address, writer, shown, tally)
                else:
                    await _local(plan, writer, shown, tally)
            except RunStopped as exc:
                stopped = exc
            finally:
                writer.close()
    finally:
        shown.close()
    if sort:
        sort_output(plan.output)
    ok = done.ok + shown.done - shown.failed
    failed = done.failed + shown.failed
    not_run = plan.scan.rows - ok - failed
    reason = str(stopped) if stopped else None
    if reason is None and not_run:
        reason = "the run's deadline passed"
    code = stopped.exit_code if stopped is not None else 0 if ok == plan.scan.rows else 1
    return BatchSummary(
        output=plan.output,
        run_id=plan.state.run_id,
        rows=plan.scan.rows,
        ok=ok,
        failed=failed,
        skipped=skipped,
        sent=tally["sent"],
        not_run=not_run,
        turns=tally["turns"],
        throttled=tally["throttled"],
        may_have_run=tally["may_have_run"],
        seconds=time.monotonic() - started,
        stopped=reason,
        exit_code=code,
        torn_lines=done.torn,
        repeats_dropped=plan.repeats_dropped,
    )


def run_batch(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    agent_id: int | None = None,
    options: Mapping[str, Any] | None = None,
    client_options: Mapping[str, Any] | None = None,
    concurrency: int | tuple[int, int] = DEFAULT_CONCURRENCY,
    max_rate: float | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    deadline: float | None = None,
    retry_failed: bool = False,
    drop_repeats: bool = False,
    sort: bool = False,
    engine: Engine = "asyncio",
    ray_address: str | None = None,
    progress: bool = False,
) -> BatchSummary:
    """Run an agent over every row of `input` (JSONL), writing one line per row to `output`;
    return a `BatchSummary`. Everything is checked, and the whole input read, before any
    request is sent (TypeError, or ValueError such as `InputError` naming lines).

    Args:
        input: A JSONL file: `{"id": ..., "input_data": ...}` per line, or `{"id": ...,
            "turns": [...]}` for several turns of one session; a row may set `agent_id` and
            documented request options (`pipeline_version`, `tags`, ...).
        output: The JSONL output, one line per row in completion order. An existing
            output of the same input and options is continued (a resume); any other is
            refused (`StateError`).
        agent_id: The agent of rows that do not name one.
        options: Request options for every row (a row's own win).
        client_options: `AsyncSomiaClient` options (base URL, key, timeouts); by default
            the environment's. The runner retries by itself: no `retries`; it waits at
            least `retry_backoff_seconds` between attempts, and a `Retry-After` longer
            than `max_retry_after` fails the row.
        concurrency: The most turns at once, or `(min, max)`; it starts at 4 and adapts.
        max_rate: The most turns started per second, across all workers.
        max_attempts: Attempts per turn for refusals that ran nothing (429, 503, ...).
        deadline: Seconds for the run: no turn starts later; a row that cannot go on
            before it is left for the next run.
        retry_failed: Send the failed rows again (same keys) and rewrite their lines.
        drop_repeats: Keep one line per row of an output that holds some row twice (two
            runs wrote it at once), an ok one where there is one.
        sort: Rewrite the output in input order at the end.
        engine: "asyncio" (this process) or "ray" (Ray workers; `pip install 'somia[ray]'`).
        ray_address: The Ray cluster to join (default: a local Ray).
        progress: Show progress on stderr (a bar on a terminal).

    Ctrl-C (KeyboardInterrupt) leaves the output resumable: run the same call again.
    """
    return asyncio.run(
        arun_batch(
            input,
            output,
            agent_id=agent_id,
            options=options,
            client_options=client_options,
            concurrency=concurrency,
            max_rate=max_rate,
            max_attempts=max_attempts,
            deadline=deadline,
            retry_failed=retry_failed,
            drop_repeats=drop_repeats,
            sort=sort,
            engine=engine,
            ray_address=ray_address,
            progress=progress,
        )
    )
