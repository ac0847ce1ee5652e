"""SomiaClient and AsyncSomiaClient: what each call sends, how each answer and failure maps to a
result or a typed error, the retry rules, bad arguments, and the client objects themselves.

Every behaviour runs for both clients through the `sdk` fixture, on both HTTP libraries
(`both_stacks`). Answers per status are served by `httpx.MockTransport` (`run` below); retries,
timeouts and connections by the scripted loopback server, counted at the server. Streams are
tested in test_streaming.py, the key's secrecy in test_redaction.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import ModuleType
from typing import Any

import httpx
import pytest

import somia
from somia import AgentSessionsClient, AsyncAgentSessionsClient, AsyncSomiaClient, SomiaClient
from somia._config import RETRY_ATTEMPT_HEADER
from somia._errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestTimeoutError,
    RequestTimeoutStatusError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnprocessableEntityError,
)
from tests.harness import (
    BASE,
    END,
    KEY,
    OK,
    SESSION,
    Drop,
    Handler,
    Reply,
    ScriptedServer,
    Sdk,
    Stall,
    free_port,
    sse,
)

pytestmark = pytest.mark.both_stacks

STATUS_CLASSES: list[tuple[int, type[ApiError]]] = [
    (302, RedirectError),
    (307, RedirectError),
    (400, BadRequestError),
    (401, AuthError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (408, RequestTimeoutStatusError),
    (409, ConflictError),
    (418, ApiError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, ServerError),
    (502, ServerError),
    (503, ServiceUnavailableError),
    (504, ServiceUnavailableError),
    (520, ServerError),
    (599, ServerError),
]


def run(
    sdk: Sdk, handler: Handler, *args: Any, client: dict[str, Any] | None = None, **call: Any
) -> Any:
    """One `sessions.run` (agent 1 unless given) over MockTransport, no retries unless asked."""
    options = {"retries": 0, **(client or {})}
    return sdk.call(handler, "run", *(args or (1,)), client=options, **call)


class Recorder:
    """A MockTransport handler that records requests and answers from a script, then SESSION."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json=SESSION)


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


# -- each answer maps to a typed result or error ---------------------------------------------


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_each_error_status_raises_its_typed_error(
    sdk: Sdk, status: int, cls: type[ApiError]
) -> None:
    handler = Recorder(
        httpx.Response(status, json={"detail": "nope"}, headers={"X-Request-Id": "rq-1"})
    )
    with pytest.raises(cls) as info:
        run(sdk, handler, input_data="x")
    err = info.value
    assert type(err) is cls
    assert type(err.headers) is httpx.Headers  # whichever library answered
    assert err.status_code == status
    assert err.body == {"detail": "nope"}
    assert err.request_id == "rq-1"
    assert str(status) in str(err)
    assert "nope" in str(err)
    assert len(handler.requests) == 1


def test_a_200_json_answer_is_a_typed_session_with_its_request_id(sdk: Sdk) -> None:
    body = {**SESSION, "message": "Hi", "unknown_usage": {"tokens": 5}}
    answer = run(sdk, Recorder(httpx.Response(200, json=body, headers={"X-Request-Id": "r-9"})))
    assert isinstance(answer, somia.SessionAnswer)
    assert answer.session_id == "s-1"
    assert answer.message == "Hi"
    assert answer.unknown_usage == {"tokens": 5}  # type: ignore[attr-defined]
    assert answer.request_id == "r-9"
    assert type(answer.http.headers) is httpx.Headers  # whichever library answered
    assert answer.http.headers["x-request-id"] == "r-9"


@pytest.mark.parametrize(
    "answer",
    [
        {"html": "<html><body>Welcome to nginx!</body></html>"},
        {},
        {"content": b"\xff\xfe\x00garbage"},
        {"json": [SESSION]},
        {"json": {"message": "no session id"}},
        {"json": {"session_id": 42}},
    ],
    ids=["html", "empty", "non-utf8", "json-list", "no-session-id", "wrong-type"],
)
def test_a_200_that_is_not_a_session_object_is_an_invalid_response_error(
    sdk: Sdk, answer: dict[str, Any]
) -> None:
    with pytest.raises(InvalidResponseError) as info:
        run(sdk, Recorder(httpx.Response(200, **answer)))
    assert info.value.status_code == 200


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ReadTimeout("timed out"), RequestTimeoutError),
        (httpx.ConnectTimeout("timed out"), RequestTimeoutError),
        (httpx.ConnectError("connection refused"), TransportError),
        (httpx.RemoteProtocolError("server disconnected"), TransportError),
    ],
)
def test_httpx_failures_surface_as_somia_transport_errors_never_raw_httpx(
    sdk: Sdk, exc: httpx.HTTPError, cls: type[TransportError]
) -> None:
    with pytest.raises(cls) as info:
        run(sdk, raising(exc))
    assert not isinstance(info.value, httpx.HTTPError)
    # Only the cause shows the library: httpx2's own error when a caller's httpx2 client sent.
    cause = info.value.__cause__
    assert type(cause) is getattr(sdk.stack, type(exc).__name__)
    assert str(cause) == str(exc)


