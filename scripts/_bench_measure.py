"""The measuring side of `python -m scripts.bench`: a run's sizes, the table's rows, the one
timing helper (sides measured in rotating order, round after round) and the loopback servers."""

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts._server_process import first_line, stop

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
    stream_events: int  # events per stream (row 3)
    memory_bytes: int  # the long stream of row 5 (its short one is a tenth)
    memory_rounds: int
    import_rounds: int  # row 6
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


def rounds(count: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each side's results over `count` rounds: every side once per round, the order rotating
    from round to round (two sides alternate which goes first), so that a machine busy for a
    while slows every side alike."""
    names = list(sides)
    results: dict[str, list[float]] = {name: [] for name in names}
    for index in range(count):
        turn = index % len(names)
        for name in names[turn:] + names[:turn]:
            results[name].append(sides[name]())
    return results


def cpu(work: Callable[[], object]) -> float:
    """Client CPU seconds of `work()` (this process, every thread)."""
    gc.collect()
    start = time.process_time()
    work()
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
    return serving([sys.executable, "-m", "scripts._bench_server"])
