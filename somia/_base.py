"""What the sync and async clients share around their I/O loops: a checked call, and every
decision about it (its requests, retries, errors and answer) as methods of `PreparedCall`,
so that each client's loop only sends, waits and reads.

Loaded when the first client is made (see somia._client_base): `from somia import
SomiaClient` does not pay for it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict

import attrs
import httpx

from somia._bridge import BODY_FIELDS, build_request, check_body
from somia._config import RETRY_ATTEMPT_HEADER, ClientConfig
from somia._errors import (
    InvalidResponseError,
    SomiaError,
    add_note,
    error_from_response,
    translate_transport_error,
)
from somia._http import AnyTimeout, timeout_phase, was_read, with_content
from somia._liveness import Deadline, stream_read_timeout
from somia._models import ResponseInfo, SessionAnswer, parse_session
from somia._nesting import MAX_JSON_DEPTH, check_body_nesting, check_nesting
from somia._redact import NO_KEY, Redactor
from somia._retry import RetryDecision
from somia._streaming import AsyncStream, Stream
from somia._validation import (
    check_agent_id,
    check_headers,
    check_idempotency_key,
    check_idle_timeout,
    check_session_id,
    check_timeout,
    check_total_timeout,
    merge_headers,
)

if TYPE_CHECKING:
    from somia._tracing import CallSpan

logger = logging.getLogger("somia")


class RequestOptions(TypedDict, total=False):
    """Keyword options of every call (`client.request(...)` and the session calls); each
    overrides or adds to what the client sends for this one call."""

    timeout: float | AnyTimeout | None
    total_timeout: float | None
    stream_idle_timeout: float | Literal["read"] | None
    extra_headers: Mapping[str, str] | None
    idempotency_key: str | None


# A session call's keywords that are not body fields: the options above, and extra_body.
_CALL_OPTIONS = frozenset({*RequestOptions.__annotations__, "extra_body"})
_BODY_WIRE_NAMES = frozenset(BODY_FIELDS.values())
ACCEPT_STREAM = {"Accept": "text/event-stream"}

if TYPE_CHECKING:  # a whole 2xx answer (of httpx or httpx2) into what the call returns
    Parse: TypeAlias = Callable[[httpx.Response, Redactor], Any]


def session_from_response(response: httpx.Response, redact: Redactor = NO_KEY) -> SessionAnswer:
    """The typed answer of a read 2xx JSON response; the key is redacted from the body an
    InvalidResponseError keeps."""
    info = ResponseInfo.from_response(response)
    content = response.content
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        text = redact.text(content.decode("utf-8", errors="replace"))
        raise InvalidResponseError(
            f"the server's {response.status_code} answer is not JSON "
            f"(content type {redact.text(response.headers.get('content-type', 'none'))!r})",
            status_code=response.status_code,
            body=text,
        ) from exc
    try:
        return parse_session(data, info, raw=content)
    except InvalidResponseError as exc:
        exc.body = redact.text(exc.body)
        raise


@attrs.define(slots=True)
class PreparedCall:
    """A checked call, ready to be sent any number of times, and what its client's I/O loop
    asks of it between sends."""

    config: ClientConfig = attrs.field(repr=False)  # of the client that prepared it
    url: str
    headers: dict[str, str] = attrs.field(repr=False)  # carries the key
    content: bytes
    timeout: httpx.Timeout  # of each attempt, before the total timeout caps it
    stream: bool
    what: str  # "POST /api/..." for messages and logs; never holds a secret
    total_timeout: float | None = None  # of the whole call; None: no limit
    method: str = "POST"  # the session operations' (client.request may send others)
    parse: Parse = session_from_response  # a whole 2xx answer into what the call returns
    span: CallSpan | None = attrs.field(default=None, repr=False)  # set when traced
    idle_timeout: float | None = None  # of a stream, between events of its answer
    # Sends the call again as a new call (a session call's stream: Stream.reopen()).
    reopen: Callable[[], Any] | None = attrs.field(default=None, repr=False)

    @property
    def redact(self) -> Redactor:
        """Takes the client's key out of anything the server sent."""
        return self.config.redact

    def deadline(self) -> Deadline | None:
        """The call's time limits, started now: its total timeout, and a stream's idle timeout
        for each attempt's answer to start (None without either)."""
        if self.total_timeout is None and self.idle_timeout is None:
            return None
        return Deadline(self.total_timeout, self.idle_timeout)

    def build(
        self,
        http: httpx.Client | httpx.AsyncClient,
        attempt: int,
        deadline: Deadline | None = None,
    ) -> httpx.Request:
        """The httpx request for attempt number `attempt` (0 for the first), its timeouts
        capped to the time the deadline leaves (which raises once none is left)."""
        headers = self.headers
        if attempt:
            headers = merge_headers(headers, {RETRY_ATTEMPT_HEADER: str(attempt)})
        timeout = self.timeout
        if deadline is not None:
            timeout = deadline.cap(timeout, self.what, attempt)
        request = http.build_request(
            self.method,
            self.url,
            content=self.content,
            headers=headers,
            # Given as httpx stores it, httpx skips copying the Timeout: the cheaper path.
            extensions={"timeout": timeout.as_dict()},
        )
        if deadline is not None:
            deadline.begin(http, request)
        return request

    def accepts(self, response: httpx.Response) -> bool:
        """Whether `response` (its head) is the answer: a 2xx, and an event stream when
        the call streams."""
        return response.is_success and (not self.stream or is_event_stream(response))

    def log_response(self, response: httpx.Response, attempt: int, started: float) -> None:
        """One debug line per answered request (`started`: when it was sent, monotonic)."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s -> %s (attempt %d, %.1f ms, request id %s)",
                self.what,
                response.status_code,
                attempt + 1,
                (time.monotonic() - started) * 1000,
                self.redact.text(response.headers.get("x-request-id", "-")),
            )

    def log_failure(self, exc: BaseException, attempt: int, started: float) -> None:
        """One debug line per request that got no answer."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s -> %s (attempt %d, %.1f ms)",
                self.what,
                type(exc).__name__,
                attempt + 1,
                (time.monotonic() - started) * 1000,
            )

    def began(
        self, response: httpx.Response, attempt: int, deadline: Deadline | None
    ) -> SomiaError | None:
        """A stream's answer began on `response`: its events are read under the read timeout,
        not what the deadline left of it when the request was sent, or under the idle timeout
        when that is shorter. The error to raise (after closing `response`) instead when its
        idle timeout ran out meanwhile: its socket was shut down."""
        capped = False
        if deadline is not None:
            deadline.settle()
            if deadline.head_out:
                return deadline.late_error(self.what, attempt + 1)
            capped = "read" in deadline.capped
        stream_read_timeout(response, self.timeout.read, self.idle_timeout, capped=capped)
        return None

    def after_failure(self, exc: httpx.HTTPError, attempt: int, deadline: Deadline | None) -> float:
        """The wait before retrying after `exc`; raises the SDK's error instead when the
        call must not, or can no longer, be retried."""
        if deadline is not None:
            deadline.settle()  # the attempt is over
            if deadline.head_out:  # the watchdog shut it down: a stream's answer was late
                raise deadline.late_error(self.what, attempt + 1) from exc
        if deadline is not None and deadline.cut_short(exc):
            # Once the request went out, the turn may have run.
            reading = deadline.sent or timeout_phase(exc) == "read"
            raise deadline.expired(self.what, attempt + 1, reading=reading) from exc
        decision = self.config.retry.decide_exception(exc, attempt)
        if decision is None:
            raise translate_transport_error(
                exc, what=self.what, redact=self.redact, attempts=attempt + 1
            ) from exc
        return self._wait(decision, attempt, deadline, exc)

    def after_answer(
        self, response: httpx.Response, attempt: int, deadline: Deadline | None
    ) -> float:
        """The wait before retrying after the read answer `response` the call cannot use;
        raises its typed error instead when it must not, or can no longer, be retried."""
        error = self._answer_error(response)
        policy = self.config.retry
        decision = policy.decide_status(response.status_code, response.headers, attempt)
        if decision is None:
            note = policy.refusal(response.status_code, response.headers, attempt)
            raise add_note(error, note) if note else error
        return self._wait(decision, attempt, deadline, error)

    def read_failure(
        self, exc: httpx.HTTPError, attempt: int, deadline: Deadline | None
    ) -> SomiaError:
        """The error for a failure while an answer's body was read (raise it `from exc`)."""
        if deadline is not None and deadline.late():
            return deadline.late_error(self.what, attempt + 1)
        if deadline is not None and deadline.cut_short(exc):
            return deadline.expired(self.what, attempt + 1, reading=True)
        return translate_transport_error(exc, what=self.what, redact=self.redact)

    def result(self, response: httpx.Response) -> Any:
        """What a sync call returns for its answer: a `Stream`, or the parsed body."""
        if self.stream:
            return Stream(response, self)
        return self.parse(response, self.redact)

    def async_result(self, response: httpx.Response) -> Any:
        """What an async call returns for its answer: an `AsyncStream`, or the parsed body."""
        if self.stream:
            return AsyncStream(response, self)
        return self.parse(response, self.redact)

    @staticmethod
    def hooked_response(exc: httpx.HTTPStatusError, deadline: Deadline | None) -> httpx.Response:
        """The answer a caller's event hook raised HTTPStatusError for (`raise_for_status()`):
        still an answer, mapped and retried like any other. httpx closed it, unread unless
        the hook read it; then only its status and headers are known."""
        if deadline is not None:
            deadline.settle()  # httpx released its connection
        response = exc.response
        return response if was_read(response) else with_content(response, b"")

    @staticmethod
    def with_body(response: httpx.Response, chunks: list[bytes]) -> httpx.Response:
        """`response` with its body, read chunk by chunk (still content-coded), in its
        place (and decoded)."""
        return with_content(response, b"".join(chunks))

    def _wait(
        self,
        decision: RetryDecision,
        attempt: int,
        deadline: Deadline | None,
        cause: BaseException,
    ) -> float:
        delay, reason = decision.delay, decision.reason
        if deadline is not None and not deadline.fits(delay):
            waiting = f"{reason}, {delay:.2f} s"
            raise deadline.expired(self.what, attempt + 1, waiting=waiting) from cause
        logger.info("%s failed (%s); retry %d in %.2f s", self.what, reason, attempt + 1, delay)
        if self.span is not None:
            self.span.on_retry(reason, delay, attempt)
        return delay

    def _answer_error(self, response: httpx.Response) -> SomiaError:
        """The error for a read answer the call cannot use: an error status, or a 2xx
        answer to a streaming call that is not an event stream."""
        redact = self.redact
        if not response.is_success:
            return error_from_response(response, redact=redact)
        content_type = redact.text(response.headers.get("content-type") or "no content type")
        return InvalidResponseError(
            f"asked for a stream, but the server answered {content_type!r}",
            status_code=response.status_code,
            body=redact.text(response.content.decode("utf-8", errors="replace")),
        )


