"""The fake server's Idempotency-Key window, its record of the turns it ran, and its fixed
per-turn latency."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from somia.testing import FakeServer, FakeSomia, Turn
from tests.testing.fake_helpers import continue_url, create_url, http_client


@pytest.fixture
def small_window() -> Iterator[FakeServer]:
    with FakeServer(FakeSomia(max_replay_keys=2)) as server:
        yield server


def _send(client: httpx.Client, server: FakeServer, key: str | None) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = client.post(create_url(server), json={"input_data": "x"}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_turns_run_counts_turns_per_key_and_never_a_replay(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    first = _send(client, somia_server, "a")
    again = _send(client, somia_server, "a")
    _send(client, somia_server, "b")
    _send(client, somia_server, None)

    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert somia_server.fake.turns_run == {"a": 1, "b": 1}
    assert somia_server.fake.unkeyed_turns == 1

    somia_server.fake.clear_turns()
    assert (somia_server.fake.turns_run, somia_server.fake.unkeyed_turns) == ({}, 0)


def test_the_window_forgets_the_least_recently_used_key_first(
    small_window: FakeServer,
) -> None:
    with http_client(small_window) as client:
        for key in ("a", "b", "a", "c"):  # the replay of "a" makes "b" the oldest
            _send(client, small_window, key)
        replayed = {
            key: "idempotent-replayed" in _send(client, small_window, key).headers
            for key in ("a", "c", "b")
        }

    assert replayed == {"a": True, "c": True, "b": False}
    assert small_window.fake.turns_run == {"a": 1, "b": 2, "c": 1}
    assert len(small_window.fake.replays) == 2


def test_a_running_turn_keeps_its_key_however_full_the_window() -> None:
    release = threading.Event()

    def agent(turn: Turn) -> str:
        if turn.headers.get("idempotency-key") == "held":
            release.wait(10)
        return "done"

    with FakeServer(FakeSomia(agents={1: agent}, max_replay_keys=1)) as server:
        with http_client(server) as client, ThreadPoolExecutor(1) as pool:
            held = pool.submit(_send, client, server, "held")
            wait_for(lambda: "held" in server.fake.turns_run)
            _send(client, server, "other-1")
            _send(client, server, "other-2")
            release.set()
            first = held.result()
            again = _send(client, server, "held")

        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert server.fake.turns_run == {"held": 1, "other-1": 1, "other-2": 1}


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_a_conversation_grows_the_fake_linearly() -> None:
    # 8 KiB per input: before the window stored answers without a copy of the history per
    # answer, turn k kept the whole history again (326 MiB for 200 turns).
    fake = FakeSomia(max_requests=0)
    text = "x" * 8192
    marks = (50, 125, 200)  # two equal stretches, after the first turns' one-off costs

    async def converse() -> list[int]:
        transport = httpx.ASGITransport(app=fake.app)
        headers = {fake.api_key_header: fake.api_key}
        sizes = []
        async with httpx.AsyncClient(
            transport=transport, base_url="http://fake", headers=headers
        ) as client:
            url = "/api/v1/external/agent/1/session"
            for turn in range(marks[-1] + 1):
                if turn in marks:
                    gc.collect()
                    sizes.append(tracemalloc.get_traced_memory()[0])
                key = {"Idempotency-Key": f"turn-{turn}"}
                answer = await client.post(url, json={"input_data": text}, headers=key)
                url = f"/api/v1/external/agent/1/session/{answer.json()['session_id']}"
        return sizes

    tracemalloc.start()
    try:
        first, middle, end = asyncio.run(converse())
    finally:
        tracemalloc.stop()

    # Quadratic growth made the second stretch about 1.9 times the first.
    assert end - middle < 1.25 * (middle - first), (middle - first, end - middle)
    assert end - first < 8 * 2**20  # 150 turns of 16 KiB history and an 8 KiB answer each


def test_turn_latency_delays_each_turn_that_runs_but_no_replay(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.fake.turn_latency = 0.3
    started = time.monotonic()
    first = _send(client, somia_server, "slow")
    ran = time.monotonic() - started
    started = time.monotonic()
    _send(client, somia_server, "slow")
    replayed = time.monotonic() - started

    assert ran >= 0.3
    assert replayed < 0.3
    session_id = first.json()["session_id"]
    assert client.post(continue_url(somia_server, session_id), json={}).status_code == 200


@pytest.mark.parametrize(("option", "value"), [("turn_latency", -1.0), ("max_replay_keys", 0)])
def test_bad_window_or_latency_is_refused(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        FakeSomia(**{option: value})  # type: ignore[arg-type]
