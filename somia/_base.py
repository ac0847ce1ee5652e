"""What the sync and async clients share around their I/O loops: preparing a call, logging
it, and turning a response into an answer or an error."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import attrs
import httpx

from somia._bridge import BODY_FIELDS, build_request, check_body
from somia._config import RETRY_ATTEMPT_HEADER, ClientConfig
from somia._errors import InvalidResponseError, SomiaError, error_from_response, redact
from somia._models import AgentSessionResponse, ResponseInfo, parse_session
from somia._validation import (
    check_agent_id,
    check_headers,
    check_idempotency_key,
    check_session_id,
    check_timeout,
    merge_headers,
)

if TYPE_CHECKING:
    from somia._tracing import CallSpan

logger = logging.getLogger("somia")

_CALL_OPTIONS = frozenset({"timeout", "extra_headers", "extra_body", "idempotency_key"})
_BODY_WIRE_NAMES = frozenset(BODY_FIELDS.values())
_ACCEPT_STREAM = {"Accept": "text/event-stream"}


@attrs.define(slots=True)
class PreparedCall:
    """A checked call, ready to be sent any number of times."""

    url: str
    headers: dict[str, str] = attrs.field(repr=False)  # carries the key
    content: bytes
    timeout: httpx.Timeout | None  # None: the HTTP client's own
    stream: bool
    what: str  # "POST /api/..." for messages and logs; never holds a secret
    secret: str | None = attrs.field(default=None, repr=False)  # to redact from server text
    span: CallSpan | None = attrs.field(default=None, repr=False)  # set when traced

    def build(self, http: httpx.Client | httpx.AsyncClient, attempt: int) -> httpx.Request:
        """The httpx request for attempt number `attempt` (0 for the first)."""
        headers = self.headers
        if attempt:
            headers = merge_headers(headers, {RETRY_ATTEMPT_HEADER: str(attempt)})
        return http.build_request(
            "POST",
            self.url,
            content=self.content,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if self.timeout is None else self.timeout,
        )


def prepare_call(
    config: ClientConfig,
    agent_id: object,
    session_id: object,
    *,
    stream: bool,
    options: Mapping[str, Any],
    base_headers: dict[str, str],
    default_timeout: httpx.Timeout | None,
) -> PreparedCall:
    """Check every argument and encode the call; raises TypeError/ValueError before any I/O.

    `base_headers` and `default_timeout` are the configured ones the HTTP client does not
    already apply by itself.
    """
    agent = check_agent_id(agent_id)
    session = None if session_id is None else check_session_id(session_id)
    fields = {name: value for name, value in options.items() if name not in _CALL_OPTIONS}
    fields["stream"] = stream
    body = check_body(fields)
    extra_body = options.get("extra_body")
    if extra_body is not None:
        body = _merge_extra_body(body, extra_body, fields)
    key = options.get("idempotency_key")
    if key is None:
        key = os.urandom(16).hex()  # as unique as a uuid4, at a fraction of the cost
    else:
        check_idempotency_key(key)
    path, wire_headers, content = build_request(agent, session, body, idempotency_key=key)
    layers = [base_headers, wire_headers]
    if stream:
        layers.append(_ACCEPT_STREAM)
    extra = check_headers("extra_headers", options.get("extra_headers"))
    if extra:
        key_header = config.api_key_header.lower()  # extra headers cannot replace the key
        layers.append({k: v for k, v in extra.items() if k.lower() != key_header})
    if base_headers or extra:
        # Names may differ in case only (a caller's "accept"): merge by name, never send both.
        headers = merge_headers(*layers)
    else:  # the usual case: the call's own few headers, all distinct
        headers = {**wire_headers, **_ACCEPT_STREAM} if stream else wire_headers
    timeout = options.get("timeout")
    return PreparedCall(
        url=config.base_url + path,
        headers=headers,
        content=content,
        timeout=default_timeout if timeout is None else check_timeout("timeout", timeout),
        stream=stream,
        what=f"POST {path}",
        secret=config.api_key,
    )


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


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
SessionsT = TypeVar("SessionsT")


class BaseClient(Generic[HttpT, SessionsT]):
    """Options, environment fallbacks and accessors shared by both clients."""

    _http_type: type[HttpT]
    _sessions_type: Callable[[Any], SessionsT]

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_header: str = "x-api-key",
        timeout: float | httpx.Timeout = 60.0,
        retries: int = 2,
        retry_backoff_seconds: float = 0.5,
        max_retry_delay: float = 60.0,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpT | None = None,
    ) -> None:
        self._config = ClientConfig.create(
            base_url=base_url,
            api_key=api_key,
            api_key_header=api_key_header,
            timeout=timeout,
            retries=retries,
            retry_backoff_seconds=retry_backoff_seconds,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, self._http_type):
            raise TypeError(
                f"http_client must be an httpx.{self._http_type.__name__}, "
                f"not {type(http_client).__name__}"
            )
        self._owns_http = http_client is None
        # A client of our own sends the configured headers itself, so that each call only
        # adds its own few; a caller's client is left untouched and gets them per call.
        self._http: HttpT = http_client or self._http_type(
            timeout=self._config.timeout, headers=self._config.headers
        )
        self._call_headers = {} if self._owns_http else dict(self._config.headers)
        self._call_timeout = None if self._owns_http else self._config.timeout
        self.sessions: SessionsT = self._sessions_type(self)

    def _prepare(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> PreparedCall:
        return prepare_call(
            self._config,
            agent_id,
            session_id,
            stream=stream,
            options=options,
            base_headers=self._call_headers,
            default_timeout=self._call_timeout,
        )

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
