"""make bench: what the SDK costs, measured against raw httpx and httpx-sse, in one table.

Every row is a ratio against a baseline measured alternately in the same process and run
(ours first in even rounds, the baseline first in odd ones): the median of the rounds, with
their min and max. Client CPU is `time.process_time()`; the loopback servers run in their
own processes (scripts/_bench_server.py, and `python -m somia.testing` for row 7), so their
CPU is never the client's.

    python scripts/bench.py                  # the full run (a few minutes on 2 cores)
    python scripts/bench.py --smoke          # tiny sizes, one round, no targets
    python scripts/bench.py --only 2,3       # some rows only
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import gc
import json
import math
import os
import platform
import random
import re
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import _bench_server  # scripts/, on sys.path when this file runs as a script
import httpx
from httpx_sse import EventSource

from somia import AsyncSomiaClient, SomiaClient
from somia._sse import SSEDecoder

ROOT = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = ROOT / "scripts" / "_bench_server.py"
API_KEY = "sk-bench-0123456789"
AGENT = 1
PATH = f"/api/v1/external/agent/{AGENT}/session"
MB = 1_000_000
# The body the SDK sends for create_session(1, input_data="hello"), byte for byte.
JSON_BODY: dict[str, Any] = {
    "input_data": "hello",
    "stream": False,
    "pipeline_version": "production",
    "trace_enabled": False,
    "test": False,
}
STREAM_BODY: dict[str, Any] = {**JSON_BODY, "stream": True}
STARTUP_SECONDS = 30.0
BATCHED_EVENTS = 256  # events per HTTP chunk in row 3b


@dataclass(frozen=True)
class Plan:
    """Sizes of one run."""

    rounds: int  # rows 1 and 3
    json_calls: int  # calls per block (row 1)
    decoder_bytes: int  # row 2
    decoder_rounds: int
    stream_events: int  # events per stream (row 3)
    stream_size: int  # characters per event's message (rows 3 and 4)
    streams: int  # streams per block (row 3)
    latency_events: int  # row 4
    latency_rounds: int
    pace_us: int  # row 4
    memory_small: int  # bytes (row 5)
    memory_large: int
    memory_rounds: int
    import_rounds: int  # row 6
    import_warmups: int
    concurrent: int  # row 7
    concurrent_rounds: int
    concurrent_warmup: int


FULL = Plan(
    rounds=31,
    json_calls=100,
    decoder_bytes=50 * MB,
    decoder_rounds=9,
    stream_events=5000,
    stream_size=40,
    streams=1,
    latency_events=400,
    latency_rounds=5,
    pace_us=1000,
    memory_small=10 * MB,
    memory_large=100 * MB,
    memory_rounds=3,
    import_rounds=31,
    import_warmups=2,
    concurrent=1000,
    concurrent_rounds=3,
    concurrent_warmup=50,
)
SMOKE = Plan(
    rounds=1,
    json_calls=20,
    decoder_bytes=MB // 2,
    decoder_rounds=1,
    stream_events=200,
    stream_size=40,
    streams=1,
    latency_events=20,
    latency_rounds=1,
    pace_us=1000,
    memory_small=MB // 10,
    memory_large=MB,
    memory_rounds=1,
    import_rounds=1,
    import_warmups=1,
    concurrent=20,
    concurrent_rounds=1,
    concurrent_warmup=0,
)


@dataclass
class Row:
    """One line of the table. `ratios` holds one ratio per round."""

    key: str
    name: str
    ours: str
    baseline: str
    ratios: list[float]
    target: str
    check: Callable[[float], bool] | None
    note: str = ""
    failed: bool = False

    def met(self, smoke: bool) -> str:
        if self.failed:
            return "**error**"
        if self.check is None:
            return "n/a"
        if smoke:
            return "(smoke)"
        return "yes" if self.check(statistics.median(self.ratios)) else "**no**"


def failed_row(key: str, exc: Exception) -> Row:
    """The line of a row whose measurement raised: the table still shows every row."""
    what = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")[:300]
    return Row(key, f"failed: {what}", "-", "-", [math.nan], "-", None, failed=True)


# --- measuring ------------------------------------------------------------------------------


def alternate(
    rounds: int, ours: Callable[[], float], baseline: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run both `rounds` times, alternating which goes first; their results per round."""
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            mine.append(ours())
            theirs.append(baseline())
        else:
            theirs.append(baseline())
            mine.append(ours())
    return mine, theirs


