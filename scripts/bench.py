"""make bench: what the SDK costs, measured against raw httpx and httpx-sse, in one table.

Every row is a ratio against a baseline measured in the same process and run, the sides
taking turns to go first from round to round (`rounds` in scripts/_bench_measure.py): the
median of the rounds, with their min and max, and a target for that median. Client CPU is
`time.process_time()`; the loopback servers run in their own processes
(scripts/_bench_server.py, and `python -m somia.testing` for row 9), so their CPU is never
the client's. The rows are those docs/performance.md reports: scripts/_bench_rows.py (1 a
JSON call, 3 a stream's events, 5 a long stream's memory, 6 import time),
scripts/_bench_trace_rows.py (8: tracing off and on) and scripts/_bench_batch.py (9: the
batch runner against a plain asyncio loop).

    python -m scripts.bench                  # the full run (a few minutes on 2 cores)
    python -m scripts.bench --smoke          # tiny sizes, one round, no targets
    python -m scripts.bench --only 1,3       # some rows only
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from scripts._bench_batch import rows_batch
from scripts._bench_measure import MB, ROOT, Plan, Row, bench_server, spread
from scripts._bench_rows import row_import, row_memory, rows_json, rows_stream
from scripts._bench_trace_rows import rows_tracing

FULL = Plan(
    rounds=31,
    json_calls=100,
    stream_events=5000,
    memory_bytes=100 * MB,
    memory_rounds=3,
    import_rounds=31,
    batch_rows=100_000,
)
SMOKE = Plan(
    rounds=1,
    json_calls=20,
    stream_events=200,
    memory_bytes=MB,
    memory_rounds=1,
    import_rounds=1,
    batch_rows=200,
)


def failed_row(key: str, exc: Exception) -> Row:
    """The line of a row whose measurement raised: the table still shows every row."""
    what = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")[:300]
    return Row(key, f"failed: {what}", "-", "-", [math.nan], "-", lambda ratio: False, failed=True)


# --- the table ------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("somia", "httpx", "httpx2", "httpx-sse")
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
        timed("1", lambda: rows_json(plan, server))
        timed("3", lambda: rows_stream(plan, server))
        timed("5", lambda: [row_memory(plan, server)])
    timed("6", lambda: [row_import(plan)])
    timed("9", lambda: rows_batch(plan))
    with bench_server() as server:  # last: row 8b sets (then removes) a tracer provider
        timed("8", lambda: rows_tracing(plan, server))
    return rows


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds, so that every server process is terminated


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description="Measure the SDK against httpx and httpx-sse.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round, no targets")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results.md")
    parser.add_argument("--only", default="", help="comma-separated rows, e.g. 1,3")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    only = {key.strip() for key in args.only.split(",") if key.strip()}
    started = time.perf_counter()
    rows = run_rows(plan, only)
    mode = "smoke run (tiny sizes, one round; no targets)" if args.smoke else "full run"
    text = (
        f"{machine()}\n\n{render(rows, args.smoke)}\n\n"
        f"{mode}, {time.perf_counter() - started:.0f} s; ratios are ours / baseline "
        "(rows 5 and 9b: large / small)\n"
    )
    print(text)
    args.output.write_text(text)
    return 1 if any(row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
