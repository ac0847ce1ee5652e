"""`somia batch` on the command line: its options, its output and its exit statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from somia._cli import main
from somia.testing import FakeServer
from tests.batch.batch_helpers import read_output, write_rows
from tests.harness import free_port


@pytest.fixture
def env(somia_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    monkeypatch.setenv("SOMIA_BASE_URL", somia_server.base_url)
    monkeypatch.setenv("SOMIA_API_KEY", somia_server.api_key)
    return somia_server


def batch(source: Path, output: Path, *options: str) -> int:
    return main(["batch", str(source), "-o", str(output), "--no-progress", *options])


def test_all_rows_ok_is_0_with_a_summary(
    env: FakeServer, rows_file: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = batch(rows_file, output, "--agent-id", "1", "--sort", "--concurrency", "2:8")

    err = capsys.readouterr().err
    assert status == 0
    assert f"{output}: 20 of 20 rows ok, 0 failed" in err
    assert [r["line"] for r in read_output(output)] == list(range(1, 21))


def test_a_failed_row_is_1(env: FakeServer, tmp_path: Path, output: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": 1, "input_data": "x", "agent_id": 9}])
    assert batch(source, output, "--agent-id", "1") == 1


def test_options_apply_to_every_row(env: FakeServer, rows_file: Path, output: Path) -> None:
    status = batch(
        rows_file,
        output,
        "--agent-id",
        "1",
        "--option",
        'tags=["a", "b"]',
        "--option",
        "source=nightly",
    )

    bodies = [request.json for request in env.requests]
    assert status == 0
    assert all(b["tags"] == ["a", "b"] and b["source"] == "nightly" for b in bodies)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--agent-id", "1", "--option", "stream=true"], "'stream' cannot be set"),
        (["--agent-id", "1", "--engine", "ray", "--api-key", "k"], "SOMIA_API_KEY"),
        (["--agent-id", "1", "--ray-address", "auto"], "--ray-address needs --engine ray"),
        ([], "no agent"),
    ],
)
def test_usage_errors_are_2_and_send_nothing(
    env: FakeServer,
    rows_file: Path,
    output: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    assert batch(rows_file, output, *arguments) == 2
    assert message in capsys.readouterr().err
    assert env.requests == []


@pytest.mark.parametrize(
    "arguments",
    [["--concurrency", "0"], ["--concurrency", "9:3"], ["--max-rate", "-1"], ["--agent-id", "x"]],
)
def test_malformed_option_values_are_2(
    env: FakeServer, rows_file: Path, output: Path, arguments: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        batch(rows_file, output, *arguments)
    assert caught.value.code == 2


def test_an_output_of_another_input_is_2(
    env: FakeServer, rows_file: Path, output: Path, tmp_path: Path
) -> None:
    assert batch(rows_file, output, "--agent-id", "1") == 0
    other = write_rows(tmp_path / "other.jsonl", [{"id": 1, "input_data": "x"}])
    assert batch(other, output, "--agent-id", "1") == 2


def test_a_server_that_cannot_be_reached_is_3(
    rows_file: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SOMIA_API_KEY", "sk-x")
    assert batch(rows_file, output, "--agent-id", "1", "--max-attempts", "1") == 3
