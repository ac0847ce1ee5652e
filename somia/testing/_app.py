"""The ASGI application of the fake server: both operations of openapi/somia.yaml."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from somia._bridge import SESSION_ID_HEADER
from somia._document import Document, DocumentError
from somia.testing._agents import Agent, Answer, Turn, read_answer
from somia.testing._answers import EVENT_STREAM, JSON, AnswerShape, shape_of
from somia.testing._faults import Faults, RequestDelay, StreamCut, StreamFault
from somia.testing._idempotency import IdempotencyStore, scope_of
from somia.testing._records import ReceivedRequest, SavedTurn, Session
from somia.testing._schema import Operation, body_properties, operations
from somia.testing._validation import (
    Problem,
    check_content_type,
    check_parameters,
    parse_body,
    parse_json,
)

__all__ = ["ASGIApp", "ServedFake", "SomiaApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("somia.testing")

# The operations the fake serves, by operationId; the rest of the document answers 501.
_SERVED = ("createSession", "interactSession")
# The refusals the fake makes, by the rule of the document's `x-somia-refusals` they follow.
_RULES = (
    "body-too-large",
    "unauthenticated",
    "invalid-request",
    "not-found",
    "idempotency-conflict",
)
_END_EVENT = b"data: true\n\n"
Rendered = bytes | tuple[bytes, ...]  # a JSON body, or the events of a stream
_MALFORMED_EVENT = b'data: {"session_id": not json\n\n'


class ServedFake(Protocol):
    """What the app reads and changes of the `FakeSomia` it serves: its public surface.

    (A protocol, so that this module need not import `_fake`, which builds the app.)
    """

    api_key: str
    api_key_header: str
    document: Document
    max_body_bytes: int
    event_delay: float
    turn_latency: float
    faults: Faults
    replays: IdempotencyStore[Any]

    def find_agent(self, agent_id: int) -> Agent | None: ...
    def record_request(self, request: ReceivedRequest) -> None: ...
    def note_turn(self, key: str | None) -> None: ...
    def find_session(self, session_id: str, agent_id: int) -> Session | None: ...
    def save_turn(
        self, session: Session, new_entries: list[dict[str, Any]], metadata: Mapping[str, Any]
    ) -> SavedTurn: ...
    def note_answer_fields(self, media: str, fields: set[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class _Ran:
    """A turn that ran, as kept for replay: what its answer is rendered from, again."""

    operation: Operation
    saved: SavedTurn  # the session's history is shared, not copied
    before: int  # the history's length when the turn started
    with_input: bool  # the turn appended the user's entry before the agent's
    pieces: tuple[str, ...]
    answer: Answer
    stream: bool


class SomiaApp:
    """ASGI callable serving a `FakeSomia`."""

    def __init__(self, fake: ServedFake) -> None:
        self.fake = fake
        statuses = {refusal.rule: refusal.status for refusal in fake.document.refusals()}
        missing = [rule for rule in _RULES if rule not in statuses]
        if missing:
            raise DocumentError(f"the fake needs the x-somia-refusals rules {missing}")
        self._status = statuses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        request_id = "req_" + uuid.uuid4().hex
        headers = _headers(scope)
        path = _raw_path(scope)
        # The body of a request refused before it is read (too large, no key, a wrong key) is
        # not kept: whatever arrives, memory stays bounded by the log's size.
        keep = self._authenticated(headers)
        body, too_large = await _read_body(receive, self.fake.max_body_bytes, keep=keep)
        parsed, _ = parse_json(body) if body and not too_large else (None, [])
        record = ReceivedRequest(
            method=scope["method"],
            path=path,
            headers=headers,
            body=b"" if too_large else body,
            json=parsed,
            time=time.time(),
            request_id=request_id,
        )
        self.fake.record_request(record)
        try:
            response = await self._answer(record, too_large)
        except Exception:
            logger.exception("%s %s failed (request id %s)", record.method, path, request_id)
            response = _error(500, "Internal server error")
        response.headers["X-Request-Id"] = request_id
        record.status = response.status_code
        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            "%s %s -> %d%s in %.1f ms (request id %s)",
            record.method,
            path,
            response.status_code,
            " stream" if isinstance(response, StreamingResponse) else "",
            elapsed,
            request_id,
        )
        await response(scope, receive, send)

    def _authenticated(self, headers: dict[str, str]) -> bool:
        sent_key = headers.get(self.fake.api_key_header)
        # Header values were decoded as latin-1: encoding back gives the bytes as sent.
        return sent_key is not None and hmac.compare_digest(
            sent_key.encode("latin-1"), self.fake.api_key.encode()
        )

    async def _answer(self, request: ReceivedRequest, too_large: bool) -> Response:
        found = _route(self.fake.document, request.method, request.path)
        if isinstance(found, Response):
            return found
        operation, raw_params = found

        fault = self.fake.faults.take_request_fault()
        if isinstance(fault, RequestDelay):
            await asyncio.sleep(fault.seconds)
        elif fault is not None:
            headers = dict(fault.headers)
            if fault.content_type is not None:
                # Sent exactly as given (Starlette would add a charset to text/* types).
                headers["Content-Type"] = fault.content_type
            return Response(fault.body, status_code=fault.status, headers=headers)

        # In the order of the document's x-somia-refusals: size, key, request, resources, key.
        if too_large:
            return _error(self._status["body-too-large"], "Request body too large")
        if not self._authenticated(request.headers):
            missing = request.headers.get(self.fake.api_key_header) is None
            detail = "Missing API key" if missing else "Invalid API key"
            return _error(self._status["unauthenticated"], detail)

        decoded = {name: unquote(value) for name, value in raw_params.items()}
        params, problems = check_parameters(operation, "path", decoded)
        if problems:
            return self._invalid(problems)
        # An empty body is reported as missing, whatever its content type.
        content_type = request.headers.get("content-type")
        wrong_type = check_content_type(content_type, operation.body_media_types)
        body: Any
        if request.body and wrong_type and "unsupported-media-type" in self._status:
            # A document may give a body of another media type a refusal of its own.
            return _error(self._status["unsupported-media-type"], wrong_type[0]["msg"])
        if request.body and wrong_type:
            body, problems = None, wrong_type
        elif not request.body and not operation.body_required:
            body, problems = {}, []
        else:
            body, problems = parse_body(operation, request.body)
        header_values: dict[str, str | None] = dict(request.headers)
        problems += check_parameters(operation, "header", header_values)[1]
        if problems or body is None:
            return self._invalid(problems)

        agent_id: int = params["agent_id"]
        agent = self.fake.find_agent(agent_id)
        if agent is None:
            return _error(self._status["not-found"], "Agent not found")
        session_id: str | None = params.get("session_id")
        if session_id is None:
            session = Session(id=str(uuid.uuid4()), agent_id=agent_id)  # stored by save_turn
        else:
            found_session = self.fake.find_session(session_id, agent_id)
            if found_session is None:
                return _error(self._status["not-found"], "Session not found")
            session = found_session

        turn = _turn(operation, session, body, request, self.fake.api_key_header, session_id)
        key = request.headers.get("idempotency-key")
        run = functools.partial(self._run_turn, agent, turn, operation, session, key)
        if key is None:
            return self._respond(*await run())
        scope, also = scope_of(request.method, request.path, key)
        fingerprint = also + json.dumps(body, sort_keys=True, separators=(",", ":"))
        decision, stored = await self.fake.replays.claim(scope, fingerprint)
        if decision == "conflict":
            detail = "Idempotency-Key reused with a different request"
            return _error(self._status["idempotency-conflict"], detail)
        if decision == "replay" and stored is not None:
            response = self._respond(stored, self._render(stored))
            response.headers["Idempotent-Replayed"] = "true"
            return response
        ran: _Ran | None = None
        try:
            ran, rendered = await run()
        finally:
            # Nothing stored when the turn failed: a retry with the key may run it.
            self.fake.replays.finish(scope, ran)
        return self._respond(ran, rendered)

    def _invalid(self, problems: list[Problem]) -> Response:
        body = _dumps({"detail": problems})
        status = self._status["invalid-request"]
        return Response(body, status_code=status, media_type="application/json")

    async def _run_turn(
        self,
        agent: Callable[[Turn], Any],
        turn: Turn,
        operation: Operation,
        session: Session,
        key: str | None,
    ) -> tuple[_Ran, Rendered]:
        self.fake.note_turn(key)
        if self.fake.turn_latency:
            await asyncio.sleep(self.fake.turn_latency)
        pieces, answer = await run_in_threadpool(lambda: read_answer(agent(turn)))
        shape_of(operation).check_agent_fields(answer.fields, answer.omit)
        body = turn.request
        user_entry = [{"role": "user", "content": body["input_data"]}] if turn.has_input else []
        assistant_entry = {"role": "assistant", "content": "".join(pieces)}
        metadata = body.get("metadata")
        saved = self.fake.save_turn(
            session, [*user_entry, assistant_entry], metadata if isinstance(metadata, dict) else {}
        )
        ran = _Ran(
            operation, saved, len(turn.history), turn.has_input, tuple(pieces), answer, turn.stream
        )
        return ran, self._render(ran)

    def _render(self, ran: _Ran) -> Rendered:
        """The answer of a turn that ran, the first time and for each replay."""
        shape = shape_of(ran.operation)
        saved = ran.saved
        computed: dict[str, Any] = {
            "session_id": saved.session_id,
            "message": "".join(ran.pieces),
            "history": saved.entries(),
            "metadata": saved.metadata,
            "pending": False,
            "finished": False,
        }
        if not ran.stream:
            return _dumps(self._build(shape, JSON, computed, ran.answer, fill=True))
        # The chunks show the history as the turn found it, then the user's entry (the one
        # before the agent's: other turns of the session may have been stored meanwhile).
        before = saved.entries(ran.before)
        if ran.with_input:
            before.append(saved.history[saved.length - 2])
        events = []
        text = ""
        no_fields = Answer(fields={}, omit=ran.answer.omit)
        for piece in ran.pieces:
            text += piece
            so_far = {
                "session_id": saved.session_id,
                "message": text,
                "history": before,
                "pending": True,
            }
            events.append(_event(self._build(shape, EVENT_STREAM, so_far, no_fields, fill=False)))
        events.append(_event(self._build(shape, EVENT_STREAM, computed, ran.answer, fill=True)))
        events.append(_END_EVENT)
        return tuple(events)

    def _build(
        self,
        shape: AnswerShape,
        media: str,
        computed: dict[str, Any],
        answer: Answer,
        *,
        fill: bool,
    ) -> dict[str, Any]:
        built = shape.build(media, computed, answer.fields, answer.omit, fill=fill)
        self.fake.note_answer_fields(media, shape.present(media, built))
        return built

    def _respond(self, ran: _Ran, rendered: Rendered) -> Response:
        headers = {SESSION_ID_HEADER: ran.saved.session_id}
        if isinstance(rendered, bytes):
            return Response(rendered, headers=headers, media_type="application/json")
        headers["Cache-Control"] = "no-cache"
        stream = _stream(rendered, self.fake.faults.take_stream_fault(), self.fake.event_delay)
        return StreamingResponse(stream, headers=headers, media_type=EVENT_STREAM)


async def _stream(
    events: tuple[bytes, ...], fault: StreamFault | None, delay: float
) -> AsyncIterator[bytes]:
    # The fault strikes after `after` events, and always before the terminating `true`.
    strike = None if fault is None else min(fault.after, len(events) - 1)
    for index, event in enumerate(events):
        if index == strike and fault is not None:
            if fault.kind == "cut":
                raise StreamCut(f"stream cut after {index} events (fault injection)")
            if fault.kind == "no_terminator":
                return
            if fault.kind == "error":
                name = "" if fault.event_name is None else f"event: {fault.event_name}\n"
                yield name.encode() + _event({"error": fault.message})
                return
            if fault.kind == "malformed":
                yield _MALFORMED_EVENT
            elif fault.kind == "unknown":
                yield f"event: {fault.event_name}\n".encode() + _event(fault.data)
            elif fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
        if index and delay:
            await asyncio.sleep(delay)
        yield event


def _turn(
    operation: Operation,
    session: Session,
    body: dict[str, Any],
    request: ReceivedRequest,
    api_key_header: str,
    session_id: str | None,
) -> Turn:
    return Turn(
        agent_id=session.agent_id,
        session_id=session.id,
        new_session=session_id is None,
        history=session.history,
        request=body,
        headers={k: v for k, v in request.headers.items() if k != api_key_header},
        documented=_request_defaults(operation),
    )


@functools.cache
def _request_defaults(operation: Operation) -> Mapping[str, Any]:
    # The request body's documented fields, each with its default (None without one).
    return MappingProxyType(
        {
            name: schema.get("default") if isinstance(schema, dict) else None
            for name, schema in body_properties(operation).items()
        }
    )


def _route(
    document: Document, method: str, path: str
) -> tuple[Operation, dict[str, str]] | Response:
    allowed: list[str] = []
    for operation in operations(document):
        params = operation.match(path)
        if params is None:
            continue
        if operation.method == method:
            if operation.operation_id not in _SERVED:
                return _error(501, f"{operation.operation_id} is not served by the fake")
            return operation, params
        allowed.append(operation.method)
    if not allowed:
        return _error(404, "Not Found")
    response = _error(405, "Method Not Allowed")
    response.headers["Allow"] = ", ".join(allowed)
    return response


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (valid as a JSON escape, not as UTF-8): escape every non-ASCII
        # character instead, so that whatever JSON arrived can be answered.
        return json.dumps(value, separators=(",", ":")).encode()


def _event(value: Any) -> bytes:
    return b"data: " + _dumps(value) + b"\n\n"


def _error(status: int, detail: str) -> Response:
    return Response(_dumps({"detail": detail}), status_code=status, media_type="application/json")


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _raw_path(scope: Scope) -> str:
    # The raw path keeps %2F inside a segment apart from the "/" between segments.
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0]
    return str(scope["path"])


async def _read_body(receive: Receive, limit: int, *, keep: bool) -> tuple[bytes, bool]:
    # Reads the whole body even past the limit (or when not kept), so that the client sees
    # the answer rather than a connection reset while it still uploads.
    body = bytearray()
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        too_large = size > limit
        if keep and not too_large:
            body += chunk
        elif body:
            body.clear()
        if not message.get("more_body", False):
            break
    return bytes(body), too_large


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
