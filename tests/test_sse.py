"""Tests for the incremental Server-Sent Events decoder, ``somia._sse``.

The expected results follow the WHATWG "interpreting an event stream" rules for what
the decoder keeps (each event's type and data; it ignores `id` and `retry`, which serve
only reconnection, like unknown fields). Every conformance case is also fed in many
chunkings, and Hypothesis compares the decoder against a tiny line-by-line reference
written straight from the spec.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somia._sse import ServerSentEvent, SSEDecoder

Expected = tuple[str, str]  # (event, data)

BOM = b"\xef\xbb\xbf"
PROPERTY_SETTINGS = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def as_tuples(events: list[ServerSentEvent]) -> list[Expected]:
    return [(e.event, e.data) for e in events]


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


def reference(stream: bytes) -> list[Expected]:
    """The spec, line by line: the events (type and data) it dispatches."""
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
    data = event_type = ""
    for line in lines:
        if line == "":
            if data:
                events.append((event_type or "message", data.removesuffix("\n")))
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
        # id and retry set the reconnection state, which the decoder does not keep.
    return events


LONG = ("x" * 300 + "é" * 200 + "🙂" * 100).encode()

# (input, expected events); each case is also fed split at every offset and at random.
CASES = [
    pytest.param(b"", [], id="empty-stream"),
    pytest.param(b"data: hello\n\n", [("message", "hello")], id="one-event"),
    pytest.param(b"data:hello\n\n", [("message", "hello")], id="no-space-after-colon"),
    pytest.param(b"data:  two\n\n", [("message", " two")], id="only-one-space-removed"),
    pytest.param(
        b"data: a\n\ndata:  b\ndata:  c\n\ndata:  d\n\n",
        [("message", "a"), ("message", " b\n c"), ("message", " d")],
        id="one-space-removed-between-events",
    ),
    pytest.param(b"data: a:b: c\n\n", [("message", "a:b: c")], id="split-at-first-colon"),
    pytest.param(b"data: a\ndata: b\n\n", [("message", "a\nb")], id="multi-line-data"),
    pytest.param(b"data: a\ndata:\n\n", [("message", "a\n")], id="trailing-empty-data"),
    pytest.param(b"data\n\n", [("message", "")], id="data-without-colon"),
    pytest.param(b"data:\n\n", [("message", "")], id="empty-data-dispatches"),
    pytest.param(b"data\ndata\n\n", [("message", "\n")], id="two-empty-data-lines"),
    pytest.param(b"data x\n\n", [], id="no-colon-whole-line-is-name"),
    pytest.param(b"Data: x\n\n", [], id="field-names-case-sensitive"),
    pytest.param(b" data: x\n\n", [], id="leading-space-in-name"),
    pytest.param(b"foo: bar\ndata: x\n\n", [("message", "x")], id="unknown-field"),
    pytest.param(b": ping\n\n", [], id="keep-alive-comment"),
    pytest.param(b":\n\n\n\n", [], id="empty-comment-and-blank-lines"),
    pytest.param(b"data: a\n: note\ndata: b\n\n", [("message", "a\nb")], id="comment"),
    pytest.param(
        b"data: a\n\n: keep-alive\n\ndata: b\n\n",
        [("message", "a"), ("message", "b")],
        id="keep-alive-between-events",
    ),
    pytest.param(b"event: up\ndata: x\n\n", [("up", "x")], id="event-type"),
    pytest.param(b"event:\ndata: x\n\n", [("message", "x")], id="empty-event-type"),
    pytest.param(
        b"event: a\ndata: 1\n\ndata: 2\n\n",
        [("a", "1"), ("message", "2")],
        id="event-type-resets-after-dispatch",
    ),
    pytest.param(b"event: a\n\ndata: x\n\n", [("message", "x")], id="event-only-block-resets-type"),
    pytest.param(
        b"id: 1\ndata: a\n\ndata: b\n\n",
        [("message", "a"), ("message", "b")],
        id="id-ignored",
    ),
    pytest.param(
        b"id: 7\n\ndata: x\n\n", [("message", "x")], id="id-only-block-dispatches-nothing"
    ),
    pytest.param(b"data: x\nid: 3\n\n", [("message", "x")], id="id-after-data-ignored"),
    pytest.param(
        b"retry: 3000\ndata: a\n\ndata: b\n\n",
        [("message", "a"), ("message", "b")],
        id="retry-ignored",
    ),
    pytest.param(
        b"retry: 10\n\ndata: x\n\n", [("message", "x")], id="retry-only-block-dispatches-nothing"
    ),
    pytest.param(b"data: a\r\n\r\n", [("message", "a")], id="crlf"),
    pytest.param(
        b"data: a\rdata: b\r\rdata: c\r\r",
        [("message", "a\nb"), ("message", "c")],
        id="lone-cr",
    ),
    pytest.param(
        b"data: a\r\ndata: b\n\rdata: c\r\n\n",
        [("message", "a\nb"), ("message", "c")],
        id="mixed-line-ends",
    ),
    pytest.param(b"data: a\n\r\n", [("message", "a")], id="lf-then-crlf"),
    pytest.param(b"data: a\r\r\n", [("message", "a")], id="cr-then-crlf"),
    pytest.param(BOM + b"data: x\n\n", [("message", "x")], id="bom-dropped"),
    pytest.param(BOM + BOM + b"data: x\n\n", [], id="only-one-bom-dropped"),
    pytest.param(BOM + b"\n" + BOM + b"data: x\n\n", [], id="bom-only-at-start"),
    pytest.param(b"data: " + BOM + b"x\n\n", [("message", "\ufeffx")], id="bom-in-value"),
    pytest.param(b"\xef\xbb\ndata: x\n\n", [("message", "x")], id="partial-bom-kept"),
    pytest.param(
        b"data: h\xc3\xa9llo \xe6\x95\xb0 \xf0\x9f\x99\x82\n\n",
        [("message", "héllo 数 🙂")],
        id="multi-byte-utf8",
    ),
    pytest.param(
        b"data: \xff\xfe|\xc0\x80|\xed\xa0\x80|\xe2\x82\n\n",
        [("message", "\ufffd\ufffd|\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd")],
        id="invalid-utf8-replaced",
    ),
    pytest.param(
        b"data: a\xe2\x80\xa8b\x0bc\x0cd\x1ce\xc2\x85f\xe2\x80\xa9g\n\n",
        [("message", "a\u2028b\x0bc\x0cd\x1ce\x85f\u2029g")],
        id="only-cr-and-lf-end-lines",
    ),
    pytest.param(b"data: a\x00b\n\n", [("message", "a\x00b")], id="null-in-data"),
    pytest.param(b"data: x\n", [], id="unterminated-block-discarded"),
    pytest.param(b"data: x", [], id="unterminated-line-discarded"),
    pytest.param(b"data: a\n\ndata: b\n", [("message", "a")], id="only-last-block-discarded"),
    pytest.param(
        b"data:a\n\ndata:b\n\ndata: c\n\n",
        [("message", "a"), ("message", "b"), ("message", "c")],
        id="with-and-without-space",
    ),
    pytest.param(
        b"data: a\n\nevent: e\nid: 9\ndata: b\n\ndata: c\ndata: d\n\ndata: e\n\n",
        [
            ("message", "a"),
            ("e", "b"),
            ("message", "c\nd"),
            ("message", "e"),
        ],
        id="mixed-blocks",
    ),
    pytest.param(
        b"data: " + LONG + b"\ndata: " + LONG + b"\n\n",
        [("message", LONG.decode() + "\n" + LONG.decode())],
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
    assert reference(stream) == expected


def test_event_is_returned_by_the_feed_that_delivers_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert as_tuples(decoder.feed(b"\ndata: b")) == [("message", "a")]
    assert decoder.feed(b"\n") == []
    assert as_tuples(decoder.feed(b"\n")) == [("message", "b")]


def test_cr_at_chunk_end_ends_the_line_without_waiting() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert as_tuples(decoder.feed(b"\r")) == [("message", "a")]


def test_crlf_split_across_chunks_yields_one_line_end() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r") + decoder.feed(b"\ndata: b\r") + decoder.feed(b"\n")
    assert events == []  # had the LFs counted as line ends, "a" would have been dispatched
    assert as_tuples(decoder.feed(b"\r\n")) == [("message", "a\nb")]


def test_lf_swallowed_after_cr_even_after_an_empty_feed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []
    assert as_tuples(decoder.feed(b"data: b\n\n")) == [("message", "a\nb")]


def test_only_one_lf_is_swallowed_after_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    assert as_tuples(decoder.feed(b"\n\n")) == [("message", "a")]


def test_bom_split_across_chunks_is_dropped() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert as_tuples(decoder.feed(b"\xbfdata: x\n\n")) == [("message", "x")]


def test_feeding_empty_bytes_returns_no_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    decoder.feed(b"data: a\n")
    assert decoder.feed(b"") == []


def test_close_discards_the_unterminated_block() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\n\ndata: lost\nevent: lost\ndata")
    assert as_tuples(events) == [("message", "a")]
    decoder.close()
    assert as_tuples(decoder.feed(b"data: b\n\n")) == [("message", "b")]


def test_decoder_is_reusable_after_close_and_drops_a_new_bom() -> None:
    decoder = SSEDecoder()
    decoder.feed(BOM + b"id: 1\ndata: a\n\ndata: partial\r")
    decoder.close()
    events = decoder.feed(BOM + b"\ndata: b\n\n")  # the LF is not swallowed: a new stream
    assert as_tuples(events) == [("message", "b")]


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
    assert (event.event, event.data) == ("message", "x")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]


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
    expected = reference(stream)
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
    decoder = SSEDecoder()
    got: list[ServerSentEvent] = []
    for chunk in chunked(stream, cuts):
        got += decoder.feed(chunk)
    assert as_tuples(got) == reference(stream)
