"""SomiaMapper, the Ray Data building block: called on batches of each format against the
fake server, then in a real Ray Data pipeline on the session's local Ray."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy
import pandas
import pyarrow
import pytest

from somia.batch import FailedRowError, SomiaMapper
from somia.batch._state import turn_key
from somia.testing import FakeServer
from tests.batch.batch_helpers import CountingAgent, one_turn_rows

Make = Callable[..., SomiaMapper]

FORMATS: dict[str, Callable[[dict[str, list[Any]]], Any]] = {
    "numpy": lambda columns: {name: numpy.array(values) for name, values in columns.items()},
    "pandas": pandas.DataFrame,
    "pyarrow": pyarrow.table,
}


def _records(batch: Any) -> list[dict[str, Any]]:
    """A batch in any format as rows of plain values."""
    if isinstance(batch, dict):
        names, columns = list(batch), batch.values()
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if isinstance(batch, pandas.DataFrame):
        return list(batch.to_dict("records"))
    rows: list[dict[str, Any]] = batch.to_pylist()
    return rows


@pytest.fixture
def make(somia_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """Mappers against the fake server, their key from the environment, closed afterwards."""
    monkeypatch.setenv("SOMIA_API_KEY", somia_server.api_key)
    made: list[SomiaMapper] = []

    def make(**options: Any) -> SomiaMapper:
        options.setdefault("client_options", {"base_url": somia_server.base_url})
        mapper = SomiaMapper(**{"run_id": "run-1", "agent_id": 1, **options})
        made.append(mapper)
        return mapper

    yield make
    for mapper in made:
        mapper.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_row_is_answered_in_the_batch_s_own_format(
    make: Make, somia_server: FakeServer, fmt: str
) -> None:
    batch = FORMATS[fmt]({"id": [1, 2, 3], "input_data": ["a", "b", "c"], "extra": [7, 8, 9]})

    out = make()(batch)

    assert type(out) is type(batch)
    rows = _records(out)
    assert [(r["id"], r["extra"], r["status"], r["message"]) for r in rows] == [
        (1, 7, "ok", "You said: a"),
        (2, 8, "ok", "You said: b"),
        (3, 9, "ok", "You said: c"),
    ]
    assert all(r["error"] is None and len(r["turns"]) == 1 and r["session_id"] for r in rows)
    # The batch runner's keys: turn k of a row, from the run id and the row's id.
    assert set(somia_server.fake.turns_run) == {turn_key("run-1", str(i), 0) for i in (1, 2, 3)}


def test_a_batch_again_with_the_same_run_id_is_replayed_and_a_new_run_id_runs_again(
    make: Make, somia_server: FakeServer
) -> None:
    batch = {"id": ["a", "b"], "input_data": ["x", "y"]}
    first = make()(batch)
    again = make()(batch)
    assert again["session_id"] == first["session_id"]
    assert sorted(somia_server.fake.turns_run.values()) == [1, 1]

    make(run_id="run-2")(batch)
    assert sorted(somia_server.fake.turns_run.values()) == [1, 1, 1, 1]


def test_a_turns_column_runs_its_inputs_as_one_session(
    make: Make, somia_server: FakeServer
) -> None:
    batch = pandas.DataFrame(
        {"id": [1, 2], "input_data": ["one", None], "inputs": [None, ["hi", "again"]]}
    )

    rows = _records(make(turns_column="inputs")(batch))

    assert [(r["message"], len(r["turns"])) for r in rows] == [
        ("You said: one", 1),
        ("You said: again", 2),
    ]
    assert len(somia_server.fake.turns_run) == 3


def test_failed_rows_are_output_rows_and_the_others_run(
    make: Make, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(1, status=422)
    nan = {"score": float("nan")}
    batch = {"id": [1, 1, 2, True, 4, 3], "input_data": ["a", "b", None, "c", nan, "d"]}

    rows = _records(make(turns_in_flight=1)(batch))

    errors = [r["error"] for r in rows]
    assert [r["status"] for r in rows] == ["failed"] * 5 + ["ok"]
    assert errors[0]["status_code"] == 422
    assert errors[0]["may_have_run"] is False
    assert "repeats row 0" in errors[1]["message"]
    assert "neither" in errors[2]["message"]
    assert "must be a string or an integer" in errors[3]["message"]
    assert "not JSON-serialisable" in errors[4]["message"]
    assert all(e["attempts"] == 0 and not e["may_have_run"] for e in errors[1:5])
    assert rows[5]["message"] == "You said: d"
    assert len(somia_server.fake.turns_run) == 1  # the 422 ran nothing


def test_raise_on_failure_raises_with_the_failed_row(make: Make) -> None:
    with pytest.raises(FailedRowError, match="neither") as raised:
        make(raise_on_failure=True)({"id": [1], "input_data": [None]})
    assert raised.value.record["status"] == "failed"


@pytest.mark.parametrize(
    ("batch", "error"),
    [
        ({"id": [1], "input_data": ["a"], "status": ["new"]}, "has a column 'status' already"),
        ({"key": [1], "input_data": ["a"]}, "no id column 'id'"),
        ({"id": [1], "text": ["a"]}, "no input column 'input_data'"),
    ],
)
def test_a_batch_it_cannot_run_is_refused_before_sending(
    make: Make, somia_server: FakeServer, batch: dict[str, list[Any]], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        make()(batch)
    assert somia_server.fake.turns_run == {}


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"client_options": {"api_key": "sk-secret"}}, "read SOMIA_API_KEY from their own"),
        ({"run_id": ""}, "run_id must be 1 to 64 bytes"),
        ({"run_id": "x" * 65}, "run_id must be 1 to 64 bytes"),
        ({"turns_column": "turns"}, "'turns' would be replaced by the output's"),
        ({"options": {"stream": True}}, "'stream' cannot be set"),
        ({"limiter": object(), "max_rate": 2.0}, "the shared limiter's"),
    ],
)
def test_bad_options_are_refused_when_the_mapper_is_made(
    make: Make, options: dict[str, Any], error: str
) -> None:
    with pytest.raises(ValueError, match=error) as raised:
        make(**options)
    assert "sk-secret" not in str(raised.value)


@pytest.mark.slow
@pytest.mark.usefixtures("local_ray")
# Ray Data 2.60's own DataContext() sets deprecated fields of its own (not ours to fix).
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
def test_a_ray_data_pipeline_answers_every_row_once_and_a_rerun_runs_nothing(
    somia_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray.data

    # Read by Ray Data in the driver: without it, each pipeline collects usage data and
    # queries a Prometheus on localhost:9090, logging a traceback when there is none.
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray.data.DataContext.get_current().enable_progress_bars = False
    agent = CountingAgent(0.02)
    somia_server.fake.register_agent(1, agent)
    bad = [{"id": f"bad-{i}", "input_data": None} for i in range(5)]  # a batch of failures only
    items = [*one_turn_rows(30), *bad]

    def pipeline(**options: Any) -> list[dict[str, Any]]:
        # No key here: the actors read SOMIA_API_KEY from their environment.
        kwargs = {"run_id": "nightly", "agent_id": 1, **options}
        kwargs["client_options"] = {"base_url": somia_server.base_url, "timeout": 20.0}
        return (
            ray.data.from_items(items)
            .map_batches(
                SomiaMapper,
                fn_constructor_kwargs=kwargs,
                batch_size=5,
                compute=ray.data.ActorPoolStrategy(size=2),
            )
            .take_all()
        )

    first = pipeline(limiter=SomiaMapper.shared_limiter(2))
    ran = dict(somia_server.fake.turns_run)
    again = pipeline()

    by_id = {row["id"]: row for row in first}
    assert len(first) == len(by_id) == 35
    assert {by_id[f"row-{i}"]["message"] for i in range(30)} == {
        f"You said: input {i}" for i in range(30)
    }
    assert {by_id[row["id"]]["status"] for row in bad} == {"failed"}
    assert sorted(ran.values()) == [1] * 30
    assert 1 <= agent.most <= 2  # the shared limit held for both actors
    assert somia_server.fake.turns_run == ran  # the rerun replayed every turn
    assert {r["id"]: r["session_id"] for r in again} == {r["id"]: r["session_id"] for r in first}
