"""Shared pieces of the in-process schemathesis tests: the fake, settings, the workflow and
the check of the document's own rules (registered with schemathesis on import).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis.stateful import Bundle, initialize
from schemathesis import BaseSchema, Case, CheckContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.stateful.state_machine import APIStateMachine, StepInput, StepOutput

from somia._document import Document, shipped
from somia._sse import SSEDecoder
from somia.testing import FakeSomia, echo_agent
from tests.contract.judge import answer_problems, media_problems, stream_problems
from tests.contract.ledger import EVENT_STREAM, Exchange

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
    document = copy.deepcopy(shipped().data)
    if api_key_header is not None:
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
    return [event.data for event in SSEDecoder().feed(content)]


_DOCUMENTS: dict[int, Document] = {}


def _document(raw: dict[str, Any]) -> Document:
    """The document module's view of the document schemathesis runs (a changed copy, too)."""
    return _DOCUMENTS.setdefault(id(raw), Document(raw))


@schemathesis.check
def keeps_the_documents_rules(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """What JSON Schema cannot say, read from the document's own rules: the stream flag
    chooses the media type (`x-somia-when`), headers carry their fields (`x-somia-field`),
    and a stream keeps its `x-somia-stream` rules."""
    doc = _document(case.operation.schema.raw_schema)
    operation_id = case.operation.definition.raw.get("operationId")
    op = doc.operation(operation_id)
    url = f"http://contract{case.formatted_path}"
    request = httpx.Request(case.method, url)
    request.extensions["somia_path"] = dict(case.path_parameters or {})
    headers = [(name, value) for name, values in response.headers.items() for value in values]
    exchange = Exchange(
        operation_id, request, httpx.Response(response.status_code, headers=headers)
    )
    exchange.body = response.content
    problems = media_problems(doc, op, case.body, exchange)
    if response.status_code == 200 and exchange.media == EVENT_STREAM:
        exchange.events = SSEDecoder().feed(response.content)
        exchange.complete = not response.stream_cut_short
        found = stream_problems(doc, op, exchange)
        if response.stream_cut_short:
            found.pop(("ends-with", ""), None)  # read up to schemathesis' own limit
        problems += [problem for (check, _), lines in found.items() for problem in lines]
    if response.status_code == 200:
        problems += [p for p in answer_problems(doc, op, exchange) if "header" in p]
    if problems:
        raise AssertionError("; ".join(problems))
    return True


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