def test_a_deeply_nested_json_error_body_still_gives_the_typed_error(sdk: Sdk) -> None:
    with pytest.raises(ServerError):
        run(sdk, Recorder(httpx.Response(500, content=b"[" * 100_000)))


# -- bad input fails before anything is sent ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "args", "call", "error", "name"),
    [
        ("run", (True,), {}, TypeError, "agent_id"),
        ("run", ("1",), {}, TypeError, "agent_id"),
        ("run", (0,), {}, ValueError, "agent_id"),
        ("run", (1,), {"session_id": ".."}, ValueError, "session_id"),
        ("interact_session", (1, "  "), {}, ValueError, "session_id"),
        ("run", (1,), {"input_data": {1, 2}}, TypeError, "input_data"),
        ("run", (1,), {"pipeline_version": 1.5}, TypeError, "pipeline_version"),
        ("run", (1,), {"timeout": 0}, ValueError, "timeout"),
        ("run", (1,), {"idempotency_key": "a\r\nb"}, ValueError, "idempotency_key"),
        ("run", (1,), {"extra_headers": {"X-A": "1\r\nX-B: 2"}}, ValueError, "extra_headers"),
        ("run", (1,), {"extra_headers": {"X-User": "José"}}, ValueError, "extra_headers"),
        ("run", (1,), {"inputdata": "typo"}, TypeError, "inputdata"),
        ("create_session", (1,), {"colour": "red"}, TypeError, "colour"),
    ],
)
def test_bad_arguments_fail_naming_the_argument_before_anything_is_sent(
    sdk: Sdk,
    method: str,
    args: tuple[Any, ...],
    call: dict[str, Any],
    error: type[Exception],
    name: str,
) -> None:
    handler = Recorder()
    with pytest.raises(error, match=name):
        sdk.call(handler, method, *args, **call)
    assert handler.requests == []


@pytest.mark.parametrize("key", ["", "has space", "k" * 256, "caf\u00e9"])
def test_an_idempotency_key_the_document_forbids_fails_before_sending(sdk: Sdk, key: str) -> None:
    handler = Recorder()
    with pytest.raises(ValueError, match="idempotency_key"):
        run(sdk, handler, idempotency_key=key)
    assert handler.requests == []


# -- what every request carries -------------------------------------------------------------


def test_a_create_call_posts_json_with_the_key_user_agent_and_an_idempotency_key(
    sdk: Sdk,
) -> None:
    handler = Recorder()
    run(sdk, handler, input_data="Hello")
    (request,) = handler.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/api/v1/external/agent/1/session"
    assert request.headers.get_list("x-api-key") == [KEY]
    assert request.headers["user-agent"] == f"somia-python/{somia.__version__}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["idempotency-key"]
    assert RETRY_ATTEMPT_HEADER not in request.headers
    assert json.loads(request.content)["input_data"] == "Hello"


@pytest.mark.parametrize(
    ("session_id", "path"),
    [
        ("a/b?c#d", b"/api/v1/external/agent/7/session/a%2Fb%3Fc%23d"),
        ("abc/../x", b"/api/v1/external/agent/7/session/abc%2F..%2Fx"),
        ("", b"/api/v1/external/agent/7/session"),  # creates, as in 0.1.0a1
    ],
)
def test_run_with_a_session_id_continues_that_session_in_one_path_segment(
    sdk: Sdk, session_id: str, path: bytes
) -> None:
    handler = Recorder()
    run(sdk, handler, 7, session_id=session_id, input_data="b")
    (request,) = handler.requests
    assert request.url.raw_path == path
    assert json.loads(request.content)["input_data"] == "b"


def test_stream_true_asks_for_an_event_stream(sdk: Sdk) -> None:
    handler = Recorder(httpx.Response(404))
    with pytest.raises(NotFoundError):
        run(sdk, handler, stream=True)
    (request,) = handler.requests
    assert request.headers.get_list("accept") == ["text/event-stream"]
    assert json.loads(request.content)["stream"] is True


