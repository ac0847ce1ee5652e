"""Incremental Server-Sent Events decoder (WHATWG "interpreting an event stream").

Pure: bytes in, events out, no I/O. The streaming layer feeds it a
``text/event-stream`` response body in whatever chunks arrive and gets back the
events those chunks complete.

It keeps what an event is made of (``data`` and ``event``). The ``id`` and ``retry``
fields serve only reconnection, which the SDK never does (a POST sent again could run
an agent turn twice), so they are ignored like any unknown field.
"""

from __future__ import annotations

from itertools import islice
from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
# `int in bytes` is several times faster than `b"\n" in bytes`.
_LF = 10
_CR = 13
_SPACE = 32


class ServerSentEvent(NamedTuple):
    """One dispatched event: ``event`` is its type ("message" unless the block named
    one), ``data`` its data lines joined by LF."""

    event: str = "message"
    data: str = ""


# A NamedTuple is ~2x cheaper to build than a frozen attrs class, and calling
# tuple.__new__ directly skips its Python-level __new__ (~40% more).
_new = tuple.__new__


def _decode(raw: bytes) -> str:
    # Strict decoding is faster; replace invalid sequences (U+FFFD) only when needed.
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


class SSEDecoder:
    """Turns an event-stream body, fed as bytes in any chunking, into events."""

    __slots__ = ("_at_start", "_data", "_event", "_head", "_pending", "_skip_lf")

    def __init__(self) -> None:
        self.close()  # the state at the start of a stream

    def close(self) -> None:
        """End the stream: discard an unterminated line or event block. The decoder is
        then ready for a new stream."""
        # Byte level: BOM detection, the incomplete last line, a CRLF split in two.
        self._at_start = True
        self._head = b""
        self._pending = bytearray()
        self._skip_lf = False
        # Block level: the event being built.
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the next chunk; return the events whose blank line it completes."""
        if not chunk:
            return []
        if self._at_start:
            # Drop one BOM at the start of the stream, even if it arrives split.
            chunk = self._head + chunk
            if len(chunk) < 3 and _BOM.startswith(chunk):
                self._head = chunk
                return []
            self._at_start = False
            self._head = b""
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        if self._skip_lf:
            # The previous chunk ended in CR; a leading LF completes that CRLF.
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []

        # Only whole lines are interpreted; the tail after the last line end waits.
        # (In CPython 3.11 `int in bytes` and indexing cost less than a find, rfind
        # or startswith call: those run only where a position is needed.)
        has_cr = _CR in chunk
        if has_cr:
            lf = chunk.rfind(b"\n")
            cr = chunk.rfind(b"\r")
            end = (lf if lf > cr else cr) + 1
            # A CR at the very end ends its line now; a LF may follow next time.
            self._skip_lf = end == len(chunk) and cr > lf
        elif chunk[-1] == _LF:
            end = len(chunk)
        else:
            end = chunk.rfind(b"\n") + 1
        pending = self._pending  # never holds a CR or LF
        if not end:
            pending += chunk
            return []
        if pending:
            region = b"".join((pending, memoryview(chunk)[:end]))
            pending.clear()
        else:
            region = chunk[:end]  # no copy when end == len(chunk)
        if end < len(chunk):
            pending += chunk[end:]
        if has_cr:
            region = region.replace(b"\r\n", b"\n")
            if _CR in region:
                region = region.replace(b"\r", b"\n")

        # Fast path: one data line and a blank line, as when each read is one event.
        first = region.find(b"\n")
        if (
            first == len(region) - 2
            and region[:5] == b"data:"
            and not self._data
            and not self._event
        ):
            value = region[6:first] if region[5] == _SPACE else region[5:first]
            return [_new(ServerSentEvent, ("message", _decode(value)))]
        return self._region(region)

    def _region(self, region: bytes) -> list[ServerSentEvent]:
        # ``region`` is whole lines, each ending in LF. It is split at every blank
        # line followed by a "data:" line, so each piece after the first starts a
        # block in a clean state with that line's value. A piece without LF is a
        # whole one-line event, and one whose first line is followed by a blank
        # line starts with one: no per-line work for those, the common case.
        # Everything else goes through _lines(), with the "data: " prefix put
        # back (the parser removes its space again).
        # Line ends are ASCII, so they never fall inside a UTF-8 sequence, and
        # decoding piece by piece equals decoding the whole stream.
        events: list[ServerSentEvent] = []
        parts = region.split(b"\n\ndata: ")
        if len(parts) == 1 and b"\n\ndata:" in region:
            # The server omits the optional space. Then no piece starts with a
            # space, else the split above would have found it.
            parts = region.split(b"\n\ndata:")
        head = parts[0]
        start = 0
        if self._data or self._event or head[:5] != b"data:":
            # The region continues a block, or its first block starts otherwise.
            if len(parts) == 1:
                return self._lines(region, events, False)
            self._lines(head, events, True)
            start = 1
        else:
            parts[0] = head[6:] if head[5:6] == b" " else head[5:]
        last = parts.pop()
        append = events.append
        new = _new
        cls = ServerSentEvent
        for value in islice(parts, start, None):
            if _LF in value:
                line, _, rest = value.partition(b"\n")
                if rest[:1] == b"\n":
                    # A one-line event, then other blocks up to the next piece (from
                    # its blank line on: a no-op once the state is clean, saves a copy).
                    append(new(cls, ("message", _decode(line))))
                    self._lines(rest, events, True)
                else:
                    self._lines(b"data: " + value, events, True)
                continue
            try:
                text = value.decode()
            except UnicodeDecodeError:
                text = value.decode("utf-8", "replace")
            append(new(cls, ("message", text)))
        # The last piece ends with the region's final LF.
        line, _, rest = last.partition(b"\n")
        if rest[:1] == b"\n":
            append(new(cls, ("message", _decode(line))))
            if len(rest) > 1:
                self._lines(rest, events, False)
            return events
        return self._lines(b"data: " + last, events, False)

    def _lines(
        self, raw: bytes, events: list[ServerSentEvent], blank: bool
    ) -> list[ServerSentEvent]:
        """Interpret ``raw`` line by line, appending the events dispatched.

        ``raw`` ends with an LF, or, if ``blank``, where a line ends that is
        followed by a blank line.
        """
        lines = _decode(raw).split("\n")
        if blank:
            lines.append("")
        else:
            lines.pop()  # the empty string after the final LF
        event = self._event
        data = self._data
        for line in lines:
            if not line:
                # A blank line dispatches, unless there is no data.
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    events.append(_new(ServerSentEvent, (event or "message", text)))
                    data = []
                event = ""
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            # Comments (an empty name), id, retry and unknown fields are ignored.
        self._event = event
        self._data = data
        return events
