"""What the sync and async clients share around their I/O loops: preparing a call, logging
it, and turning a response into an answer or an error."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, Unpack

import attrs
import httpx

from somia._bridge import API_KEY_HEADER, BODY_FIELDS, build_request, check_body
from somia._config import RETRY_ATTEMPT_HEADER, ClientConfig, ClientOptions
from somia._errors import (
    InvalidResponseError,
    SomiaError,
    error_from_response,
    redact,
    translate_transport_error,
)
from somia._liveness import Deadline
from somia._models import AgentSessionResponse, ResponseInfo, parse_session
from somia._nesting import MAX_JSON_DEPTH, check_body_nesting, check_nesting
from somia._pool import HttpT, Pool
from somia._retry import RetryDecision, RetryPolicy
from somia._validation import (
    check_agent_id,
    check_headers,
    check_idempotency_key,
    check_session_id,
    check_timeout,
    check_total_timeout,
    merge_headers,
)

if TYPE_CHECKING:
    from somia._tracing import CallSpan

logger = logging.getLogger("somia")

_CALL_OPTIONS = frozenset(
    {
        "timeout",
        "total_timeout",
        "stream_idle_timeout",
        "extra_headers",
        "extra_body",
        "idempotency_key",
    }
)
_BODY_WIRE_NAMES = frozenset(BODY_FIELDS.values())
ACCEPT_STREAM = {"Accept": "text/event-stream"}


@attrs.define(slots=True)
class PreparedCall:
    """A checked call, ready to be sent any number of times."""

    url: str
    headers: dict[str, str] = attrs.field(repr=False)  # carries the key
    content: bytes
    timeout: httpx.Timeout  # of each attempt, before the total timeout caps it
    stream: bool
    what: str  # "POST /api/..." for messages and logs; never holds a secret
    secret: str | None = attrs.field(default=None, repr=False)  # to redact from server text
    span: CallSpan | None = attrs.field(default=None, repr=False)  # set when traced
    total_timeout: float | None = None  # of the whole call; None: no limit
    method: str = "POST"  # the session operations' (client.request may send others)
    idle_timeout: float | None = None  # of a stream, between events of its answer
    # Sends the call again as a new call (a session call's stream: Stream.reopen()).
    reopen: Callable[[], Any] | None = attrs.field(default=None, repr=False)

    def deadline(self) -> Deadline | None:
        """The total timeout's clock, started now (None without a total timeout)."""
        return None if self.total_timeout is None else Deadline(self.total_timeout)

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


def prepare_call(
    config: ClientConfig,
    agent_id: object,
    session_id: object,
    *,
    stream: bool,
    options: Mapping[str, Any],
    base_headers: dict[str, str],
    default_timeout: httpx.Timeout,
) -> PreparedCall:
    """Check every argument and encode the call; raises TypeError/ValueError before any I/O.

    `base_headers` and `default_timeout` are the client's: they travel with each request.
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
    timeout, total_timeout = call_timeouts(config, options, default_timeout)
    return PreparedCall(
        url=config.base_url + path,
        headers=headers,
        content=content,
        timeout=timeout,
        total_timeout=total_timeout,
        stream=stream,
        what=f"POST {path}",
        secret=config.api_key,
        idle_timeout=stream_idle_timeout(options, timeout) if stream else None,
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
    config: ClientConfig, options: Mapping[str, Any], default: httpx.Timeout
) -> tuple[httpx.Timeout, float | None]:
    """The call's per-attempt timeout and total timeout: its own, else the client's."""
    timeout, total = options.get("timeout"), options.get("total_timeout")
    return (
        default if timeout is None else check_timeout("timeout", timeout),
        config.total_timeout if total is None else check_total_timeout("total_timeout", total),
    )


def stream_idle_timeout(options: Mapping[str, Any], timeout: httpx.Timeout) -> float | None:
    """The call's `stream_idle_timeout`, checked; by default its read timeout."""
    if "stream_idle_timeout" not in options:
        return timeout.read
    return check_total_timeout("stream_idle_timeout", options["stream_idle_timeout"])


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