async def alternate_async(
    rounds: int,
    ours: Callable[[], Awaitable[float]],
    baseline: Callable[[], Awaitable[float]],
) -> tuple[list[float], list[float]]:
    """`alternate` for coroutines, in one event loop."""
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            mine.append(await ours())
            theirs.append(await baseline())
        else:
            theirs.append(await baseline())
            mine.append(await ours())
    return mine, theirs


def cpu_of(work: Callable[[], object]) -> float:
    """Client CPU seconds of `work()` (this process, every thread)."""
    gc.collect()
    start = time.process_time()
    work()
    return time.process_time() - start


async def cpu_of_async(work: Callable[[], Awaitable[object]]) -> float:
    """Client CPU seconds of `await work()`."""
    gc.collect()
    start = time.process_time()
    await work()
    return time.process_time() - start


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    return [a / b if b else math.inf for a, b in zip(numerators, denominators, strict=True)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    """`median [min, max]`."""
    return f"{median(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


def micros(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


# --- server processes -----------------------------------------------------------------------


def _read_url(proc: subprocess.Popen[bytes], errors: Any) -> str:
    """The URL a server process announces on its first line of output, within a deadline."""
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=min(left, 0.5)):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline().decode(errors="replace")
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                return found.group(0)
            if not line:
                break
    errors.seek(0)
    raise RuntimeError(f"server did not start: {errors.read().decode(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def serving(command: list[str]) -> Iterator[str]:
    """Run a loopback server process; yield its base URL; always terminate it."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, cwd=ROOT
        )
        try:
            yield _read_url(proc, errors)
        finally:
            _stop(proc)


def bench_server() -> contextlib.AbstractContextManager[str]:
    return serving([sys.executable, str(SERVER_SCRIPT), "--port", "0", "--max-seconds", "900"])


def fake_server() -> contextlib.AbstractContextManager[str]:
    options = ["--port", "0", "--api-key", API_KEY, "--log-level", "WARNING"]
    return serving([sys.executable, "-m", "somia.testing", *options])


def stream_url(server: str, events: int, size: int, *, pace_us: int = 0, per_chunk: int = 1) -> str:
    """The base URL of a stream scenario of scripts/_bench_server.py."""
    return f"{server}/stream/{events}/{size}/{pace_us}/{per_chunk}"


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


# --- the table ------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("somia", "httpx", "httpx-sse")
    )
    return (
        f"Machine: {model}, {os.cpu_count()} cores; Python {platform.python_version()} "
        f"({platform.system()}); {versions}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def render(rows: list[Row], smoke: bool) -> str:
    lines = [
        "| row | measure | ours | baseline | ratio median [min, max] | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.key} | {row.name} | {row.ours} | {row.baseline} | {spread(row.ratios)} | "
            f"{row.target} | {row.met(smoke)} |"
        )
    notes = [f"- row {row.key}: {row.note}" for row in rows if row.note]
    return "\n".join([*lines, *notes])


def run_rows(plan: Plan, only: set[str]) -> list[Row]:
    """Every selected row, each printed to stderr with its duration as it finishes."""
    rows: list[Row] = []

    def timed(key: str, make: Callable[[], list[Row]]) -> None:
        if only and key not in only:
            return
        start = time.perf_counter()
        try:
            made = make()
        except Exception as exc:  # reported in the table; the other rows still run
            traceback.print_exc()
            made = [failed_row(key, exc)]
        print(f"row {key}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        rows.extend(made)

    with bench_server() as server:
        timed("1", lambda: [row_json_sync(plan, server), row_json_async(plan, server)])
        timed("2", lambda: [row_decoder(plan)])
        timed(
            "3",
            lambda: [
                row_stream_cpu(plan, server, per_chunk=1),
                row_stream_cpu(plan, server, per_chunk=BATCHED_EVENTS),
            ],
        )
        timed("4", lambda: [row_latency(plan, server)])
        timed("5", lambda: [row_memory(plan, server)])
    timed("6", lambda: [row_import(plan)])
    timed("7", lambda: [row_concurrent(plan)])
    return rows


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds, so that every server process is terminated


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description="Measure the SDK against httpx and httpx-sse.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round, no targets")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results.md")
    parser.add_argument("--only", default="", help="comma-separated rows, e.g. 2,3")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    only = {key.strip() for key in args.only.split(",") if key.strip()}
    started = time.perf_counter()
    rows = run_rows(plan, only)
    mode = "smoke run (tiny sizes, one round; no targets)" if args.smoke else "full run"
    text = (
        f"{machine()}\n\n{render(rows, args.smoke)}\n\n"
        f"{mode}, {time.perf_counter() - started:.0f} s; ratios are ours / baseline "
        "(row 2: throughput, baseline time / ours; row 5: large / small)\n"
    )
    print(text)
    args.output.write_text(text)
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
