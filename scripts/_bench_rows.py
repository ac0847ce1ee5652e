"""Rows 1, 2 and 6 of scripts/bench.py, the ones that consume no HTTP stream: a JSON
call (sync and async), the SSE decoder's throughput, and the import time.
"""

from __future__ import annotations

import asyncio
import codecs
import gc
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import cast

import _bench_server  # scripts/, on sys.path when bench.py runs as a script
import httpx
from _bench_measure import (
    AGENT,
    API_KEY,
    JSON_BODY,
    MB,
    PATH,
    Plan,
    Row,
    alternate,
    alternate_async,
    cpu_of,
    cpu_of_async,
    median,
    micros,
    ratios,
    spread,
)
from httpx_sse import EventSource

from somia import AsyncSomiaClient, SomiaClient
from somia._sse import SSEDecoder

# --- row 1: a JSON call ---------------------------------------------------------------------


def row_json_sync(plan: Plan, server: str) -> Row:
    base_url = f"{server}/json"
    headers = {"x-api-key": API_KEY}
    with SomiaClient(base_url=base_url, api_key=API_KEY) as client, httpx.Client() as http:

        def ours() -> None:
            for _ in range(plan.json_calls):
                client.sessions.create_session(AGENT, input_data="hello")

        def baseline() -> None:
            for _ in range(plan.json_calls):
                http.post(base_url + PATH, json=JSON_BODY, headers=headers).json()

        ours()
        baseline()
        mine, theirs = alternate(plan.rounds, lambda: cpu_of(ours), lambda: cpu_of(baseline))
    return _json_row("1a", "JSON call, sync: client CPU per call", plan, mine, theirs)


def row_json_async(plan: Plan, server: str) -> Row:
    base_url = f"{server}/json"
    headers = {"x-api-key": API_KEY}

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

    mine, theirs = asyncio.run(run())
    return _json_row("1b", "JSON call, async: client CPU per call", plan, mine, theirs)


def _json_row(key: str, name: str, plan: Plan, mine: list[float], theirs: list[float]) -> Row:
    return Row(
        key,
        name + " (SomiaClient vs httpx post + .json())",
        micros(median(mine) / plan.json_calls),
        micros(median(theirs) / plan.json_calls),
        ratios(mine, theirs),
        "≤ 1.05",
        lambda ratio: ratio <= 1.05,
    )


# --- row 2: the SSE decoder -----------------------------------------------------------------


def token_stream(total: int, rng: random.Random) -> bytes:
    """At least `total` bytes of SSE chunk events with token-sized messages."""
    events = [_bench_server.event_bytes(rng.randint(1, 48), seed) for seed in range(256)]
    block = b"".join(events)
    return block * (total // len(block) + 1)


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
    """The part of an httpx.Response that httpx-sse reads: headers and `iter_text()`,
    which decodes like httpx's (an incremental UTF-8 decoder, errors replaced, empty
    strings skipped)."""

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


def same_events(chunks: list[bytes]) -> bool:
    """Both decoders find the same events (type and data) in `chunks`."""
    decoder = SSEDecoder()
    ours = [(event.event, event.data) for chunk in chunks for event in decoder.feed(chunk)]
    source = EventSource(cast(httpx.Response, _ChunkedBody(chunks)))
    return ours == [(event.event, event.data) for event in source.iter_sse()]


def row_decoder(plan: Plan) -> Row:
    rng = random.Random(20240607)
    chunks = random_chunks(token_stream(plan.decoder_bytes, rng), rng)
    size = sum(len(chunk) for chunk in chunks)
    sample = random_chunks(b"".join(chunks[:200]), rng)
    if not same_events(sample):
        raise RuntimeError("the decoders disagree on the sample: the comparison is void")
    counts: list[int] = []

    def timed(decode: Callable[[list[bytes]], int]) -> float:
        gc.collect()
        start = time.process_time()
        counts.append(decode(chunks))
        return time.process_time() - start

    mine, theirs = alternate(
        plan.decoder_rounds, lambda: timed(decode_ours), lambda: timed(decode_httpx_sse)
    )
    if len(set(counts)) != 1:
        raise RuntimeError(f"the decoders found different numbers of events: {set(counts)}")
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


# --- row 6: import time ---------------------------------------------------------------------


def import_seconds(module: str, env: dict[str, str], cpu: list[float]) -> float:
    """Wall time of `import module` in a fresh interpreter, measured inside it; its CPU
    time is appended to `cpu`."""
    code = (
        "import time\n"
        "start, cpu = time.perf_counter(), time.process_time()\n"
        f"import {module}\n"
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
            import_seconds("somia", env, [])
            import_seconds("httpx", env, [])
        mine, theirs = alternate(
            plan.import_rounds,
            lambda: import_seconds("somia", env, cpu_ours),
            lambda: import_seconds("httpx", env, cpu_httpx),
        )
    return Row(
        "6",
        "`import somia` vs `import httpx`, wall time in a fresh interpreter (bytecode cached)",
        f"{median(mine) * 1e3:.1f} ms (CPU {median(cpu_ours) * 1e3:.1f} ms)",
        f"{median(theirs) * 1e3:.1f} ms (CPU {median(cpu_httpx) * 1e3:.1f} ms)",
        ratios(mine, theirs),
        "≤ 1.3x",
        lambda ratio: ratio <= 1.3,
        f"CPU-time ratio of the same imports {spread(ratios(cpu_ours, cpu_httpx))}",
    )
