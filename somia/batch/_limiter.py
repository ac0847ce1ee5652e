"""How many turns run at once, and when: one limiter for every worker of a run.

Concurrency adapts (AIMD): it starts at `start`, doubles while answers succeed until the
first refusal, then grows by one per window of successes; a 429 or 503 halves it (once per
window: refusals of calls that started before the last cut do not cut again). A
`Retry-After` pauses every worker until then. `max_rate` spaces starts across workers.

The same class serves the asyncio engine in-process and the Ray engine inside one actor,
so that the limit and the pauses hold for the whole cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import attrs

__all__ = ["Limiter", "LimiterStats"]


@attrs.frozen
class LimiterStats:
    """A look at the limiter, for progress lines."""

    limit: int
    in_flight: int
    throttled: int
    paused: float  # seconds of pause left


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

    async def acquire(self, lease: str | None = None) -> int:
        """Wait for a slot (and the end of any pause, and the rate); return a token for
        `release`. A `lease` already held is given back as it is (a retried Ray task)."""
        if lease is not None and lease in self._leases:
            return self._leases[lease]
        while True:
            left = self._paused_until - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            if self._in_flight < int(self._limit):
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                else:  # woken, then cancelled: pass the wake on
                    self._wake()
                raise
        self._in_flight += 1
        token = self._generation
        if lease is not None:
            self._leases[lease] = token
        if self._interval:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
            if start > now:
                await asyncio.sleep(start - now)
        return token

    def release(
        self,
        token: int,
        *,
        ok: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
        lease: str | None = None,
    ) -> None:
        """Give the slot back, with what the call's answer said."""
        if lease is not None and self._leases.pop(lease, None) is None:
            return  # released already (a retried task, or the driver after a crash)
        self._in_flight -= 1
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
        return LimiterStats(int(self._limit), self._in_flight, self.throttled, paused)
