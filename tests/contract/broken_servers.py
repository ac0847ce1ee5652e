"""Fake servers that each break one promise of the document, served over loopback HTTP.

A breakage wraps the fake's ASGI app: it sees each request (and may rewrite it or answer it
itself) and each whole answer (and may rewrite that), the way a faulty deployment would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from somia.testing import FakeServer, FakeSomia, echo_agent
from tests.contract.contract_support import FAKE_API_KEY, App, Message, Receive, Send, read_body
from tests.contract.model import GROUPS
from tests.contract.runner import ContractRun
from tests.contract.settings import Target

_PATH = re.compile(r"^/api/v1/external/agent/([^/]*)/session(?:/([^/]*))?$")
OTHER_AGENT_ID = 2


@dataclass
class Request:
    """A request as the broken server sees it (a breakage may change it)."""

    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    @property
    def agent(self) -> str:
        match = _PATH.match(self.path)
        return match.group(1) if match else ""

    @property
    def session(self) -> str | None:
        match = _PATH.match(self.path)
        return match.group(2) if match else None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Answer:
    """A whole answer (a stream is collected first)."""

    status: int
    headers: dict[str, str]
    body: bytes = b""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def reply(status: int, body: Any, **headers: str) -> Answer:
    """A JSON answer."""
    return Answer(
        status, {"content-type": "application/json", **headers}, json.dumps(body).encode()
    )


@dataclass
class Breakage:
    """How a server breaks a promise: `before` may answer a request itself (or change it),
    `after` may change the fake's answer. Both see the fake, for its state."""

    before: Callable[[Request, FakeSomia], Answer | None] = lambda request, fake: None
    after: Callable[[Request, Answer, FakeSomia], Answer] = lambda request, answer, fake: answer
    state: dict[str, Any] = field(default_factory=dict)


def wrap(app: App, fake: FakeSomia, breakage: Breakage) -> App:
    """`app` with `breakage` applied to every HTTP request."""

    async def wrapped(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = Request(
            scope.get("raw_path", b"").decode("latin-1") or scope["path"],
            headers,
            body,
            scope.get("query_string", b"").decode("latin-1"),
        )
        answer = breakage.before(request, fake)
        if answer is None:
            answer = await _call(app, scope, request)
            answer = breakage.after(request, answer, fake)
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        out = [(k, v) for k, v in out if k != b"content-length"]
        out.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": out})
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})

    return wrapped


async def _call(app: App, scope: MutableMapping[str, Any], request: Request) -> Answer:
    raw_path = request.path.encode("latin-1")
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()]
    inner = {**scope, "path": request.path, "raw_path": raw_path, "headers": headers}
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    answer = Answer(500, {})
    body = bytearray()

    async def collect(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]
            }
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(inner, receive, collect)
    answer.body = bytes(body)
    return answer


class BrokenFake(FakeSomia):
    """A contract fake (agents 1 and 2) whose app has `breakage` applied."""

    def __init__(self, breakage: Breakage, **options: Any) -> None:
        super().__init__(**options)
        self.breakage = breakage
        self._broken: App | None = None

    @property
    def app(self) -> App:
        if self._broken is None:
            self._broken = wrap(super().app, self, self.breakage)
        return self._broken


def fake_target(server: FakeServer, **changes: Any) -> Target:
    """The target of a run against `server`, with another existing agent for a strong check."""
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": server.api_key,
        "agent_id": 1,
        "other_agent_id": OTHER_AGENT_ID,
    }
    settings.update(changes)
    return Target(**settings)


def turns_ran(server: FakeServer) -> int:
    """How many agent turns the fake behind `server` ran (replays run none)."""
    fake = server.fake
    return sum(
        1 for sid in fake.session_ids for entry in fake.history(sid) if entry["role"] == "assistant"
    )


@contextmanager
def serving(
    breakage: Breakage | None = None, *, document: Any = None, **more: Any
) -> Iterator[FakeServer]:
    """A loopback server: the contract fake (agents 1 and 2, following `document`, the
    shipped one by default, with `more` FakeSomia options), broken by `breakage` if given."""
    options: dict[str, Any] = {
        "api_key": FAKE_API_KEY,
        "agents": {1: echo_agent, OTHER_AGENT_ID: echo_agent},
        "document": document,
        "max_requests": 100_000,
        **more,
    }
    fake = FakeSomia(**options) if breakage is None else BrokenFake(breakage, **options)
    with FakeServer(fake) as server:
        yield server


def run_broken(
    breakage: Breakage | None,
    *groups: str,
    document: Any = None,
    fake: Mapping[str, Any] | None = None,
    **target: Any,
) -> ContractRun:
    """A contract run of `groups` (all by default) against the fake broken by `breakage`;
    the suite follows `document` as the fake does."""
    with serving(breakage, document=document, **dict(fake or {})) as server:
        run = ContractRun(fake_target(server, **target), document=document)
        run.groups = groups or GROUPS
        try:
            for group in groups or GROUPS:
                run.run_group(group)
        finally:
            run.close()
    return run


def failed_checks(run: ContractRun) -> set[str]:
    """The ids of the promises a run found broken (the budget or deadline as a stop)."""
    found = {finding.check for finding in run.findings}
    if run.stopped is not None:
        found.add(f"STOP {run.stopped.check}")
    return found
