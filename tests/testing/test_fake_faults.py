"""Fault injection of the fake server, seen by a real HTTP client."""

from __future__ import annotations

import itertools
import json
import time

import httpx
import pytest

from somia import SomiaClient, UnknownEvent
from somia.testing import FakeServer, Faults
from tests.testing.fake_helpers import Event, create_url, http_client, iter_events, post

STREAM = {"input_data": "one two three", "stream": True}


def post_turn(client: httpx.Client, server: FakeServer) -> httpx.Response:
    return client.post(create_url(server), json={"input_data": "x"})


def test_fail_next_answers_that_many_requests_with_the_status(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(2, status=503)

    statuses = [post_turn(client, somia_server).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert len(somia_server.fake.session_ids) == 1
    assert [r.status for r in somia_server.requests] == [503, 503, 200]


def test_failures_carry_retry_after_and_a_json_detail(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.fail_next(status=429, retry_after="2")

    response = post_turn(client, somia_server)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"detail": "Too Many Requests"}
    assert "x-request-id" in response.headers


def test_failures_can_have_any_body(client: httpx.Client, somia_server: FakeServer) -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    somia_server.faults.fail_next(status=502, body=html, content_type="text/html")
    somia_server.faults.fail_next(status=500, body=b"")
    somia_server.faults.fail_next(status=503, body={"message": "saturated"})
    somia_server.faults.fail_next(status=504, body="upstream timeout")

    html_answer, empty, json_answer, text = (post_turn(client, somia_server) for _ in range(4))

    assert (html_answer.status_code, html_answer.content) == (502, html)
    assert html_answer.headers["content-type"] == "text/html"
    assert (empty.status_code, empty.content) == (500, b"")
    assert json_answer.json() == {"message": "saturated"}
    assert (text.content, text.headers["content-type"]) == (
        b"upstream timeout",
        "text/plain; charset=utf-8",
    )


def test_faults_come_before_auth(somia_server: FakeServer) -> None:
    somia_server.faults.fail_next(status=503)

    response = post(create_url(somia_server), json={})

    assert response.status_code == 503


def test_delay_next_holds_answers_back(client: httpx.Client, somia_server: FakeServer) -> None:
    somia_server.faults.delay_next(1, 0.3)

    started = time.monotonic()
    delayed = post_turn(client, somia_server)
    middle = time.monotonic()
    post_turn(client, somia_server)
    ended = time.monotonic()

    assert delayed.status_code == 200
    assert middle - started >= 0.3
    assert ended - middle < 0.3


def test_a_delay_beyond_the_client_timeout_times_it_out(somia_server: FakeServer) -> None:
    somia_server.faults.delay_next(1, 1.0)

    with pytest.raises(httpx.ReadTimeout):
        post(create_url(somia_server), json={}, headers=somia_server.headers, timeout=0.2)


def read_stream(client: httpx.Client, server: FakeServer) -> tuple[list[Event], Exception | None]:
    events: list[Event] = []
    with client.stream("POST", create_url(server), json=STREAM) as response:
        assert response.status_code == 200
        try:
            for event in iter_events(response):
                events.append(event)
        except httpx.HTTPError as exc:
            return events, exc
    return events, None


def test_cut_stream_after_aborts_the_body_mid_way(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.cut_stream_after(2)

    events, error = read_stream(client, somia_server)

    assert len(events) == 2
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "incomplete chunked read" in str(error)


def test_stream_faults_wait_for_a_stream(client: httpx.Client, somia_server: FakeServer) -> None:
    somia_server.faults.cut_stream_after(0)

    assert post_turn(client, somia_server).status_code == 200
    events, error = read_stream(client, somia_server)
    assert (events, type(error)) == ([], httpx.RemoteProtocolError)
    assert read_stream(client, somia_server)[1] is None


def test_end_stream_without_terminator_closes_cleanly_without_true(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.end_stream_without_terminator_after(3)

    events, error = read_stream(client, somia_server)

    assert error is None
    assert len(events) == 3
    assert all(isinstance(event.json(), dict) for event in events)


def test_stream_faults_strike_before_the_terminator_at_the_latest(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.end_stream_without_terminator_after(1000)

    events, _ = read_stream(client, somia_server)

    assert events[-1].json() is not True
    assert events[-1].json()["pending"] is False


def test_stall_stream_after_pauses_between_events(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.stall_stream_after(1, 0.4)

    events, error = read_stream(client, somia_server)

    assert error is None
    gaps = [later.arrived - earlier.arrived for earlier, later in itertools.pairwise(events)]
    assert gaps[0] >= 0.35
    assert max(gaps[1:]) < 0.35
    assert events[-1].json() is True


def test_a_stall_beyond_the_read_timeout_times_the_client_out(somia_server: FakeServer) -> None:
    somia_server.faults.stall_stream_after(2, 5.0)

    with http_client(somia_server, timeout=httpx.Timeout(5, read=0.3)) as client:
        events, error = read_stream(client, somia_server)

    assert len(events) == 2
    assert isinstance(error, httpx.ReadTimeout)


def test_malformed_event_after_inserts_an_event_that_is_not_json(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.malformed_event_after(1)

    events, error = read_stream(client, somia_server)

    assert error is None
    events[0].json()
    with pytest.raises(json.JSONDecodeError):
        events[1].json()
    assert events[-1].json() is True


def test_unknown_event_after_inserts_an_event_of_another_kind_and_goes_on(
    client: httpx.Client, somia_server: FakeServer
) -> None:
    somia_server.faults.unknown_event_after(1, "usage", {"tokens": 3})

    events, error = read_stream(client, somia_server)

    assert error is None
    assert (events[1].name, events[1].json()) == ("usage", {"tokens": 3})
    assert [event.name for event in events].count(None) == len(events) - 1
    assert events[-1].json() is True


def test_an_unknown_event_is_passed_on_by_the_sdk_and_skipped_by_its_answer(
    somia_server: FakeServer,
) -> None:
    somia_server.faults.unknown_event_after(1)
    somia_server.faults.unknown_event_after(1)
    with SomiaClient(base_url=somia_server.base_url, api_key=somia_server.api_key) as client:
        events = list(client.sessions.create_session(1, input_data="a b", stream=True))
        text = "".join(
            client.sessions.create_session(1, input_data="a b", stream=True).text_deltas()
        )
    unknown = [event.data for event in events if event.event_type == "unknown"]
    assert unknown == [UnknownEvent("progress", {"step": "working"})]
    assert events[-1].event_type == "end"
    assert text == "You said: a b"


@pytest.mark.parametrize("name", ["", "message", "error", "two\nlines"])
def test_an_unknown_event_needs_a_name_of_another_kind(name: str) -> None:
    with pytest.raises(ValueError, match="other than the answer's"):
        Faults().unknown_event_after(1, name)


@pytest.mark.parametrize("event_name", [None, "error"])
def test_error_event_after_ends_the_stream_with_an_error(
    client: httpx.Client, somia_server: FakeServer, event_name: str | None
) -> None:
    somia_server.faults.error_event_after(2, "Agent crashed", event_name=event_name)

    events, error = read_stream(client, somia_server)

    assert error is None
    assert len(events) == 3
    assert events[-1].json() == {"error": "Agent crashed"}
    assert events[-1].name == event_name


def test_faults_are_injected_in_order_and_can_be_cleared(somia_server: FakeServer) -> None:
    faults = somia_server.faults
    faults.fail_next(1, status=429)
    faults.cut_stream_after(1)
    assert faults.pending == 2

    faults.clear()

    assert faults.pending == 0
    response = post(create_url(somia_server), json={}, headers=somia_server.headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "misuse",
    [
        lambda faults: faults.fail_next(0),
        lambda faults: faults.delay_next(1, -1),
        lambda faults: faults.cut_stream_after(-1),
        lambda faults: faults.stall_stream_after(1, -0.5),
    ],
    ids=["no-requests", "negative-delay", "negative-count", "negative-stall"],
)
def test_meaningless_faults_are_refused(misuse: object) -> None:
    assert callable(misuse)
    with pytest.raises(ValueError, match="or more"):
        misuse(Faults())


def test_an_error_event_needs_a_message() -> None:
    # The document's StreamError needs a truthy `error`; {"error": ""} would read as a chunk.
    faults = Faults()

    with pytest.raises(ValueError, match="message must not be empty"):
        faults.error_event_after(1, "")

    assert faults.pending == 0
