"""The `somia` command line: run one turn, chat, or serve the fake API.

Exit status: 0 done, 1 the API answered with an error, 2 usage (bad arguments, no API key),
3 network (no usable answer arrived), 130 interrupted. A standard output closed by its reader
(`somia run ... | head`) ends the command quietly with 0, in every mode, like other Unix tools.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import select
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from somia import (
    AgentSessionResponse,
    AuthError,
    SomiaClient,
    SomiaError,
    Stream,
    StreamEvent,
    StreamInterruptedError,
    TransportError,
    TurnOptions,
    __version__,
)
from somia._bridge import API_KEY_HEADER
from somia._validation import check_agent_id
from somia.batch import _cli as batch_cli  # light: the runner loads when it runs

__all__ = ["main"]

PROG = "somia"
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace, SomiaClient], int]


class UsageError(Exception):
    """The command cannot run as asked; the message is one line for the user."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on `argv` (default `sys.argv[1:]`); return the exit status."""
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if args.command == "fake-server":
            return _fake_server(extra)
        if extra:
            args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
        _configure_logging(getattr(args, "verbose", 0))
        _configure_text_streams()
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            if args.command == "batch":  # it builds clients of its own (async, its retries)
                return batch_cli.run(args, _client_options(args))
            client = _client(args)
            with client:
                handler: Handler = args.handler
                return _run_reporting_errors(handler, args, client)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`somia run ... | head`): it has all it wanted, so stop quietly
        # with success, like other Unix tools, and keep the interpreter's final flush from
        # failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run_reporting_errors(handler: Handler, args: argparse.Namespace, client: SomiaClient) -> int:
    try:
        return handler(args, client)
    except SomiaError as exc:
        return _fail(describe_error(exc, client.base_url), exit_code(exc))


def exit_code(exc: SomiaError) -> int:
    """The exit status for an SDK error: 3 when no usable answer arrived, 1 otherwise."""
    return EXIT_NETWORK if isinstance(exc, TransportError) else EXIT_API_ERROR


def describe_error(exc: SomiaError, base_url: str) -> str:
    """The one line shown for an SDK error, with a hint where one helps."""
    text = str(exc)
    if isinstance(exc, AuthError):
        text += " (check --api-key or SOMIA_API_KEY, and --header-name)"
    elif isinstance(exc, TransportError) and not isinstance(exc, StreamInterruptedError):
        text += f" (base URL {base_url})"
    return text


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _configure_text_streams() -> None:
    # A terminal that cannot encode a character of the answer (ASCII, cp1252) shows it
    # escaped (\xe9) rather than losing a paid answer to a UnicodeEncodeError.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    # Input bytes that do not decode become lone surrogates, refused by `_text` as one line,
    # instead of a UnicodeDecodeError that would end a chat.
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")


def _text(text: str, what: str, encoding: str | None) -> str:
    """`text` as typed, or UsageError when some of its bytes did not decode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not valid {encoding or 'UTF-8'} text: not sent") from None
    return text


def _configure_logging(verbosity: int) -> None:
    if not verbosity:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    logger = logging.getLogger("somia")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)


# Arguments


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `somia` command."""
    # Connection options are accepted before and after the command name; SUPPRESS keeps a
    # value given before the command from being reset by the command's parser.
    connection = _CommandParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        help="API base URL (default: $SOMIA_BASE_URL, else https://api.somia-platform.com)",
    )
    group.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        help="API key (default: $SOMIA_API_KEY; prefer the variable, arguments show in ps)",
    )
    group.add_argument(
        "--header-name",
        default=argparse.SUPPRESS,
        metavar="H",
        help=f"header that carries the API key (default: {API_KEY_HEADER})",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=argparse.SUPPRESS,
        metavar="S",
        help="seconds to wait to connect, and for each read of the answer (default: 60)",
    )
    group.add_argument(
        "--total-timeout",
        type=_seconds,
        default=argparse.SUPPRESS,
        metavar="S",
        help="seconds for the whole turn, retries included; a streamed answer only has to "
        "start within them (default: no limit)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log retries (-v) and every response (-vv) to stderr",
    )

    turn = _CommandParser(add_help=False)
    turn.add_argument("agent_id", type=_agent_id, metavar="AGENT_ID", help="the agent to run")
    turn.add_argument(
        "--session", metavar="ID", help="continue this session instead of creating one"
    )
    turn.add_argument(
        "--pipeline-version",
        type=_pipeline_version,
        metavar="V",
        help="pipeline version to run (default: production; digits are sent as an integer)",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[connection],
        description="Talk to agents of the Somia Agent API.",
        epilog="Exit status: 0 done, 1 API error, 2 usage, 3 network, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_CommandParser
    )

    run = commands.add_parser(
        "run",
        parents=[connection, turn],
        help="run one turn and stream the answer",
        description="Run one turn of an agent. The answer streams to stdout; the session id "
        "goes to stderr as 'session: ID', for --session on the next call.",
    )
    run.add_argument(
        "message",
        nargs="?",
        metavar="MESSAGE",
        help="the turn's input; '-' reads it from stdin; none sends no input",
    )
    output = run.add_mutually_exclusive_group()
    output.add_argument(
        "--no-stream", action="store_true", help="wait for the whole answer, then print it"
    )
    output.add_argument(
        "--json", action="store_true", help="print the final response as a JSON object"
    )
    run.set_defaults(handler=_run, command_parser=run)

    chat = commands.add_parser(
        "chat",
        parents=[connection, turn],
        help="chat with an agent in one session",
        description="Chat with an agent: each line you type is a turn of the same session. "
        "Ctrl-D or /exit ends; Ctrl-C during an answer cancels that answer only, and at the "
        "prompt quits.",
    )
    chat.set_defaults(handler=_chat, command_parser=chat)
    batch_cli.add_parser(commands, parents=[connection])

    # Its options belong to the fake server's own parser: main() passes them through.
    commands.add_parser(
        "fake-server",
        add_help=False,
        help="run the fake Somia API for tests and demos (needs somia[testing]); "
        "see 'somia fake-server --help'",
    )
    return parser


