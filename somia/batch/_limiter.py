"""How many turns run at once, and when: one limiter for every worker of a run.

Concurrency adapts (AIMD): it starts at `start`, doubles while answers succeed until the
first refusal, then grows by one per window of successes; a 429 or 503 halves it (once per
window: refusals of calls that started before the last cut do not cut again). A
`Retry-After` pauses every worker until then. `max_rate` spaces starts across workers.
Every wait ends at the run's deadline: a turn that cannot start before it does not start.

The same class serves the asyncio engine in-process and the Ray engine inside one actor,
so that the limit and the pauses hold for the whole cluster.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import overload

import attrs

__all__ = ["Limiter", "LimiterStats"]


@attrs.frozen
class LimiterStats:
    """A look at the limiter, for progress lines."""

    limit: int
    in_flight: int
    throttled: int
    paused: float  # seconds of pause left
    connect_failures: int = 0  # calls that could not connect to the server


class Limiter:
    """Admits turns: `acquire()` before a call, `release()` with its outcome after."""

    def __init__(
        self, low: int = 1, high: int = 64, start: int = 4, max_rate: float | None = None
    ) -> None:
        self.low, self.high = low, high
        self._limit = float(max(low, min(start, high)))
        self._slow_start = True
        self._generation = 0  # bumped by each cut
        self._in_flight = 0
        self._leases: dict[str, int] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._paused_until = 0.0
        self._interval = 1.0 / max_rate if max_rate else 0.0
        self._next_start = 0.0
        self.throttled = 0
        self.connect_failures = 0
        self.reached = False  # whether a call of the run got an answer (see run_row)

    @overload
    async def acquire(self, lease: str | None = None, deadline: None = None) -> int: ...

    @overload
    async def acquire(
        self, lease: str | None = None, deadline: float | None = None
    ) -> int | None: ...

    async def acquire(self, lease: str | None = None, deadline: float | None = None) -> int | None:
        """Wait for a slot (and the end of any pause, and the rate); return a token for
        `release`, or None when the turn could not start before `deadline` (a `time.time()`).
        A `lease` already held is given back as it is (a retried Ray task)."""
        if lease is not None and lease in self._leases:
            return self._leases[lease]
        while True:
            budget = math.inf if deadline is None else deadline - time.time()
            if budget <= 0:
                return None
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                if pause >= budget:  # it ends after the deadline: nothing starts before
                    return None
                await asyncio.sleep(pause)
                continue
            if self._in_flight < int(self._limit):
                break
            if not await self._wait_for_release(budget):
                return None
        start = time.monotonic()
        if self._interval:
            start = max(start, self._next_start)
            if start - time.monotonic() >= budget:
                return None
            self._next_start = start + self._interval
        self._in_flight += 1
        token = self._generation
        if lease is not None:
            self._leases[lease] = token
        try:
            await asyncio.sleep(max(0.0, start - time.monotonic()))
        except BaseException:
            self.release(token, lease=lease)
            raise
        return token

    async def _wait_for_release(self, budget: float) -> bool:
        """Wait to be woken by a release; False when `budget` seconds passed first."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(None if math.isinf(budget) else budget):
                await waiter
        except BaseException as exc:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            else:  # woken, then cancelled or timed out: pass the wake on
                self._wake()
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    def release(
        self,
        token: int,
        *,
        ok: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
        connect_failed: bool = False,
        lease: str | None = None,
    ) -> None:
        """Give the slot back, with what the call's answer said."""
        if lease is not None and self._leases.pop(lease, None) is None:
            return  # released already (a retried task, or the driver after a crash)
        self._in_flight -= 1
        self.connect_failures += connect_failed
        if throttled:
            self.throttled += 1
            if token == self._generation:  # the first refusal since the last cut
                self._limit = max(float(self.low), self._limit / 2)
                self._slow_start = False
                self._generation += 1
        elif ok and self._limit < self.high:
            self._limit = min(
                float(self.high), self._limit + (1 if self._slow_start else 1 / self._limit)
            )
        if retry_after is not None and retry_after > 0:
            self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
        self._wake()

    def _wake(self) -> None:
        free = int(self._limit) - self._in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def stats(self) -> LimiterStats:
        """The current limit, calls in flight, refusals seen and pause left."""
        paused = max(0.0, self._paused_until - time.monotonic())
        return LimiterStats(
            int(self._limit), self._in_flight, self.throttled, paused, self.connect_failures
        )
