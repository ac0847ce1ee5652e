"""The Ray engine: rows spread over worker actors, one limiter actor for the whole cluster,
and the driver writing the one output.

Each worker builds its own client from its environment (`SOMIA_API_KEY`, never pickled nor
put in a runtime_env; a local Ray inherits the driver's). A worker that dies is restarted
and its rows are run again by Ray with the keys they had, so a server that honours keys
replays what already ran. A row's limiter slot is a lease named after the row, so a retried
task takes its slot back instead of leaking it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import ray

from somia._async_client import AsyncSomiaClient
from somia.batch._limiter import Limiter, LimiterStats
from somia.batch._output import Writer
from somia.batch._plan import START_CONCURRENCY, Plan, finish
from somia.batch._progress import Progress
from somia.batch._rows import Row
from somia.batch._turns import RowSettings, RunStopped, record, run_row

__all__ = ["RAY_INIT_OPTIONS", "run_on_ray"]

# A local Ray started by the runner: quiet, no dashboard.
RAY_INIT_OPTIONS: dict[str, Any] = {
    "include_dashboard": False,
    "log_to_driver": False,
    "logging_level": logging.WARNING,
}
WORKER_TASK_RETRIES = 3  # runs of a row on restarted workers before the row fails


@ray.remote(num_cpus=0)
class LimiterActor:
    """The run's one `Limiter`, shared by every worker of the cluster."""

    def __init__(self, low: int, high: int, start: int, max_rate: float | None) -> None:
        self.limiter = Limiter(low, high, start, max_rate)

    async def acquire(self, lease: str | None = None, deadline: float | None = None) -> int | None:
        return await self.limiter.acquire(lease, deadline)

    def release(self, token: int, kwargs: dict[str, Any]) -> None:
        self.limiter.release(token, **kwargs)

    def stats(self) -> LimiterStats:
        return self.limiter.stats()


class _RemoteGate:
    """The limiter actor, as `run_row` uses a limiter."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.reached = False  # this worker's calls

    async def acquire(self, lease: str | None = None, deadline: float | None = None) -> int | None:
        token: int | None = await self.actor.acquire.remote(lease, deadline)
        return token

    def release(self, token: int, **kwargs: Any) -> None:
        self.actor.release.remote(token, kwargs)  # no need to wait for it


@ray.remote(num_cpus=0)
class Worker:
    """Runs rows with a client of its own, built from its environment."""

    def __init__(self, client_options: dict[str, Any], settings: RowSettings, gate: Any) -> None:
        self.client_options = client_options
        self.settings = settings
        self.gate = _RemoteGate(gate)
        self.client: AsyncSomiaClient | None = None

    async def run(self, row: Row) -> dict[str, Any] | tuple[str, int] | None:
        """The row's output record, (why, exit status) when the run must stop, or None
        when the deadline came first."""
        if self.client is None:
            self.client = AsyncSomiaClient(**self.client_options, retries=0)
        try:
            return await run_row(self.client, row, self.settings, self.gate)
        except RunStopped as exc:
            return str(exc), exc.exit_code

    def pid(self) -> int:
        """The worker's process id (tests kill it)."""
        return os.getpid()


def _workers(most: int) -> int:
    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    return max(1, min(cpus, most))


async def run_on_ray(
    plan: Plan, address: str | None, writer: Writer, progress: Progress, tally: dict[str, int]
) -> None:
    """Run the plan's rows on Ray (a local one unless `address` names a cluster)."""
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, **RAY_INIT_OPTIONS)
    make_limiter: Any = LimiterActor
    limiter = make_limiter.remote(plan.low, plan.high, START_CONCURRENCY, plan.max_rate)
    prefix = f"somia-batch-{plan.state.run_id[:12]}"
    high = max(1, min(plan.high, progress.total))  # no more than rows left
    workers = [
        Worker.options(  # type: ignore[attr-defined]
            name=f"{prefix}-{index}",
            max_restarts=-1,
            max_task_retries=WORKER_TASK_RETRIES,
            max_concurrency=high,
            scheduling_strategy="SPREAD",
        ).remote(dict(plan.client_options), plan.settings, limiter)
        for index in range(_workers(high))
    ]
    rows = plan.rows()
    pending: dict[asyncio.Future[Any], Row] = {}
    stopped: RunStopped | None = None
    turn = 0
    try:
        while True:
            while stopped is None and len(pending) < high and plan.settings.time_left() > 0:
                row = next(rows, None)
                if row is None:
                    break
                ref = workers[turn % len(workers)].run.remote(row)
                turn += 1
                pending[asyncio.wrap_future(ref.future())] = row
            if not pending:
                break
            ended, _ = await asyncio.wait(
                pending, timeout=progress.interval or None, return_when=asyncio.FIRST_COMPLETED
            )
            if progress.interval:
                progress.show(await limiter.stats.remote())
            for future in ended:
                row = pending.pop(future)
                try:
                    result = future.result()
                except ray.exceptions.RayError as exc:  # the row's worker died too often
                    limiter.release.remote(-1, {"lease": str(row.line)})
                    result = record(row, None, [], None, exc)
                if isinstance(result, tuple):
                    stopped = stopped or RunStopped(*result)
                elif result is not None:  # None: the deadline came first
                    finish(result, writer, progress, tally)
        stats: LimiterStats = await limiter.stats.remote()
        tally["throttled"] = stats.throttled
    finally:
        for future in pending:
            future.cancel()
        for actor in [*workers, limiter]:
            ray.kill(actor)
        if started:
            ray.shutdown()
    if stopped is not None:
        raise stopped
