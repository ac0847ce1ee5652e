"""Tests for the incremental Server-Sent Events decoder, ``somia._sse``.

The expected results follow the WHATWG "interpreting an event stream" rules.
Every conformance case is also fed in many chunkings, and Hypothesis compares
the decoder against a tiny line-by-line reference written straight from the spec.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somia._sse import ServerSentEvent, SSEDecoder

Expected = tuple[str, str, str, int | None]  # (event, data, id, retry)

BOM = b"\xef\xbb\xbf"
PROPERTY_SETTINGS = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def as_tuples(events: list[ServerSentEvent]) -> list[Expected]:
    return [(e.event, e.data, e.id, e.retry) for e in events]


def decode_chunks(chunks: list[bytes]) -> list[Expected]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    decoder.close()
    return as_tuples(events)


def random_chunks(stream: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    chunks: list[bytes] = []
    i = 0
    while i < len(stream):
        size = rng.choice((1, 1, 2, 3, 5, 8, 13, 64, 1000))
        chunks.append(stream[i : i + size])
        i += size
    return chunks


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


def reference(stream: bytes) -> tuple[list[Expected], str, str, int | None]:
    """The spec, line by line: events, last event ID buffer, ID at the last blank line, retry."""
    text = stream.decode("utf-8", "replace")  # WHATWG "UTF-8 decode": U+FFFD, one BOM
    if text.startswith("\ufeff"):
        text = text[1:]
    lines: list[str] = []
    line = ""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\r":
            lines.append(line)
            line = ""
            if text[i + 1 : i + 2] == "\n":
                i += 1
        elif char == "\n":
            lines.append(line)
            line = ""
        else:
            line += char
        i += 1
    # The unterminated last line, if any, is never interpreted.
    events: list[Expected] = []
    data = event_type = last_id = dispatched_id = ""
    retry: int | None = None
    for line in lines:
        if line == "":
            dispatched_id = last_id
            if data:
                events.append((event_type or "message", data.removesuffix("\n"), last_id, retry))
            data = event_type = ""
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data += value + "\n"
        elif field == "id":
            if "\0" not in value:
                last_id = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events, last_id, dispatched_id, retry


LONG = ("x" * 300 + "é" * 200 + "🙂" * 100).encode()

# (input, expected events); each case is also fed split at every offset and at random.
CASES = [
    pytest.param(b"", [], id="empty-stream"),
    pytest.param(b"data: hello\n\n", [("message", "hello", "", None)], id="one-event"),
    pytest.param(b"data:hello\n\n", [("message", "hello", "", None)], id="no-space-after-colon"),
    pytest.param(b"data:  two\n\n", [("message", " two", "", None)], id="only-one-space-removed"),
    pytest.param(
        b"data: a\n\ndata:  b\ndata:  c\n\ndata:  d\n\n",
        [("message", "a", "", None), ("message", " b\n c", "", None), ("message", " d", "", None)],
        id="one-space-removed-between-events",
    ),
    pytest.param(b"data: a:b: c\n\n", [("message", "a:b: c", "", None)], id="split-at-first-colon"),
    pytest.param(b"data: a\ndata: b\n\n", [("message", "a\nb", "", None)], id="multi-line-data"),
    pytest.param(b"data: a\ndata:\n\n", [("message", "a\n", "", None)], id="trailing-empty-data"),
    pytest.param(b"data\n\n", [("message", "", "", None)], id="data-without-colon"),
    pytest.param(b"data:\n\n", [("message", "", "", None)], id="empty-data-dispatches"),
    pytest.param(b"data\ndata\n\n", [("message", "\n", "", None)], id="two-empty-data-lines"),
    pytest.param(b"data x\n\n", [], id="no-colon-whole-line-is-name"),
    pytest.param(b"Data: x\n\n", [], id="field-names-case-sensitive"),
    pytest.param(b" data: x\n\n", [], id="leading-space-in-name"),
    pytest.param(b"foo: bar\ndata: x\n\n", [("message", "x", "", None)], id="unknown-field"),
    pytest.param(b": ping\n\n", [], id="keep-alive-comment"),
    pytest.param(b":\n\n\n\n", [], id="empty-comment-and-blank-lines"),
    pytest.param(b"data: a\n: note\ndata: b\n\n", [("message", "a\nb", "", None)], id="comment"),
    pytest.param(
        b"data: a\n\n: keep-alive\n\ndata: b\n\n",
        [("message", "a", "", None), ("message", "b", "", None)],
        id="keep-alive-between-events",
    ),
    pytest.param(b"event: up\ndata: x\n\n", [("up", "x", "", None)], id="event-type"),
    pytest.param(b"event:\ndata: x\n\n", [("message", "x", "", None)], id="empty-event-type"),
    pytest.param(
        b"event: a\ndata: 1\n\ndata: 2\n\n",
        [("a", "1", "", None), ("message", "2", "", None)],
        id="event-type-resets-after-dispatch",
    ),
    pytest.param(
        b"event: a\n\ndata: x\n\n", [("message", "x", "", None)], id="event-only-block-resets-type"
    ),
    pytest.param(
        b"id: 1\ndata: a\n\ndata: b\n\n",
        [("message", "a", "1", None), ("message", "b", "1", None)],
        id="id-persists",
    ),
    pytest.param(b"id: 7\n\ndata: x\n\n", [("message", "x", "7", None)], id="id-only-block"),
    pytest.param(
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        [("message", "a", "1", None), ("message", "b", "", None)],
        id="empty-id-resets",
    ),
    pytest.param(
        b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
        [("message", "a", "1", None), ("message", "b", "1", None)],
        id="id-with-null-ignored",
    ),
    pytest.param(b"data: x\nid: 3\n\n", [("message", "x", "3", None)], id="id-after-data"),
    pytest.param(
        b"retry: 3000\ndata: a\n\ndata: b\n\n",
        [("message", "a", "", 3000), ("message", "b", "", 3000)],
        id="retry",
    ),
    pytest.param(b"retry: 10\n\ndata: x\n\n", [("message", "x", "", 10)], id="retry-only-block"),
    pytest.param(b"retry: 007\ndata: x\n\n", [("message", "x", "", 7)], id="retry-leading-zeros"),
    pytest.param(
        b"retry: 5\ndata: a\n\n"
        b"retry: 1s\nretry: -1\nretry: 1.5\nretry:\nretry:  9\nretry: \xef\xbc\x93\ndata: b\n\n",
        [("message", "a", "", 5), ("message", "b", "", 5)],
        id="invalid-retry-ignored",
    ),
    pytest.param(b"data: a\r\n\r\n", [("message", "a", "", None)], id="crlf"),
    pytest.param(
        b"data: a\rdata: b\r\rdata: c\r\r",
        [("message", "a\nb", "", None), ("message", "c", "", None)],
        id="lone-cr",
    ),
    pytest.param(
        b"data: a\r\ndata: b\n\rdata: c\r\n\n",
        [("message", "a\nb", "", None), ("message", "c", "", None)],
        id="mixed-line-ends",
    ),
    pytest.param(b"data: a\n\r\n", [("message", "a", "", None)], id="lf-then-crlf"),
    pytest.param(b"data: a\r\r\n", [("message", "a", "", None)], id="cr-then-crlf"),
    pytest.param(BOM + b"data: x\n\n", [("message", "x", "", None)], id="bom-dropped"),
    pytest.param(BOM + BOM + b"data: x\n\n", [], id="only-one-bom-dropped"),
    pytest.param(BOM + b"\n" + BOM + b"data: x\n\n", [], id="bom-only-at-start"),
    pytest.param(b"data: " + BOM + b"x\n\n", [("message", "\ufeffx", "", None)], id="bom-in-value"),
    pytest.param(b"\xef\xbb\ndata: x\n\n", [("message", "x", "", None)], id="partial-bom-kept"),
    pytest.param(
        b"data: h\xc3\xa9llo \xe6\x95\xb0 \xf0\x9f\x99\x82\n\n",
        [("message", "héllo 数 🙂", "", None)],
        id="multi-byte-utf8",
    ),
    pytest.param(
        b"data: \xff\xfe|\xc0\x80|\xed\xa0\x80|\xe2\x82\n\n",
        [("message", "\ufffd\ufffd|\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd", "", None)],
        id="invalid-utf8-replaced",
    ),
    pytest.param(
        b"data: a\xe2\x80\xa8b\x0bc\x0cd\x1ce\xc2\x85f\xe2\x80\xa9g\n\n",
        [("message", "a\u2028b\x0bc\x0cd\x1ce\x85f\u2029g", "", None)],
        id="only-cr-and-lf-end-lines",
    ),
    pytest.param(b"data: a\x00b\n\n", [("message", "a\x00b", "", None)], id="null-in-data"),
    pytest.param(b"data: x\n", [], id="unterminated-block-discarded"),
    pytest.param(b"data: x", [], id="unterminated-line-discarded"),
    pytest.param(
        b"data: a\n\ndata: b\n", [("message", "a", "", None)], id="only-last-block-discarded"
    ),
    pytest.param(
        b"data:a\n\ndata:b\n\ndata: c\n\n",
        [("message", "a", "", None), ("message", "b", "", None), ("message", "c", "", None)],
        id="with-and-without-space",
    ),
    pytest.param(
        b"data: a\n\nevent: e\nid: 9\ndata: b\n\ndata: c\ndata: d\n\ndata: e\n\n",
        [
            ("message", "a", "", None),
            ("e", "b", "9", None),
            ("message", "c\nd", "9", None),
            ("message", "e", "9", None),
        ],
        id="mixed-blocks",
    ),
    pytest.param(
        b"data: " + LONG + b"\ndata: " + LONG + b"\n\n",
        [("message", LONG.decode() + "\n" + LONG.decode(), "", None)],
        id="long-lines",
    ),
]


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_conformance_fed_whole(stream: bytes, expected: list[Expected]) -> None:
    assert decode_chunks([stream]) == expected


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_conformance_split_at_every_offset_and_byte_by_byte(
    stream: bytes, expected: list[Expected]
) -> None:
    for i in range(len(stream) + 1):
        assert decode_chunks([stream[:i], stream[i:]]) == expected, f"split at {i}"
    assert decode_chunks([stream[i : i + 1] for i in range(len(stream))]) == expected


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_conformance_random_chunkings(stream: bytes, expected: list[Expected]) -> None:
    for seed in range(8):
        assert decode_chunks(random_chunks(stream, seed)) == expected, f"seed {seed}"


@pytest.mark.parametrize(("stream", "expected"), CASES)
def test_reference_agrees_with_conformance_table(stream: bytes, expected: list[Expected]) -> None:
    assert reference(stream)[0] == expected


def test_event_is_returned_by_the_feed_that_delivers_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert as_tuples(decoder.feed(b"\ndata: b")) == [("message", "a", "", None)]
    assert decoder.feed(b"\n") == []
    assert as_tuples(decoder.feed(b"\n")) == [("message", "b", "", None)]


def test_cr_at_chunk_end_ends_the_line_without_waiting() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert as_tuples(decoder.feed(b"\r")) == [("message", "a", "", None)]


def test_crlf_split_across_chunks_yields_one_line_end() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r") + decoder.feed(b"\ndata: b\r") + decoder.feed(b"\n")
    assert events == []  # had the LFs counted as line ends, "a" would have been dispatched
    assert as_tuples(decoder.feed(b"\r\n")) == [("message", "a\nb", "", None)]


def test_lf_swallowed_after_cr_even_after_an_empty_feed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert as_tuples(decoder.feed(b"data: b\n\n")) == [("message", "a\nb", "", None)]


def test_only_one_lf_is_swallowed_after_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    assert as_tuples(decoder.feed(b"\n\n")) == [("message", "a", "", None)]


def test_bom_split_across_chunks_is_dropped() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert as_tuples(decoder.feed(b"\xbfdata: x\n\n")) == [("message", "x", "", None)]


def test_feeding_empty_bytes_returns_no_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    decoder.feed(b"data: a\n")
    assert decoder.feed(b"") == []


def test_initial_state() -> None:
    decoder = SSEDecoder()
    assert decoder.last_event_id == ""
    assert decoder.retry is None


def test_last_event_id_and_retry_track_the_stream() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\nretry: 250\n")
    assert (decoder.last_event_id, decoder.retry) == ("1", 250)
    decoder.feed(b"id: 2\x00\nretry: soon\n\n")
    assert (decoder.last_event_id, decoder.retry) == ("1", 250)


def test_close_discards_the_unterminated_block() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\n\ndata: lost\nevent: lost\ndata")
    assert as_tuples(events) == [("message", "a", "", None)]
    decoder.close()
    assert as_tuples(decoder.feed(b"data: b\n\n")) == [("message", "b", "", None)]


def test_close_reverts_an_id_from_the_discarded_block() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert decoder.last_event_id == "2"
    decoder.close()
    assert decoder.last_event_id == "1"


def test_close_keeps_retry_and_an_id_from_a_dispatched_block() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 500\nid: 4\n\nretry: 600\n")
    decoder.close()
    assert (decoder.last_event_id, decoder.retry) == ("4", 600)


@pytest.mark.parametrize(
    "chunks",
    [
        [b"id: 2\n", b"data: a\n\n", b"data: b\n"],
        [b"id: 2\n", b"data: a\n\ndata: b\n\ndata: c\n"],
        [b"id: 2\n", b"data:a\n\ndata:b\n\ndata:c\n"],
        [b"id: 2\n", b"data: a\n\n: comment\n"],
    ],
)
def test_close_keeps_an_id_that_a_dispatch_took_effect_for(chunks: list[bytes]) -> None:
    decoder = SSEDecoder()
    for chunk in chunks:
        assert [e.id for e in decoder.feed(chunk)] in ([], ["2"], ["2", "2"])
    decoder.close()
    assert decoder.last_event_id == "2"


def test_decoder_is_reusable_after_close_and_drops_a_new_bom() -> None:
    decoder = SSEDecoder()
    decoder.feed(BOM + b"id: 1\ndata: a\n\ndata: partial\r")
    decoder.close()
    events = decoder.feed(BOM + b"\ndata: b\n\n")  # the LF is not swallowed: a new stream
    assert as_tuples(events) == [("message", "b", "1", None)]


def test_only_the_incomplete_line_is_buffered() -> None:
    decoder = SSEDecoder()
    for _ in range(1000):
        decoder.feed(b'data: {"message": "token", "pending": true}\n\ndata: par')
        decoder.feed(b"tial\n\n")
    decoder.feed(b"data: x\n\ndata: incomplete")
    # White-box: what is kept is the incomplete line, nothing from earlier blocks.
    assert decoder._pending == b"data: incomplete"
    assert decoder._data == []


def test_server_sent_event_is_immutable_with_defaults() -> None:
    event = ServerSentEvent(data="x")
    assert (event.event, event.data, event.id, event.retry) == ("message", "x", "", None)
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]


def test_retry_too_long_for_python_int_is_ignored() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"retry: 5\n" + b"9" * 5000 + b"\n\n")
    assert decoder.retry == 5
    decoder.feed(b"retry: " + b"0" * 5000 + b"12\n\n")  # leading zeros do not count
    assert decoder.retry == 12


def token_stream(events: int, seed: int) -> bytes:
    """A long stream shaped like an agent's: many one-line events, some of everything else."""
    rng = random.Random(seed)
    blocks = []
    for n in range(events):
        payload = '{"session_id": "s1", "message": "%s", "pending": true}' % ("tok é🙂 " * (n % 7))
        lines = [f"data: {payload}"]
        if n % 9 == 0:
            lines = ["event: delta", f"id: {n}", *lines]
        if n % 13 == 0:
            lines = [": keep-alive", "", *lines]
        if n % 17 == 0:
            lines = [*lines, "data:second line", "retry: 1000"]
        if n % 23 == 0:
            lines = [line.replace("data: ", "data:") for line in lines]
        end = rng.choice(["\n", "\n", "\n", "\r\n", "\r"])
        blocks.append(end.join([*lines, ""]) + end)
    return "".join(blocks).encode()


