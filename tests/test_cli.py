"""The `somia` command, driven as a user would: a subprocess against the fake server.

`chat` runs in a pseudo-terminal that is the process's controlling terminal, so that a
typed Ctrl-C is a real SIGINT and Ctrl-D a real end of input. Every wait is bounded, and
waits for something the command printed, never for a fixed time: an answer that must still
be streaming when a test acts is held by a stalled stream, not by slow events.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from somia.testing import FakeServer, FakeSomia, Turn, echo_agent
from tests.harness import Events, Repeat, ScriptedServer, Stall, chunk

pytestmark = pytest.mark.slow  # drives subprocesses

TIMEOUT = 20.0  # seconds; a bound on every wait, far above what any step needs
KEY = "sk-cli-test-secret"

# Child Python that makes its stdin (the pty) its controlling terminal, then runs `somia`
# exactly as `python -m somia` would. Popen already made it a session leader.
_ADOPT_TERMINAL = (
    "import fcntl, runpy, termios; "
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "runpy.run_module('somia', run_name='__main__', alter_sys=True)"
)


def story_agent(turn: Turn) -> list[str]:
    """A long answer, one word per event, when asked for a story; a short one otherwise."""
    if turn.input_data == "tell me a story":
        return [f"word{i} " for i in range(30)]
    return ["Short ", "answer."]


@pytest.fixture(autouse=True)
def interruptible_children() -> Iterator[None]:
    """Children start with SIGINT at its default, even when the suite itself runs with it
    ignored (a background job of a non-interactive shell): a Ctrl-C test must reach them."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def somia_fake() -> FakeSomia:
    return FakeSomia(api_key=KEY, agents={1: echo_agent, 2: story_agent})


