"""The synchronous client: its I/O loop is the only part written again for async."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Unpack, overload

import httpx

from somia._base import (
    BaseClient,
    PreparedCall,
    hook_response,
    is_event_stream,
    log_response,
    read_failure,
    retry_after_answer,
    retry_after_failure,
    session_from_response,
    with_body,
)
from somia._liveness import Deadline, settle, stream_read_timeout
from somia._models import AgentSessionResponse, StreamEvent
from somia._raw import RequestOptions, json_from_response, prepare_request
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
        """Close the connections this client opened (not those of a given `http_client`).

        A copy made with `with_options` only stops itself: the connections stay open for
        the original and its other copies. Calls after `close()` raise ClientClosedError.
        """
        self._closed = True
        pool = self._pool
        if self._is_copy or pool.closed:
            return
        pool.closed = True
        if pool.owned:
            if pool.forked:  # the parent's connections: never close them from a child
                pool.abandon()
            else:
                pool.http.close()

    def __enter__(self) -> SomiaClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[False] = False,
        **options: Unpack[RequestOptions],
    ) -> Any: ...
    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[True],
        **options: Unpack[RequestOptions],
    ) -> Stream[StreamEvent]: ...
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool = False,
        **options: Unpack[RequestOptions],
    ) -> Any:
        """Call an operation this SDK does not curate yet: `method` on `path` (relative to
        the base URL, e.g. "/api/v1/..."), with `json` as the body.

        The client's key, headers, timeouts, retry rules and error classes apply, as for a
        session call. Returns the answer's decoded JSON (None for an empty body), or with
        `stream=True` a `Stream` of its events.
        """
        call = prepare_request(
            self._config,
            method,
            path,
            body=json,
            stream=stream,
            options=options,
            base_headers=self._call_headers,
        )
        response = self._send(call)
        if stream:
            return Stream(response, call)
        return json_from_response(response, secret=call.secret)

    def _call(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> AgentSessionResponse | Stream[StreamEvent]:
        call = self._prepare(agent_id, session_id, stream, options)
        return self._start(call, agent_id, session_id, options)

    def _start(
        self,
        call: PreparedCall,
        agent_id: object,
        session_id: object,
        options: Mapping[str, object],
    ) -> AgentSessionResponse | Stream[StreamEvent]:
        span = start_span(self._config, call, agent_id, session_id, options)
        if span is not None:  # the application traces: the same call, inside its span
            return span.run(self._answer, call)
        return self._answer(call)

    def _answer(self, call: PreparedCall) -> AgentSessionResponse | Stream[StreamEvent]:
        response = self._send(call)
        if call.stream:
            return Stream(response, call)
        return session_from_response(response, secret=call.secret)

    def _send(self, call: PreparedCall) -> httpx.Response:
        """Send with retries; return the 2xx response (read, or open for a stream) or raise
        the typed error. Every attempt of every call is made here."""
        http = self._pool.open_http(self._closed)
        config = self._config
        deadline = call.deadline()
        attempt = 0
        try:
            while True:
                request = call.build(http, attempt, deadline)
                try:
                    try:
                        # Never follow a redirect: the key and the input would go with it.
                        response = http.send(request, stream=True, follow_redirects=False)
                    except httpx.HTTPStatusError as exc:  # raised by a caller's event hook
                        settle(deadline)
                        response = hook_response(exc)
                except httpx.HTTPError as exc:
                    settle(deadline)
                    delay = retry_after_failure(exc, call, config.retry, attempt, deadline)
                else:
                    log_response(call, response, attempt)
                    ok = response.is_success and (not call.stream or is_event_stream(response))
                    if ok and call.stream:
                        stream_read_timeout(
                            response,
                            call.timeout.read,
                            call.idle_timeout,
                            capped=deadline is not None,
                        )
                        return response  # its Stream reads it
                    response = self._read(response, call, attempt, deadline)
                    if ok:
                        return response
                    delay = retry_after_answer(response, call, config, attempt, deadline)
                time.sleep(delay)
                attempt += 1
        finally:
            if deadline is not None:
                deadline.stop()

    @staticmethod
    def _read(
        response: httpx.Response, call: PreparedCall, attempt: int, deadline: Deadline | None
    ) -> httpx.Response:
        """The whole body (the answer, or an error's details), read within the deadline."""
        try:
            if deadline is None:
                response.read()
                return response
            deadline.answered(response)
            chunks = []
            for chunk in response.iter_raw():
                chunks.append(chunk)
                deadline.check(call.what, attempt + 1)
            return with_body(response, chunks)
        except httpx.HTTPError as exc:
            raise read_failure(exc, call, attempt, deadline) from exc
        finally:
            settle(deadline)  # before the connection goes back to the pool
            response.close()
