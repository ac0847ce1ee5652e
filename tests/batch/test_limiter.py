"""The batch runner's limiter: adaptive concurrency, shared pauses, a rate, and leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from somia.batch._limiter import Limiter

T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_it_starts_at_four_and_doubles_while_answers_succeed() -> None:
    async def scenario() -> list[int]:
        limiter = Limiter(1, 64)
        limits = [limiter.stats().limit]
        for _ in range(3):
            tokens = [await limiter.acquire() for _ in range(limiter.stats().limit)]
            for token in tokens:
                limiter.release(token, ok=True)
            limits.append(limiter.stats().limit)
        return limits

    assert _run(scenario()) == [4, 8, 16, 32]


def test_a_429_halves_once_per_window_then_growth_is_additive() -> None:
    async def scenario() -> list[int]:
        limiter = Limiter(1, 64, start=16)
        tokens = [await limiter.acquire() for _ in range(16)]
        limiter.release(tokens[0], throttled=True)
        limiter.release(tokens[1], throttled=True)  # started before the cut: no second cut
        after_cut = limiter.stats().limit
        for token in tokens[2:]:
            limiter.release(token, ok=True)
        return [after_cut, limiter.stats().limit, limiter.stats().throttled]

    limit_after_cut, grown, throttled = _run(scenario())
    assert limit_after_cut == 8
    assert grown == 9  # 14 successes at 8: one more, not doubling
    assert throttled == 2


def test_the_limit_stays_within_its_bounds() -> None:
    async def scenario() -> list[int]:
        limiter = Limiter(3, 5)
        for _ in range(4):
            limiter.release(await limiter.acquire(), throttled=True)
        low = limiter.stats().limit
        for _ in range(50):
            limiter.release(await limiter.acquire(), ok=True)
        return [low, limiter.stats().limit]

    assert _run(scenario()) == [3, 5]


def test_a_full_limiter_makes_the_next_caller_wait_for_a_release() -> None:
    async def scenario() -> list[str]:
        limiter = Limiter(1, 1, start=1)
        order: list[str] = []
        token = await limiter.acquire()

        async def second() -> None:
            await limiter.acquire()
            order.append("second")

        task = asyncio.create_task(second())
        await asyncio.sleep(0.05)
        order.append("release")
        limiter.release(token, ok=True)
        await task
        return order

    assert _run(scenario()) == ["release", "second"]


def test_retry_after_pauses_every_caller() -> None:
    async def scenario() -> float:
        limiter = Limiter(1, 8)
        limiter.release(await limiter.acquire(), throttled=True, retry_after=0.3)
        started = time.monotonic()
        await asyncio.gather(*(limiter.acquire() for _ in range(2)))  # the limit is 2 now
        return time.monotonic() - started

    assert _run(scenario()) >= 0.29


def test_max_rate_spaces_starts() -> None:
    async def scenario() -> float:
        limiter = Limiter(1, 8, max_rate=20)
        started = time.monotonic()
        for _ in range(5):
            limiter.release(await limiter.acquire(), ok=True)
        return time.monotonic() - started

    assert _run(scenario()) >= 0.19  # 4 gaps of 50 ms


def test_a_lease_taken_twice_holds_one_slot_and_is_released_once() -> None:
    async def scenario() -> list[int]:
        limiter = Limiter(1, 4)
        first = await limiter.acquire("row-1")
        again = await limiter.acquire("row-1")  # a retried Ray task: the same slot
        held = limiter.stats().in_flight
        limiter.release(first, ok=True, lease="row-1")
        limiter.release(again, ok=True, lease="row-1")  # released already: no effect
        return [first, again, held, limiter.stats().in_flight]

    assert _run(scenario()) == [0, 0, 1, 0]


def test_a_cancelled_waiter_leaves_its_place_to_the_next() -> None:
    async def scenario() -> bool:
        limiter = Limiter(1, 1, start=1)
        token = await limiter.acquire()
        cancelled = asyncio.create_task(limiter.acquire())
        waiting = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.01)
        limiter.release(token, ok=True)  # wakes the first waiter ...
        cancelled.cancel()  # ... which is cancelled before it runs
        await asyncio.wait_for(waiting, 1)
        return waiting.done()

    assert _run(scenario()) is True


def test_every_wait_ends_at_the_deadline() -> None:
    async def scenario() -> list[int | None]:
        limiter = Limiter(1, 1, start=1, max_rate=1)
        token = await limiter.acquire()
        soon = time.time() + 0.1
        waiting_for_a_slot = await limiter.acquire(deadline=soon)
        limiter.release(token, ok=True)
        waiting_for_the_rate = await limiter.acquire(deadline=time.time() + 0.1)  # 1 s apart
        limiter.release(await limiter.acquire(), throttled=True, retry_after=30)
        waiting_out_a_pause = await limiter.acquire(deadline=time.time() + 5)
        return [
            waiting_for_a_slot,
            waiting_for_the_rate,
            waiting_out_a_pause,
            limiter.stats().in_flight,
        ]

    started = time.monotonic()
    assert _run(scenario()) == [None, None, None, 0]
    assert time.monotonic() - started < 5  # the pause past the deadline was not waited
