"""Command line of the fake Somia server: `python -m somia.testing --port 8765`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable

from somia._document import Document, load
from somia.testing._agents import echo_agent
from somia.testing._fake import (
    DEFAULT_API_KEY,
    DEFAULT_API_KEY_HEADER,
    DEFAULT_MAX_REPLAY_KEYS,
    FakeSomia,
)
from somia.testing._server import base_url_of, bind, serve

__all__ = ["main"]

DEFAULT_PORT = 8765


def _pair(text: str, convert: Callable[[str], float]) -> tuple[int, float]:
    count, sep, value = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected COUNT:VALUE, got {text!r}")
    try:
        return int(count), convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected COUNT:VALUE, got {text!r}") from None


def _fail_spec(text: str) -> tuple[int, int, str | None]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise argparse.ArgumentTypeError(f"expected N:STATUS[:RETRY_AFTER], got {text!r}")
    try:
        n, status = int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N:STATUS[:RETRY_AFTER], got {text!r}") from None
    if not 100 <= status <= 599:
        raise argparse.ArgumentTypeError(f"not an HTTP status: {status}")
    return n, status, parts[2] if len(parts) == 3 else None


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _port(text: str) -> int:
    # bind() would raise OverflowError for a number outside 0-65535.
    port = int(text) if text.isascii() and text.isdigit() else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port (0 to 65535): {text!r}")
    return port


def _document(text: str) -> Document:
    try:
        return load(text)
    except ImportError:
        raise argparse.ArgumentTypeError(
            f"reading {text} needs PyYAML (pip install pyyaml); a JSON document needs nothing"
        ) from None
    except (OSError, ValueError) as exc:  # DocumentError and JSON's errors are ValueErrors
        raise argparse.ArgumentTypeError(f"cannot read {text}: {exc}") from None


def build_parser(prog: str = "python -m somia.testing") -> argparse.ArgumentParser:
    """The argument parser of the fake server's command line (`prog` names the command)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a fake Somia Agent API server (agent 1 echoes its input).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port, 0 for any free one (%(default)s)"
    )
    parser.add_argument(
        "--api-key", default=DEFAULT_API_KEY, help="the accepted API key (%(default)s)"
    )
    parser.add_argument(
        "--api-key-header", default=DEFAULT_API_KEY_HEADER, help="its header (%(default)s)"
    )
    parser.add_argument(
        "--any-agent", action="store_true", help="every agent id answers with the echo agent"
    )
    parser.add_argument(
        "--document",
        type=_document,
        metavar="PATH",
        help="the OpenAPI document to follow, YAML or JSON (the one the SDK ships)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        help="413 above this (the document's x-somia-max-body-bytes)",
    )
    parser.add_argument(
        "--max-requests",
        type=_non_negative,
        default=256,
        help="how many recent requests the log keeps (%(default)s)",
    )
    parser.add_argument(
        "--event-delay", type=float, default=0.0, metavar="SECONDS", help="pause between events"
    )
    parser.add_argument(
        "--turn-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="each turn that runs takes this long more; replays answer at once (%(default)s)",
    )
    parser.add_argument(
        "--max-replay-keys",
        type=int,
        default=DEFAULT_MAX_REPLAY_KEYS,
        metavar="N",
        help="answers kept for Idempotency-Key replays, most recent first (%(default)s)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="INFO",
        help="INFO logs one line per request (%(default)s)",
    )
    faults = parser.add_argument_group("fault injection (each may be repeated; queued in order)")
    faults.add_argument(
        "--fail-next",
        type=_fail_spec,
        action="append",
        default=[],
        metavar="N:STATUS[:RETRY_AFTER]",
        help="answer the next N requests with STATUS, e.g. 2:503 or 1:429:2",
    )
    faults.add_argument(
        "--delay-next",
        type=lambda text: _pair(text, float),
        action="append",
        default=[],
        metavar="N:SECONDS",
        help="wait SECONDS before answering each of the next N requests",
    )
    for flag, help_text in (
        ("--cut-stream-after", "abort the next stream after K events"),
        ("--end-stream-without-terminator-after", "end the next stream after K events, no true"),
        ("--malformed-event-after", "send a non-JSON event after K events of the next stream"),
        ("--error-event-after", "end the next stream with an error event after K events"),
    ):
        faults.add_argument(
            flag, type=_non_negative, action="append", default=[], metavar="K", help=help_text
        )
    faults.add_argument(
        "--stall-stream-after",
        type=lambda text: _pair(text, float),
        action="append",
        default=[],
        metavar="K:SECONDS",
        help="send nothing for SECONDS after K events of the next stream",
    )
    return parser


def make_fake(args: argparse.Namespace) -> FakeSomia:
    """The fake described by parsed command-line arguments, faults queued."""
    fake = FakeSomia(
        api_key=args.api_key,
        api_key_header=args.api_key_header,
        default_agent=echo_agent if args.any_agent else None,
        document=args.document,
        max_body_bytes=args.max_body_bytes,
        max_requests=args.max_requests,
        event_delay=args.event_delay,
        turn_latency=args.turn_latency,
        max_replay_keys=args.max_replay_keys,
    )
    faults = fake.faults
    for n, status, retry_after in args.fail_next:
        faults.fail_next(n, status=status, retry_after=retry_after)
    for n, seconds in args.delay_next:
        faults.delay_next(n, seconds)
    for k in args.cut_stream_after:
        faults.cut_stream_after(k)
    for k in args.end_stream_without_terminator_after:
        faults.end_stream_without_terminator_after(k)
    for k in args.malformed_event_after:
        faults.malformed_event_after(k)
    for k in args.error_event_after:
        faults.error_event_after(k)
    for k, seconds in args.stall_stream_after:
        faults.stall_stream_after(k, seconds)
    return fake


def main(argv: list[str] | None = None, *, prog: str = "python -m somia.testing") -> int:
    """Run the fake server until SIGINT or SIGTERM; return the exit status."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        fake = make_fake(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("somia.testing", "uvicorn.error")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(args.log_level)
    try:
        with sock:
            asyncio.run(_run(fake, sock))
    finally:
        # main() may run again in the same process (the `somia fake-server` command's tests).
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    return 0


def _announcement(fake: FakeSomia, url: str) -> str:
    """The lines that say where the fake listens, and what to export to reach it (its key
    only when it is the fake's published one: a key given with --api-key is not printed)."""
    export = f"export SOMIA_BASE_URL={url}"
    if fake.api_key == DEFAULT_API_KEY:
        export += f" SOMIA_API_KEY={DEFAULT_API_KEY}"
    if fake.api_key_header != DEFAULT_API_KEY_HEADER:
        export += f" SOMIA_API_KEY_HEADER={fake.api_key_header}"
    return f"Fake Somia server on {url} (api key header: {fake.api_key_header})\n{export}"


async def _run(fake: FakeSomia, sock: socket.socket) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except NotImplementedError:  # Windows: fall back to a plain handler
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))

    def announce() -> None:
        print(_announcement(fake, base_url_of(sock)), flush=True)

    await serve(fake, sock, on_ready=announce, stop=stop)


if __name__ == "__main__":
    sys.exit(main())
