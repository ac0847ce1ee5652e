"""The one retry decision, shared by the sync and async clients.

A retried POST can run a paid agent turn twice, so only failures where the server certainly
did not run the turn are retried: a connection that failed before the request was sent, a
connect or pool timeout, and the statuses 408, 429 and 503 (the server refused the work).
A 500, 502 or 504, a read timeout, or a connection dropped after the request went out are
raised at once: the agent may already be running.

The total timeout (`total_timeout`), one budget for a call's attempts and the waits between
them, is `somia._liveness.Deadline`.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from typing import NamedTuple

import attrs
import httpx

from somia._errors import ApiError, SomiaError
from somia._http import sent_nothing

RETRYABLE_STATUSES = frozenset({408, 429, 503})


class RetryDecision(NamedTuple):
    """Retry after `delay` seconds, for `reason` (logged, and recorded on the trace)."""

    delay: float
    reason: str


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to wait; `decide_*` answer with a `RetryDecision`, or None to
    give up. Made from a client's options (`ClientConfig.retry`), where their defaults are."""

    retries: int
    backoff: float
    max_retry_after: float
    max_backoff: float = 8.0

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter before retry number `attempt + 1`."""
        delay = min(self.max_backoff, self.backoff * 2.0 ** min(attempt, 32))
        # Jitter spreads clients that failed together; keep at least 75% of the delay.
        return delay * (1.0 - 0.25 * random.random())

    def decide_exception(self, exc: httpx.HTTPError, attempt: int) -> RetryDecision | None:
        """The retry after `exc`, or None when it must be raised."""
        if attempt >= self.retries or not sent_nothing(exc):
            return None
        return RetryDecision(self.backoff_delay(attempt), type(exc).__name__)

    def refusal(self, status_code: int, headers: Mapping[str, str], attempt: int) -> str:
        """Why a retryable status is not retried (`decide_status` gave None), or ""."""
        if status_code not in RETRYABLE_STATUSES:
            return ""
        if attempt >= self.retries:
            return f"after {attempt + 1} attempt{'s' if attempt else ''}" if self.retries else ""
        asked = retry_after_seconds(headers)
        if asked is not None and asked > self.max_retry_after:
            return (
                f"not retried: the server asked to wait {asked:g} s, longer than "
                f"max_retry_after ({self.max_retry_after:g} s)"
            )
        return ""

    def decide_status(
        self, status_code: int, headers: Mapping[str, str], attempt: int
    ) -> RetryDecision | None:
        """The retry after an error status, or None to raise it."""
        if attempt >= self.retries or status_code not in RETRYABLE_STATUSES:
            return None
        asked = retry_after_seconds(headers)
        if asked is None:
            return RetryDecision(self.backoff_delay(attempt), f"status {status_code}")
        if asked > self.max_retry_after:
            return None  # the server asks for longer than the caller will wait
        return RetryDecision(asked, f"status {status_code}, Retry-After")


def ran_nothing(error: SomiaError) -> bool:
    """Whether a call's error says the server certainly ran nothing: a status the SDK
    retries, or a failure before the request was sent (what `RetryPolicy` retries)."""
    if isinstance(error, ApiError):
        return error.status_code in RETRYABLE_STATUSES
    return error.__cause__ is not None and sent_nothing(error.__cause__)


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asks to wait (`retry-after-ms`, then `Retry-After`), if it says."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isascii() and raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
