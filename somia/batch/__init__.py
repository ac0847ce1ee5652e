"""Run an agent over thousands of inputs: resumable after a crash, never billing a turn
twice on a server that honours `Idempotency-Key`, and on a Ray cluster when one machine is
not enough. The `somia batch` command runs the same code.

    from somia.batch import run_batch

    summary = run_batch("rows.jsonl", "answers.jsonl", agent_id=1)
    print(summary.describe())

Each input line is a row: `{"id": ..., "input_data": ...}`, or `{"id": ..., "turns":
[...]}` for a session of several turns. Each output line is a row's result, written as the
row ends. Running the same call again continues where it stopped. `SomiaMapper` runs the
same turns as a step of a Ray Data pipeline (`Dataset.map_batches`). See docs/batch.md.

The names load when first used, so that the `somia` command starts without the runner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from somia.batch._output import sort_output
    from somia.batch._ray_data import FailedRowError, SomiaMapper
    from somia.batch._rows import InputError
    from somia.batch._runner import BatchSummary, arun_batch, run_batch
    from somia.batch._state import StateError

__all__ = [
    "BatchSummary",
    "FailedRowError",
    "InputError",
    "SomiaMapper",
    "StateError",
    "arun_batch",
    "run_batch",
    "sort_output",
]

_WHERE = {
    "BatchSummary": "somia.batch._runner",
    "FailedRowError": "somia.batch._ray_data",
    "InputError": "somia.batch._rows",
    "SomiaMapper": "somia.batch._ray_data",
    "StateError": "somia.batch._state",
    "arun_batch": "somia.batch._runner",
    "run_batch": "somia.batch._runner",
    "sort_output": "somia.batch._output",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'somia.batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