def test_the_key_goes_under_the_overridden_header_name_only(sdk: Sdk) -> None:
    handler = Recorder()
    run(sdk, handler, client={"api_key_header": "apikey"})
    (request,) = handler.requests
    assert request.headers.get_list("apikey") == [KEY]
    assert "x-api-key" not in request.headers
    assert [value for _, value in request.headers.items() if KEY in value] == [KEY]


@pytest.mark.parametrize("name", ["x-api-key", "X-API-KEY"])
def test_extra_headers_are_sent_but_cannot_replace_or_repeat_the_key(sdk: Sdk, name: str) -> None:
    handler = Recorder()
    run(sdk, handler, extra_headers={"X-Trace": "t-1", name: "sk-other"})
    (request,) = handler.requests
    assert request.headers["x-trace"] == "t-1"
    assert request.headers.get_list("x-api-key") == [KEY]


def test_a_callers_header_differing_only_in_case_is_sent_once(sdk: Sdk) -> None:
    events = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"data: true\n\n"
    )
    handler = Recorder(events)
    run(sdk, handler, client={"default_headers": {"accept": "application/json"}}, stream=True)
    assert handler.requests[0].headers.get_list("accept") == ["text/event-stream"]


def test_each_call_gets_a_fresh_idempotency_key_and_a_given_one_is_used_as_is(sdk: Sdk) -> None:
    handler = Recorder()
    with sdk.connect(handler) as driver:
        driver.call("create_session", 1)
        driver.call("create_session", 1)
        driver.call("create_session", 1, idempotency_key="order-42-turn-1")
    first, second, third = (r.headers.get_list("idempotency-key") for r in handler.requests)
    assert len(first) == len(second) == 1
    assert len(first[0]) >= 16
    assert first != second
    assert third == ["order-42-turn-1"]


def test_a_per_call_timeout_overrides_the_client_timeout(sdk: Sdk) -> None:
    handler = Recorder(httpx.Response(200, json=SESSION))
    run(sdk, handler, client={"timeout": 30}, timeout=4.5)
    run(sdk, handler, client={"timeout": 30})
    first, second = handler.requests
    assert first.extensions["timeout"]["read"] == 4.5
    assert second.extensions["timeout"]["read"] == 30.0


def test_a_client_that_owns_its_connections_sends_the_same_headers(
    server: ScriptedServer,
) -> None:
    server.script(OK, OK)
    with SomiaClient(base_url=server.base_url, api_key=KEY, api_key_header="apikey") as client:
        client.sessions.create_session(1, extra_headers={"X-Trace": "t"})
        client.sessions.create_session(1, stream=False)
    for request in server.received:
        assert request.values("apikey") == [KEY]
        assert request.values("x-api-key") == []
        assert request.values("user-agent") == [f"somia-python/{somia.__version__}"]
        assert len(request.values("idempotency-key")) == 1
    first, second = server.received
    assert first.headers["x-trace"] == "t"
    assert "x-trace" not in second.headers
    assert first.headers["idempotency-key"] != second.headers["idempotency-key"]


# -- retries, counted at the server ---------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 503])
def test_refused_statuses_are_retried_with_the_same_idempotency_key(
    server: ScriptedServer, sdk: Sdk, status: int
) -> None:
    server.script(Reply(status, {"detail": "busy"}), Reply(status, b""), OK)
    answer = sdk.call(server.base_url, "create_session", agent_id=1, input_data="hi")
    assert answer.session_id == "s-1"
    assert len(server.received) == 3
    keys = {r.headers["idempotency-key"] for r in server.received}
    assert len(keys) == 1
    assert [r.headers.get("x-somia-retry-attempt") for r in server.received] == [None, "1", "2"]
    assert server.received[0].body == server.received[2].body


@pytest.mark.parametrize("stream", [False, True])
def test_the_attempts_a_call_took_are_on_its_answer(
    server: ScriptedServer, sdk: Sdk, stream: bool
) -> None:
    answer = Reply(200, sse(SESSION) + END, {"Content-Type": "text/event-stream"}) if stream else OK
    server.script(Reply(503, {"detail": "busy"}), answer, OK)
    with sdk.connect(server.base_url) as driver:
        first = driver.final("create_session", 1) if stream else driver.call("create_session", 1)
        second = driver.call("create_session", 1)

    assert (first.http.attempts, second.http.attempts) == (2, 1)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, somia.ServerError),
        (502, somia.ServerError),
        (504, somia.ServiceUnavailableError),
    ],
)
def test_statuses_after_which_the_agent_may_have_run_are_not_retried(
    server: ScriptedServer, sdk: Sdk, status: int, error: type[Exception]
) -> None:
    server.script(Reply(status, {"detail": "boom"}), OK)
    with pytest.raises(error) as caught:
        sdk.call(server.base_url, "create_session", agent_id=1, input_data="hi")
    assert len(server.received) == 1
    assert isinstance(caught.value, somia.ApiError)
    assert caught.value.status_code == status


