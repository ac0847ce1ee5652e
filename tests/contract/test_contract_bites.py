"""The contract tests catch a broken server: the same checks fail against broken fakes."""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

import hypothesis
import pytest
from hypothesis import Phase
from schemathesis import Case
from schemathesis.core.failures import Failure

from somia.testing import Faults
from tests.contract.contract_support import (
    CREATE,
    EXAMPLE_AGENT_ID,
    EXAMPLE_SESSION_ID,
    FAKE_API_KEY,
    FUZZ_SETTINGS,
    INTERACT,
    App,
    Message,
    Receive,
    Send,
    contract_fake,
    event_data,
    load_schema,
    read_body,
)

Rewrite = Callable[[bytes], bytes]


def rewriting(app: App, *, request: Rewrite | None = None, response: Rewrite | None = None) -> App:
    """Wrap an ASGI app so that request and response bodies pass through a rewrite."""

    async def wrapped(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body = await read_body(receive)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            data = request(body) if request else body
            return {"type": "http.request", "body": data, "more_body": False}

        start: Message = {}
        out = bytearray()

        async def collect(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                out.extend(message.get("body", b""))

        await app(scope, replay, collect)
        data = response(bytes(out)) if response else bytes(out)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": False})

    return wrapped


def never_stream(body: bytes) -> bytes:
    """Turn `"stream": true` off before the fake sees it: JSON answers to stream requests."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and data.get("stream") is True:
        data["stream"] = False
    return json.dumps(data).encode()


def drop_session_id(body: bytes) -> bytes:
    """Remove `session_id` from a JSON answer and from every chunk of a stream."""
    try:
        data = json.loads(body)
    except ValueError:
        chunks = [json.loads(text) for text in event_data(body)]
        for chunk in chunks:
            if isinstance(chunk, dict):
                chunk.pop("session_id", None)
        return b"".join(b"data: %s\n\n" % json.dumps(chunk).encode() for chunk in chunks)
    if isinstance(data, dict):
        data.pop("session_id", None)
    return json.dumps(data).encode()


def contract_failures(app: App, path: str, *, streaming: bool = False) -> list[Failure]:
    """Fuzz one operation against `app` with every check on; the failures found, if any.

    `streaming` sets `"stream": true` in every generated body.
    """
    schema = load_schema(FAKE_API_KEY)
    schema.app = app
    operation = schema[path]["POST"]
    # The seeded example session, so that every continue call reaches the agent.
    fixed = {"agent_id": EXAMPLE_AGENT_ID, "session_id": EXAMPLE_SESSION_ID}

    @hypothesis.given(
        case=operation.as_strategy(path_parameters=fixed if path == INTERACT else None)
    )
    @hypothesis.settings(FUZZ_SETTINGS, phases=[Phase.explicit, Phase.generate], max_examples=25)
    def run(case: Case[Any]) -> None:
        if streaming and isinstance(case.body, dict):
            case.body = {**case.body, "stream": True}
        case.call_and_validate()

    try:
        run()
    except BaseException as exc:
        return list(_failures(exc))
    return []


def _failures(exc: BaseException) -> list[Failure]:
    if isinstance(exc, Failure):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        return [found for inner in exc.exceptions for found in _failures(inner)]
    raise exc


def describe(failures: list[Failure]) -> str:
    return "\n".join(f"{type(f).__name__}: {f.title}: {f.message}" for f in failures)


def test_the_unbroken_fake_passes_the_same_run() -> None:
    assert contract_failures(contract_fake().app, CREATE) == []


@pytest.mark.parametrize("path", [CREATE, INTERACT])
def test_json_answers_to_stream_requests_fail_the_contract(path: str) -> None:
    app = rewriting(contract_fake().app, request=never_stream)

    failures = contract_failures(app, path, streaming=True)

    assert "was answered application/json, not text/event-stream" in describe(failures), describe(
        failures
    )


@pytest.mark.parametrize("path", [CREATE, INTERACT])
def test_answers_without_session_id_fail_the_schema_check(path: str) -> None:
    app = rewriting(contract_fake().app, response=drop_session_id)

    failures = contract_failures(app, path)

    assert any(
        type(f).__name__ == "JsonSchemaError" and '"session_id" is a required property' in f.message
        for f in failures
    ), describe(failures)


def test_stream_chunks_without_session_id_fail_the_schema_check() -> None:
    def drop_from_streams(body: bytes) -> bytes:
        return drop_session_id(body) if body.startswith(b"data:") else body

    app = rewriting(contract_fake().app, response=drop_from_streams)

    failures = contract_failures(app, CREATE, streaming=True)

    # An unnamed event's data must be a chunk, an error or `true` (the schema's `then`).
    assert any(
        type(f).__name__ == "JsonSchemaError"
        and "SSE event violates schema" in f.title
        and '\\"history\\": [], \\"pending\\": true}' in f.message
        for f in failures
    ), describe(failures)


def test_events_of_other_kinds_keep_to_the_contract() -> None:
    # The document lets servers add kinds of events (progress, usage) with any data.
    fake = contract_fake()
    for _ in range(100):
        fake.faults.unknown_event_after(1, "usage", {"tokens": 3})

    assert contract_failures(fake.app, CREATE, streaming=True) == []


@pytest.mark.parametrize(
    ("inject", "expected"),
    [
        (lambda faults: faults.end_stream_without_terminator_after(99), "ends after an event of"),
        (lambda faults: faults.malformed_event_after(1), '\\"session_id\\": not json'),
    ],
    ids=["no-terminator", "malformed-event"],
)
def test_broken_streams_of_the_fake_fail_the_contract(
    inject: Callable[[Faults], None], expected: str
) -> None:
    fake = contract_fake()
    for _ in range(100):
        inject(fake.faults)

    failures = contract_failures(fake.app, CREATE, streaming=True)

    assert any(expected in f.message for f in failures), describe(failures)
