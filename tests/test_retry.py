"""somia._retry: Retry-After parsing, which failures are retried, the backoff and the deadline."""

from __future__ import annotations

import email.utils
import random
import time
from typing import Any

import attrs
import httpx
import pytest

from somia._config import OPTIONS, ClientConfig
from somia._errors import RequestTimeoutError
from somia._liveness import Deadline
from somia._retry import RetryPolicy, retry_after_seconds

NOW = 1_700_000_000.0


def default_policy(**changes: Any) -> RetryPolicy:
    """The retry policy of a client with the default options, with `changes`."""
    defaults = {field.name: field.default for field in OPTIONS}
    config = ClientConfig.create({**defaults, "api_key": "sk-retry-test"})
    return attrs.evolve(config.retry, **changes)


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


# -- retry_after_seconds --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), ("0", 0.0), (" 7 ", 7.0)])
def test_retry_after_in_seconds_is_read(value: str, seconds: float) -> None:
    assert retry_after_seconds({"retry-after": value}) == seconds


def test_retry_after_is_read_from_response_headers_whatever_their_case() -> None:
    headers = httpx.Response(429, headers={"Retry-After": "4"}).headers
    assert retry_after_seconds(headers) == 4.0


def test_retry_after_as_a_future_http_date_gives_the_seconds_until_then() -> None:
    headers = {"retry-after": _http_date(NOW + 30)}
    assert retry_after_seconds(headers, now=NOW) == pytest.approx(30.0)


def test_retry_after_as_a_past_http_date_gives_zero() -> None:
    headers = {"retry-after": _http_date(NOW - 3600)}
    assert retry_after_seconds(headers, now=NOW) == 0.0


def test_retry_after_as_an_http_date_uses_the_clock_when_now_is_not_given() -> None:
    delay = retry_after_seconds({"retry-after": _http_date(time.time() + 120)})
    assert delay is not None
    assert 100 < delay <= 120


def test_retry_after_ms_is_read_in_milliseconds_and_wins_over_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_a_negative_retry_after_ms_means_no_wait() -> None:
    assert retry_after_seconds({"retry-after-ms": "-20"}) == 0.0


@pytest.mark.parametrize("value", ["soon", "nan", "inf", ""])
def test_a_garbage_retry_after_ms_falls_back_to_retry_after(value: str) -> None:
    assert retry_after_seconds({"retry-after-ms": value, "retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": value}) is None


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "   ",
        "-5",
        "1e3",
        "Wed, 21 Oct 2015 07:28:00",  # an HTTP date without its zone
        "Mon, 99 Foo 2020",
        "Fri, 31 Dec 99999 23:59:59 GMT",
    ],
)
def test_garbage_retry_after_gives_none(value: str) -> None:
    assert retry_after_seconds({"retry-after": value}, now=NOW) is None


def test_no_retry_after_header_gives_none() -> None:
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"content-type": "application/json"}) is None


# -- decide_status --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 503])
def test_408_429_and_503_are_retried_with_a_reason_naming_the_status(status: int) -> None:
    decision = default_policy(retries=2).decide_status(status, {}, 0)
    assert decision is not None
    delay, reason = decision
    assert delay > 0
    assert str(status) in reason


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500, 501, 502, 504, 520, 599])
def test_statuses_where_the_agent_may_have_run_or_retrying_cannot_help_are_never_retried(
    status: int,
) -> None:
    assert default_policy(retries=5).decide_status(status, {"retry-after": "1"}, 0) is None


def test_retry_after_is_honoured_as_the_delay() -> None:
    decision = default_policy(retries=2, backoff=0.5).decide_status(429, {"retry-after": "3"}, 0)
    assert decision is not None
    delay, reason = decision
    assert delay == 3.0
    assert "Retry-After" in reason


def test_retry_after_of_zero_retries_at_once() -> None:
    decision = default_policy(retries=2).decide_status(503, {"retry-after": "0"}, 0)
    assert decision is not None
    assert decision[0] == 0.0


def test_retry_after_longer_than_the_cap_raises_at_once_instead_of_sleeping() -> None:
    policy = default_policy(retries=2, max_retry_after=60.0)
    assert policy.decide_status(429, {"retry-after": "61"}, 0) is None
    decision = policy.decide_status(429, {"retry-after": "60"}, 0)
    assert decision is not None
    assert decision[0] == 60.0


def test_the_retry_after_cap_is_configurable() -> None:
    policy = default_policy(retries=2, max_retry_after=5.0)
    assert policy.decide_status(503, {"retry-after-ms": "6000"}, 0) is None
    assert policy.decide_status(503, {"retry-after-ms": "4000"}, 0) is not None


def test_status_retries_stop_after_the_configured_number() -> None:
    policy = default_policy(retries=2)
    assert policy.decide_status(503, {}, 0) is not None
    assert policy.decide_status(503, {}, 1) is not None
    assert policy.decide_status(503, {}, 2) is None


