"""Rows 1, 3, 5 and 6 of `python -m scripts.bench`, each a function of the run's sizes (and a
server's URL): 1 a JSON call (sync, async, sync through a given httpx2 client); 3 client CPU
per streamed event; 5 a long stream's peak memory; 6 import time. The baseline is raw httpx
(raw httpx2 for 1c; with httpx-sse and json.loads for streams), or for row 5 the SDK on a
stream a tenth as long.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import EventSource

from scripts._bench_measure import (
    AGENT,
    API_KEY,
    JSON_BODY,
    MB,
    PATH,
    STREAM_BODY,
    Plan,
    Row,
    cpu,
    median,
    micros,
    ratios,
    rounds,
    spread,
)
from somia import AsyncSomiaClient, SomiaClient

STREAM_SIZE = 40  # characters per event's message
BATCHED_EVENTS = 256  # events per HTTP chunk in row 3b

# --- 1: a JSON call -------------------------------------------------------------------------


def _json_row(
    key: str, kind: str, plan: Plan, ours: Callable[[], object], raw: Callable[[], object]
) -> Row:
    """Row `key`: `ours` against `raw`, each a block of `plan.json_calls` calls, warmed first."""
    ours()
    raw()
    got = rounds(plan.rounds, {"ours": lambda: cpu(ours), "raw": lambda: cpu(raw)})
    # A caller's client gets the SDK's own headers with each request (docs/performance.md).
    baseline, target = ("httpx2", 1.20) if key == "1c" else ("httpx", 1.05)
    return Row(
        key,
        f"JSON call, {kind}: client CPU per call (SomiaClient vs {baseline} post + .json())",
        micros(median(got["ours"]) / plan.json_calls),
        micros(median(got["raw"]) / plan.json_calls),
        ratios(got["ours"], got["raw"]),
        f"≤ {target:.2f}",
        lambda ratio: ratio <= target,
    )


def _sync_json_row(key: str, kind: str, plan: Plan, base_url: str, lib: Any) -> Row:
    """A sync row: the SomiaClient (sending through a client of `lib` given to it, or its own
    for httpx) against that library's raw client."""
    calls, headers = range(plan.json_calls), {"x-api-key": API_KEY}
    given = None if lib is httpx else lib.Client()
    with (
        SomiaClient(base_url=base_url, api_key=API_KEY, http_client=given) as client,
        lib.Client() as http,
    ):
        row = _json_row(
            key,
            kind,
            plan,
            lambda: [client.sessions.create_session(AGENT, input_data="hello") for _ in calls],
            lambda: [
                http.post(base_url + PATH, json=JSON_BODY, headers=headers).json() for _ in calls
            ],
        )
    if given is not None:
        given.close()
    return row


def rows_json(plan: Plan, server: str) -> list[Row]:
    import httpx2  # the dev group's: row 1c

    base_url, calls = f"{server}/json", range(plan.json_calls)
    headers = {"x-api-key": API_KEY}
    sync = _sync_json_row("1a", "sync", plan, base_url, httpx)
    # One event loop for every block, as the client is bound to the loop it first ran in.
    with asyncio.Runner() as runner:
        aclient = AsyncSomiaClient(base_url=base_url, api_key=API_KEY)
        ahttp = httpx.AsyncClient()

        async def ours() -> None:
            for _ in calls:
                await aclient.sessions.create_session(AGENT, input_data="hello")

        async def raw() -> None:
            for _ in calls:
                (await ahttp.post(base_url + PATH, json=JSON_BODY, headers=headers)).json()

        run = runner.run
        asynchronous = _json_row("1b", "async", plan, lambda: run(ours()), lambda: run(raw()))
        run(aclient.aclose())
        run(ahttp.aclose())
    given = _sync_json_row("1c", "sync, through a given httpx2.Client", plan, base_url, httpx2)
    return [sync, asynchronous, given]


