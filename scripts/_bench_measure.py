"""The measuring side of scripts/bench.py: a run's sizes, the table's rows, alternating
rounds and their ratios, and the loopback server processes.

Imported as a top-level module: scripts/ is on sys.path when `python scripts/bench.py` runs.
"""

from __future__ import annotations

import contextlib
import gc
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _server_process import first_line, stop

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-0123456789"
AGENT = 1
PATH = f"/api/v1/external/agent/{AGENT}/session"
MB = 1_000_000
# The body the SDK sends for create_session(1, input_data="hello"), byte for byte.
JSON_BODY: dict[str, Any] = {"input_data": "hello", "stream": False}
STREAM_BODY: dict[str, Any] = {**JSON_BODY, "stream": True}


@dataclass(frozen=True)
class Plan:
    """Sizes of one run."""

    rounds: int  # rows 1, 3 and 8
    json_calls: int  # calls per block (rows 1 and 8)
    decoder_bytes: int  # row 2
    decoder_rounds: int
    stream_events: int  # events per stream (row 3)
    stream_size: int  # characters per event's message (rows 3 and 4)
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
    batch_rows: int  # row 9


@dataclass
class Row:
    """One line of the table: `ratios` holds one ratio per round, `check` the target's test
    of their median."""

    key: str
    name: str
    ours: str
    baseline: str
    ratios: list[float]
    target: str
    check: Callable[[float], bool]
    note: str = ""
    failed: bool = False

    def met(self, smoke: bool) -> str:
        if self.failed:
            return "**error**"
        if smoke:
            return "(smoke)"
        return "yes" if self.check(statistics.median(self.ratios)) else "**no**"


def alternate(
    rounds: int, ours: Callable[[], float], baseline: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Run both `rounds` times, ours first in even rounds and the baseline first in odd ones;
    their results per round."""
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
    rounds: int, ours: Callable[[], Awaitable[float]], baseline: Callable[[], Awaitable[float]]
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


@contextlib.contextmanager
def serving(command: list[str]) -> Iterator[str]:
    """Run a loopback server process; yield the base URL it announces; always stop it."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, cwd=ROOT
        )
        try:
            found = re.search(r"http://127\.0\.0\.1:\d+", first_line(proc, 30.0) or "")
            if not found:
                errors.seek(0)
                text = errors.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"server did not start: {text}")
            yield found.group(0)
        finally:
            stop(proc)


def bench_server() -> contextlib.AbstractContextManager[str]:
    """scripts/_bench_server.py, in its own process so that its CPU is never the client's."""
    script = str(ROOT / "scripts" / "_bench_server.py")
    return serving([sys.executable, script, "--port", "0", "--max-seconds", "900"])


def fake_server() -> contextlib.AbstractContextManager[str]:
    """`python -m somia.testing`, in its own process."""
    options = ["--port", "0", "--api-key", API_KEY, "--log-level", "WARNING"]
    return serving([sys.executable, "-m", "somia.testing", *options])


def stream_url(server: str, events: int, size: int, *, pace_us: int = 0, per_chunk: int = 1) -> str:
    """The base URL of a stream scenario of scripts/_bench_server.py."""
    return f"{server}/stream/{events}/{size}/{pace_us}/{per_chunk}"
