"""A batch input is checked whole, with line numbers, before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from somia.batch import InputError
from somia.testing import FakeServer
from tests.batch.batch_helpers import read_output, run, write_rows


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON (Expecting property name enclosed in double quotes at column 2)"),
        ("{", "not JSON (Expecting property name enclosed in double quotes at the end of the"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ("null", "must be a JSON object, not null"),
        ('{"input_data": "x"}', 'no "id"'),
        ('{"id": true, "input_data": "x"}', '"id" must be a string or an integer'),
        ('{"id": 1.5, "input_data": "x"}', '"id" must be a string or an integer'),
        ('{"id": "x"}', '"input_data" (one turn) or "turns" (several): it has neither'),
        ('{"id": "x", "input_data": 1, "turns": [1]}', '"turns", not both'),
        ('{"id": "x", "turns": []}', "non-empty array"),
        ('{"id": "x", "turns": "abc"}', "non-empty array"),
        ('{"id": "x", "input_data": 1, "colour": "red"}', "unknown option 'colour'"),
        ('{"id": "x", "input_data": 1, "stream": true}', "'stream' cannot be set"),
        ('{"id": "x", "input_data": 1, "idempotency_key": "k"}', "'idempotency_key' cannot"),
        ('{"id": "x", "input_data": 1, "agent_id": 0}', "agent_id"),
        ('{"id": "x", "input_data": 1, "agent_id": "7"}', "agent_id must be an int"),
        ('{"id": "x", "input_data": 1, "pipeline_version": ""}', "pipeline_version"),
        ('{"id": "x", "input_data": 1, "tags": "one"}', "tags"),
        ('{"id": "x", "turns": ["a", Infinity]}', "not JSON (Infinity is not a JSON value)"),
        ('{"id": "x", "input_data": NaN}', "not JSON (NaN is not a JSON value)"),
        ('{"id": "x", "input_data": 1, "metadata": {"a": -Infinity}}', "not JSON (-Infinity"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_and_nothing_is_sent(
    somia_server: FakeServer, tmp_path: Path, output: Path, line: str, problem: str
) -> None:
    source = write_rows(tmp_path / "in.jsonl", ['{"id": "fine", "input_data": "ok"}', line])

    with pytest.raises(InputError) as caught:
        run(somia_server, source, output)

    assert str(caught.value).startswith(f"{source}: line 2: ")
    assert problem in str(caught.value)
    assert somia_server.requests == []
    assert not output.exists()


def test_every_bad_line_is_listed_and_a_repeated_id_names_its_first_line(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(
        tmp_path / "in.jsonl",
        [
            '{"id": 1, "input_data": "a"}',
            '{"id": "1", "input_data": "b"}',  # "1" is not 1
            "nope",
            '{"id": 1, "input_data": "c"}',
        ],
    )

    with pytest.raises(InputError) as caught:
        run(somia_server, source, output)

    assert caught.value.problems == [
        "line 3: not JSON (Expecting value at column 1)",
        "line 4: id 1 repeats line 1's",
    ]


def test_a_row_without_an_agent_needs_the_runs(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": 1, "input_data": "a"}])

    with pytest.raises(InputError, match="no agent"):
        run(somia_server, source, output, agent_id=None)


def test_an_agent_id_of_null_is_the_runs(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": 1, "input_data": "a", "agent_id": None}])

    summary = run(somia_server, source, output, agent_id=1)

    assert summary.exit_code == 0
    assert [r.path for r in somia_server.requests] == ["/api/v1/external/agent/1/session"]


def test_only_so_many_problems_are_listed_with_the_count_of_the_rest(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(tmp_path / "in.jsonl", ["bad"] * 25)

    with pytest.raises(InputError) as caught:
        run(somia_server, source, output)

    assert len(caught.value.problems) == 20
    assert str(caught.value).endswith("(and 5 more)")


def test_a_row_names_its_agent_and_options_and_blank_lines_are_skipped(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    seen: dict[str, object] = {}

    def agent(turn: object) -> str:
        seen["tags"] = getattr(turn, "tags", None)
        seen["source"] = getattr(turn, "source", None)
        return "done"

    somia_server.fake.register_agent(7, agent)
    source = write_rows(
        tmp_path / "in.jsonl",
        ["", json.dumps({"id": "a", "input_data": 1, "agent_id": 7, "tags": ["mine"]}), "  "],
    )

    summary = run(somia_server, source, output, options={"tags": ["run"], "source": "nightly"})

    assert summary.exit_code == 0
    assert seen == {"tags": ["mine"], "source": "nightly"}
    assert [(r["line"], r["message"]) for r in read_output(output)] == [(2, "done")]


def test_run_options_that_are_not_json_are_refused_before_anything_is_sent(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    source = write_rows(tmp_path / "in.jsonl", ['{"id": 1, "input_data": "a"}'])

    with pytest.raises(TypeError, match=r"^metadata is not JSON-serialisable"):
        run(somia_server, source, output, options={"metadata": {"a": float("nan")}})

    assert somia_server.requests == []
    assert not output.exists()
