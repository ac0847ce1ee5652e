"""Row 9 of `python -m scripts.bench`: `somia.batch` against a plain asyncio loop over the same
one-turn rows, at the same concurrency, against the fake server in its own process with a
fixed per-turn latency. Each run is a process of its own (this module, run with -m), for
its rows per second and its peak memory (ru_maxrss).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts._bench_measure import API_KEY, MB, ROOT, Plan, Row, serving

CONCURRENCY = 32
LATENCY = 0.1  # seconds per turn at the fake server


async def _plain(url: str, rows: int) -> None:
    """What a user writes without the runner: workers over the rows, one client."""
    from somia import AsyncSomiaClient

    async with AsyncSomiaClient(base_url=url, api_key=API_KEY, retries=0) as client:
        todo = iter(range(rows))

        async def worker() -> None:
            for i in todo:
                stream = await client.sessions.create_session(1, input_data=f"in {i}", stream=True)
                async with stream:
                    await stream.final_response()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def _child(mode: str, rows: int, url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder, "in.jsonl")
        with source.open("w") as file:
            file.writelines(f'{{"id": {i}, "input_data": "in {i}"}}\n' for i in range(rows))
        started = time.perf_counter()
        if mode == "plain":
            asyncio.run(_plain(url, rows))
        else:
            from somia.batch import run_batch

            options = {"base_url": url, "api_key": API_KEY}
            summary = run_batch(
                source,
                Path(folder, "out.jsonl"),
                agent_id=1,
                client_options=options,
                concurrency=CONCURRENCY,
            )
            assert summary.ok == rows, summary.describe()
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"rows_per_second": rows / seconds, "peak": peak}


def _measure(mode: str, rows: int, url: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "scripts._bench_batch", mode, str(rows), url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def rows_batch(plan: Plan) -> list[Row]:
    from somia.batch._rows import INDEX_BYTES_PER_ROW

    command = [sys.executable, "-m", "somia.testing", "--port", "0", "--api-key", API_KEY]
    command += ["--log-level", "WARNING", "--turn-latency", str(LATENCY), "--max-requests", "0"]
    many, few = plan.batch_rows, plan.batch_rows // 10
    with serving(command) as url:
        ours = _measure("batch", many, url)
        plain = _measure("plain", many, url)
        small = _measure("batch", few, url)
    ratio = ours["rows_per_second"] / plain["rows_per_second"]
    allowance = (many - few) * INDEX_BYTES_PER_ROW
    grown = ours["peak"] - small["peak"]
    setting = f"{many:,} one-turn rows, concurrency {CONCURRENCY}, {LATENCY * 1e3:.0f} ms a turn"
    return [
        Row(
            "9a",
            f"somia batch vs a plain asyncio loop, {setting} (rows/s)",
            f"{ours['rows_per_second']:.0f} rows/s",
            f"{plain['rows_per_second']:.0f} rows/s",
            [ratio],
            "≥ 0.9x",
            lambda r: r >= 0.9,
        ),
        Row(
            "9b",
            f"somia batch peak memory, {many:,} rows vs {few:,} (RSS)",
            f"{ours['peak'] / MB:.1f} MB",
            f"{small['peak'] / MB:.1f} MB",
            [ours["peak"] / small["peak"]],
            f"growth ≤ {allowance / MB:.2f} MB (the index)",
            lambda r: grown <= allowance,
            f"grew {grown / MB:.2f} MB",
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
