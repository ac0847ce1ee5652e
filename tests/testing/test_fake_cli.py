"""`python -m somia.testing`: the fake server from the command line, run as a real process."""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from somia.testing import FakeServer
from somia.testing.__main__ import build_parser, make_fake
from tests.testing.fake_helpers import Event, http_client, iter_events

READY = re.compile(r"^Fake Somia server on (http://127\.0\.0\.1:\d+) \(api key header: (\S+)\)$")


class Cli:
    """A running `python -m somia.testing` process."""

    def __init__(self, proc: subprocess.Popen[str], base_url: str, header: str) -> None:
        self.proc = proc
        self.base_url = base_url
        self.header = header

    def create_url(self, agent_id: int = 1) -> str:
        return f"{self.base_url}/api/v1/external/agent/{agent_id}/session"

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send `signum`, wait for the exit; the exit status and everything logged."""
        self.proc.send_signal(signum)
        _, stderr = self.proc.communicate(timeout=10)
        return self.proc.returncode, stderr


@pytest.fixture
def run_cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    started: list[subprocess.Popen[str]] = []

    def run(*args: str) -> Cli:
        proc = subprocess.Popen(
            [sys.executable, "-m", "somia.testing", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        started.append(proc)
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline().rstrip("\n") if readable else ""
        match = READY.match(line)
        assert match, f"no ready line, got {line!r}"
        return Cli(proc, match.group(1), match.group(2))

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_the_cli_serves_until_sigterm_and_logs_without_the_key(run_cli: Callable[..., Cli]) -> None:
    cli = run_cli("--api-key", "sk-cli-secret")

    with http_client() as client:
        response = client.post(
            cli.create_url(), json={"input_data": "hi"}, headers={"x-api-key": "sk-cli-secret"}
        )
    status, logged = cli.stop()

    assert response.json()["message"] == "You said: hi"
    assert cli.header == "x-api-key"
    assert status == 0
    assert "POST /api/v1/external/agent/1/session -> 200" in logged
    assert "sk-cli-secret" not in logged


@pytest.mark.slow
def test_the_cli_prints_the_variables_to_export(run_cli: Callable[..., Cli]) -> None:
    cli = run_cli()
    assert cli.proc.stdout is not None

    export = cli.proc.stdout.readline()
    cli.stop()

    assert export == f"export SOMIA_BASE_URL={cli.base_url} SOMIA_API_KEY=sk-fake-somia\n"


@pytest.mark.slow
def test_the_cli_stops_on_sigint(run_cli: Callable[..., Cli]) -> None:
    cli = run_cli()

    status, _ = cli.stop(signal.SIGINT)

    assert status == 0


@pytest.mark.slow
def test_the_cli_stops_with_a_stream_still_open(run_cli: Callable[..., Cli]) -> None:
    cli = run_cli("--api-key", "k", "--stall-stream-after", "1:30")

    with (
        http_client(timeout=5) as client,
        client.stream(
            "POST", cli.create_url(), json={"stream": True}, headers={"x-api-key": "k"}
        ) as response,
    ):
        next(iter_events(response))
        status, logged = cli.stop()

    assert status == 0
    assert "ERROR" not in logged


@pytest.mark.slow
def test_cli_flags_configure_the_key_header_agents_and_faults(run_cli: Callable[..., Cli]) -> None:
    cli = run_cli(
        "--api-key",
        "k",
        "--api-key-header",
        "apikey",
        "--any-agent",
        "--fail-next",
        "1:503:7",
        "--cut-stream-after",
        "1",
    )

    with http_client(headers={"apikey": "k"}) as client:
        failed = client.post(cli.create_url(99), json={})
        with client.stream("POST", cli.create_url(99), json={"stream": True}) as response:
            events: list[Event] = []
            with pytest.raises(httpx.RemoteProtocolError):
                events.extend(iter_events(response))
    assert cli.proc.stdout is not None
    export = cli.proc.stdout.readline()  # a key given is not printed
    cli.stop()

    assert export == f"export SOMIA_BASE_URL={cli.base_url} SOMIA_API_KEY_HEADER=apikey\n"
    assert cli.header == "apikey"
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "7")
    assert len(events) == 1


@pytest.mark.slow
def test_bad_flags_exit_2_with_usage(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "somia.testing", "--fail-next", "two:503"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )

    assert result.returncode == 2
    assert "N:STATUS" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("port", ["99999", "65536", "-1", "x"])
def test_a_port_out_of_range_is_one_usage_line_and_exit_2(tmp_path: Path, port: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "somia.testing", "--port", port],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"python -m somia.testing: error: argument --port: not a port (0 to 65535): {port!r}"
    )


@pytest.mark.slow
def test_a_busy_port_exits_1(somia_server: FakeServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "somia.testing", "--port", str(somia_server.port)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{somia_server.port}" in result.stderr


def test_fault_flags_queue_faults_in_order() -> None:
    args = build_parser().parse_args(
        [
            "--fail-next",
            "2:429:1",
            "--delay-next",
            "1:0.5",
            "--end-stream-without-terminator-after",
            "2",
            "--malformed-event-after",
            "1",
            "--error-event-after",
            "0",
            "--stall-stream-after",
            "3:1.5",
            "--event-delay",
            "0.05",
            "--max-body-bytes",
            "10",
            "--turn-latency",
            "0.25",
            "--max-replay-keys",
            "7",
        ]
    )

    fake = make_fake(args)

    requests = [fake.faults.take_request_fault() for _ in range(4)]
    streams = [fake.faults.take_stream_fault() for _ in range(5)]
    assert [type(f).__name__ for f in requests] == [
        "RequestFailure",
        "RequestFailure",
        "RequestDelay",
        "NoneType",
    ]
    assert [(f.kind, f.after) for f in streams if f] == [
        ("no_terminator", 2),
        ("malformed", 1),
        ("error", 0),
        ("stall", 3),
    ]
    assert (fake.event_delay, fake.max_body_bytes, fake.default_agent) == (0.05, 10, None)
    assert (fake.turn_latency, fake.max_replay_keys) == (0.25, 7)


@pytest.mark.parametrize(
    "argv",
    [["--fail-next", "1:99"], ["--fail-next", "1"], ["--stall-stream-after", "2"], ["--port", "x"]],
)
def test_malformed_flag_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)

    assert exit_info.value.code == 2