def log_response(call: PreparedCall, response: httpx.Response, attempt: int) -> None:
    """One debug line per answered request."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s -> %s (attempt %d, request id %s)",
            call.what,
            response.status_code,
            attempt + 1,
            redact(response.headers.get("x-request-id", "-"), call.secret),
        )


def log_retry(call: PreparedCall, reason: str, delay: float, attempt: int) -> None:
    """One line per retry, with its reason and delay."""
    logger.info("%s failed (%s); retry %d in %.2f s", call.what, reason, attempt + 1, delay)
    if call.span is not None:
        call.span.on_retry(reason, delay, attempt)


def hook_response(exc: httpx.HTTPStatusError) -> httpx.Response:
    """The answer a caller's event hook raised HTTPStatusError for (`raise_for_status()`):
    still an answer, mapped and retried like any other. httpx closed it, unread unless the
    hook read it; then only its status and headers are known."""
    response = exc.response
    try:
        response.content  # noqa: B018 - read by the hook?
    except httpx.ResponseNotRead:
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(b""),
            request=response.request,
            extensions=response.extensions,
        )
    return response


def retry_after_failure(
    exc: httpx.HTTPError,
    call: PreparedCall,
    policy: RetryPolicy,
    attempt: int,
    deadline: Deadline | None,
) -> float:
    """The wait before retrying after `exc`; raises the SDK's error instead when the call
    must not, or can no longer, be retried."""
    if deadline is not None and deadline.cut_short(exc):
        # Once the request went out, the turn may have run.
        reading = deadline.sent or isinstance(exc, httpx.ReadTimeout)
        raise deadline.expired(call.what, attempt + 1, reading=reading) from exc
    decision = policy.decide_exception(exc, attempt)
    if decision is None:
        raise translate_transport_error(exc, what=call.what, secret=call.secret) from exc
    return _wait(decision, call, attempt, deadline, exc)


def retry_after_answer(
    response: httpx.Response,
    call: PreparedCall,
    config: ClientConfig,
    attempt: int,
    deadline: Deadline | None,
) -> float:
    """The wait before retrying after the read answer `response` the call cannot use;
    raises its typed error instead when it must not, or can no longer, be retried."""
    error = answer_error(response, config)
    decision = config.retry.decide_status(response.status_code, response.headers, attempt)
    if decision is None:
        raise error
    return _wait(decision, call, attempt, deadline, error)


def _wait(
    decision: RetryDecision,
    call: PreparedCall,
    attempt: int,
    deadline: Deadline | None,
    cause: BaseException,
) -> float:
    delay, reason = decision.delay, decision.reason
    if deadline is not None and not deadline.fits(delay):
        waiting = f"{reason}, {delay:.2f} s"
        raise deadline.expired(call.what, attempt + 1, waiting=waiting) from cause
    log_retry(call, reason, delay, attempt)
    return delay


def read_failure(
    exc: httpx.HTTPError, call: PreparedCall, attempt: int, deadline: Deadline | None
) -> SomiaError:
    """The error for a failure while an answer's body was read (raise it `from exc`)."""
    if deadline is not None and deadline.cut_short(exc):
        return deadline.expired(call.what, attempt + 1, reading=True)
    return translate_transport_error(exc, what=call.what, secret=call.secret)


def with_body(response: httpx.Response, chunks: list[bytes]) -> httpx.Response:
    """`response` with its body, read chunk by chunk (still content-coded), in its place
    (and decoded)."""
    whole = httpx.Response(
        response.status_code,
        headers=response.headers,
        stream=httpx.ByteStream(b"".join(chunks)),
        request=response.request,
        extensions=response.extensions,
    )
    whole.read()  # from memory: no I/O
    return whole


def session_from_response(
    response: httpx.Response, *, secret: str | None = None
) -> AgentSessionResponse:
    """The typed answer of a read 2xx JSON response; `secret` is redacted from the body an
    InvalidResponseError keeps."""
    info = ResponseInfo.from_response(response)
    content = response.content
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        text = redact(content.decode("utf-8", errors="replace"), secret)
        raise InvalidResponseError(
            f"the server's {response.status_code} answer is not JSON "
            f"(content type {redact(response.headers.get('content-type', 'none'), secret)!r})",
            status_code=response.status_code,
            body=text,
        ) from exc
    try:
        return parse_session(data, info, raw=content)
    except InvalidResponseError as exc:
        exc.body = redact(exc.body, secret)
        raise


