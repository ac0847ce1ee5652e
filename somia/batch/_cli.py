"""`somia batch`: the batch runner on the command line.

The `somia` command adds this parser (with its connection options) and hands the parsed
arguments here with the client options they give: the runner builds its own clients.
Exit status: 0 every row ok, 1 some rows failed or were not run, 2 usage (bad arguments, a
bad input, an output that belongs to another run or is in use, a file that cannot be read or
written), 3 the server could not be reached, 130 interrupted (the output stays resumable).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from somia._cli_turns import EXIT_INTERRUPTED, EXIT_USAGE, fail

__all__ = ["add_parser", "run"]


def _agent_id(text: str) -> int:
    from somia._validation import check_agent_id

    try:
        return check_agent_id(int(text) if text.isascii() and text.isdigit() else text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"not an agent id ({exc}): {text!r}") from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"not a count of 1 or more: {text!r}")
    return int(text)


def _concurrency(text: str) -> tuple[int, int]:
    low, sep, high = text.partition(":")
    bounds = (_count(low), _count(high)) if sep else (1, _count(low))
    if bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"MIN is above MAX: {text!r}")
    return bounds


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
    from somia.batch._rows import not_json  # here: _rows loads httpx, the command must not

    try:
        return name, json.loads(value, parse_constant=not_json)
    except json.JSONDecodeError:
        return name, value  # a bare word is a string: --option source=nightly
    except ValueError as exc:  # NaN or an infinity: alone a word, inside JSON an error
        if value in ("NaN", "Infinity", "-Infinity"):
            return name, value
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the `batch` command to the `somia` command's subparsers."""
    batch = commands.add_parser(
        "batch",
        parents=parents,
        help="run an agent over every row of a JSONL file; resumable",
        description='Run an agent over every row of INPUT (JSONL: {"id": ..., '
        '"input_data": ...} or {"id": ..., "turns": [...]} per line), writing one line '
        "per row to the output as it ends. Run the same command again to continue a run "
        "that stopped: every turn is sent again with the Idempotency-Key it had before.",
        epilog="Exit status: 0 every row ok, 1 some failed or not run, 2 usage, 3 server not "
        "reached, 130 interrupted.",
    )
    batch.add_argument("input", metavar="INPUT.jsonl", help="the rows to run")
    batch.add_argument(
        "-o", "--output", required=True, metavar="OUT.jsonl", help="where each row's result goes"
    )
    batch.add_argument(
        "--agent-id", type=_agent_id, metavar="N", help="the agent of rows that name none"
    )
    batch.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a request option for every row, e.g. pipeline_version=3 (a row's own win)",
    )
    batch.add_argument(
        "--concurrency",
        type=_concurrency,
        default=(1, 64),
        metavar="[MIN:]MAX",
        help="turns at once: starts at 4, adapts within MIN:MAX (default 1:64)",
    )
    batch.add_argument(
        "--max-rate", type=_positive, metavar="R", help="at most R turns started per second"
    )
    batch.add_argument(
        "--max-attempts",
        type=_count,
        default=20,
        metavar="N",
        help="attempts per turn after refusals that ran nothing: 429, 503 (default 20)",
    )
    batch.add_argument(
        "--max-retry-after",
        type=_positive,
        metavar="S",
        help="the longest Retry-After waited for; a longer one fails its row (default 60)",
    )
    batch.add_argument(
        "--deadline",
        type=_positive,
        metavar="S",
        help="seconds for the run: later, no turn starts (rows left run on the next run)",
    )
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="send the failed rows again, with their keys, and rewrite their lines",
    )
    batch.add_argument(
        "--drop-repeats",
        action="store_true",
        help="keep one line per row of an output that has a row twice (two runs at once)",
    )
    batch.add_argument(
        "--sort", action="store_true", help="rewrite the output in input order at the end"
    )
    batch.add_argument(
        "--engine",
        choices=["asyncio", "ray"],
        default="asyncio",
        help="asyncio (this process) or ray (needs somia[ray]; default asyncio)",
    )
    batch.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster to join (default: start a local Ray)",
    )
    batch.add_argument(
        "--no-progress", action="store_true", help="no progress bar or progress lines"
    )
    batch.set_defaults(command_parser=batch)


def run(args: argparse.Namespace, client_options: dict[str, Any]) -> int:
    """Run `somia batch` with parsed arguments; return the exit status."""
    from somia.batch import InputError, run_batch
    from somia.batch._rows import row_options

    try:
        row_options(dict(args.option))
    except (TypeError, ValueError) as exc:
        return fail(
            f"--option: {exc} (a value is JSON: quote a string that reads as another "
            """type, as in --option 'source="123"')""",
            EXIT_USAGE,
        )
    if args.max_retry_after is not None:
        client_options["max_retry_after"] = args.max_retry_after
    if args.engine == "ray":
        if getattr(args, "api_key", None):
            return fail(
                "--api-key cannot reach Ray workers: they read SOMIA_API_KEY from their "
                "environment (a local Ray inherits this one)",
                EXIT_USAGE,
            )
        client_options.pop("api_key", None)
    elif args.ray_address:
        return fail("--ray-address needs --engine ray", EXIT_USAGE)
    try:
        summary = run_batch(
            args.input,
            args.output,
            agent_id=args.agent_id,
            options=dict(args.option),
            client_options=client_options,
            concurrency=args.concurrency,
            max_rate=args.max_rate,
            max_attempts=args.max_attempts,
            deadline=args.deadline,
            retry_failed=args.retry_failed,
            drop_repeats=args.drop_repeats,
            sort=args.sort,
            engine=args.engine,
            ray_address=args.ray_address,
            progress=not args.no_progress,
        )
    except InputError as exc:  # one line per bad input line
        print(f"somia: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (TypeError, ValueError, ImportError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except OSError as exc:  # a file the system refused: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        print(
            "\nsomia batch: interrupted; the output is resumable: run the same command again",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(summary.describe(), file=sys.stderr)
    return summary.exit_code
