"""Agent turns as a step of a Ray Data pipeline: `SomiaMapper`, a callable class for
`Dataset.map_batches`.

Each actor builds its own client from its environment (`SOMIA_API_KEY` is never pickled
nor put in a runtime_env) and runs each row of a batch as a session, with the batch
runner's turns, retries and Idempotency-Keys (derived from the run id and the row's id), so
that a batch Ray runs again, or a pipeline run again with the same run id, replays what
already ran on a server that honours keys. Failed rows are output rows, not exceptions.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from somia._async_client import AsyncSomiaClient
from somia._bridge import encode_json
from somia._validation import check_agent_id, check_idempotency_key
from somia.batch._limiter import Limiter
from somia.batch._plan import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    START_CONCURRENCY,
    _concurrency,
    _positive,
    check_client_options,
)
from somia.batch._ray import LimiterActor, _RemoteGate
from somia.batch._rows import Row, check_row, row_options
from somia.batch._state import turn_key
from somia.batch._turns import Gate, RowSettings, error_of, run_row

__all__ = ["OUTPUT_COLUMNS", "FailedRowError", "SomiaMapper"]

OUTPUT_COLUMNS = ("status", "session_id", "message", "turns", "error")
"""The columns a mapper adds: those of a batch output line (its `id` is the row's own
column; a Dataset has no input lines)."""

_T = TypeVar("_T")


class FailedRowError(Exception):
    """A row failed and the mapper was made with `raise_on_failure=True`. `record` is the
    row's output (its `error` says what failed)."""

    def __init__(self, message: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.record = record

    def __reduce__(self) -> tuple[Any, ...]:
        return (FailedRowError, (str(self), self.record))


class _Loop:
    """An event loop of the mapper's own, in a thread: Ray Data calls `__call__` from
    threads of its own, and the client and limiter live on one loop across batches."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class SomiaMapper:
    """Runs each row of a batch as an agent session, for `Dataset.map_batches`:

        ds.map_batches(
            SomiaMapper,
            fn_constructor_kwargs={"run_id": "nightly-2025-06-01", "agent_id": 1},
            concurrency=4,
        )

    A row has an id (`id_column`, a string or an integer, unique in the Dataset) and its
    input (`input_column`), or a list of inputs run as the turns of one session
    (`turns_column`). The batch comes back with the columns of a batch output line added:
    `status` ("ok" or "failed"), `session_id`, `message` (the last turn's), `turns`
    (request_id, attempts and seconds of each) and `error` (None, or its type,
    status_code, message, attempts and may_have_run). Any batch format works (numpy,
    pandas, pyarrow); the output has the input's.

    Turn *k* of a row sends the Idempotency-Key the batch runner derives from `run_id`,
    the row's id and *k*: a row Ray runs again (an actor that died), or a pipeline run
    again with the same `run_id`, is replayed by a server that honours keys rather than run
    and billed twice. A new `run_id` runs every row again.

    The client is built in each actor from its environment: `SOMIA_API_KEY` (and
    `SOMIA_BASE_URL` unless `client_options` names `base_url`) must be set on every node;
    neither `api_key` nor `http_client` may be given. Concurrency adapts per actor up to
    `turns_in_flight`, and a 429's `Retry-After` pauses that actor; with
    `limiter=SomiaMapper.shared_limiter(...)` the limit, `max_rate` and the pauses hold
    for every actor at once. A failed row is an output row; `raise_on_failure=True` raises
    `FailedRowError` instead. A refused key or a server that cannot be reached raises
    `RunStopped`: every row would fail alike.
    """

    def __init__(
        self,
        *,
        run_id: str,
        agent_id: int,
        options: Mapping[str, Any] | None = None,
        client_options: Mapping[str, Any] | None = None,
        id_column: str = "id",
        input_column: str = "input_data",
        turns_column: str | None = None,
        turns_in_flight: int | tuple[int, int] = DEFAULT_CONCURRENCY,
        max_rate: float | None = None,
        limiter: Any = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        raise_on_failure: bool = False,
    ) -> None:
        _check_run_id(run_id)
        self.agent_id = check_agent_id(agent_id)
        self.options = row_options(options)
        taken = [c for c in (id_column, input_column, turns_column) if c in OUTPUT_COLUMNS]
        if taken:
            raise ValueError(
                f"the input column {taken[0]!r} would be replaced by the output's: rename "
                "it (Dataset.rename_columns) and name the new column"
            )
        self.columns = (id_column, input_column, turns_column)
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an int of 1 or more, not {max_attempts!r}")
        low, high = _concurrency(turns_in_flight)
        _positive("max_rate", max_rate)
        if limiter is not None and (turns_in_flight != DEFAULT_CONCURRENCY or max_rate):
            raise ValueError(
                "turns_in_flight and max_rate are the shared limiter's: give them there"
            )
        client_options, backoff = check_client_options(client_options, on_ray=True)
        self.raise_on_failure = raise_on_failure
        self.run_id = run_id
        self.settings = RowSettings(run_id, max_attempts, None, backoff)
        self.client = AsyncSomiaClient(**client_options, retries=0)
        self.gate: Gate = (
            Limiter(low, high, START_CONCURRENCY, max_rate)
            if limiter is None
            else _RemoteGate(limiter)
        )
        self._loop = _Loop()

    @staticmethod
    def shared_limiter(
        concurrency: int | tuple[int, int] = DEFAULT_CONCURRENCY, *, max_rate: float | None = None
    ) -> Any:
        """A limiter for every actor of a pipeline (a Ray actor; call it on the driver and
        pass it as `limiter=`): at most `concurrency` turns at once (`(min, max)`: adapts
        between), `max_rate` turns started per second, and a `Retry-After` pausing all."""
        low, high = _concurrency(concurrency)
        _positive("max_rate", max_rate)
        make: Any = LimiterActor
        return make.remote(low, high, START_CONCURRENCY, max_rate)

    def __call__(self, batch: Any) -> Any:
        """The batch with the output columns added, in its own format."""
        names, size, column = _reader(batch)
        taken = [name for name in OUTPUT_COLUMNS if name in names]
        if taken:
            raise ValueError(
                f"the batch has a column {taken[0]!r} already, which the output adds: drop or "
                f"rename it first (the output columns: {', '.join(OUTPUT_COLUMNS)})"
            )
        id_column, input_column, turns_column = self.columns
        if id_column not in names:
            raise ValueError(f"the batch has no id column {id_column!r} (id_column=)")
        read = [c for c in (input_column, turns_column) if c is not None and c in names]
        if not read:
            raise ValueError(
                f"the batch has no input column {input_column!r} (input_column=)"
                + (f" nor {turns_column!r} (turns_column=)" if turns_column else "")
            )
        values = {name: [_plain(v) for v in column(name)] for name in (id_column, *read)}
        keys = {id_column: "id", input_column: "input_data"}
        if turns_column is not None:
            keys[turns_column] = "turns"
        records: list[dict[str, Any] | None] = [None] * size
        rows: dict[int, Row] = {}
        seen: dict[str, int] = {}
        for index in range(size):
            data = {keys[n]: v[index] for n, v in values.items() if not _absent(v[index])}
            try:
                row = check_row(data, index, self.agent_id, self.options)
                if row.id_json in seen:
                    raise ValueError(f"id {row.id_json} repeats row {seen[row.id_json]}'s")
                for value in row.turns:  # a column's NaN or infinity is no JSON
                    encode_json(value, "input_data")
            except (TypeError, ValueError) as exc:
                records[index] = _failed(exc)
                continue
            seen[row.id_json] = index
            rows[index] = row
        for index, record in zip(rows, self._loop.run(self._run(list(rows.values()))), strict=True):
            records[index] = record
        done = [record for record in records if record is not None]
        failed = next((r for r in done if r["status"] == "failed"), None)
        if self.raise_on_failure and failed is not None:
            raise FailedRowError(f"a row failed: {failed['error']['message']}", failed)
        return _with_columns(batch, {n: [r[n] for r in done] for n in OUTPUT_COLUMNS})

    async def _run(self, rows: list[Row]) -> list[dict[str, Any]]:
        async def one(row: Row) -> dict[str, Any]:
            lease = f"{self.run_id}\n{row.id_json}"  # the same for a row run again
            record = await run_row(self.client, row, self.settings, self.gate, lease)
            assert record is not None  # no deadline: every turn starts
            return {name: record[name] for name in OUTPUT_COLUMNS}

        tasks = [asyncio.ensure_future(one(row)) for row in rows]
        try:
            return list(await asyncio.gather(*tasks))
        finally:  # the run stopped (RunStopped): the other rows' turns stop too
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Close the client and the mapper's event loop (when it is used outside Ray)."""
        self._loop.run(self.client.aclose())
        self._loop.close()


def _check_run_id(run_id: object) -> None:
    if not isinstance(run_id, str):
        raise TypeError(f"run_id must be a str, not {type(run_id).__name__}")
    if not run_id or len(run_id.encode()) > 64:  # it keys the keys' hash (blake2b)
        raise ValueError("run_id must be 1 to 64 bytes long")
    check_idempotency_key(turn_key(run_id, "0", 0))


def _failed(exc: Exception) -> dict[str, Any]:
    """The output of a row that was not sent."""
    return {
        "status": "failed",
        "session_id": None,
        "message": None,
        "turns": [],
        "error": {**error_of(exc, 0), "may_have_run": False},
    }


def _reader(batch: Any) -> tuple[list[str], int, Any]:
    """A batch's column names, its number of rows, and a function giving a column's values."""
    if isinstance(batch, dict):  # "numpy": a dict of arrays (or lists)
        size = len(next(iter(batch.values()))) if batch else 0
        return list(batch), size, lambda name: batch[name]
    if hasattr(batch, "column_names") and hasattr(batch, "append_column"):  # pyarrow.Table
        return list(batch.column_names), batch.num_rows, lambda n: batch.column(n).to_pylist()
    if hasattr(batch, "columns") and hasattr(batch, "assign"):  # pandas.DataFrame
        return [str(n) for n in batch.columns], len(batch), lambda name: batch[name].tolist()
    raise TypeError(
        f"a batch is a dict of columns, a pandas.DataFrame or a pyarrow.Table, not "
        f"{type(batch).__name__}"
    )


def _with_columns(batch: Any, columns: dict[str, list[Any]]) -> Any:
    """`batch` with `columns` added, in its format."""
    if isinstance(batch, dict):
        arrays = any(type(v).__module__ == "numpy" for v in batch.values())
        return {**batch, **{n: _objects(v) if arrays else v for n, v in columns.items()}}
    if hasattr(batch, "append_column"):
        import pyarrow

        for name, values in columns.items():
            batch = batch.append_column(name, pyarrow.array(values))
        return batch
    import pandas

    return batch.assign(
        **{n: pandas.Series(v, index=batch.index, dtype=object) for n, v in columns.items()}
    )


def _objects(values: list[Any]) -> Any:
    """A numpy array of Python objects (lists and dicts stay whole)."""
    import numpy

    array = numpy.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array


def _plain(value: Any) -> Any:
    """A column's value as JSON-like Python (numpy arrays and scalars become lists and
    numbers)."""
    if isinstance(value, str | bytes):
        return value
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _absent(value: Any) -> bool:
    """A missing value of a column (None, or pandas' NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))
