"""Rows 3, 4, 5 and 7 of scripts/bench.py, the ones that consume streams: client CPU per
event, server-flush-to-user-code latency, peak memory, and concurrent streams.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from _bench_measure import (
    AGENT,
    API_KEY,
    MB,
    PATH,
    STREAM_BODY,
    Plan,
    Row,
    alternate,
    alternate_async,
    cpu_of,
    fake_server,
    median,
    micros,
    ratios,
    stream_url,
)
from httpx_sse import EventSource

from somia import AsyncSomiaClient, SomiaClient

# --- row 3: consuming a stream --------------------------------------------------------------


def consume_ours(client: SomiaClient) -> int:
    count = 0
    with client.sessions.create_session(AGENT, input_data="hello", stream=True) as stream:
        for _ in stream:
            count += 1
    return count


def consume_baseline(http: httpx.Client, url: str) -> int:
    count = 0
    headers = {"x-api-key": API_KEY, "Accept": "text/event-stream"}
    with http.stream("POST", url, json=STREAM_BODY, headers=headers) as response:
        for event in EventSource(response).iter_sse():
            json.loads(event.data)
            count += 1
    return count


def row_stream_cpu(plan: Plan, server: str, *, per_chunk: int) -> Row:
    base_url = stream_url(server, plan.stream_events, plan.stream_size, per_chunk=per_chunk)
    counts: set[int] = set()
    with SomiaClient(base_url=base_url, api_key=API_KEY) as client, httpx.Client() as http:

        def ours() -> None:
            for _ in range(plan.streams):
                counts.add(consume_ours(client))

        def baseline() -> None:
            for _ in range(plan.streams):
                counts.add(consume_baseline(http, base_url + PATH))

        ours()
        baseline()
        mine, theirs = alternate(plan.rounds, lambda: cpu_of(ours), lambda: cpu_of(baseline))
    if counts != {plan.stream_events + 1}:
        raise RuntimeError(f"streams delivered {counts} events, not {plan.stream_events + 1}")
    events = plan.streams * (plan.stream_events + 1)
    framing = "one HTTP chunk per event" if per_chunk == 1 else f"{per_chunk} events per HTTP chunk"
    return Row(
        "3a" if per_chunk == 1 else "3b",
        f"stream consumption, client CPU per event ({plan.stream_events}-event streams, "
        f"{framing}; SomiaClient vs httpx + httpx-sse + json.loads)",
        micros(median(mine) / events),
        micros(median(theirs) / events),
        ratios(mine, theirs),
        "≤ 0.9" if per_chunk == 1 else "reported",
        (lambda ratio: ratio <= 0.9) if per_chunk == 1 else None,
    )


# --- row 4: latency -------------------------------------------------------------------------


def latencies_ours(client: SomiaClient) -> list[int]:
    out: list[int] = []
    with client.sessions.create_session(AGENT, input_data="hello", stream=True) as stream:
        for event in stream:
            if isinstance(event.data, dict):
                out.append(time.monotonic_ns() - event.data["t"])
    return out


def latencies_baseline(http: httpx.Client, url: str) -> list[int]:
    out: list[int] = []
    headers = {"x-api-key": API_KEY, "Accept": "text/event-stream"}
    with http.stream("POST", url, json=STREAM_BODY, headers=headers) as response:
        for event in EventSource(response).iter_sse():
            data = json.loads(event.data)
            if isinstance(data, dict):
                out.append(time.monotonic_ns() - data["t"])
    return out


def percentile(values: Sequence[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def row_latency(plan: Plan, server: str) -> Row:
    base_url = stream_url(server, plan.latency_events, plan.stream_size, pace_us=plan.pace_us)
    mine: list[int] = []
    theirs: list[int] = []
    per_round: list[float] = []
    with SomiaClient(base_url=base_url, api_key=API_KEY) as client, httpx.Client() as http:

        def ours() -> float:
            sample = latencies_ours(client)
            mine.extend(sample)
            return percentile(sample, 0.5)

        def baseline() -> float:
            sample = latencies_baseline(http, base_url + PATH)
            theirs.extend(sample)
            return percentile(sample, 0.5)

        a, b = alternate(plan.latency_rounds, ours, baseline)
        per_round = ratios(a, b)

    def cell(values: list[int]) -> str:
        p50, p99 = percentile(values, 0.5) / 1e3, percentile(values, 0.99) / 1e3
        return f"p50 {p50:.0f} µs, p99 {p99:.0f} µs"

    return Row(
        "4",
        f"server flush → user code, {plan.pace_us} µs apart (p50 ratio; SomiaClient vs "
        "httpx + httpx-sse + json.loads)",
        cell(mine),
        cell(theirs),
        per_round,
        "reported",
        None,
    )


# --- row 5: memory --------------------------------------------------------------------------


def peak_bytes(client: SomiaClient) -> float:
    """Peak traced Python memory, above what was held before, while consuming one stream."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    consume_ours(client)
    return float(tracemalloc.get_traced_memory()[1] - before)


