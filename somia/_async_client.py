"""The asynchronous client: the same policy as `SomiaClient`, with an awaited I/O loop."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

import httpx

from somia._client_base import BaseClient

if TYPE_CHECKING:
    from somia._base import PreparedCall, RequestOptions
    from somia._http import AsyncHTTPClient  # noqa: F401 - named by the base class
    from somia._liveness import Deadline
    from somia._models import SessionAnswer, StreamEvent
    from somia._sessions import AsyncAgentSessionsClient
    from somia._streaming import AsyncStream


def _running_loop() -> object:
    import asyncio  # here, not above: `import somia` stays free of asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio, say): httpx knows its own loop
        return None


def _wrong_loop_message(loop: object) -> str:
    ended = getattr(loop, "is_closed", lambda: False)()
    where = "first call, which has ended (a second asyncio.run?)" if ended else "first call"
    return (
        f"this AsyncSomiaClient's connections belong to the event loop of its {where}: "
        "create the client inside the coroutine that asyncio.run runs, one client per "
        "event loop"
    )


class AsyncSomiaClient(BaseClient["AsyncHTTPClient", "AsyncAgentSessionsClient"]):
    """An asynchronous client of the Somia Agent API; awaited twin of `SomiaClient`.

    `base_url` falls back to `SOMIA_BASE_URL`, then to the hosted platform; `api_key` falls
    back to `SOMIA_API_KEY`. Use it with `async with`, or await `aclose()`. Its connections
    belong to the event loop of its first call: create one client per event loop (per
    `asyncio.run`).
    """

    _asynchronous = True

    def _new_sessions(self) -> AsyncAgentSessionsClient:
        from somia._sessions import AsyncAgentSessionsClient

        return AsyncAgentSessionsClient(self._call)

    async def aclose(self) -> None:
        """Close the connections this client opened (not those of a given `http_client`).

        A copy made with `with_options` only stops itself: the connections stay open for
        the original and its other copies. Calls after `aclose()` raise ClientClosedError.
        """
        self._closed = True
        loop = self._pool.loop
        http = self._pool.close_for(self)
        if http is not None and (loop is None or loop is _running_loop()):
            await http.aclose()
        # Otherwise they belong to another event loop (likely ended): left to be collected.

    async def __aenter__(self) -> AsyncSomiaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[False] = False,
        **options: Unpack[RequestOptions],
    ) -> Any: ...
    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[True],
        **options: Unpack[RequestOptions],
    ) -> AsyncStream[StreamEvent]: ...
    async def request(
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
        `stream=True` a `AsyncStream` of its events.
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
        return call.async_result(await self._send(call))

    async def _call(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> SessionAnswer | AsyncStream[StreamEvent]:
        return await self._run(self._prepare(agent_id, session_id, stream, options))

    async def _run(self, call: PreparedCall) -> SessionAnswer | AsyncStream[StreamEvent]:
        if call.span is not None:  # the application traces: the same call, inside its span
            return await call.span.arun(self._answer, call)
        return await self._answer(call)

    async def _answer(self, call: PreparedCall) -> SessionAnswer | AsyncStream[StreamEvent]:
        result: SessionAnswer | AsyncStream[StreamEvent] = call.async_result(await self._send(call))
        return result

    def _open_http(self) -> httpx.AsyncClient:
        """The pool's httpx or httpx2 client, typed as httpx's (they share one API)."""
        pool = self._pool
        http: httpx.AsyncClient = pool.open_http(self._closed)
        if pool.owned:  # a given http_client's transport may not be bound to a loop at all
            loop = _running_loop()
            if pool.loop is not loop:
                if pool.loop is not None:
                    from somia._errors import WrongEventLoopError

                    raise WrongEventLoopError(_wrong_loop_message(pool.loop))
                pool.loop = loop
        return http

    async def _send(self, call: PreparedCall) -> httpx.Response:
        """Send with retries; return the 2xx response (read, or open for a stream) or raise
        the typed error. Every attempt of every call is made here."""
        http = self._open_http()
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
                        response = await http.send(request, stream=True, follow_redirects=False)
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
                            return response  # its AsyncStream reads it
                        await response.aclose()  # its idle timeout ran out as it began
                        raise late
                    response = await self._read(response, call, attempt, deadline)
                    if ok:
                        return response
                    delay = call.after_answer(response, attempt, deadline)
                import asyncio  # here, not above: `import somia` stays free of asyncio

                await asyncio.sleep(delay)
                attempt += 1
        finally:
            if deadline is not None:
                deadline.stop()

    async def _read(
        self, response: httpx.Response, call: PreparedCall, attempt: int, deadline: Deadline | None
    ) -> httpx.Response:
        """The whole body (the answer, or an error's details), read within the deadline."""
        try:
            if deadline is None or response.is_stream_consumed:  # or read by its transport
                await response.aread()
                return response
            deadline.answered(response)
            chunks = []
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                deadline.check(call.what, attempt + 1)
            return call.with_body(response, chunks)
        except self._pool.stack.HTTPError as exc:
            raise call.read_failure(exc, attempt, deadline) from exc
        finally:
            if deadline is not None:  # before the connection goes back to the pool
                deadline.settle()
            await response.aclose()
