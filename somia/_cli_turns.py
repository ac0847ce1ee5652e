"""The `somia` command's turns (`run` and `chat`) and how their outcomes are reported:
error lines and exit statuses.

Like somia._cli, it imports the SDK only inside its functions: see there why.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import argparse

    from somia import SessionAnswer, SomiaClient, SomiaError, Stream, StreamEvent
    from somia._sessions import TurnOptions

PROG = "somia"
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """The command cannot run as asked; the message is one line for the user."""


def exit_code(exc: SomiaError) -> int:
    """The exit status for an SDK error: 3 when no usable answer arrived, 1 otherwise."""
    from somia import TransportError

    return EXIT_NETWORK if isinstance(exc, TransportError) else EXIT_API_ERROR


def describe_error(exc: SomiaError, base_url: str) -> str:
    """The one line shown for an SDK error, with a hint where one helps."""
    from somia import AuthError, StreamInterruptedError, TransportError

    text = str(exc)
    if isinstance(exc, AuthError):
        text += " (check --api-key or SOMIA_API_KEY, and --api-key-header)"
    elif isinstance(exc, TransportError) and not isinstance(exc, StreamInterruptedError):
        text += f" (base URL {base_url})"
    return text


def fail(message: str, code: int) -> int:
    """Print `message` as the command's one error line; return `code`."""
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def configure_text_streams() -> None:
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

    def answer(self, input_data: Any, *, stream: bool) -> SessionAnswer:
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
        options: TurnOptions = {"input_data": input_data}
        if self.pipeline_version is not None:
            options["pipeline_version"] = self.pipeline_version
        return options

    def _remember(self, session_id: str | None) -> None:
        if session_id and session_id != self._announced:
            self.session_id = self._announced = session_id
            print(f"session: {session_id}", file=sys.stderr, flush=True)


# The SDK's keywords the turns' flags set, as its messages name them.
_FLAG_OF = {"pipeline_version": "--pipeline-version", "session_id": "--session"}


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    # The SDK checks arguments (session id, pipeline version) before any request is sent;
    # its message names the keyword, the user typed the flag.
    try:
        yield
    except (TypeError, ValueError) as exc:
        text = str(exc)
        keyword = text.partition(" ")[0]
        if keyword in _FLAG_OF:
            text = _FLAG_OF[keyword] + text[len(keyword) :]
        raise UsageError(text) from None


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


def run(args: argparse.Namespace, client: SomiaClient) -> int:
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


def chat(args: argparse.Namespace, client: SomiaClient) -> int:
    """The chat loop; its status is the last failed turn's (0 when none failed). A key the
    server refuses (401, 403) ends it at once: no later turn could succeed."""
    from somia import AuthError, PermissionDeniedError, SomiaError

    talk = Conversation(client, args)
    print(
        f"Chatting with agent {talk.agent_id}. /exit or Ctrl-D ends; "
        "Ctrl-C during an answer cancels it.",
        file=sys.stderr,
        flush=True,
    )
    status = 0
    while True:
        try:
            line = _prompt("> ")
        except EOFError:
            print(file=sys.stderr)
            return status
        text = line.strip()
        if text == "/exit":
            return status
        if not text:
            continue
        try:
            text = _text(text, "that line", sys.stdin.encoding)
        except UsageError as exc:
            fail(str(exc), EXIT_USAGE)  # one bad line does not end the conversation
            continue
        try:
            talk.stream_text(text, sys.stdout)
        except KeyboardInterrupt:
            # Leaving the `with` closed the stream; the session goes on.
            print("\n(answer cancelled)", file=sys.stderr, flush=True)
        except (AuthError, PermissionDeniedError) as exc:
            return fail(describe_error(exc, client.base_url), exit_code(exc))
        except SomiaError as exc:
            # One failed turn does not end the conversation, but the exit status says so.
            status = fail(describe_error(exc, client.base_url), exit_code(exc))


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
