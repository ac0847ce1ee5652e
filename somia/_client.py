"""The synchronous client: its I/O loop is the only part written again for async."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

import httpx

from somia._client_base import BaseClient

if TYPE_CHECKING:
    from somia._base import PreparedCall, RequestOptions
    from somia._http import SyncHTTPClient  # noqa: F401 - named by the base class
    from somia._liveness import Deadline
    from somia._models import SessionAnswer, StreamEvent
    from somia._sessions import AgentSessionsClient
    from somia._streaming import Stream


class SomiaClient(BaseClient["SyncHTTPClient", "AgentSessionsClient"]):
    """A synchronous client of the Somia Agent API.

    `base_url` falls back to `SOMIA_BASE_URL`, then to the hosted platform; `api_key` falls
    back to `SOMIA_API_KEY`. Use it as a context manager, or call `close()`.
    """

    _asynchronous = False

    def _new_sessions(self) -> AgentSessionsClient:
        from somia._sessions import AgentSessionsClient

        return AgentSessionsClient(self._call)

    def close(self) -> None:
        """Close the connections this client opened (not those of a given `http_client`).

        A copy made with `with_options` only stops itself: the connections stay open for
        the original and its other copies. Calls after `close()` raise ClientClosedError.
        """
        self._closed = True
        http = self._pool.close_for(self)
        if http is not None:
            http.close()

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
        from somia._raw import prepare_request  # see somia._client_base

        call = prepare_request(
            self._config,
            method,
            path,
            body=json,
            stream=stream,
            options=options,
            base_headers=self._call_headers,
        )
        return call.result(self._send(call))

    def _call(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> SessionAnswer | Stream[StreamEvent]:
        return self._run(self._prepare(agent_id, session_id, stream, options))

    def _run(self, call: PreparedCall) -> SessionAnswer | Stream[StreamEvent]:
        if call.span is not None:  # the application traces: the same call, inside its span
            return call.span.run(self._answer, call)
        return self._answer(call)

    def _answer(self, call: PreparedCall) -> SessionAnswer | Stream[StreamEvent]:
        result: SessionAnswer | Stream[StreamEvent] = call.result(self._send(call))
        return result

    def _send(self, call: PreparedCall) -> httpx.Response:
        """Send with retries; return the 2xx response (read, or open for a stream) or raise
        the typed error. Every attempt of every call is made here."""
        # An httpx or httpx2 client: typed as httpx's (they share one API).
        http: httpx.Client = self._pool.open_http(self._closed)
        stack = self._pool.stack  # its library's exceptions
        deadline = call.deadline()
        attempt = 0
        try:
            while True:
                request = call.build(http, attempt, deadline)
                started = time.monotonic()
                try:
                    try:
                        # Never follow a redirect: the key and the input would go with it.
                        response = http.send(request, stream=True, follow_redirects=False)
                    except stack.HTTPStatusError as exc:  # raised by a caller's event hook
                        response = call.hooked_response(exc, deadline)
                except stack.HTTPError as exc:
                    call.log_failure(exc, attempt, started)
                    delay = call.after_failure(exc, attempt, deadline)
                else:
                    call.log_response(response, attempt, started)
                    ok = call.accepts(response)
                    if ok and call.stream:
                        late = call.began(response, attempt, deadline)
                        if late is None:
                            return response  # its Stream reads it
                        response.close()  # its idle timeout ran out as it began
                        raise late
                    response = self._read(response, call, attempt, deadline)
                    if ok:
                        return response
                    delay = call.after_answer(response, attempt, deadline)
                time.sleep(delay)
                attempt += 1
        finally:
            if deadline is not None:
                deadline.stop()

    def _read(
        self, response: httpx.Response, call: PreparedCall, attempt: int, deadline: Deadline | None
    ) -> httpx.Response:
        """The whole body (the answer, or an error's details), read within the deadline."""
        try:
            if deadline is None or response.is_stream_consumed:  # or read by its transport
                response.read()
                return response
            deadline.answered(response)
            chunks = []
            for chunk in response.iter_raw():
                chunks.append(chunk)
                deadline.check(call.what, attempt + 1)
            return call.with_body(response, chunks)
        except self._pool.stack.HTTPError as exc:
            raise call.read_failure(exc, attempt, deadline) from exc
        finally:
            if deadline is not None:  # before the connection goes back to the pool
                deadline.settle()
            response.close()