@pytest.mark.parametrize("seed", range(3))
def test_long_token_stream_matches_the_reference_in_any_chunking(seed: int) -> None:
    stream = token_stream(600, seed)
    expected = reference(stream)[0]
    assert len(expected) == 600
    assert decode_chunks([stream]) == expected
    rng = random.Random(seed)
    for _ in range(5):
        cuts = sorted(rng.sample(range(len(stream)), 40))
        assert decode_chunks(chunked(stream, cuts)) == expected


# Hypothesis: generated event streams.

field_value = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12
) | st.sampled_from(["", " ", "  x", "é", "🙂", "\u2028", "\x0b", "\x85", "1", "42", "\0"])
line_text = st.one_of(
    st.builds("data: {}".format, field_value),
    st.builds("data:{}".format, field_value),
    st.just("data"),
    st.builds("event: {}".format, field_value),
    st.builds("id: {}".format, field_value),
    st.builds("retry: {}".format, st.integers(0, 10**6) | field_value),
    st.builds(": {}".format, field_value),
    st.builds("{}: {}".format, field_value, field_value),
    st.just(""),
)
line_end = st.sampled_from(["\n", "\r\n", "\r"])
event_stream = st.lists(
    st.lists(st.tuples(line_text, line_end), max_size=5).map(
        lambda block: "".join(text + end for text, end in block) + "\n"
    ),
    max_size=8,
).map(lambda blocks: "".join(blocks).encode())
cut_points = st.lists(st.integers(0, 10**4), max_size=12)