def _env(base_url: str | None, api_key: str | None = KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    env["PYTHONUNBUFFERED"] = "1"
    if base_url is not None:
        env["SOMIA_BASE_URL"] = base_url
    if api_key is not None:
        env["SOMIA_API_KEY"] = api_key
    return env


def somia(
    *args: str,
    server: FakeServer | None = None,
    env: dict[str, str] | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run `python -m somia ARGS` to completion; the API key must never be printed."""
    if env is None:
        env = _env(server.base_url if server else None)
    result = subprocess.run(
        [sys.executable, "-m", "somia", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def somia_bytes(
    *args: str, server: FakeServer, stdin: bytes = b"", **env: str
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m somia ARGS` with bytes in and out, `env` added to the environment."""
    result = subprocess.run(
        [sys.executable, "-m", "somia", *args],
        env={**_env(server.base_url), **env},
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert b"Traceback" not in result.stderr
    return result


def session_of(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("session: ")]
    return line.removeprefix("session: ")


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed run (a `session:` line may come before it)."""
    lines = [line for line in result.stderr.splitlines() if not line.startswith("session: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("somia: error: "), lines[0]
    return lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_until(fd: int, needle: bytes, buffer: bytearray, start: int = 0) -> int:
    """Read `fd` into `buffer` until `needle` appears after `start`; return the end of it."""
    deadline = time.monotonic() + TIMEOUT
    while (found := buffer.find(needle, start)) < 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{needle!r} not seen in {TIMEOUT} s; got {bytes(buffer)!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other side of the terminal closed
            data = b""
        if not data:
            raise AssertionError(f"output ended before {needle!r}; got {bytes(buffer)!r}")
        buffer += data
    return found + len(needle)


class Terminal:
    """`somia ARGS` running in a pseudo-terminal, as in a user's shell."""

    def __init__(self, args: Sequence[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ADOPT_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.fd = master
        self.output = bytearray()
        self._seen = 0

    def expect(self, text: str) -> None:
        """Wait until `text` appears after what was expected before."""
        self._seen = read_until(self.fd, text.encode(), self.output, self._seen)

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self) -> int:
        return self.proc.wait(timeout=TIMEOUT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        os.close(self.fd)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


@pytest.fixture
def terminal(somia_server: FakeServer) -> Iterator[Callable[..., Terminal]]:
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        started.append(Terminal(args, _env(somia_server.base_url)))
        return started[-1]

    yield start
    for term in started:
        term.close()


# run


def test_run_streams_the_answer_to_stdout_and_the_session_to_stderr(
    somia_server: FakeServer,
) -> None:
    result = somia("run", "1", "Hello there", server=somia_server)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: Hello there\n"
    assert session_of(result.stderr) == somia_server.fake.session_ids[0]
    assert somia_server.requests[0].json["stream"] is True


def hold_the_next_answer_after_two_words(server: FakeServer) -> None:
    """The next streamed answer stops after "word0 word1 " until the client leaves (or for
    as long as any wait of these tests), so it is still streaming whenever a test acts."""
    server.faults.stall_stream_after(2, TIMEOUT)


@contextlib.contextmanager
def story(server: FakeServer) -> Iterator[subprocess.Popen[bytes]]:
    """`somia run 2 "tell me a story"` streaming a story; killed on the way out."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "somia", "run", "2", "tell me a story"],
        env=_env(server.base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        yield proc
    finally:
        proc.kill()
        proc.communicate(timeout=TIMEOUT)


def test_run_writes_each_piece_as_it_arrives(somia_server: FakeServer) -> None:
    hold_the_next_answer_after_two_words(somia_server)
    with story(somia_server) as proc:
        assert proc.stdout is not None
        out = bytearray()
        read_until(proc.stdout.fileno(), b"word1 ", out)
        assert proc.poll() is None  # still streaming: the first words came before the rest
        assert b"word29" not in out


def test_run_no_stream_prints_the_whole_answer(somia_server: FakeServer) -> None:
    result = somia("run", "1", "Hello", "--no-stream", server=somia_server)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: Hello\n"
    assert somia_server.requests[0].json["stream"] is False
    assert session_of(result.stderr) == somia_server.fake.session_ids[0]


def test_run_json_prints_the_final_response(somia_server: FakeServer) -> None:
    result = somia("run", "1", "--json", "Hello", server=somia_server)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["message"] == "You said: Hello"
    assert answer["session_id"] == session_of(result.stderr)
    assert answer["history"][-1] == {"role": "assistant", "content": "You said: Hello"}


def test_run_reads_the_message_from_stdin_given_a_dash(somia_server: FakeServer) -> None:
    result = somia("run", "1", "-", server=somia_server, stdin="from a pipe\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: from a pipe\n"
    assert somia_server.requests[0].json["input_data"] == "from a pipe"


@pytest.mark.parametrize("stdin", ["", "\n", " \t\r\n\n"], ids=["empty", "newline", "blank"])
def test_run_with_nothing_on_stdin_given_a_dash_is_a_usage_error(
    somia_server: FakeServer, stdin: str
) -> None:
    result = somia("run", "1", "-", server=somia_server, stdin=stdin)

    assert result.returncode == 2
    assert error_line(result) == "somia: error: no message on standard input"
    assert result.stdout == ""
    assert somia_server.requests == []


def test_run_without_a_message_sends_no_input(somia_server: FakeServer) -> None:
    result = somia("run", "1", server=somia_server)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hello!")
    assert "input_data" not in somia_server.requests[0].json


def test_run_with_session_continues_it(somia_server: FakeServer) -> None:
    first = somia("run", "1", "first", server=somia_server)
    session = session_of(first.stderr)

    second = somia("run", "1", "second", "--session", session, server=somia_server)

    assert second.returncode == 0, second.stderr
    assert second.stdout == "You said: second\n"
    assert session_of(second.stderr) == session
    assert somia_server.requests[1].path.endswith(f"/session/{session}")
    assert somia_server.fake.session_ids == [session]
    assert len(somia_server.fake.history(session)) == 4


def test_run_sends_the_pipeline_version_digits_as_an_integer(somia_server: FakeServer) -> None:
    result = somia("run", "1", "a", "--pipeline-version", "3", server=somia_server)

    assert result.returncode == 0, result.stderr
    assert somia_server.requests[0].json["pipeline_version"] == 3


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (["--api-key-header", "apikey"], None),
        (["--header-name", "apikey"], None),  # the flag's older name
        ([], "apikey"),
        (["--api-key-header", "apikey"], "x-api-key"),  # the flag wins
    ],
    ids=["flag", "older-flag", "variable", "flag-over-variable"],
)
def test_the_key_goes_in_the_header_of_api_key_header_or_its_variable(
    args: list[str], variable: str | None
) -> None:
    # This fake answers 401 to a key in any other header.
    with FakeServer(FakeSomia(api_key=KEY, api_key_header="apikey")) as server:
        env = _env(server.base_url)
        if variable is not None:
            env["SOMIA_API_KEY_HEADER"] = variable
        result = somia("run", "1", "hi", *args, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hi\n"


def test_help_names_each_connection_flag_with_its_default() -> None:
    result = somia("run", "--help")

    help_text = " ".join(result.stdout.split())
    assert "--api-key-header H, --header-name H header that carries the key" in help_text
    assert "(default: $SOMIA_API_KEY_HEADER, else x-api-key)" in help_text
    assert "(default: $SOMIA_BASE_URL, else https://api.somia-platform.com)" in help_text
    assert "--timeout S seconds to wait to connect, and for each read of the answer" in help_text
    assert "(default: 60)" in help_text


def test_base_url_and_api_key_options_override_the_environment(
    somia_server: FakeServer,
) -> None:
    wrong = _env(f"http://127.0.0.1:{free_port()}", api_key="not-the-key")
    # Connection options go before or after the command name.
    result = somia(
        "--base-url", somia_server.base_url, "run", "1", "hi", "--api-key", KEY, env=wrong
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hi\n"


# errors and exit codes


def test_unknown_agent_is_one_error_line_and_exit_1(somia_server: FakeServer) -> None:
    result = somia("run", "404", "hi", server=somia_server)

    assert result.returncode == 1
    assert "404 Not Found: Agent not found" in error_line(result)
    assert result.stdout == ""


def test_no_server_listening_is_a_network_error_exit_3() -> None:
    result = somia("run", "1", "hi", env=_env(f"http://127.0.0.1:{free_port()}"))

    assert result.returncode == 3
    assert "ConnectError" in error_line(result)


def test_missing_api_key_is_one_line_and_exit_2(somia_server: FakeServer) -> None:
    result = somia("run", "1", "hi", env=_env(somia_server.base_url, api_key=None))

    assert result.returncode == 2
    assert result.stderr == "somia: error: no API key: pass --api-key or set SOMIA_API_KEY\n"
    assert somia_server.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["run", "abc", "hi"],
        ["run", "1", "hi", "--bogus"],
        ["run", "1", "hi", "--json", "--no-stream"],
    ],
)
def test_bad_arguments_exit_2_before_any_request(somia_server: FakeServer, args: list[str]) -> None:
    result = somia(*args, server=somia_server)

    assert result.returncode == 2
    assert "usage: somia" in result.stderr
    assert somia_server.requests == []


@pytest.mark.parametrize(
    "agent_id",
    [" 7", "7 ", "1_0", "+7", "-7", "0", "\u0661", "\uff17", "7.0", "", "9223372036854775808"],
    ids=[
        "leading-space",
        "trailing-space",
        "underscore",
        "plus",
        "negative",
        "zero",
        "arabic-indic-one",
        "fullwidth-seven",
        "decimal",
        "empty",
        "above-int64",
    ],
)
@pytest.mark.parametrize("command", ["run", "chat"])
def test_agent_ids_other_than_plain_ascii_digits_exit_2_naming_agent_id(
    somia_server: FakeServer, command: str, agent_id: str
) -> None:
    result = somia(command, agent_id, server=somia_server)

    assert result.returncode == 2
    assert "argument AGENT_ID: not an agent id" in result.stderr
    assert somia_server.requests == []


def test_the_largest_int64_agent_id_is_sent(somia_server: FakeServer) -> None:
    result = somia("run", "9223372036854775807", "hi", server=somia_server)

    assert result.returncode == 1  # this fake has no such agent
    assert "404 Not Found: Agent not found" in error_line(result)
    assert somia_server.requests[0].path.endswith("/agent/9223372036854775807/session")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "1", "hi", "--session", ".."], "--session must not be '..'"),
        (
            ["run", "1", "hi", "--pipeline-version", ""],
            "--pipeline-version must match the pattern '\\S'",
        ),
        (["--header-name", "no spaces", "run", "1"], "api_key_header must be an HTTP header"),
    ],
)
def test_values_the_sdk_refuses_are_one_line_and_exit_2(
    somia_server: FakeServer, args: list[str], message: str
) -> None:
    result = somia(*args, server=somia_server)

    assert result.returncode == 2
    assert message in error_line(result)
    assert somia_server.requests == []


def test_a_429_with_retry_after_is_retried_and_shown_with_verbose(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.fail_next(1, status=429, retry_after="0")

    result = somia("run", "1", "hi", "-v", server=somia_server)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: hi\n"
    assert "status 429, Retry-After); retry 1" in result.stderr
    assert [r.status for r in somia_server.requests] == [429, 200]


def test_vv_prints_each_request_as_somia_log_debug_does(somia_server: FakeServer) -> None:
    result = somia("run", "1", "hi", "-vv", server=somia_server)
    assert result.returncode == 0, result.stderr
    assert " somia DEBUG POST /api/v1/external/agent/1/session -> 200 (attempt 1, " in (
        result.stderr
    )


def test_a_500_is_not_retried_and_exits_1(somia_server: FakeServer) -> None:
    somia_server.faults.fail_next(1, status=500)

    result = somia("run", "1", "hi", server=somia_server)

    assert result.returncode == 1
    assert "500 Internal Server Error" in error_line(result)
    assert len(somia_server.requests) == 1


def test_an_error_event_in_the_stream_exits_1_after_the_text_so_far(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.error_event_after(1, "The agent broke")

    result = somia("run", "1", "hi there", server=somia_server)

    assert result.returncode == 1
    assert result.stdout == "You said: \n"
    assert error_line(result) == "somia: error: the agent reported an error: The agent broke"


def test_a_malformed_event_exits_1(somia_server: FakeServer) -> None:
    somia_server.faults.malformed_event_after(1)

    result = somia("run", "1", "hi", server=somia_server)

    assert result.returncode == 1
    assert "not JSON" in error_line(result)


def test_a_stream_cut_short_is_a_network_error_exit_3(somia_server: FakeServer) -> None:
    somia_server.faults.cut_stream_after(1)

    result = somia("run", "1", "hi there", server=somia_server)

    assert result.returncode == 3
    assert result.stdout == "You said: \n"
    assert "answer is incomplete" in error_line(result)


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
@pytest.mark.parametrize("mode", [[], ["--json"], ["--no-stream"]], ids=["stream", "json", "whole"])
def test_a_closed_stdout_ends_quietly_with_exit_0(
    somia_server: FakeServer, mode: list[str], unbuffered: bool
) -> None:
    env = _env(somia_server.base_url)
    if not unbuffered:
        del env["PYTHONUNBUFFERED"]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "somia", "run", "2", "tell me a story", *mode],
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_end)
    try:
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)

    assert proc.returncode == 0, stderr
    assert stderr.decode().splitlines() == [f"session: {somia_server.fake.session_ids[0]}"]


def test_a_reader_that_leaves_mid_stream_ends_it_quietly_with_exit_0(
    somia_server: FakeServer,
) -> None:
    # `somia run 2 "tell me a story" | head -c 12`
    somia_server.fake.event_delay = 0.05  # the exit is 0 whether or not words remain unsent
    with story(somia_server) as proc:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), b"word1 ", bytearray())
        proc.stdout.close()
        _, stderr = proc.communicate(timeout=TIMEOUT)

    assert proc.returncode == 0, stderr
    assert stderr.decode().splitlines() == [f"session: {somia_server.fake.session_ids[0]}"]


def test_sigint_during_an_answer_exits_130(somia_server: FakeServer) -> None:
    hold_the_next_answer_after_two_words(somia_server)
    with story(somia_server) as proc:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), b"word1 ", bytearray())
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130
    assert stderr.decode().splitlines()[-1] == "somia: interrupted"


# Ctrl-C before the answer


# Run at the start of the child Python (PYTHONPATH points at it): holds the SDK's import of
# httpx, the first ~0.1 s of every command, until a signal comes.
_SITECUSTOMIZE_HOLDING_THE_IMPORT = f"""
import sys, time

class HoldHttpx:
    def find_spec(self, name, path=None, target=None):
        if name == "httpx":
            print("loading", flush=True)
            time.sleep({TIMEOUT})
        return None

sys.meta_path.insert(0, HoldHttpx())
"""


def test_ctrl_c_while_the_somia_command_loads_is_one_line_and_exit_130(
    somia_server: FakeServer, tmp_path: Path
) -> None:
    (tmp_path / "sitecustomize.py").write_text(_SITECUSTOMIZE_HOLDING_THE_IMPORT)
    script = Path(sys.executable).with_name("somia")  # the installed console script
    proc = subprocess.Popen(
        [str(script), "run", "1", "hi"],
        env={**_env(somia_server.base_url), "PYTHONPATH": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        read_until(proc.stdout.fileno(), b"loading", bytearray())
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)

    assert proc.returncode == 130
    assert stderr.decode().splitlines() == ["", "somia: interrupted"]
    assert somia_server.requests == []


# characters the terminal cannot show, input that is not text


@pytest.mark.parametrize(
    ("encoding", "shown"),
    [("ascii", b"You said: caf\\xe9 \\u2615\n"), ("cp1252", b"You said: caf\xe9 \\u2615\n")],
)
@pytest.mark.parametrize("mode", [[], ["--no-stream"]], ids=["stream", "whole"])
def test_run_prints_an_answer_the_terminal_cannot_encode_with_those_characters_escaped(
    somia_server: FakeServer, encoding: str, shown: bytes, mode: list[str]
) -> None:
    result = somia_bytes(
        "run", "1", "café ☕", *mode, server=somia_server, PYTHONIOENCODING=encoding
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
    assert somia_server.requests[0].json["input_data"] == "café ☕"


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_run_json_on_a_terminal_that_cannot_encode_the_answer_is_still_valid_json(
    somia_server: FakeServer, encoding: str
) -> None:
    result = somia_bytes(
        "run", "1", "café ☕", "--json", server=somia_server, PYTHONIOENCODING=encoding
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"] == "You said: café ☕"


@pytest.mark.parametrize("encoding", [None, "utf-8"], ids=["locale", "strict-utf-8"])
def test_chat_refuses_a_line_that_is_not_valid_text_and_goes_on(
    somia_server: FakeServer, encoding: str | None
) -> None:
    env = {} if encoding is None else {"PYTHONIOENCODING": encoding}

    result = somia_bytes("chat", "1", server=somia_server, stdin=b"one\ncaf\xe9 \xff\ntwo\n", **env)

    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.decode().splitlines() if "error" in line]
    assert errors == ["somia: error: that line is not valid utf-8 text: not sent"]
    assert b"You said: one" in result.stdout
    assert b"You said: two" in result.stdout
    assert [r.json["input_data"] for r in somia_server.requests] == ["one", "two"]


def test_chat_in_a_terminal_refuses_a_line_that_is_not_valid_text_and_goes_on(
    somia_server: FakeServer, terminal: Callable[..., Terminal]
) -> None:
    term = terminal("chat", "1")
    term.expect("> ")
    os.write(term.fd, b"caf\xe9\n")  # typed in Latin-1 on a UTF-8 terminal
    term.expect("is not valid utf-8 text: not sent")
    term.expect("> ")
    term.type("two\n")
    term.expect("You said: two")
    term.expect("> ")
    term.type("/exit\n")

    assert term.wait() == 0
    assert [r.json["input_data"] for r in somia_server.requests] == ["two"]


def test_run_with_standard_input_that_is_not_valid_text_is_one_line_and_exit_2(
    somia_server: FakeServer,
) -> None:
    result = somia_bytes("run", "1", "-", server=somia_server, stdin=b"caf\xe9\n")

    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "somia: error: standard input is not valid utf-8 text: not sent"
    ]
    assert somia_server.requests == []


@pytest.mark.parametrize("command", ["run", "chat"])
@pytest.mark.parametrize("session", ["", " "], ids=["empty", "blank"])
def test_an_empty_session_is_one_line_and_exit_2_before_any_request(
    somia_server: FakeServer, command: str, session: str
) -> None:
    # `--session "$(cut -d' ' -f2 session.txt)"` with an empty session.txt
    result = somia(command, "1", "--session", session, server=somia_server, stdin="hi\n")

    assert result.returncode == 2
    assert error_line(result) == (
        "somia: error: --session is empty; leave it out to start a new session"
    )
    assert somia_server.requests == []


# fake-server


def test_fake_server_command_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "somia", "fake-server", "--port", "0", "--any-agent"],
        env=_env(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        out = bytearray()
        read_until(proc.stdout.fileno(), b"\n", out)
        url = out.decode().split(" on ")[1].split()[0]
        result = somia("run", "77", "hi", env=_env(url, api_key="sk-fake-somia"))
        proc.terminate()
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        proc.kill()
        proc.communicate(timeout=TIMEOUT)
    assert result.stdout == "You said: hi\n"


def test_fake_server_help_names_the_somia_command() -> None:
    result = somia("fake-server", "--help", env=_env(None))

    assert result.returncode == 0
    assert result.stdout.startswith("usage: somia fake-server ")


def test_fake_server_without_the_testing_extra_is_one_line_and_exit_2() -> None:
    # Stands in for an install without `somia[testing]`: its two packages cannot be imported.
    code = (
        "import sys; sys.modules['uvicorn'] = sys.modules['starlette'] = None; "
        "from somia.__main__ import main; sys.exit(main(['fake-server', '--port', '0']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "somia: error: the fake Somia server needs the testing extra: pip install 'somia[testing]'"
    ]


# chat


def test_chat_keeps_one_session_over_two_turns_and_ends_on_exit(
    somia_server: FakeServer, terminal: Callable[..., Terminal]
) -> None:
    term = terminal("chat", "1")
    term.expect("> ")
    term.type("Hello\n")
    term.expect("You said: Hello")
    term.expect("> ")
    term.type("And again\n")
    term.expect("You said: And again")
    term.expect("> ")
    term.type("/exit\n")

    assert term.wait() == 0
    (session,) = somia_server.fake.session_ids
    assert somia_server.requests[1].path.endswith(f"/session/{session}")
    assert len(somia_server.fake.history(session)) == 4
    assert term.text.count("session: ") == 1


def test_chat_ends_on_ctrl_d(terminal: Callable[..., Terminal]) -> None:
    term = terminal("chat", "1")
    term.expect("> ")
    term.type("\x04")

    assert term.wait() == 0


def test_ctrl_c_cancels_the_answer_and_the_chat_goes_on_until_ctrl_c_at_the_prompt(
    somia_server: FakeServer, terminal: Callable[..., Terminal]
) -> None:
    hold_the_next_answer_after_two_words(somia_server)
    term = terminal("chat", "2")
    term.expect("> ")
    term.type("tell me a story\n")
    term.expect("word1 ")
    term.type("\x03")
    term.expect("(answer cancelled)")
    term.expect("> ")
    term.type("and now?\n")
    term.expect("Short answer.")
    term.expect("> ")
    term.type("\x03")

    assert term.wait() == 130
    assert "word29" not in term.text
    (session,) = somia_server.fake.session_ids
    assert somia_server.requests[1].path.endswith(f"/session/{session}")


def test_chat_reads_turns_from_a_pipe_and_goes_on_after_a_failed_turn(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.fail_next(1, status=500)

    result = somia("chat", "1", server=somia_server, stdin="one\ntwo\n/exit\n")

    assert result.returncode == 1  # a turn failed: the status says so, even after /exit
    assert "500 Internal Server Error" in result.stderr
    assert "You said: two" in result.stdout
    assert len(somia_server.fake.session_ids) == 1


def test_chat_exits_with_the_status_of_its_last_failed_turn() -> None:
    # Nothing listens: every turn fails without an answer (network, 3).
    env = _env(f"http://127.0.0.1:{free_port()}")
    result = somia("chat", "1", env=env, stdin="one\ntwo\n")
    assert result.returncode == 3
    assert result.stderr.count("somia: error: ") == 2


def test_chat_on_an_unknown_session_exits_1_after_its_turns(somia_server: FakeServer) -> None:
    args = ("chat", "1", "--session", "no-such-session")
    result = somia(*args, server=somia_server, stdin="one\ntwo\n")
    assert result.returncode == 1
    assert result.stderr.count("404 Not Found") == 2


@pytest.mark.parametrize("status", [401, 403])
def test_chat_ends_at_once_when_the_key_is_refused(somia_server: FakeServer, status: int) -> None:
    somia_server.faults.fail_next(1, status=status)
    result = somia("chat", "1", server=somia_server, stdin="one\ntwo\n")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"somia: error: {status} ")
    assert len(somia_server.requests) == 1  # the second line was never sent


# timeouts


def test_timeout_bounds_each_read_and_total_timeout_the_whole_turn(server: ScriptedServer) -> None:
    server.script(Stall(10.0), Stall(10.0))
    env = _env(server.base_url)
    per_read = somia("run", "1", "hi", "--no-stream", "--timeout", "0.3", env=env)
    whole = somia("--total-timeout", "0.3", "run", "1", "hi", env=env)
    assert per_read.returncode == 3
    assert error_line(per_read).endswith(
        f"read timeout; the request was sent, so the turn may have run (base URL {server.base_url})"
    )
    assert whole.returncode == 3
    assert "the total timeout of 0.3 s was reached after 1 attempt" in error_line(whole)


def test_idle_timeout_ends_a_stream_kept_alive_by_comments(server: ScriptedServer) -> None:
    server.script(Events([chunk("Hel"), Repeat(b": keep-alive\n\n", 0.1)]))
    result = somia("--idle-timeout", "0.5", "run", "1", "hi", env=_env(server.base_url))
    assert result.returncode == 3
    assert "received no event of its answer for 0.5 s" in error_line(result)
    assert result.stdout == "Hel\n"  # what came before is shown


@pytest.mark.parametrize("option", ["--timeout", "--total-timeout", "--idle-timeout"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon", "1e10"])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_exits_2(
    somia_server: FakeServer, option: str, value: str
) -> None:
    result = somia("run", "1", "hi", option, value, server=somia_server)
    assert result.returncode == 2
    assert f"not a positive number of seconds, at most 2000000: '{value}'" in result.stderr
    assert somia_server.requests == []
