"""Debug output on demand: the `somia` logger's records to stderr, switched on by
`SOMIA_LOG` (read when a client is made) or by the `somia` command's `-v` / `-vv`.

At `info`, one line per retry (its reason and delay); at `debug`, also one line per request
and its outcome (method, path, status or failure, request id, attempt, time). Every line is
redacted like the SDK's errors. Without the switch the SDK prints nothing: its records go to
the logging handlers an application configures, if any.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping

ENV = "SOMIA_LOG"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT = "%(asctime)s somia %(levelname)s %(message)s"

_handler: logging.Handler | None = None
_warned: set[str] = set()


def configure_from_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Switch the output on when `SOMIA_LOG` asks for it; an unknown value warns, once."""
    value = environ.get(ENV, "").strip().lower()
    if not value:
        return
    level = LEVELS.get(value)
    if level is not None:
        enable(level)
    elif value not in _warned:
        _warned.add(value)
        warnings.warn(
            f"{ENV}={value!r} is ignored: use {' or '.join(LEVELS)}", UserWarning, stacklevel=3
        )


def enable(level: int) -> None:
    """Print the `somia` logger's records of `level` and above to stderr (one handler, however
    often this is called; the most detailed level asked for wins)."""
    global _handler
    logger = logging.getLogger("somia")
    if _handler is None:
        _handler = logging.StreamHandler(sys.stderr)
        _handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(_handler)
    if logger.level == logging.NOTSET or level < logger.level:
        logger.setLevel(level)
