"""The state of a fake Somia server: agents, sessions, stored answers, requests and faults."""

from __future__ import annotations

import copy
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from somia._bridge import API_KEY_HEADER
from somia._document import Document, load
from somia.testing._agents import Agent, echo_agent
from somia.testing._faults import Faults
from somia.testing._idempotency import DEFAULT_MAX_KEYS, IdempotencyStore
from somia.testing._records import ReceivedRequest, SavedTurn, Session

if TYPE_CHECKING:
    from somia.testing._app import ASGIApp

__all__ = ["FakeSomia", "ReceivedRequest"]

DEFAULT_API_KEY = "sk-fake-somia"
DEFAULT_API_KEY_HEADER = API_KEY_HEADER
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""The body limit when the document states none (`x-somia-max-body-bytes`)."""
DEFAULT_MAX_REQUESTS = 256
DEFAULT_MAX_REPLAY_KEYS = DEFAULT_MAX_KEYS


class FakeSomia:
    """A fake Somia Agent API: the state, and the ASGI app (`.app`) that serves it.

    Agent 1 is the echo agent unless `agents` says otherwise. `default_agent` answers for
    every agent id that was not registered (otherwise they are `404`). A request body over
    `max_body_bytes` (by default the document's `x-somia-max-body-bytes`, 1 MiB) is answered
    `413`; the log keeps the last `max_requests` requests (256 by default), so memory stays
    bounded however many arrive. `document` is the OpenAPI document the fake follows (a
    path to a YAML or JSON file, or the decoded mapping): the shipped one by default.

    A request with an `Idempotency-Key` runs its turn once; a repeat (same key, same
    operation, path and body) replays the stored answer, and the key with another operation,
    path or body is a conflict. The answers of the last `max_replay_keys` keys (10,000 by
    default) are kept, each without a copy of its session's history, so a conversation
    grows the fake linearly; a repeat of an older key runs its turn again. `turns_run`
    records, per key, how many turns really ran (replays run none). `turn_latency` makes
    each turn that runs take that many seconds more (replays answer at once).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        api_key_header: str = DEFAULT_API_KEY_HEADER,
        agents: Mapping[int, Agent] | None = None,
        default_agent: Agent | None = None,
        document: Document | Mapping[str, Any] | str | Path | None = None,
        max_body_bytes: int | None = None,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        event_delay: float = 0.0,
        turn_latency: float = 0.0,
        max_replay_keys: int = DEFAULT_MAX_REPLAY_KEYS,
    ) -> None:
        if turn_latency < 0:
            raise ValueError("turn_latency must be 0 or more")
        if max_replay_keys < 1:
            raise ValueError("max_replay_keys must be 1 or more")
        if max_requests < 0:
            raise ValueError("max_requests must be 0 or more")
        if not api_key:
            raise ValueError("api_key must not be empty")
        if not api_key_header:
            raise ValueError("api_key_header must not be empty")
        self.api_key = api_key
        self.api_key_header = api_key_header.lower()
        self.default_agent = default_agent
        self.document = load(document)
        self.max_body_bytes = (
            _body_limit(self.document) if max_body_bytes is None else max_body_bytes
        )
        self.event_delay = event_delay
        self.turn_latency = turn_latency
        self.faults = Faults()
        self._lock = threading.Lock()
        self._agents: dict[int, Agent] = dict({1: echo_agent} if agents is None else agents)
        self._sessions: dict[str, Session] = {}
        self._requests: deque[ReceivedRequest] = deque(maxlen=max_requests)
        self._answer_fields: dict[str, set[str]] = {}
        self._turns: dict[str, int] = {}
        self._unkeyed_turns = 0
        self._app: ASGIApp | None = None
        self.replays: IdempotencyStore[Any] = IdempotencyStore(max_replay_keys)
        """The answers kept per `Idempotency-Key`, replayed when a key comes again."""

    @property
    def app(self) -> ASGIApp:
        """The ASGI application (for uvicorn, `httpx.ASGITransport` or schemathesis)."""
        if self._app is None:
            try:
                from somia.testing._app import SomiaApp
            except ImportError as exc:
                raise ImportError(
                    "the fake Somia server needs the testing extra: pip install 'somia[testing]'"
                ) from exc
            self._app = SomiaApp(self)
        return self._app

    def register_agent(self, agent_id: int, agent: Agent) -> None:
        """Serve `agent` under `agent_id` (replacing any agent of that id)."""
        if isinstance(agent_id, bool) or not isinstance(agent_id, int) or agent_id < 1:
            raise ValueError("agent_id must be an integer of 1 or more")
        with self._lock:
            self._agents[agent_id] = agent

    def agent(self, agent_id: int) -> Callable[[Agent], Agent]:
        """Decorator form of `register_agent`."""

        def register(agent: Agent) -> Agent:
            self.register_agent(agent_id, agent)
            return agent

        return register

    def find_agent(self, agent_id: int) -> Agent | None:
        """The agent that answers `agent_id`, if any."""
        with self._lock:
            return self._agents.get(agent_id, self.default_agent)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """The last `max_requests` requests received, oldest first (a copy of the log)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    def history(self, session_id: str) -> list[dict[str, Any]]:
        """A copy of a session's history; KeyError for an unknown session."""
        with self._lock:
            return copy.deepcopy(self._sessions[session_id].history)

    def add_session(
        self,
        agent_id: int,
        session_id: str | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> str:
        """Create a session of `agent_id` without running a turn; return its id."""
        session = Session(
            id=session_id or str(uuid.uuid4()),
            agent_id=agent_id,
            history=copy.deepcopy(history or []),
        )
        with self._lock:
            self._sessions[session.id] = session
        return session.id

    @property
    def session_ids(self) -> list[str]:
        """The ids of every session, oldest first."""
        with self._lock:
            return list(self._sessions)

    @property
    def turns_run(self) -> dict[str, int]:
        """How many turns really ran per `Idempotency-Key` (a copy): a replay runs none, so
        a count above 1 is a turn run twice. Kept for every key (about 100 bytes each)
        until `clear_turns()`; turns sent without a key are counted by `unkeyed_turns`."""
        with self._lock:
            return dict(self._turns)

    @property
    def unkeyed_turns(self) -> int:
        """How many turns ran for requests without an `Idempotency-Key`."""
        with self._lock:
            return self._unkeyed_turns

    def clear_turns(self) -> None:
        """Forget the record of turns run (`turns_run`, `unkeyed_turns`)."""
        with self._lock:
            self._turns.clear()
            self._unkeyed_turns = 0

    @property
    def max_replay_keys(self) -> int:
        """How many keys' answers are kept for replay (the least recently used go first)."""
        return self.replays.max_keys

    @property
    def max_requests(self) -> int:
        """How many requests the log keeps (the oldest are dropped first)."""
        return self._requests.maxlen or 0

    def unsent_answer_fields(self) -> list[str]:
        """The documented answer fields no `200` answer has carried so far, per media type.

        Entries read `"<media type>: <field>"`, nested fields as `a.b` (`a[].b` inside
        arrays). A run that exercised both media types and got `[]` has seen every field.
        """
        from somia.testing._answers import documented_paths, shape_of
        from somia.testing._schema import operations

        missing: list[str] = []
        for operation in operations(self.document):
            for media, schema in shape_of(operation).schemas.items():
                with self._lock:
                    seen = set(self._answer_fields.get(media, ()))
                paths = documented_paths(schema, self.document)
                missing += [f"{media}: {p}" for p in paths if p not in seen]
        return sorted(set(missing))

    # What the ASGI app records and reads (the surface `somia.testing._app.ServedFake` names).

    def note_answer_fields(self, media: str, fields: set[str]) -> None:
        """Note which documented fields an answer of media type `media` carried."""
        with self._lock:
            self._answer_fields.setdefault(media, set()).update(fields)

    def note_turn(self, key: str | None) -> None:
        """Record that a turn runs for a request with Idempotency-Key `key` (or none)."""
        with self._lock:
            if key is None:
                self._unkeyed_turns += 1
            else:
                self._turns[key] = self._turns.get(key, 0) + 1

    def record_request(self, request: ReceivedRequest) -> None:
        """Add a request to the log (the oldest falls out once it holds `max_requests`)."""
        with self._lock:
            self._requests.append(request)

    def find_session(self, session_id: str, agent_id: int) -> Session | None:
        """A copy of the session of this agent, if there is one."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.agent_id != agent_id:
                return None
            return copy.deepcopy(session)

    def save_turn(
        self, session: Session, new_entries: list[dict[str, Any]], metadata: Mapping[str, Any]
    ) -> SavedTurn:
        """Append a turn to a session's history and return the session as the turn left
        it; a new session is stored (and found by `find_session`) from its first turn on."""
        with self._lock:
            stored = self._sessions.setdefault(session.id, copy.deepcopy(session))
            stored.history.extend(copy.deepcopy(new_entries))
            stored.metadata.update(copy.deepcopy(dict(metadata)))
            return SavedTurn(
                stored.id, stored.history, len(stored.history), copy.deepcopy(stored.metadata)
            )


def _body_limit(document: Document) -> int:
    limits = [document.max_body_bytes(operation) for operation in document.operations()]
    return max((limit for limit in limits if limit is not None), default=DEFAULT_MAX_BODY_BYTES)