def test_retries_are_exhausted_then_the_typed_error_is_raised(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(*[Reply(503, {"detail": "saturated"}, {"X-Request-Id": "req-9"})] * 4)
    with pytest.raises(somia.ServiceUnavailableError) as caught:
        sdk.call(server.base_url, "create_session", agent_id=1, client={"retries": 2})
    assert len(server.received) == 3
    assert caught.value.request_id == "req-9"
    assert "saturated" in str(caught.value)


def test_zero_retries_means_a_single_attempt(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Reply(503), OK)
    with pytest.raises(somia.ServiceUnavailableError):
        sdk.call(server.base_url, "create_session", agent_id=1, client={"retries": 0})
    assert len(server.received) == 1


def test_the_retry_attempt_header_replaces_a_callers_one(sdk: Sdk) -> None:
    handler = Recorder(httpx.Response(503, headers={"Retry-After": "0"}))
    run(sdk, handler, client={"retries": 1}, extra_headers={"x-somia-retry-attempt": "0"})
    assert handler.requests[1].headers.get_list("x-somia-retry-attempt") == ["1"]


def test_retry_after_is_honoured(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Reply(429, {"detail": "slow down"}, {"Retry-After": "1"}), OK)
    started = time.monotonic()
    sdk.call(server.base_url, "create_session", agent_id=1)
    waited = time.monotonic() - started
    assert len(server.received) == 2
    assert waited >= 0.95


def test_retry_after_longer_than_the_cap_raises_at_once(server: ScriptedServer, sdk: Sdk) -> None:
    server.script(Reply(429, {"detail": "later"}, {"Retry-After": "120"}), OK)
    with pytest.raises(somia.RateLimitError) as caught:
        sdk.call(server.base_url, "create_session", agent_id=1, client={"max_retry_after": 60})
    assert len(server.received) == 1
    assert caught.value.headers["retry-after"] == "120"
    assert str(caught.value).endswith(
        "(not retried: the server asked to wait 120 s, longer than max_retry_after (60 s))"
    )


def test_a_retryable_status_after_the_last_retry_says_how_many_attempts(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(503, {"detail": "busy"}), Reply(503, {"detail": "busy"}))
    with pytest.raises(somia.ServiceUnavailableError) as caught:
        sdk.call(server.base_url, "create_session", agent_id=1, client={"retries": 1})
    assert str(caught.value) == "503 X: busy (after 2 attempts)"


def test_a_connection_dropped_after_the_request_was_sent_is_not_retried(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Drop(), OK)
    with pytest.raises(somia.TransportError):
        sdk.call(server.base_url, "create_session", agent_id=1)
    assert len(server.received) == 1


def test_a_read_timeout_is_not_retried_and_is_a_timeout_error(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Stall(2.0), OK)
    with pytest.raises(somia.RequestTimeoutError) as caught:
        sdk.call(server.base_url, "create_session", agent_id=1, timeout=0.3)
    assert len(server.received) == 1
    assert str(caught.value).endswith(
        ": read timeout; the request was sent, so the turn may have run"
    )


def test_a_refused_connection_is_retried_then_raised_as_transport_error(
    sdk: Sdk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="somia")
    with pytest.raises(somia.TransportError, match="ConnectError") as caught:
        sdk.call(f"http://127.0.0.1:{free_port()}", "create_session", 1, client={"retries": 2})
    assert not isinstance(caught.value, somia.RequestTimeoutError)
    assert str(caught.value).endswith("(after 3 attempts)")
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert "ConnectError" in retries[0].getMessage()


def test_a_connect_timeout_is_retried(sdk: Sdk) -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ConnectTimeout("timed out", request=request)
        return httpx.Response(200, json={"session_id": "s"})

    assert sdk.call(handler, "create_session", 1).session_id == "s"
    assert len(attempts) == 3


def test_retries_are_logged_with_reason_and_delay_and_never_the_key(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(Reply(503), OK)
    with SomiaClient(base_url=server.base_url, api_key=KEY, retry_backoff_seconds=0.001) as client:
        client.sessions.create_session(1)
    messages = [r.getMessage() for r in caplog.records]
    assert any("status 503" in m and "retry 1 in" in m for m in messages)
    assert any("-> 200" in m for m in messages)
    assert not any(KEY in m for m in messages)


# -- the client objects ---------------------------------------------------------------------


def test_agents_is_sessions_on_both_clients() -> None:
    with SomiaClient(api_key=KEY) as client:
        assert isinstance(client.agents, AgentSessionsClient)
        assert client.agents is client.sessions
    async_client = AsyncSomiaClient(api_key=KEY)
    assert isinstance(async_client.agents, AsyncAgentSessionsClient)
    assert async_client.agents is async_client.sessions
    asyncio.run(async_client.aclose())


@pytest.mark.parametrize("cls", [SomiaClient, AsyncSomiaClient])
def test_repr_shows_base_url_and_header_name_but_never_the_key(
    cls: type[SomiaClient] | type[AsyncSomiaClient],
) -> None:
    client = cls(base_url=BASE, api_key=KEY, api_key_header="apikey")
    text = repr(client)
    assert text.startswith(f"{cls.__name__}(")
    assert BASE in text
    assert "apikey" in text
    assert KEY not in text
    assert KEY not in str(client)


def test_an_http_client_of_the_wrong_kind_is_a_type_error_naming_http_client(
    stack: ModuleType,
) -> None:
    wanted = r"http_client must be an httpx\.Client or an httpx2\.Client, not AsyncClient"
    with pytest.raises(TypeError, match=wanted):
        SomiaClient(api_key=KEY, http_client=stack.AsyncClient())
    wanted = r"must be an httpx\.AsyncClient or an httpx2\.AsyncClient, not Client"
    with pytest.raises(TypeError, match=wanted):
        AsyncSomiaClient(api_key=KEY, http_client=stack.Client())
    with pytest.raises(TypeError, match="not object"):
        SomiaClient(api_key=KEY, http_client=object())  # type: ignore[arg-type]


def test_from_env_reads_base_url_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "https://env.example.test/prefix")
    monkeypatch.setenv("SOMIA_API_KEY", "sk-from-env")
    handler = Recorder()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with SomiaClient.from_env(http_client=http) as client:
        assert client.base_url == "https://env.example.test/prefix"
        client.sessions.create_session(3)
    async_http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async_client = AsyncSomiaClient.from_env(
        http_client=async_http, api_key="sk-explicit", timeout=3
    )
    asyncio.run(async_client.sessions.create_session(3))
    first, second = handler.requests
    assert str(first.url) == "https://env.example.test/prefix/api/v1/external/agent/3/session"
    assert first.headers["x-api-key"] == "sk-from-env"
    assert second.headers["x-api-key"] == "sk-explicit"
    assert second.extensions["timeout"]["read"] == 3


def test_the_plain_http_warning_points_at_the_line_that_built_the_client() -> None:
    with pytest.warns(UserWarning, match="plain http") as record:
        SomiaClient(base_url="http://api.example.test", api_key=KEY).close()
    assert record[0].filename == __file__


def test_the_plain_http_warning_from_from_env_points_at_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "http://api.example.test")
    with pytest.warns(UserWarning, match="plain http") as record:
        SomiaClient.from_env(api_key=KEY).close()
    assert record[0].filename == __file__


