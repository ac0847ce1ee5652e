"""What one Server-Sent Event of an answer is: the document's rule on event names and data.

Pure: a decoded SSE event in, a `StreamEvent` out (or StreamParseError). The rule, in this
order (openapi/somia.yaml, "Event names"):

| the event                                                   | is                        |
|-------------------------------------------------------------|---------------------------|
| named `error`                                               | an error, whatever its data |
| data `true`                                                 | the end                   |
| data an object carrying `session_id`, `history` or `pending` | a chunk, named or not     |
| data an object with a truthy `error` key                    | an error                  |
| unnamed, data an object with `message` and at most two keys | an error (0.1.0a1's rule) |
| unnamed, data not JSON                                      | StreamParseError          |
| anything else                                               | an event of unknown kind  |

("Unnamed" includes the SSE default name, `message`.) Chunks are recognised by their data
whatever the name: the 0.1.0a1 client read data only, and servers it worked with may name
them.
"""

from __future__ import annotations

import json
from typing import Any

from somia._errors import StreamParseError
from somia._models import StreamEvent, UnknownEvent
from somia._sse import ServerSentEvent

END = StreamEvent("end", True)
UNKNOWN = "unknown"
_raw_decode = json.JSONDecoder().raw_decode
_new = tuple.__new__  # builds a StreamEvent without NamedTuple's slower __new__


def not_json(text: str, hint: str = "") -> StreamParseError:
    """The error for an answer event whose data is not JSON (quoting it, truncated); `hint`
    ends the message."""
    payload = text if len(text) <= 500 else text[:499] + "…"
    return StreamParseError(
        f"a streamed event's data is not JSON: {payload[:80]!r}{hint}", body=payload
    )


def classify(event: ServerSentEvent) -> StreamEvent:
    """The typed event for one SSE event; StreamParseError for an unnamed event whose data
    is not JSON."""
    name, text = event
    # raw_decode skips json.loads' two whitespace regex passes: this runs once per event.
    try:
        data, end = _raw_decode(text)
    except (ValueError, RecursionError):
        end = -1
    if end != len(text):  # surrounding white space, or not JSON
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            if name == "error":
                return _new(StreamEvent, ("error", text))
            if name == "message":
                raise not_json(text) from exc
            return _unknown(name, text)
    if name == "error":
        return _new(StreamEvent, ("error", data))
    if data is True:
        return END
    if type(data) is dict:
        if "session_id" in data or "history" in data or "pending" in data:
            return _new(StreamEvent, ("chunk", data))
        if data.get("error"):
            return _new(StreamEvent, ("error", data))
        if name == "message" and "message" in data and len(data) <= 2:
            return _new(StreamEvent, ("error", data))
    return _unknown(name, data)


def _unknown(name: str, data: Any) -> StreamEvent:
    return _new(StreamEvent, (UNKNOWN, _new(UnknownEvent, (name, data))))
