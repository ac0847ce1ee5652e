"""SomiaClient over real loopback HTTP: retries, timeouts and headers, counted at the server.

Each behaviour runs for both clients: `call` drives SomiaClient directly and AsyncSomiaClient
through asyncio.run, so the two I/O loops are held to the same rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from scripted_server import Drop, Reply, ScriptedServer, Stall, free_port, scripted_server

import somia
from somia import AsyncSomiaClient, SomiaClient

OK = Reply(200, {"session_id": "s-1", "message": "hi", "history": [], "pending": False})
Call = Callable[..., Any]


@pytest.fixture
def server() -> Any:
    with scripted_server() as srv:
        yield srv


def _options(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "api_key": "sk-test-secret",
        "retry_backoff_seconds": 0.001,
        "timeout": 5.0,
        **overrides,
    }


def _sync_call(base_url: str, method: str = "create_session", /, **kwargs: Any) -> Any:
    client_options = kwargs.pop("client", {})
    with SomiaClient(**_options(base_url, **client_options)) as client:
        return getattr(client.sessions, method)(**kwargs)


def _async_call(base_url: str, method: str = "create_session", /, **kwargs: Any) -> Any:
    client_options = kwargs.pop("client", {})

    async def run() -> Any:
        async with AsyncSomiaClient(**_options(base_url, **client_options)) as client:
            return await getattr(client.sessions, method)(**kwargs)

    return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Call:
    return _sync_call if request.param == "sync" else _async_call


@pytest.mark.parametrize("status", [408, 429, 503])
def test_refused_statuses_are_retried_with_the_same_idempotency_key(
    server: ScriptedServer, call: Call, status: int
) -> None:
    server.script(Reply(status, {"detail": "busy"}), Reply(status, b""), OK)
    answer = call(server.base_url, agent_id=1, input_data="hi")
    assert answer.session_id == "s-1"
    assert len(server.received) == 3
    keys = {r.headers["idempotency-key"] for r in server.received}
    assert len(keys) == 1
    assert [r.headers.get("x-somia-retry-attempt") for r in server.received] == [None, "1", "2"]
    assert server.received[0].body == server.received[2].body


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, somia.ServerError),
        (502, somia.ServerError),
        (504, somia.ServiceUnavailableError),
    ],
)
def test_statuses_after_which_the_agent_may_have_run_are_not_retried(
    server: ScriptedServer, call: Call, status: int, error: type[Exception]
) -> None:
    server.script(Reply(status, {"detail": "boom"}), OK)
    with pytest.raises(error) as caught:
        call(server.base_url, agent_id=1, input_data="hi")
    assert len(server.received) == 1
    assert isinstance(caught.value, somia.ApiError)
    assert caught.value.status_code == status


def test_retries_are_exhausted_then_the_typed_error_is_raised(
    server: ScriptedServer, call: Call
) -> None:
    server.script(*[Reply(503, {"detail": "saturated"}, {"X-Request-Id": "req-9"})] * 4)
    with pytest.raises(somia.ServiceUnavailableError) as caught:
        call(server.base_url, agent_id=1, client={"retries": 2})
    assert len(server.received) == 3
    assert caught.value.request_id == "req-9"
    assert "saturated" in str(caught.value)


def test_zero_retries_means_a_single_attempt(server: ScriptedServer, call: Call) -> None:
    server.script(Reply(503), OK)
    with pytest.raises(somia.ServiceUnavailableError):
        call(server.base_url, agent_id=1, client={"retries": 0})
    assert len(server.received) == 1


def test_retry_after_is_honoured(server: ScriptedServer, call: Call) -> None:
    server.script(Reply(429, {"detail": "slow down"}, {"Retry-After": "1"}), OK)
    started = time.monotonic()
    call(server.base_url, agent_id=1)
    waited = time.monotonic() - started
    assert len(server.received) == 2
    assert waited >= 0.95


def test_retry_after_longer_than_the_cap_raises_at_once(server: ScriptedServer, call: Call) -> None:
    server.script(Reply(429, {"detail": "later"}, {"Retry-After": "120"}), OK)
    with pytest.raises(somia.RateLimitError) as caught:
        call(server.base_url, agent_id=1, client={"max_retry_after": 60})
    assert len(server.received) == 1
    assert caught.value.headers["retry-after"] == "120"


def test_a_connection_dropped_after_the_request_was_sent_is_not_retried(
    server: ScriptedServer, call: Call
) -> None:
    server.script(Drop(), OK)
    with pytest.raises(somia.TransportError):
        call(server.base_url, agent_id=1)
    assert len(server.received) == 1


def test_a_read_timeout_is_not_retried_and_is_a_timeout_error(
    server: ScriptedServer, call: Call
) -> None:
    server.script(Stall(2.0), OK)
    with pytest.raises(somia.RequestTimeoutError, match="read timeout"):
        call(server.base_url, agent_id=1, timeout=0.3)
    assert len(server.received) == 1


def test_a_refused_connection_is_retried_then_raised_as_transport_error(
    call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="somia")
    with pytest.raises(somia.TransportError, match="ConnectError") as caught:
        call(f"http://127.0.0.1:{free_port()}", agent_id=1, client={"retries": 2})
    assert not isinstance(caught.value, somia.RequestTimeoutError)
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert "ConnectError" in retries[0].getMessage()


def test_a_connect_timeout_is_retried() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ConnectTimeout("timed out", request=request)
        return httpx.Response(200, json={"session_id": "s"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = SomiaClient(**_options("https://api.example.test", http_client=http))
    assert client.sessions.create_session(1).session_id == "s"
    assert len(attempts) == 3


def test_every_call_gets_a_new_idempotency_key_and_the_sdk_user_agent(
    server: ScriptedServer,
) -> None:
    server.script(OK, OK)
    with SomiaClient(**_options(server.base_url)) as client:
        client.sessions.create_session(1)
        client.sessions.create_session(1)
    first, second = server.received
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]
    assert first.headers["user-agent"] == f"somia-python/{somia.__version__}"
    assert first.headers["x-api-key"] == "sk-test-secret"


def test_the_api_key_header_name_can_be_overridden(server: ScriptedServer, call: Call) -> None:
    server.script(OK)
    call(server.base_url, agent_id=1, client={"api_key_header": "apikey"})
    (request,) = server.received
    assert request.headers["apikey"] == "sk-test-secret"
    assert "x-api-key" not in request.headers


def test_per_call_timeout_and_extra_headers_apply_to_that_call_only(
    server: ScriptedServer,
) -> None:
    server.script(Stall(1.0), OK)
    with SomiaClient(**_options(server.base_url)) as client:
        with pytest.raises(somia.RequestTimeoutError):
            client.sessions.create_session(1, timeout=0.2, extra_headers={"X-Trace": "t1"})
        client.sessions.create_session(1)
    assert server.received[0].headers["x-trace"] == "t1"
    assert "x-trace" not in server.received[1].headers


def test_run_continues_when_given_a_session_id_and_creates_otherwise(
    server: ScriptedServer, call: Call
) -> None:
    server.script(OK, OK)
    call(server.base_url, "run", agent_id=7, input_data="a")
    call(server.base_url, "run", agent_id=7, session_id="abc/../x", input_data="b")
    assert server.received[0].target == "/api/v1/external/agent/7/session"
    assert server.received[1].target == "/api/v1/external/agent/7/session/abc%2F..%2Fx"
    assert server.received[1].json()["input_data"] == "b"


def test_bad_arguments_fail_before_anything_is_sent(server: ScriptedServer, call: Call) -> None:
    with pytest.raises(TypeError, match="agent_id"):
        call(server.base_url, agent_id="1")
    with pytest.raises(ValueError, match="session_id"):
        call(server.base_url, "interact_session", agent_id=1, session_id="  ")
    with pytest.raises(TypeError, match="input_data"):
        call(server.base_url, agent_id=1, input_data={1, 2})
    with pytest.raises(TypeError, match="pipeline_version"):
        call(server.base_url, agent_id=1, pipeline_version=1.5)
    with pytest.raises(TypeError, match="colour"):
        call(server.base_url, agent_id=1, colour="red")
    assert server.received == []


def test_retries_are_logged_with_reason_and_delay_and_never_the_key(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(Reply(503), OK)
    _sync_call(server.base_url, agent_id=1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("status 503" in m and "retry 1 in" in m for m in messages)
    assert any("-> 200" in m for m in messages)
    assert not any("sk-test-secret" in m for m in messages)


def test_closing_the_client_leaves_a_given_http_client_open(server: ScriptedServer) -> None:
    server.script(OK, OK)
    http = httpx.Client()
    with SomiaClient(**_options(server.base_url, http_client=http)) as client:
        client.sessions.create_session(1)
    assert not http.is_closed
    assert http.post(server.base_url + "/x").status_code == 200
    http.close()


def test_run_with_an_empty_session_id_creates_a_session_as_in_0_1_0a1(
    server: ScriptedServer, call: Call
) -> None:
    server.script(OK)
    call(server.base_url, "run", agent_id=7, session_id="", input_data="a")
    assert server.received[0].target == "/api/v1/external/agent/7/session"
