"""OpenTelemetry traces of session calls: one "invoke agent" client span per call.

The span follows the OpenTelemetry semantic conventions for generative AI, version 1.41.0
(Development status), "invoke agent client span" (`span.gen_ai.invoke_agent.client`).
Tracing is on when the application has set a tracer provider through the standard API
(opentelemetry-api, the `otel` extra); the SDK has no option of its own.

Free when unused: this module imports nothing from opentelemetry unless the application
already did (then `opentelemetry.trace` is in `sys.modules`), and the provider's identity is
looked up per call, so that a provider set after a client was made is honoured, and the
decision for a given provider is made once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from somia._bridge import SESSION_ID_HEADER
from somia._errors import server_message
from somia._models import AgentSessionResponse
from somia._validation import merge_headers

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from somia._config import ClientConfig
    from somia._redact import Redactor

T = TypeVar("T")
C = TypeVar("C")


# What tracing reads of a call and of a stream, named here so that the call and stream
# modules import this one, never the other way round.
class TracedCall(Protocol):
    """A prepared call (`somia._base.PreparedCall`): its headers carry the trace context."""

    headers: dict[str, str]
    span: CallSpan | None

    @property
    def redact(self) -> Redactor: ...


class StreamOutcome(Protocol):
    """How a stream stopped (`somia._streaming._StreamState`)."""

    @property
    def events(self) -> int: ...
    @property
    def last_chunk(self) -> Any: ...
    @property
    def errors(self) -> list[Any]: ...
    @property
    def ended(self) -> bool: ...
    @property
    def failure(self) -> Exception | None: ...


SEMCONV_VERSION = "1.41.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
# The conventions' opt-in for recording inputs and outputs; "true" as most GenAI
# instrumentations read it, and the newer experimental values that include spans.
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_CAPTURE_VALUES = frozenset({"true", "span_only", "span_and_event"})

SPAN_NAME = "invoke_agent"  # the conventions' name when no agent name is known
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
AGENT_ID = "gen_ai.agent.id"
CONVERSATION_ID = "gen_ai.conversation.id"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
HTTP_STATUS = "http.response.status_code"  # HTTP conventions (stable)
RESEND_COUNT = "http.request.resend_count"  # HTTP conventions (stable)
# The SDK's own, under its provider name as the conventions ask for custom attributes.
EVENTS_RECEIVED = "somia.stream.events_received"
CLOSED_EARLY = "somia.stream.closed_early"
RETRY_EVENT = "somia.retry"
RETRY_NUMBER = "somia.retry.number"
RETRY_REASON = "somia.retry.reason"
RETRY_DELAY = "somia.retry.delay"  # seconds

_SESSION_HEADER = SESSION_ID_HEADER
# With this set, the API loads a provider when first asked for one (read once, at import).
_PROVIDER_IN_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ
_unseen = object()
_resolved: tuple[object, Tracer | None] = (_unseen, None)  # (provider, its tracer or None)


def _tracer() -> Tracer | None:
    """The tracer of the application's provider, or None when nobody traces."""
    global _resolved
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None  # never imported: no provider can have been set
    # The API's global, None until an application sets a provider: reading it skips the
    # environment look-up that get_tracer_provider() makes every time (a microsecond).
    provider = getattr(trace, "_TRACER_PROVIDER", _unseen)
    if provider is None and not _PROVIDER_IN_ENV:
        return None
    if provider is None or provider is _unseen:  # the public way, should the global change
        provider = trace.get_tracer_provider()
    resolved = _resolved
    if provider is resolved[0]:
        return resolved[1]
    tracer = _tracer_of(trace, provider)
    _resolved = (provider, tracer)
    return tracer


def _tracer_of(trace: Any, provider: Any) -> Tracer | None:
    # The API's stand-ins until an application sets a provider: no span would be recorded.
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    from somia._version import __version__

    tracer: Tracer = provider.get_tracer("somia", __version__, schema_url=SCHEMA_URL)
    return None if isinstance(tracer, trace.NoOpTracer) else tracer


def start_span(
    config: ClientConfig,
    call: TracedCall,
    agent_id: object,
    session_id: object,
    options: Mapping[str, object],
) -> CallSpan | None:
    """The span of a checked call, started, with its trace context added to the call's
    headers; None (at the cost of a dictionary look-up) when nobody traces."""
    tracer = _tracer()
    if tracer is None:
        return None
    return _start(tracer, config, call, agent_id, session_id, options)


def _start(
    tracer: Tracer,
    config: ClientConfig,
    call: TracedCall,
    agent_id: object,
    session_id: object,
    options: Mapping[str, object],
) -> CallSpan:
    from opentelemetry import propagate, trace

    host, port = _server(config.base_url)
    attributes: dict[str, str | int] = {
        OPERATION_NAME: "invoke_agent",
        PROVIDER_NAME: "somia",
        AGENT_ID: str(agent_id),
        SERVER_ADDRESS: host,
        SERVER_PORT: port,
    }
    if session_id is not None:
        attributes[CONVERSATION_ID] = str(session_id)
    span = tracer.start_span(SPAN_NAME, kind=trace.SpanKind.CLIENT, attributes=attributes)
    context = trace.set_span_in_context(span)
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)  # traceparent, with the application's propagators
    if carrier:
        call.headers = merge_headers(call.headers, carrier)
    capture = span.is_recording() and _capture_content()
    if capture and options.get("input_data") is not None:
        span.set_attribute(INPUT_MESSAGES, _messages("user", options["input_data"]))
    call_span = CallSpan(span, context, capture, call.redact)
    call.span = call_span
    return call_span


