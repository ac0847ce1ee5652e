"""The document's rule on event names and data (openapi/somia.yaml, "Event names"): what one
Server-Sent Event of an answer is, in the order the rule gives."""

from __future__ import annotations

from typing import Any

import pytest

import somia
from somia import StreamEvent, UnknownEvent
from somia._events import classify
from somia._sse import ServerSentEvent

CHUNK = '{"session_id": "s", "message": "Hi"}'


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        # named `error`: an error, whatever its data (JSON or not)
        ("error", '{"session_id": "s", "message": "quota"}', ("error", None)),
        ("error", '"plain text error"', ("error", None)),
        ("error", "true", ("error", None)),
        ("error", "not json at all", ("error", "not json at all")),
        # data `true`: the end, named or not
        ("message", "true", ("end", None)),
        ("done", "true", ("end", None)),
        # an object carrying session_id, history or pending: a chunk, named or not, never
        # an error (0.1.0a1 tested `error` first)
        ("message", CHUNK, ("chunk", None)),
        ("message", '{"message": "Hi", "history": []}', ("chunk", None)),
        ("message", '{"pending": true, "message": "x"}', ("chunk", None)),
        ("message", '{"error": "boom", "session_id": "s"}', ("chunk", None)),
        ("chunk", CHUNK, ("chunk", None)),
        ("progress", '{"pending": true}', ("chunk", None)),
        # an object with a truthy `error`: an error, named or not
        ("message", '{"error": "agent crashed"}', ("error", None)),
        ("failure", '{"error": "agent crashed"}', ("error", None)),
        ("message", '{"error": false}', ("unknown", ("message", {"error": False}))),
        # unnamed, an object with `message` and at most two keys: 0.1.0a1's error rule
        ("message", '{"message": "quota exceeded"}', ("error", None)),
        ("message", '{"message": "quota exceeded", "code": 7}', ("error", None)),
        # ... for unnamed events only
        ("notice", '{"message": "heads up"}', ("unknown", ("notice", {"message": "heads up"}))),
        # anything else: an event of a kind this SDK does not know
        ("message", '{"message": "a", "b": 1, "c": 2}', ("unknown", None)),
        ("message", '"just a string"', ("unknown", ("message", "just a string"))),
        ("message", "[1, 2]", ("unknown", ("message", [1, 2]))),
        ("message", '{"tokens": 3}', ("unknown", ("message", {"tokens": 3}))),
        ("usage", '{"tokens": 3}', ("unknown", ("usage", {"tokens": 3}))),
        (
            "progress",
            '{"step": "search", "message": "looking it up"}',
            ("unknown", ("progress", {"step": "search", "message": "looking it up"})),
        ),
        ("progress", "50%", ("unknown", ("progress", "50%"))),
    ],
)
def test_an_event_is_what_the_rule_says_in_its_order(
    name: str, data: str, expected: tuple[str, Any]
) -> None:
    kind, value = expected
    event = classify(ServerSentEvent(name, data))
    assert event.event_type == kind
    if value is not None:
        assert event.data == UnknownEvent(*value) if kind == "unknown" else value


def test_an_unnamed_event_whose_data_is_not_json_raises_stream_parse_error() -> None:
    with pytest.raises(somia.StreamParseError) as caught:
        classify(ServerSentEvent("message", "not json" + "x" * 1000))
    assert caught.value.body.startswith("not json")
    assert len(caught.value.body) <= 500


def test_json_with_surrounding_white_space_is_still_json() -> None:
    event = classify(ServerSentEvent("message", '  {"session_id": "s"} '))
    assert event == StreamEvent("chunk", {"session_id": "s"})


def test_an_unknown_event_unpacks_as_two_values_and_reads_as_no_text() -> None:
    event = classify(ServerSentEvent("usage", '{"tokens": 3}'))
    kind, data = event
    assert (kind, data.name, data.data) == ("unknown", "usage", {"tokens": 3})
    assert event.message is None
    assert event.chunk is None
    assert event.error_message is None
    assert not event.is_chunk