def is_event_stream(response: httpx.Response) -> bool:
    """The answer is a Server-Sent Event stream."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.lower().startswith("text/event-stream")


def answer_error(response: httpx.Response, config: ClientConfig) -> SomiaError:
    """The error for a read answer the call cannot use: an error status, or a 2xx answer to
    a streaming call that is not an event stream."""
    if not response.is_success:
        return error_from_response(response, secret=config.api_key)
    secret = config.api_key
    content_type = redact(response.headers.get("content-type") or "no content type", secret)
    return InvalidResponseError(
        f"asked for a stream, but the server answered {content_type!r}",
        status_code=response.status_code,
        body=redact(response.content.decode("utf-8", errors="replace"), secret),
    )


SessionsT = TypeVar("SessionsT")


class BaseClient(Generic[HttpT, SessionsT]):
    """Options, environment fallbacks, copies and accessors shared by both clients."""

    _http_type: type[HttpT]
    _sessions_type: Callable[[Any], SessionsT]  # made with the client's `_call`
    _call: Callable[..., Any]  # the I/O twin's session call
    _start: Callable[..., Any]  # the I/O twin's: a prepared session call, traced and sent

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_header: str = API_KEY_HEADER,
        timeout: float | httpx.Timeout = 60.0,
        total_timeout: float | None = None,
        retries: int = 2,
        retry_backoff_seconds: float = 0.5,
        max_retry_after: float = 60.0,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpT | None = None,
    ) -> None:
        """Check every option (TypeError or ValueError before any request) and make the
        client; no connection is opened until the first call.

        Args:
            base_url: The API's base URL; default `$SOMIA_BASE_URL`, else
                https://api.somia-platform.com. Plain http:// to a remote host warns.
            api_key: The API key, sent with every call; default `$SOMIA_API_KEY`. Required.
                It never appears in a repr, log line, error or span.
            api_key_header: The header that carries the key (some deployments want
                "apikey").
            timeout: Seconds for each phase of each attempt (connect, read, write, pool),
                or an `httpx.Timeout`. A stream's events are read under its read timeout.
            total_timeout: Seconds for a whole call: every attempt, the waits between them
                and the answer (a stream's: up to its first byte). None: no limit.
            retries: Retries of a call the agent certainly did not run (a connection that
                failed before sending, a connect or pool timeout, 408, 429, 503); 0 turns
                them off.
            retry_backoff_seconds: The first wait before a retry, doubled on each retry
                (with jitter, at most 8 s), unless the server says how long to wait.
            max_retry_after: The longest `Retry-After` (or `retry-after-ms`) the client
                waits; when the server asks for longer, the error is raised at once.
            default_headers: Headers sent with every call (the key's header excepted).
            http_client: Your own `httpx.Client` (`httpx.AsyncClient` for the async
                client) for proxies, certificates or limits; its redirects are never
                followed, and closing this client leaves it open.
        """
        config = ClientConfig.create(
            base_url=base_url,
            api_key=api_key,
            api_key_header=api_key_header,
            timeout=timeout,
            total_timeout=total_timeout,
            retries=retries,
            retry_backoff_seconds=retry_backoff_seconds,
            max_retry_after=max_retry_after,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, self._http_type):
            raise TypeError(
                f"http_client must be an httpx.{self._http_type.__name__}, "
                f"not {type(http_client).__name__}"
            )
        # The key, headers and timeouts travel with each request, never on the httpx client:
        # copies with other options share its connections.
        pool: Pool[HttpT] = Pool(http_client, self._http_type)
        self._setup(config, pool, copy=False)

    def _setup(self, config: ClientConfig, pool: Pool[HttpT], *, copy: bool) -> None:
        self._config = config
        self._pool: Pool[HttpT] = pool
        headers = config.headers
        if pool.owned:  # only what the SDK's httpx client would not send by itself
            own = pool.http.headers  # (httpx merges header lists slowly)
            headers = {k: v for k, v in headers.items() if own.get(k) != v}
        self._call_headers = headers
        self._is_copy = copy
        self._closed = False
        self.sessions: SessionsT = self._sessions_type(self._call)

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A copy of this client with some constructor options changed (`timeout`,
        `total_timeout`, `retries`, `api_key`, `default_headers`, ...).

        The copy shares this client's connections. Closing the copy leaves them open;
        closing this client closes them, and the copy then raises ClientClosedError.
        """
        config = self._config.replace(options)
        self._pool.open_http(self._closed)  # no copy of a closed client
        copy = object.__new__(type(self))
        copy._setup(config, self._pool, copy=True)
        return copy

    def _prepare(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> PreparedCall:
        call = prepare_call(
            self._config,
            agent_id,
            session_id,
            stream=stream,
            options=options,
            base_headers=self._call_headers,
            default_timeout=self._config.timeout,
        )
        if stream:  # its stream's reopen() sends it again, as a new call
            call.reopen = functools.partial(self._again, call, agent_id, session_id, options)
        return call

    def _again(
        self, call: PreparedCall, agent_id: object, session_id: object, options: Mapping[str, Any]
    ) -> Any:
        # The same request (Idempotency-Key included), with a span of its own.
        return self._start(attrs.evolve(call, span=None), agent_id, session_id, options)

    @classmethod
    def from_env(cls, **options: Any) -> Self:
        """A client configured from `SOMIA_BASE_URL` and `SOMIA_API_KEY`; options override."""
        return cls(**options)

    @property
    def agents(self) -> SessionsT:
        """The same as `sessions` (the 0.1.0a1 name)."""
        return self.sessions

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._config.base_url

    def __repr__(self) -> str:
        return self._config.describe(self)