# --- 3, 5: consuming a stream ----------------------------------------------------------------


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
    base_url = f"{server}/stream/{plan.stream_events}/{STREAM_SIZE}/{per_chunk}"
    counts: set[int] = set()
    with SomiaClient(base_url=base_url, api_key=API_KEY) as client, httpx.Client() as http:
        consume_ours(client)
        consume_baseline(http, base_url + PATH)
        got = rounds(
            plan.rounds,
            {
                "ours": lambda: cpu(lambda: counts.add(consume_ours(client))),
                "raw": lambda: cpu(lambda: counts.add(consume_baseline(http, base_url + PATH))),
            },
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
        f"{framing}; SomiaClient vs httpx + httpx-sse + json.loads)",
        micros(median(got["ours"]) / events),
        micros(median(got["raw"]) / events),
        ratios(got["ours"], got["raw"]),
        f"≤ {limit}",
        lambda ratio: ratio <= limit,
    )


def rows_stream(plan: Plan, server: str) -> list[Row]:
    return [row_stream_cpu(plan, server, per_chunk=n) for n in (1, BATCHED_EVENTS)]


def row_memory(plan: Plan, server: str) -> Row:
    """Peak memory reading a long stream against one a tenth as long: flat if the SDK keeps
    only the unfinished line and the current event."""
    size = 4000  # characters per message: events of about 4 KB keep tracemalloc's cost low
    events = plan.memory_bytes // (size + 80)

    def peak_bytes(client: SomiaClient) -> float:
        """Peak traced Python memory above what was held before, consuming one stream."""
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        consume_ours(client)
        return float(tracemalloc.get_traced_memory()[1] - before)

    url = f"{server}/stream/{{}}/{size}/1"
    tracemalloc.start()
    try:
        with (
            SomiaClient(base_url=url.format(events // 10), api_key=API_KEY) as small,
            SomiaClient(base_url=url.format(events), api_key=API_KEY) as large,
        ):
            consume_ours(small)
            got = rounds(
                plan.memory_rounds,
                {"large": lambda: peak_bytes(large), "small": lambda: peak_bytes(small)},
            )
    finally:
        tracemalloc.stop()
    large_mb = plan.memory_bytes / MB
    return Row(
        "5",
        f"peak Python memory (tracemalloc) consuming a {large_mb:g} MB stream of 4 KB events "
        f"vs a {large_mb / 10:g} MB one (SomiaClient at both sizes)",
        f"{median(got['large']) / 1024:.0f} KiB @ {large_mb:g} MB",
        f"{median(got['small']) / 1024:.0f} KiB @ {large_mb / 10:g} MB",
        ratios(got["large"], got["small"]),
        "≤ 1.25 (flat)",
        lambda ratio: ratio <= 1.25,
    )


# --- 6: import time -------------------------------------------------------------------------


OUR_IMPORT = "from somia import SomiaClient"


def import_seconds(statement: str, env: dict[str, str], cpu_times: list[float]) -> float:
    """Wall time of the import `statement` in a fresh interpreter, measured inside it; its
    CPU time is appended to `cpu_times`."""
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
    cpu_times.append(used)
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
        for _ in range(2):
            import_seconds(OUR_IMPORT, env, [])
            import_seconds("import httpx", env, [])
        got = rounds(
            plan.import_rounds,
            {
                "ours": lambda: import_seconds(OUR_IMPORT, env, cpu_ours),
                "raw": lambda: import_seconds("import httpx", env, cpu_httpx),
            },
        )
    return Row(
        "6",
        f"`{OUR_IMPORT}` vs `import httpx`, wall time in a fresh interpreter (bytecode cached)",
        f"{median(got['ours']) * 1e3:.1f} ms (CPU {median(cpu_ours) * 1e3:.1f} ms)",
        f"{median(got['raw']) * 1e3:.1f} ms (CPU {median(cpu_httpx) * 1e3:.1f} ms)",
        ratios(got["ours"], got["raw"]),
        "≤ 1.10x",
        lambda ratio: ratio <= 1.10,
        f"CPU-time ratio of the same imports {spread(ratios(cpu_ours, cpu_httpx))}",
    )
