"""The ASGI application of the fake server: both operations of openapi/somia.yaml."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from somia.testing._agents import Turn, answer_pieces
from somia.testing._fake import FakeSomia, ReceivedRequest, Session
from somia.testing._faults import RequestDelay, StreamCut, StreamFault
from somia.testing._idempotency import ScopeKey, StoredAnswer
from somia.testing._validation import (
    Problem,
    check_content_type,
    check_idempotency_key,
    check_session_id,
    is_json_integer,
    parse_agent_id,
    parse_body,
    parse_json,
)

__all__ = ["ASGIApp", "SomiaApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("somia.testing")

_PATH = re.compile(r"^/api/v1/external/agent/([^/]*)/session(?:/([^/]*))?$")
_EVENT_STREAM = "text/event-stream"
_END_EVENT = b"data: true\n\n"
_MALFORMED_EVENT = b'data: {"session_id": not json\n\n'


class SomiaApp:
    """ASGI callable serving a `FakeSomia`."""

    def __init__(self, fake: FakeSomia) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        request_id = "req_" + uuid.uuid4().hex
        body, too_large = await _read_body(receive, self.fake.max_body_bytes)
        headers = _headers(scope)
        path = _raw_path(scope)
        parsed, _ = parse_json(body) if body and not too_large else (None, [])
        record = ReceivedRequest(
            method=scope["method"],
            path=path,
            headers=headers,
            body=body,
            json=parsed,
            time=time.time(),
            request_id=request_id,
        )
        self.fake._record(record)
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

    async def _answer(self, request: ReceivedRequest, too_large: bool) -> Response:
        match = _PATH.match(request.path)
        if match is None:
            return _error(404, "Not Found")
        if request.method != "POST":
            response = _error(405, "Method Not Allowed")
            response.headers["Allow"] = "POST"
            return response

        fault = self.fake.faults.take_request_fault()
        if isinstance(fault, RequestDelay):
            await asyncio.sleep(fault.seconds)
        elif fault is not None:
            headers = dict(fault.headers)
            if fault.content_type is not None:
                # Sent exactly as given (Starlette would add a charset to text/* types).
                headers["Content-Type"] = fault.content_type
            return Response(fault.body, status_code=fault.status, headers=headers)

        sent_key = request.headers.get(self.fake.api_key_header)
        if sent_key is None:
            return _error(401, "Missing API key")
        # Header values were decoded as latin-1: encoding back gives the bytes as sent.
        if not hmac.compare_digest(sent_key.encode("latin-1"), self.fake.api_key.encode()):
            return _error(401, "Invalid API key")

        agent_segment, session_segment = match.group(1), match.group(2)
        agent_id, problems = parse_agent_id(unquote(agent_segment))
        session_id = None if session_segment is None else unquote(session_segment)
        if session_id is not None:
            problems += check_session_id(session_id)
        if problems:
            return _invalid(problems)
        if too_large:
            return _error(413, "Request body too large")
        # An empty body is reported as missing, whatever its content type.
        wrong_type = check_content_type(request.headers.get("content-type"))
        if request.body and wrong_type:
            body, body_problems = None, wrong_type
        else:
            body, body_problems = parse_body(request.body)
        problems = body_problems + check_idempotency_key(request.headers.get("idempotency-key"))
        if problems or body is None or agent_id is None:
            return _invalid(problems)

        agent = self.fake.find_agent(agent_id)
        if agent is None:
            return _error(404, "Agent not found")
        if session_id is None:
            session = self.fake._new_session(str(uuid.uuid4()), agent_id)
        else:
            found = self.fake._find_session(session_id, agent_id)
            if found is None:
                return _error(404, "Session not found")
            session = found

        key = request.headers.get("idempotency-key")
        new = session_id is None
        if key is None:
            return self._respond(await self._run_turn(agent, session, body, request, new=new))
        scope_key: ScopeKey = (request.method, request.path, key)
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        decision, stored = await self.fake._replays.claim(scope_key, fingerprint)
        if decision == "conflict":
            return _error(409, "Idempotency-Key reused with a different request")
        if decision == "replay" and stored is not None:
            response = self._respond(stored)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        ran: StoredAnswer | None = None
        try:
            ran = await self._run_turn(agent, session, body, request, new=new)
        finally:
            # Nothing stored when the turn failed: a retry with the key may run it.
            self.fake._replays.finish(scope_key, ran)
        return self._respond(ran)

    async def _run_turn(
        self,
        agent: Callable[[Turn], Any],
        session: Session,
        body: dict[str, Any],
        request: ReceivedRequest,
        *,
        new: bool,
    ) -> StoredAnswer:
        turn = _turn(session, body, request, new=new, api_key_header=self.fake.api_key_header)
        pieces = await run_in_threadpool(lambda: answer_pieces(agent(turn)))
        message = "".join(pieces)
        user_entry = [{"role": "user", "content": body["input_data"]}] if turn.has_input else []
        assistant_entry = {"role": "assistant", "content": message}
        before = [*session.history, *user_entry]
        saved = self.fake._save_turn(session, [*user_entry, assistant_entry], turn.metadata)
        final: dict[str, Any] = {
            "session_id": saved.id,
            "message": message,
            "history": saved.history,
            "metadata": saved.metadata,
            "pending": False,
            "finished": False,
        }
        if not turn.stream:
            return StoredAnswer(saved.id, json_body=_dumps(final))
        events = []
        text = ""
        for piece in pieces:
            text += piece
            chunk = {"session_id": saved.id, "message": text, "history": before, "pending": True}
            events.append(_event(chunk))
        events.append(_event(final))
        events.append(_END_EVENT)
        return StoredAnswer(saved.id, events=tuple(events))

    def _respond(self, answer: StoredAnswer) -> Response:
        headers = {"X-Somia-Session-Id": answer.session_id}
        if answer.events is None:
            return Response(answer.json_body, headers=headers, media_type="application/json")
        headers["Cache-Control"] = "no-cache"
        stream = _stream(answer.events, self.fake.faults.take_stream_fault(), self.fake.event_delay)
        return StreamingResponse(stream, headers=headers, media_type=_EVENT_STREAM)


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
            elif fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
        if index and delay:
            await asyncio.sleep(delay)
        yield event


def _turn(
    session: Session,
    body: dict[str, Any],
    request: ReceivedRequest,
    *,
    new: bool,
    api_key_header: str,
) -> Turn:
    version = body.get("pipeline_version", "production")
    if is_json_integer(version):
        version = int(version)
    return Turn(
        agent_id=session.agent_id,
        session_id=session.id,
        new_session=new,
        input_data=body.get("input_data"),
        has_input="input_data" in body,
        history=session.history,
        stream=body.get("stream", False),
        pipeline_version=version,
        trace_enabled=body.get("trace_enabled", False),
        test=body.get("test", False),
        source=body.get("source"),
        tags=list(body.get("tags", [])),
        environment=body.get("environment"),
        end_user_id=body.get("end_user_id"),
        metadata=dict(body.get("metadata", {})),
        request=body,
        headers={k: v for k, v in request.headers.items() if k != api_key_header},
    )


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


def _invalid(problems: list[Problem]) -> Response:
    return Response(_dumps({"detail": problems}), status_code=422, media_type="application/json")


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


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    # Reads the whole body even past the limit, so that the client sees the 413 rather than
    # a connection reset while it still uploads.
    body = bytearray()
    too_large = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        if not too_large:
            body += chunk
            if len(body) > limit:
                too_large = True
                del body[limit:]
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