def test_closing_the_client_leaves_a_given_http_client_open(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(OK, OK)
    http = stack.Client()
    with SomiaClient(base_url=server.base_url, api_key=KEY, http_client=http) as client:
        client.sessions.create_session(1)
    assert not http.is_closed
    assert http.post(server.base_url + "/x").status_code == 200
    http.close()


def test_async_with_closes_the_clients_own_connections(server: ScriptedServer) -> None:
    async def main() -> AsyncSomiaClient:
        server.script(OK)
        async with AsyncSomiaClient(base_url=server.base_url, api_key=KEY) as client:
            answer = await client.sessions.create_session(1, input_data="x")
            assert answer.message == "hi"
        return client

    client = asyncio.run(main())
    assert client._pool.http.is_closed


def test_async_calls_run_concurrently_on_one_client(server: ScriptedServer) -> None:
    async def main() -> list[str]:
        server.script(*[OK] * 20)
        async with AsyncSomiaClient(base_url=server.base_url, api_key=KEY) as client:
            answers = await asyncio.gather(
                *(client.sessions.create_session(1, input_data=i) for i in range(20))
            )
            return [a.session_id for a in answers]

    assert asyncio.run(main()) == ["s-1"] * 20
    assert sorted(r.json()["input_data"] for r in server.received) == list(range(20))
