"""The policy both clients share: preparing a call, mapping each answer to a typed result or
error, the key header and keeping the key secret.

Behaviour per status is checked through `SomiaClient` and `AsyncSomiaClient` over
`httpx.MockTransport`; the logging test uses a small real loopback server so that httpcore
logs too. Retries and streams over real loopback are tested in test_client.py,
test_async_client.py and test_streaming.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import httpx
import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from somia._base import PreparedCall, session_from_response
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
    ServerError,
    ServiceUnavailableError,
    SomiaError,
    TransportError,
    UnprocessableEntityError,
)
from somia._models import AgentSessionResponse

BASE = "https://api.example.test"
KEY = "sk-test-BASEKEY-7f3a9c"
SESSION = {
    "session_id": "s-1",
    "message": "Hi",
    "history": [],
    "metadata": {},
    "pending": False,
    "finished": True,
}
STATUS_CLASSES: list[tuple[int, type[ApiError]]] = [
    (302, RedirectError),
    (307, RedirectError),
    (400, BadRequestError),
    (401, AuthError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (408, ApiError),
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

Handler = Callable[[httpx.Request], httpx.Response]


def _sync_client(handler: Handler, **options: Any) -> SomiaClient:
    options.setdefault("base_url", BASE)
    options.setdefault("api_key", KEY)
    options.setdefault("retries", 0)
    return SomiaClient(http_client=httpx.Client(transport=httpx.MockTransport(handler)), **options)


def _async_client(handler: Handler, **options: Any) -> AsyncSomiaClient:
    options.setdefault("base_url", BASE)
    options.setdefault("api_key", KEY)
    options.setdefault("retries", 0)
    return AsyncSomiaClient(
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **options
    )


def _run_sync(
    handler: Handler, *args: Any, client: dict[str, Any] | None = None, **call: Any
) -> Any:
    """One create (or, given a session id, continue) call through a SomiaClient."""
    with _sync_client(handler, **(client or {})) as somia_client:
        return somia_client.sessions.run(*(args or (1,)), **call)


def _run_async(
    handler: Handler, *args: Any, client: dict[str, Any] | None = None, **call: Any
) -> Any:
    """The same call through an AsyncSomiaClient."""

    async def main() -> Any:
        async with _async_client(handler, **(client or {})) as somia_client:
            return await somia_client.sessions.run(*(args or (1,)), **call)

    return asyncio.run(main())


Runner = Callable[..., Any]
RUNNERS = [pytest.param(_run_sync, id="sync"), pytest.param(_run_async, id="async")]


class _Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, json=SESSION)


# -- each status maps to its typed error, for both clients ----------------------------------


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_each_error_status_raises_its_typed_error(
    run: Runner, status: int, cls: type[ApiError]
) -> None:
    handler = _Recorder(
        httpx.Response(status, json={"detail": "nope"}, headers={"X-Request-Id": "rq-1"})
    )
    with pytest.raises(cls) as info:
        run(handler, input_data="x")
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert err.response_body == {"detail": "nope"}
    assert err.request_id == "rq-1"
    assert str(status) in str(err)
    assert "nope" in str(err)
    assert len(handler.requests) == 1


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize("status", [520, 599])
def test_non_iana_5xx_statuses_are_server_errors(run: Runner, status: int) -> None:
    with pytest.raises(ServerError):
        run(_Recorder(httpx.Response(status, text="edge went away")))


@pytest.mark.parametrize("run", RUNNERS)
def test_an_error_status_on_a_streaming_call_is_the_typed_error(run: Runner) -> None:
    with pytest.raises(NotFoundError):
        run(_Recorder(httpx.Response(404, json={"detail": "no agent"})), stream=True)


@pytest.mark.parametrize("run", RUNNERS)
def test_a_json_answer_to_a_streaming_call_is_an_invalid_response(run: Runner) -> None:
    with pytest.raises(InvalidResponseError, match="stream"):
        run(_Recorder(httpx.Response(200, json=SESSION)), stream=True)


# -- 2xx answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_a_200_json_answer_is_a_typed_session_with_its_request_id(run: Runner) -> None:
    body = {**SESSION, "usage": {"tokens": 5}}
    answer = run(_Recorder(httpx.Response(200, json=body, headers={"X-Request-Id": "r-9"})))
    assert isinstance(answer, AgentSessionResponse)
    assert answer.session_id == "s-1"
    assert answer.message == "Hi"
    assert answer.usage == {"tokens": 5}  # type: ignore[attr-defined]
    assert answer.request_id == "r-9"


@pytest.mark.parametrize("run", RUNNERS)
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
    run: Runner, answer: dict[str, Any]
) -> None:
    with pytest.raises(InvalidResponseError) as info:
        run(_Recorder(httpx.Response(200, **answer)))
    assert info.value.status_code == 200


def test_session_from_response_on_a_non_json_200_keeps_the_whole_body() -> None:
    response = httpx.Response(
        200, text="<html>" + "x" * 5000, headers={"Content-Type": "text/html"}
    )
    with pytest.raises(InvalidResponseError, match="text/html") as info:
        session_from_response(response)
    assert info.value.body == "<html>" + "x" * 5000


def test_session_from_response_parses_a_json_200() -> None:
    answer = session_from_response(httpx.Response(200, json=SESSION))
    assert answer.session_id == "s-1"
    assert answer.http is not None
    assert answer.http.status_code == 200


# -- transport failures ---------------------------------------------------------------------


def _raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize("run", RUNNERS)
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
    run: Runner, exc: httpx.HTTPError, cls: type[TransportError]
) -> None:
    with pytest.raises(cls) as info:
        run(_raising(exc))
    assert not isinstance(info.value, httpx.HTTPError)
    assert info.value.__cause__ is exc


# -- bad input fails before anything is sent ------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_an_unknown_keyword_is_a_type_error_naming_it_and_nothing_is_sent(run: Runner) -> None:
    handler = _Recorder()
    with pytest.raises(TypeError, match="inputdata"):
        run(handler, inputdata="typo")
    assert handler.requests == []


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize(
    ("args", "call", "error", "name"),
    [
        ((True,), {}, TypeError, "agent_id"),
        ((0,), {}, ValueError, "agent_id"),
        ((1,), {"session_id": ".."}, ValueError, "session_id"),
        ((1,), {"input_data": {1, 2}}, TypeError, "input_data"),
        ((1,), {"pipeline_version": 1.5}, TypeError, "pipeline_version"),
        ((1,), {"timeout": 0}, ValueError, "timeout"),
        ((1,), {"idempotency_key": "a\r\nb"}, ValueError, "idempotency_key"),
        ((1,), {"extra_headers": {"X-A": "1\r\nX-B: 2"}}, ValueError, "extra_headers"),
    ],
)
def test_bad_arguments_fail_naming_the_argument_before_anything_is_sent(
    run: Runner, args: tuple[Any, ...], call: dict[str, Any], error: type[Exception], name: str
) -> None:
    handler = _Recorder()
    with pytest.raises(error, match=name):
        run(handler, *args, **call)
    assert handler.requests == []


# -- what every request carries -------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_a_create_call_posts_json_with_the_key_user_agent_and_an_idempotency_key(
    run: Runner,
) -> None:
    handler = _Recorder()
    run(handler, input_data="Hello")
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


@pytest.mark.parametrize("run", RUNNERS)
def test_run_with_a_session_id_continues_that_session_in_one_path_segment(run: Runner) -> None:
    handler = _Recorder()
    run(handler, 7, session_id="a/b?c#d")
    (request,) = handler.requests
    assert request.url.raw_path == b"/api/v1/external/agent/7/session/a%2Fb%3Fc%23d"


@pytest.mark.parametrize("run", RUNNERS)
def test_stream_true_asks_for_an_event_stream(run: Runner) -> None:
    handler = _Recorder(httpx.Response(404))
    with pytest.raises(NotFoundError):
        run(handler, stream=True)
    (request,) = handler.requests
    assert request.headers.get_list("accept") == ["text/event-stream"]
    assert json.loads(request.content)["stream"] is True


@pytest.mark.parametrize("run", RUNNERS)
def test_the_key_goes_under_the_overridden_header_name_only(run: Runner) -> None:
    handler = _Recorder()
    run(handler, client={"api_key_header": "apikey"})
    (request,) = handler.requests
    assert request.headers.get_list("apikey") == [KEY]
    assert "x-api-key" not in request.headers
    assert [value for _, value in request.headers.items() if KEY in value] == [KEY]


@pytest.mark.parametrize("run", RUNNERS)
def test_extra_headers_are_sent_but_cannot_replace_the_key(run: Runner) -> None:
    handler = _Recorder()
    run(handler, extra_headers={"X-Trace": "t-1", "x-api-key": "sk-other"})
    (request,) = handler.requests
    assert request.headers["x-trace"] == "t-1"
    assert request.headers.get_list("x-api-key") == [KEY]


def test_each_call_gets_a_fresh_idempotency_key_and_a_given_one_is_used_as_is() -> None:
    handler = _Recorder()
    with _sync_client(handler) as client:
        client.sessions.create_session(1)
        client.sessions.create_session(1)
        client.sessions.create_session(1, idempotency_key="order-42-turn-1")
    first, second, third = (r.headers.get_list("idempotency-key") for r in handler.requests)
    assert len(first) == len(second) == 1
    assert len(first[0]) >= 16
    assert first != second
    assert third == ["order-42-turn-1"]


@pytest.mark.parametrize("run", RUNNERS)
def test_a_per_call_timeout_overrides_the_client_timeout(run: Runner) -> None:
    handler = _Recorder(httpx.Response(200, json=SESSION))
    run(handler, client={"timeout": 30}, timeout=4.5)
    run(handler, client={"timeout": 30})
    first, second = handler.requests
    assert first.extensions["timeout"]["read"] == 4.5
    assert second.extensions["timeout"]["read"] == 30.0


def test_the_retry_attempt_header_is_added_only_on_retries_with_the_same_idempotency_key() -> None:
    headers = {"Idempotency-Key": "k-1", "x-api-key": KEY}
    call = PreparedCall(
        url=f"{BASE}/api/v1/external/agent/1/session",
        headers=headers,
        content=b'{"stream":false}',
        timeout=httpx.Timeout(5.0),
        stream=False,
        what="POST /api/v1/external/agent/1/session",
    )
    with httpx.Client() as http:
        first, second, third = (call.build(http, attempt) for attempt in range(3))
    assert RETRY_ATTEMPT_HEADER not in first.headers
    assert second.headers[RETRY_ATTEMPT_HEADER] == "1"
    assert third.headers[RETRY_ATTEMPT_HEADER] == "2"
    for request in (first, second, third):
        assert request.method == "POST"
        assert request.headers["idempotency-key"] == "k-1"
        assert request.content == b'{"stream":false}'
        assert request.extensions["timeout"]["read"] == 5.0
    assert call.headers == {"Idempotency-Key": "k-1", "x-api-key": KEY}


# -- the client object ----------------------------------------------------------------------


def test_agents_is_sessions_on_both_clients() -> None:
    with _sync_client(_Recorder()) as client:
        assert client.agents is client.sessions
    async_client = _async_client(_Recorder())
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


def test_an_http_client_of_the_wrong_kind_is_a_type_error_naming_http_client() -> None:
    with pytest.raises(TypeError, match="http_client"):
        SomiaClient(api_key=KEY, http_client=httpx.AsyncClient())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="http_client"):
        AsyncSomiaClient(api_key=KEY, http_client=httpx.Client())  # type: ignore[arg-type]


@pytest.mark.parametrize("run", RUNNERS)
def test_from_env_reads_base_url_and_key_from_the_environment(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "https://env.example.test/prefix")
    monkeypatch.setenv("SOMIA_API_KEY", "sk-from-env")
    handler = _Recorder()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with SomiaClient.from_env(http_client=http) as client:
        assert client.base_url == "https://env.example.test/prefix"
        client.sessions.create_session(3)
    async_http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async_client = AsyncSomiaClient.from_env(http_client=async_http, api_key="sk-explicit")
    asyncio.run(async_client.sessions.create_session(3))
    first, second = handler.requests
    assert str(first.url) == "https://env.example.test/prefix/api/v1/external/agent/3/session"
    assert first.headers["x-api-key"] == "sk-from-env"
    assert second.headers["x-api-key"] == "sk-explicit"


def test_the_plain_http_warning_points_at_the_line_that_built_the_client() -> None:
    with pytest.warns(UserWarning, match="plain http") as record:
        SomiaClient(base_url="http://api.example.test", api_key=KEY).close()
    assert record[0].filename == __file__


# -- the key stays secret -------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_the_key_never_appears_in_an_error_message(run: Runner) -> None:
    raised: list[BaseException] = []
    handlers: list[Handler] = [
        _Recorder(httpx.Response(status, json={"detail": "nope"})) for status, _ in STATUS_CLASSES
    ]
    handlers += [
        _Recorder(httpx.Response(200, text="not json")),
        _raising(httpx.ConnectError("refused")),
        _raising(httpx.ReadTimeout("slow")),
    ]
    for handler in handlers:
        with pytest.raises(SomiaError) as info:
            run(handler)
        raised.append(info.value)
    bad_calls: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"session_id": "   "}, ValueError),
        ({"bogus": 1}, TypeError),
    ]
    for call, error in bad_calls:
        with pytest.raises(error) as bad:
            run(_Recorder(), **call)
        raised.append(bad.value)
    for exc in raised:
        assert KEY not in str(exc)
        assert KEY not in repr(exc)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.script: list[tuple[int, dict[str, str]]] = []
        self.seen: list[list[tuple[str, str]]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        server = cast(_Server, self.server)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server.seen.append(list(self.headers.items()))
        status, headers = server.script.pop(0) if server.script else (200, {})
        body = json.dumps(SESSION if status == 200 else {"detail": "no"}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_the_key_never_appears_in_debug_logs_of_somia_httpx_or_httpcore(
    loopback: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    loopback.script = [(429, {"Retry-After": "0"}), (200, {}), (401, {})]
    with SomiaClient(base_url=loopback.base_url, api_key=KEY, retries=1) as client:
        client.sessions.create_session(1, input_data="Hello")
        with pytest.raises(AuthError):
            client.sessions.create_session(1, input_data="again")
    unreachable = SomiaClient(base_url=f"http://127.0.0.1:{_closed_port()}", api_key=KEY, retries=0)
    with unreachable, pytest.raises(TransportError):
        unreachable.sessions.create_session(1)

    async def async_calls() -> None:
        async with AsyncSomiaClient(base_url=loopback.base_url, api_key=KEY) as client:
            await client.sessions.create_session(1, input_data="async")

    asyncio.run(async_calls())

    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"somia", "httpx", "httpcore"} <= loggers
    assert any("429" in r.getMessage() for r in caplog.records if r.name == "somia")
    for record in caplog.records:
        assert KEY not in record.getMessage(), record.name
    assert KEY not in caplog.text
    # The server did receive the key, once per request.
    assert len(loopback.seen) == 4
    for headers in loopback.seen:
        assert [v for k, v in headers if k.lower() == "x-api-key"] == [KEY]


def test_a_client_that_owns_its_connections_sends_the_same_headers(loopback: _Server) -> None:
    with SomiaClient(base_url=loopback.base_url, api_key=KEY, api_key_header="apikey") as client:
        client.sessions.create_session(1, extra_headers={"X-Trace": "t"})
        client.sessions.create_session(1, stream=False)
    for headers in loopback.seen:
        names = [name.lower() for name, _ in headers]
        assert [v for k, v in headers if k.lower() == "apikey"] == [KEY]
        assert "x-api-key" not in names
        assert [v for k, v in headers if k.lower() == "user-agent"] == [
            f"somia-python/{somia.__version__}"
        ]
        assert names.count("idempotency-key") == 1
    first, second = ({k.lower(): v for k, v in h} for h in loopback.seen)
    assert first["x-trace"] == "t"
    assert "x-trace" not in second
    assert first["idempotency-key"] != second["idempotency-key"]


@pytest.mark.parametrize("key", ["SECRETKEY-1 ", " SECRETKEY-1"])
def test_a_key_the_http_layer_refuses_is_never_quoted_in_the_error(
    key: str, listening_port: int
) -> None:
    # h11 refuses a header value with surrounding whitespace and quotes it in its error.
    with pytest.raises((ValueError, SomiaError)) as info:
        _create_with_key(key, listening_port)
    assert "SECRETKEY" not in str(info.value)


def _create_with_key(key: str, port: int) -> None:
    with SomiaClient(
        base_url=f"http://127.0.0.1:{port}", api_key=key, retries=0, timeout=2
    ) as client:
        client.sessions.create_session(1, input_data="x")


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.mark.parametrize("run", RUNNERS)
def test_the_key_is_redacted_from_an_error_message_when_the_server_echoes_it(
    run: Runner,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        return httpx.Response(401, json={"detail": f"invalid API key {key!r}"})

    with pytest.raises(AuthError) as info:
        run(handler)
    assert "invalid API key" in str(info.value)
    assert KEY not in str(info.value)


def test_the_plain_http_warning_from_from_env_points_at_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "http://api.example.test")
    with pytest.warns(UserWarning, match="plain http") as record:
        SomiaClient.from_env(api_key=KEY).close()
    assert record[0].filename == __file__


@pytest.mark.parametrize("run", RUNNERS)
def test_extra_headers_cannot_add_a_second_key_header_in_another_letter_case(
    run: Runner,
) -> None:
    handler = _Recorder()
    run(handler, extra_headers={"X-API-KEY": "sk-other"})
    (request,) = handler.requests
    assert request.headers.get_list("x-api-key") == [KEY]


@pytest.mark.parametrize("run", RUNNERS)
def test_a_non_ascii_extra_header_value_is_a_value_error_naming_extra_headers(
    run: Runner,
) -> None:
    handler = _Recorder()
    with pytest.raises(ValueError, match="extra_headers"):
        run(handler, extra_headers={"X-User": "José"})
    assert handler.requests == []


@pytest.mark.parametrize("run", RUNNERS)
def test_a_deeply_nested_json_error_body_still_gives_the_typed_error(run: Runner) -> None:
    with pytest.raises(ServerError):
        run(_Recorder(httpx.Response(500, content=b"[" * 100_000)))


def test_a_deeply_nested_json_200_is_an_invalid_response_not_a_recursion_error() -> None:
    with pytest.raises(InvalidResponseError):
        session_from_response(httpx.Response(200, content=b"[" * 100_000))


@pytest.mark.parametrize("run", RUNNERS)
def test_a_callers_header_differing_only_in_case_is_sent_once(run: Runner) -> None:
    events = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"data: true\n\n"
    )
    handler = _Recorder(events)
    run(handler, client={"default_headers": {"accept": "application/json"}}, stream=True)
    assert handler.requests[0].headers.get_list("accept") == ["text/event-stream"]


@pytest.mark.parametrize("run", RUNNERS)
def test_the_retry_attempt_header_replaces_a_callers_one(run: Runner) -> None:
    handler = _Recorder(httpx.Response(503, headers={"Retry-After": "0"}))
    run(
        handler,
        client={"retries": 1},
        extra_headers={"x-somia-retry-attempt": "0"},
    )
    assert handler.requests[1].headers.get_list("x-somia-retry-attempt") == ["1"]


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize("key", ["", "has space", "k" * 256, "caf\u00e9"])
def test_an_idempotency_key_the_document_forbids_fails_before_sending(
    run: Runner, key: str
) -> None:
    handler = _Recorder()
    with pytest.raises(ValueError, match="idempotency_key"):
        run(handler, idempotency_key=key)
    assert handler.requests == []


@pytest.mark.parametrize("run", RUNNERS)
def test_a_key_echoed_far_into_a_long_error_body_is_redacted_whole(run: Runner) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        detail = "x" * 176 + " key received: " + request.headers["x-api-key"]
        return httpx.Response(401, json={"detail": detail})

    with pytest.raises(AuthError) as info:
        run(handler)
    assert KEY[:6] not in str(info.value)
    assert KEY not in str(info.value.response_body)
