"""Rows 1 to 7 of scripts/bench.py, each a function of the run's sizes (and a server's URL):
1 a JSON call (sync, async, sync through a given httpx2 client); 2 the SSE decoder; 3 client
CPU per streamed event; 4 latency; 5 memory; 6 import time; 7 concurrent streams (the scale
row). The baseline is raw httpx (raw httpx2 for 1c; with httpx-sse and json.loads for
streams), or for row 5 the SDK on a smaller stream.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import gc
import json
import math
import operator
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

import _bench_server
import httpx
from _bench_measure import (
    AGENT,
    API_KEY,
    JSON_BODY,
    MB,
    PATH,
    STREAM_BODY,
    Plan,
    Row,
    alternate,
    alternate_async,
    cpu_of,
    cpu_of_async,
    fake_server,
    median,
    micros,
    ratios,
    spread,
    stream_url,
)
from httpx_sse import EventSource

from somia import AsyncSomiaClient, SomiaClient
from somia._sse import SSEDecoder

SDK_VS_RAW = "SomiaClient vs httpx + httpx-sse + json.loads"
STREAM_HEADERS = {"x-api-key": API_KEY, "Accept": "text/event-stream"}

# --- 1: a JSON call -------------------------------------------------------------------------


def _sync_json(plan: Plan, base_url: str, lib: Any) -> tuple[list[float], list[float]]:
    """CPU per round of sync JSON calls: the SomiaClient (sending through an HTTP client of
    `lib` given to it, or its own for httpx) against that library's raw client."""
    headers = {"x-api-key": API_KEY}
    given = None if lib is httpx else lib.Client()
    with (
        SomiaClient(base_url=base_url, api_key=API_KEY, http_client=given) as client,
        lib.Client() as http,
    ):

        def ours() -> None:
            for _ in range(plan.json_calls):
                client.sessions.create_session(AGENT, input_data="hello")

        def baseline() -> None:
            for _ in range(plan.json_calls):
                http.post(base_url + PATH, json=JSON_BODY, headers=headers).json()

        ours()
        baseline()
        measured = alternate(plan.rounds, lambda: cpu_of(ours), lambda: cpu_of(baseline))
    if given is not None:
        given.close()
    return measured


def rows_json(plan: Plan, server: str) -> list[Row]:
    import httpx2  # the dev group's: row 1c

    base_url = f"{server}/json"
    headers = {"x-api-key": API_KEY}
    sync = _sync_json(plan, base_url, httpx)

    async def run() -> tuple[list[float], list[float]]:
        async with (
            AsyncSomiaClient(base_url=base_url, api_key=API_KEY) as client,
            httpx.AsyncClient() as http,
        ):

            async def ours() -> None:
                for _ in range(plan.json_calls):
                    await client.sessions.create_session(AGENT, input_data="hello")

            async def baseline() -> None:
                for _ in range(plan.json_calls):
                    (await http.post(base_url + PATH, json=JSON_BODY, headers=headers)).json()

            await ours()
            await baseline()
            return await alternate_async(
                plan.rounds, lambda: cpu_of_async(ours), lambda: cpu_of_async(baseline)
            )

    rows = []
    # A caller's client gets the SDK's own headers with each request (see docs/performance.md).
    given_httpx2 = _sync_json(plan, base_url, httpx2)
    measured = (
        ("1a", "sync", "httpx", sync, 1.05),
        ("1b", "async", "httpx", asyncio.run(run()), 1.05),
        ("1c", "sync, through a given httpx2.Client", "httpx2", given_httpx2, 1.20),
    )
    for key, kind, raw, (mine, theirs), target in measured:
        rows.append(
            Row(
                key,
                f"JSON call, {kind}: client CPU per call (SomiaClient vs {raw} post + .json())",
                micros(median(mine) / plan.json_calls),
                micros(median(theirs) / plan.json_calls),
                ratios(mine, theirs),
                f"≤ {target:.2f}",
                functools.partial(operator.ge, target),  # target >= ratio
            )
        )
    return rows


# --- 2: the SSE decoder ---------------------------------------------------------------------


