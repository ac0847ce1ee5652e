"""`total_timeout`: one limit on a whole call, retries and waits included, over loopback.

Each behaviour runs for both clients (`call` drives SomiaClient directly and
AsyncSomiaClient through asyncio.run), on both HTTP libraries (`both_stacks`). Durations are
asserted with generous upper bounds: what matters is that a call ends near its total timeout,
not near the longer wait or read timeout it would otherwise have sat through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import somia
from somia import SomiaClient
from tests.harness import (
    OK,
    Events,
    Reply,
    ScriptedServer,
    Sdk,
    Stall,
    Trickle,
    chunk,
    loopback_tls,
    render,
    scripted_server,
    sse,
)

pytestmark = pytest.mark.both_stacks

TOLERANCE = 1.0  # the "about one second", on a busy machine


def _options(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {"base_url": base_url, "api_key": "sk-k", "timeout": 10.0, **overrides}


def _timed(run: Callable[[], Any]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(somia.RequestTimeoutError) as caught:
        run()
    return caught.value, time.monotonic() - started


def test_a_stalled_answer_ends_at_the_total_timeout_saying_the_turn_may_have_run(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Stall(5.0))
    error, took = _timed(
        lambda: sdk.call(server.base_url, "create_session", 1, client={"total_timeout": 0.5})
    )
    assert 0.45 <= took < 3.0
    assert "the total timeout of 0.5 s was reached after 1 attempt;" in str(error)
    assert "the turn may have run" in str(error)


def test_the_total_timeout_counts_every_attempt_and_wait(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Reply(503), Reply(429), Stall(5.0))
    options = {"total_timeout": 0.8, "retries": 5, "retry_backoff_seconds": 0.05}
    error, took = _timed(lambda: sdk.call(server.base_url, "create_session", 1, client=options))
    assert took < 3.0
    assert "was reached after 3 attempts" in str(error)
    assert len(server.received) == 3


def test_a_backoff_longer_than_the_time_left_raises_at_once(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(503, {"detail": "busy"}), OK)
    options = {"total_timeout": 2.0, "retry_backoff_seconds": 4.0}
    error, took = _timed(lambda: sdk.call(server.base_url, "create_session", 1, client=options))
    assert took < 1.5  # not after the wait, nor at the deadline: now
    assert "would be reached during the wait before a retry (status 503" in str(error)
    assert "after 1 attempt" in str(error)
    assert "may have run" not in str(error)
    assert isinstance(error.__cause__, somia.ServiceUnavailableError)
    assert len(server.received) == 1


def test_a_retry_after_longer_than_the_time_left_raises_at_once(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(429, b"", {"Retry-After": "3"}), OK)
    error, took = _timed(
        lambda: sdk.call(server.base_url, "create_session", 1, client={"total_timeout": 1.0})
    )
    assert took < 0.9
    assert "Retry-After, 3.00 s" in str(error)
    assert isinstance(error.__cause__, somia.RateLimitError)


def test_a_per_call_total_timeout_overrides_the_clients(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Stall(5.0))
    error, took = _timed(
        lambda: sdk.call(
            server.base_url, "create_session", 1, client={"total_timeout": 30.0}, total_timeout=0.4
        )
    )
    assert took < 3.0
    assert "total timeout of 0.4 s" in str(error)


def test_a_per_call_total_timeout_of_none_keeps_the_clients(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # As documented (docs/timeouts.md): None on a call means the client's, not "no limit".
    server.script(Stall(5.0))
    error, took = _timed(
        lambda: sdk.call(
            server.base_url, "create_session", 1, client={"total_timeout": 0.4}, total_timeout=None
        )
    )
    assert took < 3.0
    assert "total timeout of 0.4 s" in str(error)


def test_a_json_answer_trickling_past_the_total_timeout_is_cut(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Events([b'{"session_id": ', 0.3, b" ", 0.3, b'"s-1"}'], status=200))
    error, _ = _timed(
        lambda: sdk.call(server.base_url, "create_session", 1, client={"total_timeout": 0.4})
    )
    assert "while reading the answer, so the turn may have run" in str(error)


def test_a_stream_is_bounded_only_up_to_its_first_byte_then_by_the_read_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    parts: list[bytes | float] = [chunk("Hel"), 0.5, chunk("Hello"), 0.5, sse(True)]
    server.script(Events(parts))
    events = sdk.call(
        server.base_url, "create_session", 1, client={"total_timeout": 0.3}, stream=True
    )
    assert [event.event_type for event in events] == ["chunk", "chunk", "end"]


def test_a_call_within_its_total_timeout_is_unaffected(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Reply(503), OK)
    options = {"total_timeout": 5.0, "retry_backoff_seconds": 0.01}
    assert sdk.call(server.base_url, "create_session", 1, client=options).session_id == "s-1"
    assert len(server.received) == 2


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1.0, ValueError), ("5", TypeError), (True, TypeError)]
)
def test_a_bad_total_timeout_is_refused_naming_it_before_sending(
    server: ScriptedServer, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="total_timeout"):
        SomiaClient(**_options(server.base_url, total_timeout=value))
    with SomiaClient(**_options(server.base_url)) as client, pytest.raises(error, match="total"):
        client.sessions.create_session(1, total_timeout=value)  # type: ignore[call-overload]
    assert server.received == []


# -- however slowly bytes trickle in ---------------------------------------------------------


def test_a_response_head_trickled_byte_by_byte_ends_at_the_total_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    # Each byte restarts the read timeout: only the watchdog ends it (the issue: 37 s for 1 s).
    server.script(Trickle(render(OK), every=0.1))
    error, took = _timed(
        lambda: sdk.call(server.base_url, "create_session", 1, client={"total_timeout": 1.0})
    )
    assert took < 1.0 + TOLERANCE
    assert "the total timeout of 1 s was reached after 1 attempt;" in str(error)
    assert "the turn may have run" in str(error)


def test_a_streams_trickled_head_ends_at_the_total_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Padding: " + b"x" * 100
    server.script(Trickle(head, every=0.1))
    error, took = _timed(
        lambda: sdk.call(
            server.base_url, "create_session", 1, client={"total_timeout": 1.0}, stream=True
        )
    )
    assert took < 1.0 + TOLERANCE
    assert "total timeout of 1 s" in str(error)


def test_a_trickled_head_on_a_reused_connection_ends_at_the_total_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(OK, Trickle(render(OK), every=0.1))
    with sdk.connect(server.base_url, total_timeout=1.0) as driver:
        driver.call("create_session", 1)
        error, took = _timed(lambda: driver.call("create_session", 1))
    assert server.received[1].connection == server.received[0].connection  # kept alive
    assert took < 1.0 + TOLERANCE
    assert "total timeout of 1 s" in str(error)


def test_a_callers_http_client_is_held_to_the_total_timeout(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(OK, Trickle(render(OK), every=0.1), Trickle(render(OK), every=0.1))
    http = sdk.stack.AsyncClient() if sdk.is_async else sdk.stack.Client()
    with sdk.connect(server.base_url, http_client=http, total_timeout=1.0) as driver:
        driver.call("create_session", 1)
        for _ in range(2):  # on the reused connection, then on a new one
            _, took = _timed(lambda: driver.call("create_session", 1))
            assert took < 1.0 + TOLERANCE
    assert server.received[1].connection == server.received[0].connection


def test_without_the_private_path_a_reused_connection_is_bounded_per_read(
    server: ScriptedServer, sdk: Sdk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented fallback (another httpcore, a custom transport): no socket to shut down
    # before the answer begins on a reused connection, so each read is bounded by what the
    # total timeout left when the attempt started.
    monkeypatch.setattr("somia._http._POOL_PATH", ("_no_such_pool",))
    server.script(OK, Trickle(render(OK)[:5], every=0.1, hold=True))  # trickles, then stalls
    with sdk.connect(server.base_url, total_timeout=1.0) as driver:
        driver.call("create_session", 1)
        error, took = _timed(lambda: driver.call("create_session", 1))
    assert isinstance(error.__cause__, sdk.stack.ReadTimeout)  # not interrupted: timed out
    assert took < 1.0 + TOLERANCE


def test_over_tls_a_trickled_head_ends_at_the_total_timeout(sdk: Sdk) -> None:
    server_tls, client_tls = loopback_tls()
    with scripted_server(server_tls) as server:
        server.script(OK, Trickle(render(OK), every=0.1), Trickle(render(OK), every=0.1))
        make = sdk.stack.AsyncClient if sdk.is_async else sdk.stack.Client
        with sdk.connect(
            server.base_url, http_client=make(verify=client_tls), total_timeout=1.0
        ) as driver:
            driver.call("create_session", 1)
            for _ in range(2):  # on the reused connection, then on a new one
                _, took = _timed(lambda: driver.call("create_session", 1))
                assert took < 1.0 + TOLERANCE
