"""What both clients share outside their I/O loops: the constructor, copies, accessors.

This module and the two client modules (and somia._pool) import only the standard library
and httpx, so that `from somia import SomiaClient` costs little more than `import httpx`. The
rest (options, the generated client's facts, attrs, the call machinery, the seam to the HTTP
library) loads when the first client is made; the client modules reach the call machinery
through imports inside their methods.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar, Unpack

import httpx

from somia._pool import Pool

if TYPE_CHECKING:
    from somia._base import PreparedCall
    from somia._config import ClientConfig, ClientOptions
    from somia._http import AnyTimeout
else:  # what the annotation means at run time (somia._http loads with the first client)
    AnyTimeout = httpx.Timeout

HttpT = TypeVar("HttpT")  # the `http_client` a client takes: httpx's or httpx2's
SessionsT = TypeVar("SessionsT")


class BaseClient(Generic[HttpT, SessionsT]):
    """Options, environment fallbacks, copies and accessors shared by both clients."""

    _asynchronous: bool  # the kind of HTTP client it sends through
    _config: ClientConfig
    _pool: Pool
    _closed: bool  # this client (or copy) was closed
    _call_headers: dict[str, str]
    sessions: SessionsT

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_header: str | None = None,
        timeout: float | AnyTimeout = 60.0,
        total_timeout: float | None = None,
        stream_idle_timeout: float | Literal["read"] | None = "read",
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
            api_key_header: The header that carries the key; default
                `$SOMIA_API_KEY_HEADER`, else the API's own (some deployments want
                "apikey").
            timeout: Seconds for each phase of each attempt (connect, read, write, pool),
                or an `httpx.Timeout` (or `httpx2.Timeout`). A stream's events are read
                under its read timeout. Every timeout is above 0 and at most 2,000,000 s.
            total_timeout: Seconds for a whole call, however slowly the server sends: every
                attempt, the waits between them and the answer (a JSON answer whole, a
                stream's up to its response head). None: no limit.
            stream_idle_timeout: Seconds a stream may go without an event of its answer (a
                chunk, an error, the end), whatever else the server sends, and each
                attempt's answer may take to start once its request is sent; the time your
                loop body takes does not count. "read": the read timeout. None: no limit.
            retries: Retries of a call the agent certainly did not run (a connection that
                failed before sending, a connect or pool timeout, 408, 429, 503); 0 turns
                them off.
            retry_backoff_seconds: The first wait before a retry, doubled on each retry
                (with jitter, at most 8 s), unless the server says how long to wait.
            max_retry_after: The longest `Retry-After` (or `retry-after-ms`) the client
                waits; when the server asks for longer, the error is raised at once.
            default_headers: Headers sent with every call (the key's header excepted).
            http_client: Your own `httpx.Client` or `httpx2.Client` (an `AsyncClient`
                for the async client) for proxies, certificates or limits; its redirects
                are never followed, and closing this client leaves it open.
        """
        from somia._config import ClientConfig  # the first client loads the SDK's rules
        from somia._http import HTTPX, stack_of
        from somia._logging import configure_from_environment

        configure_from_environment()  # SOMIA_LOG
        kind = self._asynchronous

        config = ClientConfig.create(locals())  # every keyword but http_client is an option
        stack = HTTPX if http_client is None else stack_of(http_client, asynchronous=kind)
        if stack is None:
            wanted = "AsyncClient" if kind else "Client"
            raise TypeError(
                f"http_client must be an httpx.{wanted} or an httpx2.{wanted}, "
                f"not {type(http_client).__name__}"
            )
        # The key, headers and timeouts travel with each request, never on the HTTP client:
        # copies with other options share its connections.
        self._setup(config, Pool(http_client, stack, kind, self))

    def _setup(self, config: ClientConfig, pool: Pool) -> None:
        self._config = config
        self._pool = pool
        headers = config.headers
        if pool.owned:  # only what the SDK's own client would not send by itself
            own = pool.http.headers  # (httpx merges header lists slowly)
            headers = {k: v for k, v in headers.items() if own.get(k) != v}
        self._call_headers = headers  # of every call: computed once per client
        self._closed = False
        self.sessions = self._new_sessions()

    def _new_sessions(self) -> SessionsT:
        raise NotImplementedError  # each client makes its own kind

    def _encode(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> PreparedCall:
        """A session call of this client, checked and encoded."""
        from somia._base import prepare_call  # loaded with the first client: a look-up

        return prepare_call(
            self._config,
            agent_id,
            session_id,
            stream=stream,
            options=options,
            base_headers=self._call_headers,
        )

    def _prepare(
        self, agent_id: object, session_id: object, stream: bool, options: Mapping[str, object]
    ) -> PreparedCall:
        """`_encode`, and the call's span started when the application traces."""
        from somia._tracing import start_span

        call = self._encode(agent_id, session_id, stream, options)
        start_span(self._config, call, agent_id, session_id, options)
        if stream:  # its stream's reopen() sends it again, as a new call
            call.reopen = functools.partial(self._again, call, agent_id, session_id, options)
        return call

    def _again(
        self, call: PreparedCall, agent_id: object, session_id: object, options: Mapping[str, Any]
    ) -> Any:
        """`call` sent again as a new call: the same request (its Idempotency-Key included),
        its own retries, total timeout and span."""
        import attrs

        from somia._tracing import start_span

        again = attrs.evolve(call, span=None)
        start_span(self._config, again, agent_id, session_id, options)
        return self._run(again)

    def _run(self, call: PreparedCall) -> Any:
        raise NotImplementedError  # each client sends in its own way

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A copy of this client with some constructor options changed (`timeout`,
        `total_timeout`, `retries`, `api_key`, `default_headers`, ...).

        `default_headers` merge over this client's, by name; `base_url=None` (and `api_key`
        or `api_key_header` None) reads the environment again. The copy shares this
        client's connections. Closing the copy leaves them open; closing this client closes
        them, and the copy then raises ClientClosedError.
        """
        config = self._config.replace(options)
        self._pool.open_http(self._closed)  # no copy of a closed client
        copy = object.__new__(type(self))
        copy._setup(config, self._pool)
        return copy

    @classmethod
    def from_env(cls, **options: Any) -> Self:
        """A client configured from `SOMIA_BASE_URL`, `SOMIA_API_KEY` and
        `SOMIA_API_KEY_HEADER`; options override."""
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