def prepare_call(
    config: ClientConfig,
    agent_id: object,
    session_id: object,
    *,
    stream: bool,
    options: Mapping[str, Any],
    base_headers: dict[str, str],
) -> PreparedCall:
    """Check every argument and encode a session call; raises TypeError/ValueError before
    any I/O.

    `base_headers` are the client's: they travel with each request.
    """
    agent = check_agent_id(agent_id)
    session = None if session_id is None else check_session_id(session_id)
    fields = {name: value for name, value in options.items() if name not in _CALL_OPTIONS}
    fields["stream"] = stream
    body = check_body(fields)
    check_body_nesting(body)
    extra_body = options.get("extra_body")
    if extra_body is not None:
        body = _merge_extra_body(body, extra_body, fields)
    key = idempotency_key(options)
    path, wire_headers, content = build_request(agent, session, body, idempotency_key=key)
    layers = [base_headers, wire_headers]
    if stream:
        layers.append(ACCEPT_STREAM)
    extra = extra_headers(config, options)
    if extra:
        layers.append(extra)
    if base_headers or extra:
        # Names may differ in case only (a caller's "accept"): merge by name, never send both.
        headers = merge_headers(*layers)
    else:  # the usual case: the call's own few headers, all distinct
        headers = {**wire_headers, **ACCEPT_STREAM} if stream else wire_headers
    timeout, total_timeout, idle_timeout = call_timeouts(config, options, stream=stream)
    return PreparedCall(
        config=config,
        url=config.base_url + path,
        headers=headers,
        content=content,
        timeout=timeout,
        total_timeout=total_timeout,
        stream=stream,
        what=f"POST {path}",
        idle_timeout=idle_timeout,
    )