class _CommandParser(argparse.ArgumentParser):
    """A command's parser that takes positionals after options (`run 1 --json "Hi"`).

    Plain argparse gives an optional positional its (empty) value at the first positional
    and then rejects the message as unrecognized; the intermixed parse does not.
    """

    _intermixed = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixed:  # the intermixed parse calls this method itself, twice
            return super().parse_known_args(args, namespace)
        self._intermixed = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixed = False


def _agent_id(text: str) -> int:
    # ASCII digits only: int() would also take " 7", "+7", "1_0" or non-ASCII digits.
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"not an agent id (ASCII digits only): {text!r}")
    try:
        return check_agent_id(int(text))  # the document's bounds
    except ValueError as exc:  # also more digits than int() converts
        raise argparse.ArgumentTypeError(f"not an agent id ({exc}): {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def _pipeline_version(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() else text


def _client(args: argparse.Namespace) -> SomiaClient:
    try:
        return SomiaClient(**_client_options(args))
    except (TypeError, ValueError) as exc:  # the SDK's argument checks; never quote the key
        raise UsageError(str(exc)) from None


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    api_key = getattr(args, "api_key", None) or os.environ.get("SOMIA_API_KEY")
    if not api_key:
        raise UsageError("no API key: pass --api-key or set SOMIA_API_KEY")
    options: dict[str, Any] = {"api_key": api_key}
    if getattr(args, "base_url", None):
        options["base_url"] = args.base_url
    if getattr(args, "header_name", None):
        options["api_key_header"] = args.header_name
    if hasattr(args, "timeout"):
        options["timeout"] = args.timeout
    if hasattr(args, "total_timeout"):
        options["total_timeout"] = args.total_timeout
    return options


# Turns


class Conversation:
    """One session of an agent, driven turn by turn from the command line.

    The session id is kept, and announced once on stderr as `session: ID`, as soon as an
    answer carries it, even when the answer is then cut short.
    """

    def __init__(self, client: SomiaClient, args: argparse.Namespace) -> None:
        if args.session is not None and not args.session.strip():
            # An empty session file in `--session "$(cat file)"`: a new paid session would
            # start unasked.
            raise UsageError("--session is empty; leave it out to start a new session")
        self.client = client
        self.agent_id: int = args.agent_id
        self.session_id: str | None = args.session
        self._announced: str | None = None
        self.pipeline_version: int | str | None = args.pipeline_version

    def stream_text(self, input_data: Any, out: TextIO) -> None:
        """Run a turn, writing the answer's text to `out` as it arrives."""
        with self._start_stream(input_data) as stream:
            try:
                write_text(stream, out)
            finally:
                self._remember(stream.session_id)

    def answer(self, input_data: Any, *, stream: bool) -> AgentSessionResponse:
        """Run a turn and return the final response (streamed on the wire or not)."""
        if stream:
            with self._start_stream(input_data) as events:
                try:
                    return events.final_response()
                finally:
                    self._remember(events.session_id)
        with _usage_errors():
            response = self.client.sessions.run(
                self.agent_id, session_id=self.session_id, **self._options(input_data)
            )
        self._remember(response.session_id)
        return response

    def _start_stream(self, input_data: Any) -> Stream[StreamEvent]:
        with _usage_errors():
            stream: Stream[StreamEvent] = self.client.sessions.run(
                self.agent_id, session_id=self.session_id, stream=True, **self._options(input_data)
            )
        return stream

    def _options(self, input_data: Any) -> TurnOptions:
        options = TurnOptions(input_data=input_data)
        if self.pipeline_version is not None:
            options["pipeline_version"] = self.pipeline_version
        return options

    def _remember(self, session_id: str | None) -> None:
        if session_id and session_id != self._announced:
            self.session_id = self._announced = session_id
            print(f"session: {session_id}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    # The SDK checks arguments (session id, pipeline version) before any request is sent.
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def write_text(stream: Stream[StreamEvent], out: TextIO) -> None:
    """Write each chunk's new text to `out` as it arrives, then end the line.

    Raises AgentStreamError on an error event, after the text that came before it.
    """
    last = ""
    try:
        for delta in stream.text_deltas():
            out.write(delta)
            out.flush()
            last = delta
    finally:
        if last and not last.endswith("\n"):
            out.write("\n")
            out.flush()


def _read_message(message: str | None) -> str | None:
    if message is None:
        return None
    if message != "-":
        return _text(message, "MESSAGE", sys.getfilesystemencoding())
    text = sys.stdin.read()
    if not text.strip():  # nothing worth a (paid) turn
        raise UsageError("no message on standard input")
    return _text(text.rstrip("\r\n"), "standard input", sys.stdin.encoding)


def _run(args: argparse.Namespace, client: SomiaClient) -> int:
    talk = Conversation(client, args)
    input_data = _read_message(args.message)
    if args.json:
        response = talk.answer(input_data, stream=True)
        sys.stdout.write(_json(response.to_dict(), sys.stdout.encoding) + "\n")
    elif args.no_stream:
        response = talk.answer(input_data, stream=False)
        if response.message:
            sys.stdout.write(response.message.rstrip("\n") + "\n")
    else:
        talk.stream_text(input_data, sys.stdout)
    sys.stdout.flush()
    return 0


def _json(value: Any, encoding: str | None) -> str:
    # Characters stay readable where the terminal can show them; elsewhere they are JSON
    # escapes, so the output stays valid JSON.
    text = json.dumps(value, ensure_ascii=False, indent=2)
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return json.dumps(value, indent=2)
    return text


def _chat(args: argparse.Namespace, client: SomiaClient) -> int:
    talk = Conversation(client, args)
    print(
        f"Chatting with agent {talk.agent_id}. /exit or Ctrl-D ends; "
        "Ctrl-C during an answer cancels it.",
        file=sys.stderr,
        flush=True,
    )
    while True:
        try:
            line = _prompt("> ")
        except EOFError:
            print(file=sys.stderr)
            return 0
        text = line.strip()
        if text == "/exit":
            return 0
        if not text:
            continue
        try:
            text = _text(text, "that line", sys.stdin.encoding)
        except UsageError as exc:
            _fail(str(exc), EXIT_USAGE)  # one bad line does not end the conversation
            continue
        try:
            talk.stream_text(text, sys.stdout)
        except KeyboardInterrupt:
            # Leaving the `with` closed the stream; the session goes on.
            print("\n(answer cancelled)", file=sys.stderr, flush=True)
        except SomiaError as exc:
            # One failed turn does not end the conversation.
            _fail(describe_error(exc, client.base_url), exit_code(exc))


def _prompt(prompt: str) -> str:
    """Like `input(prompt)`, but a Ctrl-C as the prompt appears is never missed.

    `input` writes the prompt, then blocks in read(): a SIGINT that arrives in between only
    marks the signal as pending, and Python would act on it after the next Enter. Waiting in
    select() on the terminal and on a signal wake-up pipe closes that window.
    """
    if os.name != "posix" or sys.stdin is None or not sys.stdin.isatty():
        return input(prompt)
    sys.stdout.flush()
    print(prompt, end="", file=sys.stderr, flush=True)  # where input() puts it on a terminal
    wake_read, wake_write = os.pipe()
    try:
        os.set_blocking(wake_write, False)
        previous = signal.set_wakeup_fd(wake_write)
        try:
            # Returns once a line (or Ctrl-D) is typed; a signal raises here, or wakes it.
            select.select([sys.stdin, wake_read], [], [])
        finally:
            signal.set_wakeup_fd(previous)
    finally:
        os.close(wake_read)
        os.close(wake_write)
    line = sys.stdin.readline()  # a terminal hands over one line per read
    if not line:
        raise EOFError
    return line.removesuffix("\n")


def _fake_server(argv: list[str]) -> int:
    try:
        from somia.testing.__main__ import main as serve

        return serve(argv)
    except ImportError as exc:  # the `testing` extra is not installed
        return _fail(str(exc), EXIT_USAGE)