class CallSpan:
    """The span of one session call, from its first request to the end of its answer."""

    __slots__ = ("_capture", "_context", "_ended", "_redact", "_retries", "_span")

    def __init__(self, span: Span, context: Context, capture: bool, redact: Redactor) -> None:
        self._span = span
        self._redact = redact  # applied to what the server says, should it echo the key
        self._context = context
        self._capture = capture
        self._retries = 0
        self._ended = False

    def run(self, answer: Callable[[C], T], call: C) -> T:
        """`answer(call)` with the span current; a whole answer or a failure ends it."""
        from opentelemetry import context

        token = context.attach(self._context)
        try:
            result = answer(call)
        except BaseException as exc:
            self.end_error(exc)
            raise
        finally:
            context.detach(token)
        self._answered(result)
        return result

    async def arun(self, answer: Callable[[C], Awaitable[T]], call: C) -> T:
        """`run` for an awaited answer."""
        from opentelemetry import context

        token = context.attach(self._context)
        try:
            result = await answer(call)
        except BaseException as exc:
            self.end_error(exc)
            raise
        finally:
            context.detach(token)
        self._answered(result)
        return result

    def on_retry(self, reason: str, delay: float, attempt: int) -> None:
        """Record a retry: an event on the same span (the call stays one span)."""
        self._retries += 1
        self._span.add_event(
            RETRY_EVENT,
            {RETRY_NUMBER: attempt + 1, RETRY_REASON: reason, RETRY_DELAY: float(delay)},
        )

    def _answered(self, result: object) -> None:
        if isinstance(result, AgentSessionResponse):
            found: dict[str, str | int] = {CONVERSATION_ID: result.session_id}
            if result.http is not None:
                found[HTTP_STATUS] = result.http.status_code
            self._span.set_attributes(found)
            self._record_answer(result.message, getattr(result, "usage", None))
            self._end()
            return
        info = getattr(result, "http", None)  # a stream: the span lasts until its end
        if info is not None:
            found = {HTTP_STATUS: info.status_code}
            session: str | None = info.headers.get(_SESSION_HEADER)
            if session:
                found[CONVERSATION_ID] = session
            self._span.set_attributes(found)

    def end_stream(self, state: StreamOutcome) -> None:
        """End the span of a stream that stopped: at its end event (fine), at an error
        event or a failure (an error), or closed before its end by its reader (fine)."""
        if self._ended:
            return
        span = self._span
        span.set_attribute(EVENTS_RECEIVED, state.events)
        chunk = state.last_chunk
        if isinstance(chunk, dict):
            session = chunk.get("session_id")
            if isinstance(session, str) and session:
                span.set_attribute(CONVERSATION_ID, session)
        if state.failure is not None:
            self.end_error(state.failure)
        elif state.errors:
            data = state.errors[0]
            self._fail("AgentStreamError", f"the agent reported an error: {server_message(data)}")
        elif state.ended:
            if isinstance(chunk, dict):
                message = chunk.get("message")
                text = message if isinstance(message, str) else None
                self._record_answer(text, chunk.get("usage"))
            self._end()
        else:
            span.set_attribute(CLOSED_EARLY, True)
            self._end()

    def end_error(self, exc: BaseException) -> None:
        """End the span as failed by `exc`."""
        if self._ended:
            return
        status = getattr(exc, "status_code", None)
        if type(status) is int:
            self._span.set_attribute(HTTP_STATUS, status)
        self._fail(type(exc).__qualname__, str(exc))

    def _fail(self, error_type: str, description: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute(ERROR_TYPE, error_type)
        self._span.set_status(Status(StatusCode.ERROR, self._redact.text(description)))
        self._end()

    def _record_answer(self, message: str | None, usage: object) -> None:
        span = self._span
        if not isinstance(usage, Mapping):  # a documented `usage` object: its JSON as sent
            to_dict = getattr(usage, "to_dict", None)
            usage = to_dict() if callable(to_dict) else None
        counts: Mapping[str, object] = usage if isinstance(usage, Mapping) else {}
        for key, attribute in (("input_tokens", INPUT_TOKENS), ("output_tokens", OUTPUT_TOKENS)):
            value = counts.get(key)
            if type(value) is int and value >= 0:
                span.set_attribute(attribute, value)
        if self._capture and message is not None:
            answer = _messages("assistant", self._redact.text(message), "stop")
            span.set_attribute(OUTPUT_MESSAGES, answer)

    def _end(self) -> None:
        self._ended = True
        if self._retries:
            self._span.set_attribute(RESEND_COUNT, self._retries)
        self._span.end()


def _capture_content() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _CAPTURE_VALUES


def _messages(role: str, content: object, finish_reason: str | None = None) -> str:
    """One message in the conventions' JSON form (a JSON string: span attributes are flat)."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if finish_reason is not None:
        message["finish_reason"] = finish_reason
    return json.dumps([message], ensure_ascii=False)


@lru_cache(maxsize=16)
def _server(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