def test_zero_retries_never_retries_a_status() -> None:
    policy = default_policy(retries=0)
    for status in (408, 429, 503):
        assert policy.decide_status(status, {"retry-after": "0"}, 0) is None


# -- decide_exception -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), httpx.PoolTimeout("t")],
)
def test_failures_before_the_request_was_sent_are_retried(exc: httpx.HTTPError) -> None:
    decision = default_policy(retries=1).decide_exception(exc, 0)
    assert decision is not None
    delay, reason = decision
    assert delay > 0
    assert type(exc).__name__ in reason


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("t"),
        httpx.WriteTimeout("t"),
        httpx.RemoteProtocolError("peer closed"),
        httpx.ReadError("reset"),
        httpx.WriteError("broken pipe"),
    ],
)
def test_failures_after_the_request_may_have_been_sent_are_never_retried(
    exc: httpx.HTTPError,
) -> None:
    assert default_policy(retries=5).decide_exception(exc, 0) is None


def test_exception_retries_stop_after_the_configured_number() -> None:
    policy = default_policy(retries=1)
    assert policy.decide_exception(httpx.ConnectError("x"), 0) is not None
    assert policy.decide_exception(httpx.ConnectError("x"), 1) is None
    assert default_policy(retries=0).decide_exception(httpx.ConnectError("x"), 0) is None


# -- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_each_attempt_and_is_jittered_within_75_to_100_percent() -> None:
    random.seed(1234)
    policy = default_policy(retries=10, backoff=0.5, max_backoff=100.0)
    for attempt in range(5):
        nominal = 0.5 * 2**attempt
        delays = [policy.backoff_delay(attempt) for _ in range(200)]
        assert all(0.75 * nominal <= d <= nominal for d in delays)
        # The jitter really spreads the delays over the band.
        assert min(delays) < 0.8 * nominal
        assert max(delays) > 0.95 * nominal


def test_backoff_is_capped_at_max_backoff() -> None:
    random.seed(99)
    policy = default_policy(retries=50, backoff=1.0, max_backoff=8.0)
    for attempt in (3, 4, 10, 40):
        delay = policy.backoff_delay(attempt)
        assert 6.0 <= delay <= 8.0


def test_retries_without_retry_after_wait_the_jittered_backoff() -> None:
    random.seed(7)
    policy = default_policy(retries=3, backoff=2.0, max_backoff=100.0)
    status_decision = policy.decide_status(429, {}, 1)
    exc_decision = policy.decide_exception(httpx.ConnectError("x"), 2)
    assert status_decision is not None
    assert exc_decision is not None
    assert 3.0 <= status_decision[0] <= 4.0
    assert 6.0 <= exc_decision[0] <= 8.0


def test_zero_backoff_retries_at_once() -> None:
    assert default_policy(backoff=0.0).backoff_delay(3) == 0.0


def test_retry_after_with_a_non_ascii_digit_byte_is_garbage_not_a_crash() -> None:
    # b"\xb2" decodes to "²", for which str.isdigit() is True but float() fails.
    headers = httpx.Response(503, headers=[(b"retry-after", b"\xb2")]).headers
    assert retry_after_seconds(headers) is None


# -- the total timeout's deadline -------------------------------------------------------------


def test_a_deadline_caps_each_phase_to_the_time_left_and_remembers_which() -> None:
    deadline = Deadline(10.0)
    capped = deadline.cap(httpx.Timeout(60.0, connect=5.0), "POST /x", 0)
    assert capped.connect == 5.0  # shorter than the time left: kept
    assert 9.0 < capped.read <= 10.0  # type: ignore[operator]
    assert deadline.capped == ("read", "write", "pool")
    assert deadline.cut_short(httpx.ReadTimeout("t"))
    assert not deadline.cut_short(httpx.ConnectTimeout("t"))
    assert not deadline.cut_short(httpx.ConnectError("refused"))


def test_a_deadline_caps_phases_without_a_timeout_too() -> None:
    capped = Deadline(2.0).cap(httpx.Timeout(None), "POST /x", 0)
    assert all(0 < value <= 2.0 for value in capped.as_dict().values())  # type: ignore[operator]


def test_an_expired_deadline_refuses_another_attempt_naming_the_attempts() -> None:
    deadline = Deadline(0.5)
    deadline.expires = time.monotonic() - 0.01
    with pytest.raises(RequestTimeoutError, match=r"0\.5 s was reached after 2 attempts$"):
        deadline.cap(httpx.Timeout(5.0), "POST /x", 2)
    with pytest.raises(RequestTimeoutError, match="while reading the answer"):
        deadline.check("POST /x", 1)


def test_a_deadline_fits_only_waits_shorter_than_the_time_left() -> None:
    deadline = Deadline(1.0)
    assert deadline.fits(0.5)
    assert not deadline.fits(1.0)
    message = str(deadline.expired("POST /x", 1, waiting="status 503, 4.00 s"))
    assert message == (
        "POST /x: the total timeout of 1 s would be reached during the wait before a retry "
        "(status 503, 4.00 s), after 1 attempt"
    )