def row_memory(plan: Plan, server: str) -> Row:
    size = 4000  # characters per message: events of about 4 KB keep tracemalloc's cost low
    event_bytes = size + 80
    small_url = stream_url(server, plan.memory_small // event_bytes, size)
    large_url = stream_url(server, plan.memory_large // event_bytes, size)
    tracemalloc.start()
    try:
        with (
            SomiaClient(base_url=small_url, api_key=API_KEY) as small,
            SomiaClient(base_url=large_url, api_key=API_KEY) as large,
        ):
            consume_ours(small)
            big, little = alternate(
                plan.memory_rounds, lambda: peak_bytes(large), lambda: peak_bytes(small)
            )
    finally:
        tracemalloc.stop()
    return Row(
        "5",
        f"peak Python memory (tracemalloc) consuming a {plan.memory_large / MB:g} MB stream of "
        f"4 KB events vs a {plan.memory_small / MB:g} MB one (SomiaClient at both sizes)",
        f"{median(big) / 1024:.0f} KiB @ {plan.memory_large / MB:g} MB",
        f"{median(little) / 1024:.0f} KiB @ {plan.memory_small / MB:g} MB",
        ratios(big, little),
        "≤ 1.25 (flat)",
        lambda ratio: ratio <= 1.25,
    )


# --- row 7: concurrency ---------------------------------------------------------------------


async def one_ours(client: AsyncSomiaClient) -> bool:
    last: Any = None
    stream = await client.sessions.create_session(AGENT, input_data="hello bench", stream=True)
    async with stream:
        async for event in stream:
            last = event
    return last is not None and last.event_type == "end"


async def one_baseline(http: httpx.AsyncClient, url: str) -> bool:
    headers = {
        "x-api-key": API_KEY,
        "Accept": "text/event-stream",
        "Idempotency-Key": str(uuid.uuid4()),  # the SDK sends one; the server's work is equal
    }
    last = ""
    async with http.stream("POST", url, json=STREAM_BODY, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                last = line[5:].strip()
    return last == "true"


async def gathered(count: int, one: Callable[[], Awaitable[bool]], failures: list[str]) -> float:
    """Wall seconds to run `count` streams at once; failures are appended to `failures`."""
    start = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    elapsed = time.perf_counter() - start
    for result in results:
        if result is not True:
            failures.append(repr(result)[:200])
    return elapsed


def _limits(plan: Plan) -> httpx.Limits:
    return httpx.Limits(
        max_connections=plan.concurrent + 100, max_keepalive_connections=plan.concurrent + 100
    )


async def _concurrent_rounds(
    plan: Plan, server: str
) -> tuple[list[float], list[float], list[str], list[str]]:
    timeout = httpx.Timeout(120.0, connect=60.0)
    failures_ours: list[str] = []
    failures_base: list[str] = []
    async with (
        httpx.AsyncClient(limits=_limits(plan), timeout=timeout) as sdk_http,
        httpx.AsyncClient(limits=_limits(plan), timeout=timeout) as http,
    ):
        client = AsyncSomiaClient(base_url=server, api_key=API_KEY, http_client=sdk_http)

        async def ours() -> float:
            return await gathered(plan.concurrent, lambda: one_ours(client), failures_ours)

        async def baseline() -> float:
            return await gathered(
                plan.concurrent, lambda: one_baseline(http, server + PATH), failures_base
            )

        warm = plan.concurrent_warmup  # not timed; their failures count
        await gathered(warm, lambda: one_ours(client), failures_ours)
        await gathered(warm, lambda: one_baseline(http, server + PATH), failures_base)
        mine, theirs = await alternate_async(plan.concurrent_rounds, ours, baseline)
    return mine, theirs, failures_ours, failures_base


def row_concurrent(plan: Plan) -> Row:
    with fake_server() as server:
        mine, theirs, failures_ours, failures_base = asyncio.run(_concurrent_rounds(plan, server))
    total = plan.concurrent * plan.concurrent_rounds + plan.concurrent_warmup
    note = ""
    if failures_ours:
        note = f"{len(failures_ours)} of ours failed, e.g. {failures_ours[0]}"
    if failures_base:
        note += f" (baseline: {len(failures_base)} failed, e.g. {failures_base[0]})"
    return Row(
        "7",
        f"{plan.concurrent} concurrent streams, one AsyncSomiaClient vs raw httpx.AsyncClient + "
        "aiter_lines, fake server (wall time)",
        f"{median(mine):.2f} s, {total - len(failures_ours)}/{total} ok",
        f"{median(theirs):.2f} s, {total - len(failures_base)}/{total} ok",
        ratios(mine, theirs),
        "all complete",
        lambda ratio: not failures_ours,
        note,
    )