def random_chunks(data: bytes, rng: random.Random) -> list[bytes]:
    """`data` cut into chunks of 1 B to 64 KiB, their sizes log-uniformly distributed."""
    chunks: list[bytes] = []
    position = 0
    top = math.log(64 * 1024 + 1)
    while position < len(data):
        size = int(math.exp(rng.uniform(0.0, top)))
        chunks.append(data[position : position + size])
        position += size
    return chunks


class _ChunkedBody:
    """What httpx-sse reads of an httpx.Response: headers and `iter_text()`, decoding as
    httpx does (an incremental UTF-8 decoder, errors replaced, empty strings skipped)."""

    headers = httpx.Headers({"content-type": "text/event-stream"})

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def iter_text(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in self._chunks:
            text = decoder.decode(chunk)
            if text:
                yield text
        text = decoder.decode(b"", True)
        if text:
            yield text


def decode_ours(chunks: list[bytes]) -> int:
    """Events our decoder finds in `chunks`, each taken in turn as a user would."""
    count = 0
    decoder = SSEDecoder()
    for chunk in chunks:
        for _ in decoder.feed(chunk):
            count += 1
    decoder.close()
    return count


def decode_httpx_sse(chunks: list[bytes]) -> int:
    """Events httpx-sse finds in `chunks`, through `EventSource.iter_sse` as on a response."""
    count = 0
    for _ in EventSource(cast(httpx.Response, _ChunkedBody(chunks))).iter_sse():
        count += 1
    return count


def row_decoder(plan: Plan) -> Row:
    rng = random.Random(20240607)
    events = [_bench_server.event_bytes(rng.randint(1, 48), seed) for seed in range(256)]
    block = b"".join(events)  # token-sized chunk events, repeated to the run's size
    chunks = random_chunks(block * (plan.decoder_bytes // len(block) + 1), rng)
    size = sum(len(chunk) for chunk in chunks)
    sample = random_chunks(b"".join(chunks[:200]), rng)
    decoder = SSEDecoder()
    ours = [(event.event, event.data) for chunk in sample for event in decoder.feed(chunk)]
    source = EventSource(cast(httpx.Response, _ChunkedBody(sample)))
    if ours != [(event.event, event.data) for event in source.iter_sse()]:
        raise RuntimeError("the decoders disagree on the sample: the comparison is void")
    counts: set[int] = set()

    def timed(decode: Callable[[list[bytes]], int]) -> float:
        gc.collect()
        start = time.process_time()
        counts.add(decode(chunks))
        return time.process_time() - start

    mine, theirs = alternate(
        plan.decoder_rounds, lambda: timed(decode_ours), lambda: timed(decode_httpx_sse)
    )
    if len(counts) != 1:
        raise RuntimeError(f"the decoders found different numbers of events: {counts}")
    return Row(
        "2",
        f"SSE decoder throughput, {size / MB:.0f} MB in {len(chunks)} random 1 B to 64 KiB chunks "
        "(SSEDecoder.feed vs httpx-sse iter_sse)",
        f"{size / MB / median(mine):.0f} MB/s",
        f"{size / MB / median(theirs):.0f} MB/s",
        ratios(theirs, mine),
        "≥ 2x",
        lambda ratio: ratio >= 2.0,
    )


# --- 3, 4, 5: consuming a stream ------------------------------------------------------------


def consume_ours(client: SomiaClient) -> int:
    count = 0
    with client.sessions.create_session(AGENT, input_data="hello", stream=True) as stream:
        for _ in stream:
            count += 1
    return count


def consume_baseline(http: httpx.Client, url: str) -> int:
    count = 0
    with http.stream("POST", url, json=STREAM_BODY, headers=STREAM_HEADERS) as response:
        for event in EventSource(response).iter_sse():
            json.loads(event.data)
            count += 1
    return count


def row_stream_cpu(plan: Plan, server: str, *, per_chunk: int) -> Row:
    base_url = stream_url(server, plan.stream_events, plan.stream_size, per_chunk=per_chunk)
    counts: set[int] = set()
    with SomiaClient(base_url=base_url, api_key=API_KEY) as client, httpx.Client() as http:
        consume_ours(client)
        consume_baseline(http, base_url + PATH)
        mine, theirs = alternate(
            plan.rounds,
            lambda: cpu_of(lambda: counts.add(consume_ours(client))),
            lambda: cpu_of(lambda: counts.add(consume_baseline(http, base_url + PATH))),
        )
    events = plan.stream_events + 1  # and the end event
    if counts != {events}:
        raise RuntimeError(f"streams delivered {counts} events, not {events}")
    framing = "one HTTP chunk per event" if per_chunk == 1 else f"{per_chunk} events per HTTP chunk"
    # Batched, the decoder's region-at-a-time work shows most: a tighter target.
    limit = 0.9 if per_chunk == 1 else 0.8
    return Row(
        "3a" if per_chunk == 1 else "3b",
        f"stream consumption, client CPU per event ({plan.stream_events}-event streams, "
        f"{framing}; {SDK_VS_RAW})",
        micros(median(mine) / events),
        micros(median(theirs) / events),
        ratios(mine, theirs),
        f"≤ {limit}",
        lambda ratio: ratio <= limit,
    )


def latencies_ours(client: SomiaClient) -> list[int]:
    out: list[int] = []
    with client.sessions.create_session(AGENT, input_data="hello", stream=True) as stream:
        for event in stream:
            if isinstance(event.data, dict):
                out.append(time.monotonic_ns() - event.data["t"])
    return out


def latencies_baseline(http: httpx.Client, url: str) -> list[int]:
    out: list[int] = []
    with http.stream("POST", url, json=STREAM_BODY, headers=STREAM_HEADERS) as response:
        for event in EventSource(response).iter_sse():
            data = json.loads(event.data)
            if isinstance(data, dict):
                out.append(time.monotonic_ns() - data["t"])
    return out


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def row_latency(plan: Plan, server: str) -> Row:
    base_url = stream_url(server, plan.latency_events, plan.stream_size, pace_us=plan.pace_us)
    mine: list[int] = []
    theirs: list[int] = []

    def kept_p50(sample: list[int], into: list[int]) -> float:
        into.extend(sample)
        return percentile(sample, 0.5)

    with SomiaClient(base_url=base_url, api_key=API_KEY) as client, httpx.Client() as http:
        a, b = alternate(
            plan.latency_rounds,
            lambda: kept_p50(latencies_ours(client), mine),
            lambda: kept_p50(latencies_baseline(http, base_url + PATH), theirs),
        )

    def cell(values: list[int]) -> str:
        p50, p99 = percentile(values, 0.5) / 1e3, percentile(values, 0.99) / 1e3
        return f"p50 {p50:.0f} µs, p99 {p99:.0f} µs"

    return Row(
        "4",
        f"server flush → user code, {plan.pace_us} µs apart (p50 ratio; {SDK_VS_RAW})",
        cell(mine),
        cell(theirs),
        ratios(a, b),
        "≤ 1.1",  # an event reaches the user no later than through raw httpx-sse, noise aside
        lambda ratio: ratio <= 1.1,
    )


def row_memory(plan: Plan, server: str) -> Row:
    size = 4000  # characters per message: events of about 4 KB keep tracemalloc's cost low
    event_bytes = size + 80

    def peak_bytes(client: SomiaClient) -> float:
        """Peak traced Python memory above what was held before, consuming one stream."""
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        consume_ours(client)
        return float(tracemalloc.get_traced_memory()[1] - before)

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
    large_mb, small_mb = plan.memory_large / MB, plan.memory_small / MB
    return Row(
        "5",
        f"peak Python memory (tracemalloc) consuming a {large_mb:g} MB stream of 4 KB events "
        f"vs a {small_mb:g} MB one (SomiaClient at both sizes)",
        f"{median(big) / 1024:.0f} KiB @ {large_mb:g} MB",
        f"{median(little) / 1024:.0f} KiB @ {small_mb:g} MB",
        ratios(big, little),
        "≤ 1.25 (flat)",
        lambda ratio: ratio <= 1.25,
    )


# --- 6: import time -------------------------------------------------------------------------


OUR_IMPORT = "from somia import SomiaClient"


def import_seconds(statement: str, env: dict[str, str], cpu: list[float]) -> float:
    """Wall time of the import `statement` in a fresh interpreter, measured inside it; its
    CPU time is appended to `cpu`."""
    code = (
        "import time\n"
        "start, cpu = time.perf_counter(), time.process_time()\n"
        f"{statement}\n"
        "print(time.perf_counter() - start, time.process_time() - cpu)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=60, env=env
    )
    wall, used = (float(value) for value in done.stdout.split())
    cpu.append(used)
    return wall


def row_import(plan: Plan) -> Row:
    cpu_ours: list[float] = []
    cpu_httpx: list[float] = []
    # Both imports read bytecode from one private cache (written by the warm-up runs), even
    # where PYTHONDONTWRITEBYTECODE is set: otherwise the editable somia would be compiled
    # on every run while the installed httpx is not.
    with tempfile.TemporaryDirectory(prefix="somia-bench-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for _ in range(plan.import_warmups):
            import_seconds(OUR_IMPORT, env, [])
            import_seconds("import httpx", env, [])
        mine, theirs = alternate(
            plan.import_rounds,
            lambda: import_seconds(OUR_IMPORT, env, cpu_ours),
            lambda: import_seconds("import httpx", env, cpu_httpx),
        )
    return Row(
        "6",
        f"`{OUR_IMPORT}` vs `import httpx`, wall time in a fresh interpreter (bytecode cached)",
        f"{median(mine) * 1e3:.1f} ms (CPU {median(cpu_ours) * 1e3:.1f} ms)",
        f"{median(theirs) * 1e3:.1f} ms (CPU {median(cpu_httpx) * 1e3:.1f} ms)",
        ratios(mine, theirs),
        "≤ 1.10x",
        lambda ratio: ratio <= 1.10,
        f"CPU-time ratio of the same imports {spread(ratios(cpu_ours, cpu_httpx))}",
    )


# --- 7: concurrent streams (the scale row) --------------------------------------------------


async def one_ours(client: AsyncSomiaClient) -> bool:
    last: Any = None
    stream = await client.sessions.create_session(AGENT, input_data="hello bench", stream=True)
    async with stream:
        async for event in stream:
            last = event
    return last is not None and last.event_type == "end"


async def one_baseline(http: httpx.AsyncClient, url: str) -> bool:
    # The SDK sends an Idempotency-Key: so does the baseline, so that the server's work is equal.
    headers = {**STREAM_HEADERS, "Idempotency-Key": str(uuid.uuid4())}
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
    failures += [repr(result)[:200] for result in results if result is not True]
    return elapsed


async def _concurrent_rounds(
    plan: Plan, server: str, failures_ours: list[str], failures_base: list[str]
) -> tuple[list[float], list[float]]:
    size = plan.concurrent + 100
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    timeout = httpx.Timeout(120.0, connect=60.0)
    async with (
        httpx.AsyncClient(limits=limits, timeout=timeout) as sdk_http,
        httpx.AsyncClient(limits=limits, timeout=timeout) as http,
    ):
        client = AsyncSomiaClient(base_url=server, api_key=API_KEY, http_client=sdk_http)

        def ours() -> Awaitable[bool]:
            return one_ours(client)

        def baseline() -> Awaitable[bool]:
            return one_baseline(http, server + PATH)

        warm = plan.concurrent_warmup  # not timed; their failures count
        await gathered(warm, ours, failures_ours)
        await gathered(warm, baseline, failures_base)
        return await alternate_async(
            plan.concurrent_rounds,
            lambda: gathered(plan.concurrent, ours, failures_ours),
            lambda: gathered(plan.concurrent, baseline, failures_base),
        )


def row_concurrent(plan: Plan) -> Row:
    failures_ours: list[str] = []
    failures_base: list[str] = []
    with fake_server() as server:
        mine, theirs = asyncio.run(_concurrent_rounds(plan, server, failures_ours, failures_base))
    total = plan.concurrent * plan.concurrent_rounds + plan.concurrent_warmup
    note = f"{len(failures_ours)} of ours failed, e.g. {failures_ours[0]}" if failures_ours else ""
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
