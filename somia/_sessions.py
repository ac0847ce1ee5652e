"""`client.sessions`: create, continue and run agent sessions (sync and async)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, overload

import httpx

from somia._models import AgentSessionResponse, StreamEvent

if TYPE_CHECKING:
    from somia._async_client import AsyncSomiaClient
    from somia._client import SomiaClient
    from somia._streaming import AsyncStream, Stream


class TurnOptions(TypedDict, total=False):
    """Keyword options of every session call.

    `input_data` is the turn's input (any JSON value). `pipeline_version` (default
    "production"), `trace_enabled`, `test`, `source`, `tags`, `environment`, `end_user_id`
    and `metadata` go into the request body; options left as None are not sent.
    `timeout` overrides the client's for this call; `extra_headers` are added to it;
    `idempotency_key` replaces the key the SDK generates for the call.
    """

    input_data: Any
    pipeline_version: int | str
    trace_enabled: bool
    test: bool
    source: str | None
    tags: Sequence[str] | None
    environment: str | None
    end_user_id: str | None
    metadata: Mapping[str, Any] | None
    timeout: float | httpx.Timeout | None
    extra_headers: Mapping[str, str] | None
    idempotency_key: str | None


class AgentSessionsClient:
    """Session calls of a `SomiaClient` (`client.sessions`, also `client.agents`)."""

    def __init__(self, client: SomiaClient) -> None:
        self._client = client

    @overload
    def create_session(
        self, agent_id: int, *, stream: Literal[False] = False, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse: ...
    @overload
    def create_session(
        self, agent_id: int, *, stream: Literal[True], **options: Unpack[TurnOptions]
    ) -> Stream[StreamEvent]: ...
    @overload
    def create_session(
        self, agent_id: int, *, stream: bool, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse | Stream[StreamEvent]: ...
    def create_session(
        self, agent_id: int, *, stream: bool = False, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse | Stream[StreamEvent]:
        """Start a session of agent `agent_id` and run its first turn.

        Returns the session after the turn, or with `stream=True` a `Stream` of events.
        """
        return self._client._call(agent_id, None, stream, options)

    @overload
    def interact_session(
        self,
        agent_id: int,
        session_id: str,
        *,
        stream: Literal[False] = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse: ...
    @overload
    def interact_session(
        self,
        agent_id: int,
        session_id: str,
        *,
        stream: Literal[True],
        **options: Unpack[TurnOptions],
    ) -> Stream[StreamEvent]: ...
    @overload
    def interact_session(
        self, agent_id: int, session_id: str, *, stream: bool, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse | Stream[StreamEvent]: ...
    def interact_session(
        self,
        agent_id: int,
        session_id: str,
        *,
        stream: bool = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse | Stream[StreamEvent]:
        """Run the next turn of session `session_id` of agent `agent_id`."""
        if session_id is None:
            raise TypeError("session_id must be a str, not NoneType")
        return self._client._call(agent_id, session_id, stream, options)

    @overload
    def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: Literal[False] = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse: ...
    @overload
    def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: Literal[True],
        **options: Unpack[TurnOptions],
    ) -> Stream[StreamEvent]: ...
    @overload
    def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: bool,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse | Stream[StreamEvent]: ...
    def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: bool = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse | Stream[StreamEvent]:
        """Continue session `session_id` when given, otherwise create a session.

        An empty `session_id` creates a session, as in 0.1.0a1.
        """
        return self._client._call(agent_id, session_id or None, stream, options)


class AsyncAgentSessionsClient:
    """Session calls of an `AsyncSomiaClient`; the same methods as `AgentSessionsClient`."""

    def __init__(self, client: AsyncSomiaClient) -> None:
        self._client = client

    @overload
    async def create_session(
        self, agent_id: int, *, stream: Literal[False] = False, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse: ...
    @overload
    async def create_session(
        self, agent_id: int, *, stream: Literal[True], **options: Unpack[TurnOptions]
    ) -> AsyncStream[StreamEvent]: ...
    @overload
    async def create_session(
        self, agent_id: int, *, stream: bool, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse | AsyncStream[StreamEvent]: ...
    async def create_session(
        self, agent_id: int, *, stream: bool = False, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse | AsyncStream[StreamEvent]:
        """Start a session of agent `agent_id` and run its first turn."""
        return await self._client._call(agent_id, None, stream, options)

    @overload
    async def interact_session(
        self,
        agent_id: int,
        session_id: str,
        *,
        stream: Literal[False] = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse: ...
    @overload
    async def interact_session(
        self,
        agent_id: int,
        session_id: str,
        *,
        stream: Literal[True],
        **options: Unpack[TurnOptions],
    ) -> AsyncStream[StreamEvent]: ...
    @overload
    async def interact_session(
        self, agent_id: int, session_id: str, *, stream: bool, **options: Unpack[TurnOptions]
    ) -> AgentSessionResponse | AsyncStream[StreamEvent]: ...
    async def interact_session(
        self,
        agent_id: int,
        session_id: str,
        *,
        stream: bool = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse | AsyncStream[StreamEvent]:
        """Run the next turn of session `session_id` of agent `agent_id`."""
        if session_id is None:
            raise TypeError("session_id must be a str, not NoneType")
        return await self._client._call(agent_id, session_id, stream, options)

    @overload
    async def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: Literal[False] = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse: ...
    @overload
    async def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: Literal[True],
        **options: Unpack[TurnOptions],
    ) -> AsyncStream[StreamEvent]: ...
    @overload
    async def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: bool,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse | AsyncStream[StreamEvent]: ...
    async def run(
        self,
        agent_id: int,
        *,
        session_id: str | None = None,
        stream: bool = False,
        **options: Unpack[TurnOptions],
    ) -> AgentSessionResponse | AsyncStream[StreamEvent]:
        """Continue session `session_id` when given, otherwise create a session.

        An empty `session_id` creates a session, as in 0.1.0a1.
        """
        return await self._client._call(agent_id, session_id or None, stream, options)
