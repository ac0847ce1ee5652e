"""The measuring side of scripts/bench.py: the sizes of a run, the table's rows, the
alternating rounds and their ratios, and the loopback server processes.

Imported by bench.py and its rows modules as a top-level module: scripts/ is on sys.path
when `python scripts/bench.py` runs.
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
    found = re.search(r"http://127\.0\.0\.1:\d+", first_line(proc, STARTUP_SECONDS) or "")
    if found:
        return found.group(0)
    errors.seek(0)
    raise RuntimeError(f"server did not start: {errors.read().decode(errors='replace')[-2000:]}")


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
            stop(proc)


def bench_server() -> contextlib.AbstractContextManager[str]:
    return serving([sys.executable, str(SERVER_SCRIPT), "--port", "0", "--max-seconds", "900"])


def fake_server() -> contextlib.AbstractContextManager[str]:
    options = ["--port", "0", "--api-key", API_KEY, "--log-level", "WARNING"]
    return serving([sys.executable, "-m", "somia.testing", *options])


def stream_url(server: str, events: int, size: int, *, pace_us: int = 0, per_chunk: int = 1) -> str:
    """The base URL of a stream scenario of scripts/_bench_server.py."""
    return f"{server}/stream/{events}/{size}/{pace_us}/{per_chunk}"
