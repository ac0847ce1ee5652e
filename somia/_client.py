"""The synchronous client: its I/O loop is the only part written again for async."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType

import httpx

from somia._base import (
    BaseClient,
    PreparedCall,
    answer_error,
    is_event_stream,
    log_response,
    log_retry,
    session_from_response,
)
from somia._errors import translate_transport_error
from somia._models import AgentSessionResponse, StreamEvent
from somia._sessions import AgentSessionsClient
from somia._streaming import Stream
from somia._tracing import start_span


class SomiaClient(BaseClient[httpx.Client, AgentSessionsClient]):
    """A synchronous client of the Somia Agent API.

    `base_url` falls back to `SOMIA_BASE_URL`, then to the hosted platform; `api_key` falls
    back to `SOMIA_API_KEY`. Use it as a context manager, or call `close()`.
    """

    _http_type = httpx.Client
    _sessions_type = AgentSessionsClient

    def close(self) -> None:
        """Close the connections this client opened (not those of a given `http_client`)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SomiaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> AgentSessionResponse | Stream[StreamEvent]:
        call = self._prepare(agent_id, session_id, stream, options)
        span = start_span(self._config, call, agent_id, session_id, options)
        if span is not None:  # the application traces: the same call, inside its span
            return span.run(self._answer, call)
        return self._answer(call)

    def _answer(self, call: PreparedCall) -> AgentSessionResponse | Stream[StreamEvent]:
        response = self._send(call)
        if call.stream:
            return Stream(response, what=call.what, secret=call.secret, span=call.span)
        return session_from_response(response, secret=call.secret)

    def _send(self, call: PreparedCall) -> httpx.Response:
        """Send with retries; return the 2xx response (read, or open for a stream) or raise
        the typed error."""
        policy = self._config.retry
        attempt = 0
        while True:
            try:
                response = self._http.send(call.build(self._http, attempt), stream=True)
            except httpx.HTTPError as exc:
                decision = policy.decide_exception(exc, attempt)
                if decision is None:
                    raise translate_transport_error(
                        exc, what=call.what, secret=call.secret
                    ) from exc
            else:
                log_response(call, response, attempt)
                ok = response.is_success and (not call.stream or is_event_stream(response))
                if ok and call.stream:
                    return response  # its Stream reads it
                decision = (
                    None
                    if ok
                    else policy.decide_status(response.status_code, response.headers, attempt)
                )
                try:  # the whole body: the answer, or the error's details
                    response.read()
                except httpx.HTTPError as exc:
                    raise translate_transport_error(
                        exc, what=call.what, secret=call.secret
                    ) from exc
                finally:
                    response.close()
                if ok:
                    return response
                if decision is None:
                    raise answer_error(response, self._config)
            delay, reason = decision
            log_retry(call, reason, delay, attempt)
            time.sleep(delay)
            attempt += 1