def idempotency_key(options: Mapping[str, Any]) -> str:
    """The call's `idempotency_key`, checked, or a new one."""
    key = options.get("idempotency_key")
    if key is None:
        return os.urandom(16).hex()  # as unique as a uuid4, at a fraction of the cost
    return check_idempotency_key(key)


def extra_headers(config: ClientConfig, options: Mapping[str, Any]) -> dict[str, str]:
    """The call's `extra_headers`, checked; they cannot replace the key."""
    extra = check_headers("extra_headers", options.get("extra_headers"))
    if not extra:
        return extra
    key_header = config.api_key_header.lower()
    return {k: v for k, v in extra.items() if k.lower() != key_header}


def call_timeouts(
    config: ClientConfig, options: Mapping[str, Any], *, stream: bool
) -> tuple[httpx.Timeout, float | None, float | None]:
    """The call's per-attempt timeout, total timeout and, for a stream, idle timeout in
    seconds: its own, else the client's. Each given one is checked, streaming or not.

    None per call means the client's `timeout` and `total_timeout`, but no idle timeout
    (`stream_idle_timeout=None` turns it off for the call); "read" is the read timeout."""
    given, total = options.get("timeout"), options.get("total_timeout")
    timeout = config.timeout if given is None else check_timeout("timeout", given)
    total = config.total_timeout if total is None else check_total_timeout("total_timeout", total)
    if "stream_idle_timeout" in options:
        idle = check_idle_timeout("stream_idle_timeout", options["stream_idle_timeout"])
    else:
        idle = config.stream_idle_timeout
    if not stream:
        return timeout, total, None
    return timeout, total, timeout.read if idle == "read" else idle


def _merge_extra_body(
    body: dict[str, Any], extra: object, options: Mapping[str, Any]
) -> dict[str, Any]:
    """`extra_body` merged into the checked body; a field the SDK knows must be an option."""
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra_body must be a mapping, not {type(extra).__name__}")
    for key in extra:
        if not isinstance(key, str):
            raise TypeError(f"extra_body keys must be str, not {type(key).__name__}")
        if key in BODY_FIELDS or key in _BODY_WIRE_NAMES:
            raise ValueError(
                f"extra_body sets {key!r}, which is a documented field: pass it as an option"
            )
        check_nesting(extra[key], f"extra_body[{key!r}]", MAX_JSON_DEPTH - 1)
    return {**body, **extra}


def is_event_stream(response: httpx.Response) -> bool:
    """The answer is a Server-Sent Event stream."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.lower().startswith("text/event-stream")
