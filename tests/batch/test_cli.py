"""`somia batch` on the command line: its options, its output and its exit statuses."""

from __future__ import annotations

import os
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
    [
        ["--concurrency", "0"],
        ["--concurrency", "9:3"],
        ["--max-rate", "-1"],
        ["--agent-id", "x"],
        ["--option", 'metadata={"a": NaN}'],
    ],
)
def test_malformed_option_values_are_2(
    env: FakeServer, rows_file: Path, output: Path, arguments: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        batch(rows_file, output, *arguments)
    assert caught.value.code == 2


def test_a_quoted_hint_comes_with_an_option_of_the_wrong_type(
    env: FakeServer, rows_file: Path, output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert batch(rows_file, output, "--agent-id", "1", "--option", "source=123") == 2
    err = capsys.readouterr().err
    assert err.startswith("somia: error: --option: source")
    assert """quote a string that reads as another type, as in --option 'source="123"'""" in err


def test_max_retry_after_sets_the_longest_pause(
    env: FakeServer, rows_file: Path, output: Path
) -> None:
    env.faults.fail_next(1, status=429, retry_after="2")
    assert batch(rows_file, output, "--agent-id", "1", "--max-retry-after", "1") == 1
    (failed,) = [r for r in read_output(output) if r["status"] == "failed"]
    assert "longer than max_retry_after (1 s)" in failed["error"]["message"]


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (None, lambda tmp: tmp / "missing" / "out.jsonl", "its folder"),
        (None, lambda tmp: tmp / ("x" * 300), "File name too long"),
        (None, lambda tmp: tmp, "the output is a folder, not a file"),
        (None, lambda tmp: Path(os.devnull), "the output is a device, not a file"),
        (lambda tmp: Path("-"), None, "the input cannot be standard input"),
        (lambda tmp: _fifo(tmp / "pipe"), None, "the input is a pipe, not a file"),
        (lambda tmp: tmp / "nothing.jsonl", None, "no such input file"),
    ],
    ids=["no-folder", "long-name", "folder", "device", "stdin", "pipe", "missing"],
)
def test_files_that_cannot_serve_are_2_in_one_line(
    env: FakeServer,
    rows_file: Path,
    output: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source: object,
    target: object,
    message: str,
) -> None:
    given = source(tmp_path) if callable(source) else rows_file
    written = target(tmp_path) if callable(target) else output

    status = batch(given, written, "--agent-id", "1")

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("somia: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert not Path(os.devnull + ".state.json").exists()
    assert env.requests == []


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
