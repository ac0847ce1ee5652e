"""The fake server over real HTTP: auth, routing, answers, sessions, agents and validation."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from typing import Any

import httpx
import pytest

from somia.testing import FakeServer, FakeSomia, Turn, echo_agent
from tests.harness import documented_fields
from tests.testing.fake_helpers import continue_url, create_url, http_client, post

KEY = "sk-test-key"


@pytest.fixture
def somia_fake() -> FakeSomia:
    return FakeSomia(api_key=KEY)


def test_server_serves_on_a_loopback_port_and_reports_it(somia_server: FakeServer) -> None:
    assert somia_server.base_url == f"http://127.0.0.1:{somia_server.port}"
    assert somia_server.port > 0
    assert somia_server.api_key == KEY
    assert somia_server.api_key_header == "x-api-key"
    assert somia_server.headers == {"x-api-key": KEY}


def test_server_starts_and_stops_quickly() -> None:
    started = time.perf_counter()
    for _ in range(5):
        with FakeServer() as server:
            post(create_url(server), json={}, headers=server.headers)
    assert time.perf_counter() - started < 2.0


def test_stopped_server_refuses_connections() -> None:
    with FakeServer() as server:
        url = create_url(server)
    with pytest.raises(httpx.ConnectError):
        post(url, json={}, headers=server.headers, timeout=2)


def test_starting_a_running_server_again_is_an_error(somia_server: FakeServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        somia_server.start()


def test_without_the_testing_extra_start_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if `somia[testing]` were missing
    with pytest.raises(RuntimeError, match=r"did not start: .* pip install 'somia\[testing\]'"):
        FakeServer().start()


def test_a_busy_port_fails_to_start(somia_server: FakeServer) -> None:
    with pytest.raises(OSError):  # noqa: PT011 - the errno differs between platforms
        FakeServer(port=somia_server.port).start()


@pytest.mark.parametrize(
    ("headers", "detail"),
    [({}, "Missing API key"), ({"x-api-key": "wrong"}, "Invalid API key")],
    ids=["missing", "wrong"],
)
def test_requests_without_the_right_key_are_401(
    somia_server: FakeServer, headers: dict[str, str], detail: str
) -> None:
    response = post(create_url(somia_server), json={}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["x-request-id"].startswith("req_")
    assert somia_server.fake.session_ids == []


def test_the_key_header_name_is_configurable() -> None:
    with FakeServer(FakeSomia(api_key=KEY, api_key_header="apikey")) as server:
        accepted = post(create_url(server), json={}, headers={"apikey": KEY})
        refused = post(create_url(server), json={}, headers={"x-api-key": KEY})

    assert server.headers == {"apikey": KEY}
    assert accepted.status_code == 200
    assert refused.status_code == 401


def test_create_answers_the_session_as_json(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(create_url(somia_server), json={"input_data": "Hello"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == documented_fields(answer="application/json")
    assert body["message"] == "You said: Hello"
    assert body["history"] == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "You said: Hello"},
    ]
    assert uuid.UUID(body["session_id"]).version == 4
    assert response.headers["x-somia-session-id"] == body["session_id"]
    assert response.headers["x-request-id"].startswith("req_")


def test_history_grows_turn_by_turn(client: httpx.Client, somia_server: FakeServer) -> None:
    first = client.post(create_url(somia_server), json={"input_data": "one"}).json()
    session_id = first["session_id"]
    second = client.post(continue_url(somia_server, session_id), json={"input_data": "two"})
    third = client.post(continue_url(somia_server, session_id), json={"input_data": {"n": 3}})

    assert second.json()["session_id"] == session_id
    assert [entry["content"] for entry in third.json()["history"]] == [
        "one",
        "You said: one",
        "two",
        "You said: two",
        {"n": 3},
        'You said: {"n": 3}',
    ]
    assert somia_server.fake.history(session_id) == third.json()["history"]


def test_each_session_has_its_own_history(client: httpx.Client, somia_server: FakeServer) -> None:
    a = client.post(create_url(somia_server), json={"input_data": "a"}).json()
    b = client.post(create_url(somia_server), json={"input_data": "b"}).json()

    assert a["session_id"] != b["session_id"]
    assert len(b["history"]) == 2
    assert somia_server.fake.session_ids == [a["session_id"], b["session_id"]]


def test_create_without_input_greets_and_records_no_user_turn(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    body = client.post(create_url(somia_server), json={}).json()

    assert body["message"].startswith("Hello!")
    assert [entry["role"] for entry in body["history"]] == ["assistant"]


@pytest.mark.parametrize("agent_id", [2, 9223372036854775807])
def test_unknown_agents_are_404(
    client: httpx.Client, somia_server: FakeServer, agent_id: int
) -> None:
    response = client.post(create_url(somia_server, agent_id), json={"input_data": "x"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Agent not found"}


def test_unknown_sessions_are_404(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(continue_url(somia_server, str(uuid.uuid4())), json={})

    assert response.status_code == 404
    assert response.json() == {"detail": "Session not found"}


def test_a_session_of_another_agent_is_404(client: httpx.Client, somia_server: FakeServer) -> None:
    somia_server.fake.register_agent(2, echo_agent)
    session_id = client.post(create_url(somia_server, 2), json={}).json()["session_id"]

    response = client.post(continue_url(somia_server, session_id, agent_id=1), json={})

    assert response.status_code == 404


def test_added_sessions_can_be_continued(client: httpx.Client, somia_server: FakeServer) -> None:
    history = [{"role": "user", "content": "earlier"}]
    session_id = somia_server.fake.add_session(1, "my-session", history=history)

    body = client.post(continue_url(somia_server, session_id), json={"input_data": "now"}).json()

    assert session_id == "my-session"
    assert [entry["content"] for entry in body["history"]] == ["earlier", "now", "You said: now"]


def test_other_paths_are_json_404(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(f"{somia_server.base_url}/api/v1/other", json={})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert "x-request-id" in response.headers


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_405_with_allow(
    client: httpx.Client, somia_server: FakeServer, method: str
) -> None:
    response = client.request(method, create_url(somia_server))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"detail": "Method Not Allowed"}


def test_agents_see_the_turn_and_the_history(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    turns: list[Turn] = []

    def recording_agent(turn: Turn) -> str:
        turns.append(turn)
        return f"turn {len(turn.history) // 2 + 1}"

    somia_server.fake.register_agent(7, recording_agent)
    request = {
        "input_data": "hi",
        "pipeline_version": 3,
        "metadata": {"k": "v"},
        "tags": ["a"],
        "source": "tests",
        "environment": "ci",
        "end_user_id": "u1",
        "trace_enabled": True,
        "test": True,
    }
    first = client.post(create_url(somia_server, 7), json=request).json()
    session_id = first["session_id"]
    second = client.post(continue_url(somia_server, session_id, 7), json={"input_data": "again"})

    assert [first["message"], second.json()["message"]] == ["turn 1", "turn 2"]
    turn = turns[0]
    assert (turn.agent_id, turn.session_id, turn.new_session) == (7, session_id, True)
    assert (turn.input_data, turn.has_input, turn.stream) == ("hi", True, False)
    assert (turn.pipeline_version, turn.metadata, turn.tags) == (3, {"k": "v"}, ["a"])
    assert (turn.source, turn.environment, turn.end_user_id) == ("tests", "ci", "u1")
    assert (turn.trace_enabled, turn.test) == (True, True)
    assert turn.request == request
    assert "x-api-key" not in turn.headers
    assert turns[1].new_session is False
    assert turns[1].pipeline_version == "production"
    assert turns[1].history == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "turn 1"},
    ]
    assert second.json()["metadata"] == {"k": "v"}


def test_a_default_agent_answers_every_agent_id() -> None:
    fake = FakeSomia(agents={}, default_agent=echo_agent)
    with FakeServer(fake) as server:
        response = post(
            create_url(server, 424242), json={"input_data": "x"}, headers=server.headers
        )

    assert response.json()["message"] == "You said: x"


def test_an_agent_that_fails_gives_a_500(
    client: httpx.Client, somia_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(turn: Turn) -> str:
        raise RuntimeError("boom")

    somia_server.fake.register_agent(3, broken)
    with caplog.at_level(logging.ERROR, logger="somia.testing"):
        response = client.post(create_url(somia_server, 3), json={})

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "boom" in caplog.text


def test_an_agent_returning_a_non_text_gives_a_500(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.fake.register_agent(3, lambda turn: 42)  # type: ignore[arg-type, return-value]

    assert client.post(create_url(somia_server, 3), json={}).status_code == 500


def test_agents_register_with_a_decorator(client: httpx.Client, somia_server: FakeServer) -> None:
    @somia_server.fake.agent(5)
    def shouting(turn: Turn) -> str:
        return str(turn.input_data).upper()

    response = client.post(create_url(somia_server, 5), json={"input_data": "hey"})

    assert response.json()["message"] == "HEY"


@pytest.mark.parametrize("agent_id", [0, -1, True])
def test_agent_ids_must_be_positive_integers_to_register(agent_id: Any) -> None:
    with pytest.raises(ValueError, match="agent_id"):
        FakeSomia().register_agent(agent_id, echo_agent)


def test_every_request_is_recorded(client: httpx.Client, somia_server: FakeServer) -> None:
    before = time.time()
    client.post(
        create_url(somia_server), json={"input_data": "x"}, headers={"Idempotency-Key": "k1"}
    )
    client.post(create_url(somia_server, "abc"), content=b"not json")

    first, second = somia_server.requests
    assert (first.method, first.path, first.status) == (
        "POST",
        "/api/v1/external/agent/1/session",
        200,
    )
    assert first.json == {"input_data": "x"}
    assert first.headers["idempotency-key"] == "k1"
    assert before <= first.time <= time.time()
    assert first.request_id.startswith("req_")
    assert (second.status, second.json, second.body) == (422, None, b"not json")
    assert KEY not in repr(first)
    somia_server.fake.clear_requests()
    assert somia_server.requests == []


def test_requests_are_logged_on_one_line_without_the_key(
    client: httpx.Client, somia_server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="somia.testing"):
        response = client.post(create_url(somia_server), json={"input_data": KEY})

    [record] = [r for r in caplog.records if r.name == "somia.testing"]
    line = record.getMessage()
    assert "POST /api/v1/external/agent/1/session -> 200" in line
    assert response.headers["x-request-id"] in line
    assert "\n" not in line
    assert KEY not in line


def test_the_fake_is_an_asgi_app_for_in_process_clients() -> None:
    fake = FakeSomia(api_key=KEY)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=fake.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
            return await client.post(
                "/api/v1/external/agent/1/session",
                json={"input_data": "hi"},
                headers={"x-api-key": KEY},
            )

    response = asyncio.run(call())

    assert response.json()["message"] == "You said: hi"


@pytest.mark.parametrize("stream", [False, True])
def test_input_with_a_lone_surrogate_escape_is_answered_and_replayed(
    client: httpx.Client, somia_server: FakeServer, stream: bool
) -> None:
    # Valid JSON (the escape is text), but "\ud800" cannot be encoded as UTF-8.
    content = b'{"input_data": "a \\ud800 b", "stream": %s}' % (b"true" if stream else b"false")
    headers = {"content-type": "application/json", "Idempotency-Key": "surrogate"}

    first = client.post(create_url(somia_server), content=content, headers=headers)
    again = client.post(create_url(somia_server), content=content, headers=headers)

    assert first.status_code == 200, first.text
    assert first.content.isascii()
    if stream:
        final = [line for line in first.text.split("\n\n") if line.startswith("data: {")][-1]
        answer = json.loads(final.removeprefix("data: "))
    else:
        answer = first.json()
    assert answer["message"] == "You said: a \ud800 b"
    assert answer["history"][0] == {"role": "user", "content": "a \ud800 b"}
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    [session] = somia_server.fake.session_ids
    assert len(somia_server.fake.history(session)) == 2


def test_answers_stay_utf_8_when_they_can(client: httpx.Client, somia_server: FakeServer) -> None:
    response = client.post(create_url(somia_server), json={"input_data": "héllo ✓"})

    assert "You said: héllo ✓".encode() in response.content


def test_the_log_keeps_the_last_max_requests() -> None:
    with FakeServer(FakeSomia(max_requests=3)) as server, http_client(server) as client:
        for index in range(5):
            client.post(create_url(server), json={"input_data": index})

    assert server.fake.max_requests == 3
    assert [request.json["input_data"] for request in server.requests] == [2, 3, 4]


def test_bodies_of_unauthenticated_requests_are_not_kept(somia_server: FakeServer) -> None:
    big = b"x" * (512 * 1024)

    missing = post(create_url(somia_server), content=big)
    wrong = post(create_url(somia_server), content=big, headers={"x-api-key": "wrong"})

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert [(r.status, r.body, r.json) for r in somia_server.requests] == [(401, b"", None)] * 2


def test_max_requests_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="max_requests"):
        FakeSomia(max_requests=-1)


def test_stopping_during_a_stream_logs_one_line_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer(FakeSomia(api_key=KEY)).start()
    server.faults.stall_stream_after(1, 30)
    try:
        with (
            caplog.at_level(logging.DEBUG),
            http_client(server) as client,
            client.stream("POST", create_url(server), json={"stream": True}) as response,
        ):
            raw = response.iter_raw()
            next(raw)  # the first event arrived; the stream now stalls
            server.stop()
            with pytest.raises(httpx.RemoteProtocolError):
                for _ in raw:
                    pass
    finally:
        server.stop()

    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING] == []
    assert "stopping: 1 unfinished answer(s) cut short" in caplog.messages