@PROPERTY_SETTINGS
@given(stream=event_stream, cuts=cut_points)
def test_any_chunking_of_an_event_stream_gives_the_same_events(
    stream: bytes, cuts: list[int]
) -> None:
    assert decode_chunks(chunked(stream, cuts)) == decode_chunks([stream])


# Hypothesis: arbitrary bytes against the reference.

stream_atom = st.sampled_from(
    [
        *(b"data", b"data:", b"data: ", b"event:", b"id: ", b"retry: ", b":", b" ", b"x", b"12"),
        *(b"\n", b"\r", b"\r\n", b"\n\n", b"\n\ndata: ", b"\n\ndata:", b"\x00", BOM),
        *(b"\xc3\xa9", b"\xf0\x9f\x99\x82", b"\xe6\x95", b"\xb0", b"\xff", b"\xc0\x80"),
    ]
) | st.binary(max_size=3)
byte_stream = st.lists(stream_atom, max_size=40).map(b"".join)


@PROPERTY_SETTINGS
@given(stream=byte_stream, cuts=cut_points)
def test_decoder_matches_the_reference_on_arbitrary_bytes(stream: bytes, cuts: list[int]) -> None:
    events, last_id, dispatched_id, retry = reference(stream)
    decoder = SSEDecoder()
    got: list[ServerSentEvent] = []
    for chunk in chunked(stream, cuts):
        got += decoder.feed(chunk)
    assert as_tuples(got) == events
    assert (decoder.last_event_id, decoder.retry) == (last_id, retry)
    decoder.close()
    assert (decoder.last_event_id, decoder.retry) == (dispatched_id, retry)
