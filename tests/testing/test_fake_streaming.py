"""Streamed answers and Idempotency-Key replays of the fake server, over real HTTP."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from somia.testing import FakeServer, FakeSomia, Turn, echo_agent
from tests.testing.fake_helpers import (
    continue_url,
    create_url,
    http_client,
    iter_events,
    post,
    read_events,
)


def test_a_stream_sends_cumulative_chunks_then_true(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    with client.stream(
        "POST", create_url(somia_server), json={"input_data": "one two three", "stream": True}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        session_id = response.headers["x-somia-session-id"]
        events = [event.json() for event in iter_events(response)]

    chunks, end = events[:-1], events[-1]
    assert end is True
    assert [chunk["message"] for chunk in chunks] == [
        "You said: ",
        "You said: one ",
        "You said: one two ",
        "You said: one two three",
        "You said: one two three",
    ]
    assert all(chunk["session_id"] == session_id for chunk in chunks)
    assert [chunk["pending"] for chunk in chunks] == [True, True, True, True, False]
    assert chunks[0]["history"] == [{"role": "user", "content": "one two three"}]
    assert chunks[-1]["history"] == somia_server.fake.history(session_id)
    assert chunks[-1]["finished"] is False
    assert chunks[-1]["metadata"] == {}


def test_a_streamed_turn_continues_a_session(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    session_id = client.post(create_url(somia_server), json={"input_data": "a"}).json()[
        "session_id"
    ]

    events = read_events(
        client,
        continue_url(somia_server, session_id),
        {},
        {"input_data": "b", "stream": True},
    )

    assert events[-2].json()["history"][-2:] == [
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "You said: b"},
    ]
    assert len(somia_server.fake.history(session_id)) == 4


def test_agents_that_yield_pieces_stream_one_chunk_per_piece(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.fake.register_agent(2, lambda turn: iter(["Once", " upon", " a time"]))

    events = read_events(client, create_url(somia_server, 2), {}, {"stream": True})

    assert [e.json()["message"] for e in events[:3]] == ["Once", "Once upon", "Once upon a time"]


def test_chunks_are_flushed_one_by_one(somia_server: FakeServer) -> None:
    somia_server.fake.event_delay = 0.2
    with http_client(somia_server) as client:
        events = read_events(client, create_url(somia_server), {}, {"stream": True})

    gaps = [later.arrived - earlier.arrived for earlier, later in itertools.pairwise(events)]
    assert len(gaps) >= 3
    assert all(gap >= 0.15 for gap in gaps), gaps


def test_a_repeated_idempotency_key_replays_without_running_the_agent(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    calls: list[Turn] = []

    def counting(turn: Turn) -> str:
        calls.append(turn)
        return f"answer {len(calls)}"

    somia_server.fake.register_agent(2, counting)
    url = create_url(somia_server, 2)
    headers = {"Idempotency-Key": "key-1"}

    first = client.post(url, json={"input_data": "x"}, headers=headers)
    again = client.post(url, json={"input_data": "x"}, headers=headers)

    assert len(calls) == 1
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["x-somia-session-id"] == first.headers["x-somia-session-id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert "idempotent-replayed" not in first.headers


def test_a_replayed_stream_sends_the_same_events(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    headers = {"Idempotency-Key": "stream-key"}
    body = {"input_data": "hello there", "stream": True}

    first = read_events(client, create_url(somia_server), headers, body)
    again = read_events(client, create_url(somia_server), headers, body)

    assert [e.data for e in again] == [e.data for e in first]
    assert len(somia_server.fake.session_ids) == 1


def test_a_replay_matches_bodies_by_value_not_by_bytes(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    url, headers = (
        create_url(somia_server),
        {"Idempotency-Key": "k", "content-type": "application/json"},
    )

    first = client.post(url, content=b'{"input_data": "x", "test": true}', headers=headers)
    again = client.post(url, content=b'{"test":true,"input_data":"x"}', headers=headers)

    assert again.content == first.content


def test_a_reused_key_with_another_body_is_409(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    headers = {"Idempotency-Key": "key-2"}
    client.post(create_url(somia_server), json={"input_data": "x"}, headers=headers)

    response = client.post(create_url(somia_server), json={"input_data": "y"}, headers=headers)

    assert response.status_code == 409
    assert response.json() == {"detail": "Idempotency-Key reused with a different request"}
    assert len(somia_server.fake.session_ids) == 1


@pytest.mark.parametrize("other", ["operation", "agent", "session"])
def test_a_key_names_one_request_across_the_api(
    client: httpx.Client, somia_server: FakeServer, other: str
) -> None:
    somia_server.fake.register_agent(2, echo_agent)
    first = client.post(create_url(somia_server), json={}).json()["session_id"]
    second = client.post(create_url(somia_server), json={}).json()["session_id"]
    headers = {"Idempotency-Key": "shared"}
    keyed = client.post(continue_url(somia_server, first), json={}, headers=headers)
    url = {
        "operation": create_url(somia_server),
        "agent": create_url(somia_server, 2),
        "session": continue_url(somia_server, second),
    }[other]

    response = client.post(url, json={}, headers=headers)

    assert keyed.status_code == 200
    assert response.status_code == 409, response.text
    assert len(somia_server.fake.session_ids) == 2  # nothing ran
    assert len(somia_server.fake.history(second)) == 1


def test_a_failed_turn_does_not_use_up_its_key(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    calls: list[Turn] = []

    def flaky(turn: Turn) -> str:
        calls.append(turn)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return "second try works"

    somia_server.fake.register_agent(2, flaky)
    headers = {"Idempotency-Key": "retry-me"}

    failed = client.post(create_url(somia_server, 2), json={}, headers=headers)
    retried = client.post(create_url(somia_server, 2), json={}, headers=headers)

    assert failed.status_code == 500
    assert retried.json()["message"] == "second try works"


def test_concurrent_requests_with_one_key_run_the_agent_once() -> None:
    release = threading.Event()
    calls: list[Turn] = []

    def slow(turn: Turn) -> str:
        calls.append(turn)
        release.wait(5)
        return "done"

    with FakeServer(FakeSomia(agents={1: slow})) as server:

        def send() -> httpx.Response:
            headers = {**server.headers, "Idempotency-Key": "same"}
            return post(create_url(server), json={}, headers=headers, timeout=10)

        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(send) for _ in range(3)]
            deadline = time.monotonic() + 5
            while len(server.requests) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            release.set()
            responses = [future.result() for future in futures]

    assert len(calls) == 1
    assert {response.content for response in responses} == {responses[0].content}
