"""The `somia` command line: run one turn, chat, or serve the fake API.

Exit status: 0 done, 1 the API answered with an error, 2 usage (bad arguments, no API key),
3 network (no usable answer arrived), 130 interrupted. A standard output closed by its reader
(`somia run ... | head`) ends the command quietly with 0, in every mode, like other Unix tools.

This module is the console script's entry point (`somia = "somia._cli:main"`). It and
somia._cli_turns (the turns, and how their outcomes are reported) import the SDK only inside
their functions, and `import somia` is cheap, so that a Ctrl-C while the SDK loads (inside
`main`) is one line and exit 130 too.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from somia import _cli_turns
from somia._cli_turns import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    UsageError,
    configure_text_streams,
    describe_error,
    exit_code,
    fail,
)
from somia.batch import _cli as batch_cli  # light: the runner loads when it runs

if TYPE_CHECKING:
    from somia import SomiaClient

__all__ = ["main"]

Handler = Callable[[argparse.Namespace, "SomiaClient"], int]


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
        configure_text_streams()
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            if args.command == "batch":  # it builds clients of its own (async, its retries)
                return batch_cli.run(args, _client_options(args))
            client = _client(args)
            with client:
                handler: Handler = args.handler
                return _run_reporting_errors(handler, args, client)
    except UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
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
    from somia import SomiaError

    try:
        return handler(args, client)
    except SomiaError as exc:
        return fail(describe_error(exc, client.base_url), exit_code(exc))


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _configure_logging(verbosity: int) -> None:
    if verbosity:  # the switch SOMIA_LOG turns too
        from somia._logging import enable

        enable(logging.INFO if verbosity == 1 else logging.DEBUG)


# Arguments


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `somia` command."""
    from somia._config import CONNECTION_FLAGS, describe_default, option_of
    from somia._version import __version__

    # Connection options are accepted before and after the command name; SUPPRESS keeps a
    # value given before the command from being reset by the command's parser.
    connection = _CommandParser(add_help=False)
    group = connection.add_argument_group("connection")
    for field in CONNECTION_FLAGS:  # declared with the options, in somia._config
        flag = option_of(field).flag
        assert flag is not None
        group.add_argument(
            *flag.names,
            dest=field.name,
            type=_argument_type(flag.parse),
            default=argparse.SUPPRESS,
            metavar=flag.metavar,
            help=f"{flag.help} (default: {describe_default(field)})",
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
    run.set_defaults(handler=_cli_turns.run, command_parser=run)

    chat = commands.add_parser(
        "chat",
        parents=[connection, turn],
        help="chat with an agent in one session",
        description="Chat with an agent: each line you type is a turn of the same session. "
        "Ctrl-D or /exit ends; Ctrl-C during an answer cancels that answer only, and at the "
        "prompt quits.",
    )
    chat.set_defaults(handler=_cli_turns.chat, command_parser=chat)
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
    from somia._validation import check_agent_id

    # ASCII digits only: int() would also take " 7", "+7", "1_0" or non-ASCII digits.
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"not an agent id (ASCII digits only): {text!r}")
    try:
        return check_agent_id(int(text))  # the document's bounds
    except ValueError as exc:  # also more digits than int() converts
        raise argparse.ArgumentTypeError(f"not an agent id ({exc}): {text!r}") from None


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` for argparse: its ValueError message becomes the usage error, as it is."""

    def parsed(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parsed


def _pipeline_version(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() else text


def _client(args: argparse.Namespace) -> SomiaClient:
    """The client of the connection flags given, the environment filling in the rest."""
    from somia import SomiaClient

    try:
        return SomiaClient(**_client_options(args))
    except (TypeError, ValueError) as exc:  # the SDK's argument checks; never quote the key
        raise UsageError(str(exc)) from None


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client options of the connection flags given, the environment filling in."""
    from somia._config import CONNECTION_FLAGS, with_environment

    given = {field.name: getattr(args, field.name, None) or None for field in CONNECTION_FLAGS}
    options = {name: value for name, value in with_environment(given).items() if value is not None}
    if "api_key" not in options:
        raise UsageError("no API key: pass --api-key or set SOMIA_API_KEY")
    return options


def _fake_server(argv: list[str]) -> int:
    try:
        from somia.testing.__main__ import main as serve

        return serve(argv, prog=f"{PROG} fake-server")
    except ImportError as exc:  # the `testing` extra is not installed
        return fail(str(exc), EXIT_USAGE)
