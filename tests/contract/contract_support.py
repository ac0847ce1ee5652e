"""Shared pieces of the contract tests: the document, settings, the workflow and extra checks.

The extra checks hold answers to the document's decisions that JSON Schema cannot express;
they are registered with schemathesis when this module is imported.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
import yaml
from hypothesis.stateful import Bundle, initialize
from schemathesis import BaseSchema, Case, CheckContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful.state_machine import APIStateMachine, StepInput, StepOutput

from somia.testing import FakeSomia, echo_agent

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "somia.yaml"
CREATE = "/api/v1/external/agent/{agent_id}/session"
INTERACT = "/api/v1/external/agent/{agent_id}/session/{session_id}"
FAKE_API_KEY = "sk-contract-tests"
# The document's examples of the two path parameters: the examples phase uses them.
EXAMPLE_AGENT_ID = 123
EXAMPLE_SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"

# Explicit everywhere: under CI=true Hypothesis would switch profiles by itself.
FUZZ_SETTINGS = hypothesis.settings(
    derandomize=True, database=None, deadline=None, max_examples=30, print_blob=False
)
STATEFUL_SETTINGS = hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=10,
    stateful_step_count=4,
    print_blob=False,
)


def contract_fake() -> FakeSomia:
    """A fake for contract runs: every agent id answers, and the example session exists."""
    fake = FakeSomia(api_key=FAKE_API_KEY, default_agent=echo_agent)
    fake.add_session(EXAMPLE_AGENT_ID, EXAMPLE_SESSION_ID)
    return fake


def load_schema(api_key: str, *, api_key_header: str | None = None, **project: Any) -> BaseSchema:
    """The document as a schemathesis schema, authenticated with `api_key`.

    `api_key_header` renames the key's header (for deployments that want another name);
    `project` adds schemathesis configuration keys (as in schemathesis.toml).
    """
    # Through the security scheme, not a fixed header, so that the ignored_auth check can
    # still send requests without the key.
    settings: dict[str, Any] = {"auth": {"openapi": {"ApiKeyAuth": {"api_key": api_key}}}}
    settings.update(project)
    config = SchemathesisConfig.from_dict(settings)
    if api_key_header is None or api_key_header.lower() == "x-api-key":
        return schemathesis.openapi.from_path(SPEC, config=config)
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["components"]["securitySchemes"]["ApiKeyAuth"]["name"] = api_key_header
    return schemathesis.openapi.from_dict(document, config=config)


def workflow(schema: BaseSchema, agent_id: int | None = None) -> type[APIStateMachine]:
    """The stateful create -> continue workflow of `schema`, each run starting with a create.

    schemathesis' root inference takes the SSE event's `id` property for the identifier
    both path parameters of interactSession refer to, so it starts every scenario with a
    random (404) interactSession and never with createSession; the initial create fixes that.
    `agent_id` fixes the agent of that create (the links keep it).
    """
    create = schema[CREATE]["POST"]
    machine: type[APIStateMachine] = schema.as_state_machine()
    fixed = None if agent_id is None else {"agent_id": agent_id}

    class Workflow(machine):  # type: ignore[valid-type, misc]
        # Its answer lands in the "createSession -> 200" bundle that the continue link reads.
        @initialize(target=Bundle("catch_all"), case=create.as_strategy(path_parameters=fixed))
        def create_session(self, case: Case[Any]) -> StepOutput:
            self.recorder.record_case(case=case)
            output: StepOutput = self.step(StepInput.initial(case))
            return output

    return Workflow


def run_session_chain(schema: BaseSchema, *, agent_id: int, headers: dict[str, str]) -> None:
    """Create a session, then continue it streamed and as JSON, every answer validated.

    The stateful phase follows the same link, but only by chance; this chain always does.
    """
    create = schema[CREATE]["POST"].Case(
        path_parameters={"agent_id": agent_id},
        headers=dict(headers),
        body={"input_data": "Hello", "test": True},
    )
    first = create.call_and_validate()
    assert first.status_code == 200, f"create answered {first.status_code}: {first.content[:300]!r}"
    session_id = first.headers["x-somia-session-id"][0]
    for stream in (True, False):
        step = schema[INTERACT]["POST"].Case(
            path_parameters={"agent_id": agent_id, "session_id": session_id},
            headers=dict(headers),
            body={"input_data": "And again", "stream": stream, "test": True},
        )
        response = step.call_and_validate()
        assert response.status_code == 200, f"continue answered {response.status_code}"
        assert response.headers["x-somia-session-id"] == [session_id]


def event_data(content: bytes) -> list[str]:
    """The data of each event of a Server-Sent Event body."""
    text = content.decode("utf-8").removeprefix("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    events = []
    for block in text.split("\n\n"):
        data = [
            line[5:].removeprefix(" ")
            for line in block.split("\n")
            if line.startswith("data:") or line == "data"
        ]
        if data:
            events.append("\n".join(data))
    return events


def _media_type(response: Response) -> str:
    values = response.headers.get("content-type") or [""]
    return str(values[0]).split(";", 1)[0].strip().lower()


def _asked_to_stream(case: Case[Any]) -> bool:
    return isinstance(case.body, dict) and case.body.get("stream") is True


@schemathesis.check
def stream_flag_selects_media_type(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A 200 is an event stream exactly when the request asked for `"stream": true`."""
    if response.status_code != 200:
        return None
    media = _media_type(response)
    if _asked_to_stream(case) and media != "text/event-stream":
        raise AssertionError(f'"stream": true was answered with {media!r}, not text/event-stream')
    if not _asked_to_stream(case) and media != "application/json":
        raise AssertionError(f"a request without stream was answered with {media!r}, not JSON")
    return True


@schemathesis.check
def session_id_header_matches_answer(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Every 200 names its session in X-Somia-Session-Id, and the answer agrees."""
    if response.status_code != 200:
        return None
    headers = response.headers.get("x-somia-session-id")
    if not headers:
        raise AssertionError("a 200 answer without an X-Somia-Session-Id header")
    header = headers[0]
    if _media_type(response) == "application/json":
        answer = _json_or_none(response.content)
        ids = [answer.get("session_id")] if isinstance(answer, dict) else []
    elif _media_type(response) == "text/event-stream":
        events = [_json_or_none(data) for data in event_data(response.content)]
        ids = [event.get("session_id") for event in events if _is_chunk(event)]
    else:
        return None
    if any(found != header for found in ids):
        raise AssertionError(f"X-Somia-Session-Id is {header!r} but the answer names {ids!r}")
    return True


@schemathesis.check
def event_stream_is_complete_and_cumulative(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A 200 stream ends with `true` (or an error), and each chunk's message extends the last."""
    if response.status_code != 200 or _media_type(response) != "text/event-stream":
        return None
    # Events that are not JSON are left to the schema check.
    values = [_json_or_none(data) for data in event_data(response.content)]
    last = values[-1] if values else None
    ended = last is True or (isinstance(last, dict) and bool(last.get("error")))
    if not response.stream_cut_short and not ended:
        raise AssertionError("the event stream does not end with an event whose data is true")
    previous = ""
    for value in values:
        if not _is_chunk(value) or not isinstance(value.get("message"), str):
            continue
        message = value["message"]
        if not message.startswith(previous):
            raise AssertionError(f"chunk message {message!r} does not extend {previous!r}")
        previous = message
    return True


def _json_or_none(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _is_chunk(value: object) -> bool:
    return isinstance(value, dict) and any(k in value for k in ("session_id", "history", "pending"))


# ASGI, for the deliberately broken servers that wrap the fake's app.
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """The whole body of an ASGI HTTP request."""
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)
