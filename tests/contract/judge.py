"""Judging answers by the document: the status and media type, the schema of each answer, the
documented headers, and the `x-somia-stream` rules on every event of a stream.

Pure functions of the document and one exchange; each returns its problems as short strings.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable
from typing import Any

from somia._document import EVENT_STREAM, JSON_MEDIA, Document, Operation
from somia._errors import StreamParseError
from somia._events import classify
from somia._models import StreamEvent
from somia._sse import ServerSentEvent
from somia.testing._schema import validator
from tests.contract.ledger import Exchange
from tests.contract.model import Expect


def loc_names(answer: Any, prefix: tuple[str, ...]) -> bool:
    """Whether a problem of a refusal's `detail` has a `loc` starting with `prefix` (names
    of headers compared without case)."""
    detail = answer.get("detail") if isinstance(answer, dict) else None
    if not isinstance(detail, list):
        return False
    want = [str(part).lower() for part in prefix]
    for problem in detail:
        loc = problem.get("loc") if isinstance(problem, dict) else None
        if isinstance(loc, list) and [str(part).lower() for part in loc[: len(want)]] == want:
            return True
    return False


def decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def expectation_problems(expect: Expect, exchange: Exchange) -> list[str]:
    """Where an answer of the expected status misses the rest of the expectation."""
    problems = []
    answer = decoded(exchange.body)
    if expect.names is not None and not loc_names(answer, expect.names):
        problems.append(f"no problem of its detail names {'.'.join(expect.names)}")
    if expect.not_names is not None and loc_names(answer, expect.not_names):
        problems.append(f"it refuses {'.'.join(expect.not_names)}, a valid value")
    if expect.media is not None and exchange.media != expect.media:
        problems.append(f"answered {exchange.media or 'no media type'}, not {expect.media}")
    return problems


@functools.cache
def _validator(doc: Document, operation: str, status: int, media: str) -> Any:
    op = doc.operation(operation)
    content = doc.responses(op).get(status, {}).get("content", {})
    if media == EVENT_STREAM:
        schema = doc.event_data_schema(op)
    else:
        schema = content.get(media, {}).get("schema", {})
    return validator({"components": doc.data.get("components", {}), "allOf": [schema]})


def answer_problems(doc: Document, op: Operation, exchange: Exchange) -> list[str]:
    """Where an answer breaks what the document says of its status: its media type, its
    JSON body's schema, the headers it documents (and the fields they carry)."""
    assert exchange.response is not None
    status = exchange.status or 0
    response = doc.responses(op).get(status)
    if response is None:
        return [f"{status} is not a documented status of {op.id}"]
    content = response.get("content", {})
    problems = []
    media = exchange.media
    if content and exchange.body and media not in content:
        problems.append(f"answered {media or 'no media type'}, not {' or '.join(content)}")
    elif media == JSON_MEDIA and media in content:
        answer = decoded(exchange.body)
        if answer is None and exchange.body.strip() != b"null":
            problems.append("the body is not JSON")
        else:
            for error in _validator(doc, op.id, status, media).iter_errors(answer):
                where = "/".join(map(str, error.instance_path)) or "the body"
                problems.append(f"{where}: {error.message}")
    for name, header in doc.answer_headers(op, status).items():
        value = exchange.response.headers.get(name)
        if value is None:
            if header.get("required"):
                problems.append(f"no {name} header")
            continue
        field = header.get("x-somia-field")
        if field is None:
            continue
        if media == JSON_MEDIA:
            found = decoded(exchange.body)
            values = [found.get(field)] if isinstance(found, dict) else []
        else:
            values = [
                e.data.get(field)
                for e in _classified(exchange.events or [])
                if e.event_type == "chunk"
            ]
        wrong = [v for v in values if v != value]
        if wrong:
            problems.append(
                f"the {name} header is {value!r} but the answer's {field} is {wrong[0]!r}"
            )
    return problems


def _classified(events: Iterable[ServerSentEvent]) -> list[StreamEvent]:
    found = []
    for event in events:
        try:
            found.append(classify(event))
        except StreamParseError:
            found.append(StreamEvent("unknown", event.data))
    return found


def stream_problems(
    doc: Document, op: Operation, exchange: Exchange
) -> dict[tuple[str, str], list[str]]:
    """Per watched rule (`check`, `arg`), where a streamed answer breaks it."""
    rules = doc.stream_rules(op)
    events = exchange.events or []
    found: dict[tuple[str, str], list[str]] = {}
    kinds: list[str] = []
    data_check = _validator(doc, op.id, 200, EVENT_STREAM)
    for number, event in enumerate(events, 1):
        try:
            kinds.append(classify(event).event_type)
        except StreamParseError as exc:
            kinds.append("unknown")
            found.setdefault(("event-data", ""), []).append(f"event {number}: {exc}")
            continue
        if event.event == "message":  # an event of the answer: its data as documented
            data = decoded(event.data.encode())
            for error in data_check.iter_errors(data):
                found.setdefault(("event-data", ""), []).append(
                    f"event {number} data {event.data[:100]!r}: {error.message[:200]}"
                )
                break
    if rules is None:
        return found
    if not kinds or kinds[-1] not in rules.ends_with:
        last = kinds[-1] if kinds else "none"
        cut = "" if exchange.complete else " (the body was cut off)"
        wanted = " or ".join(sorted(rules.ends_with))
        found.setdefault(("ends-with", ""), []).append(
            f"the stream ends after an event of kind {last}{cut}, not {wanted}"
        )
    for number, (kind, after) in enumerate(itertools.pairwise(kinds), 2):
        allowed = rules.followed_by.get(kind)
        if allowed is not None and after not in allowed:
            found.setdefault(("followed-by", kind), []).append(
                f"event {number}, of kind {after}, follows an event of kind {kind}"
            )
    for name in rules.cumulative:
        previous: str | None = None
        for typed in _classified(events):
            value = typed.data.get(name) if typed.event_type == "chunk" else None
            if not isinstance(value, str):
                continue
            if previous is not None and not value.startswith(previous):
                found.setdefault(("cumulative", name), []).append(
                    f"chunk {name} {value[:60]!r} does not start with {previous[:60]!r}"
                )
                break
            previous = value
    return found


def media_problems(doc: Document, op: Operation, body: Any, exchange: Exchange) -> list[str]:
    """Where a 200's media type is not the one the request body chose (`x-somia-when`; a
    field left out takes its default)."""
    if exchange.status != 200:
        return []
    schema = doc.request_schema(op)
    fields = doc.properties(schema) if schema is not None else {}
    sent = body if isinstance(body, dict) else {}

    def value(name: str) -> Any:
        return sent[name] if name in sent else fields.get(name, {}).get("default")

    chosen = [
        media
        for media, when in doc.media_rules(op).items()
        if all(type(value(k)) is type(v) and value(k) == v for k, v in when.items())
    ]
    if chosen and exchange.media not in chosen:
        asked = ", ".join(f"{k}: {value(k)!r}" for k in doc.media_rules(op)[chosen[0]])
        got = exchange.media or "no media type"
        return [f"a request with {asked} was answered {got}, not {chosen[0]}"]
    return []
