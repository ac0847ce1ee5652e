"""The suite's shared harness; tests get it through the fixtures in conftest.py.

- `ScriptedServer`: a tiny HTTP/1.1 server on loopback that answers each request with the next
  scripted action. Raw sockets, so tests can do what a well-behaved server never does: drop a
  connection after reading the request, stall, or cut a chunked body in the middle. Every pause
  waits on the server's stop event, so `stop()` ends at once whatever it is pausing.
- `Sdk`: the one way to run calls on SomiaClient or AsyncSomiaClient from a sync test, so each
  behaviour is written once and run for both clients, and on both HTTP libraries where a
  module is marked `both_stacks` (`STACKS`: the SDK's own httpx client, and a caller's
  httpx2 one).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx

import somia
from somia import AsyncSomiaClient, SomiaClient, _document

BASE = "https://api.example.test"
KEY = "sk-test-HARNESS-7f3a9c"
SESSION: dict[str, Any] = {
    "session_id": "s-1",
    "message": "hi",
    "history": [],
    "metadata": {},
    "pending": False,
    "finished": True,
}

Handler = Callable[[httpx.Request], httpx.Response]


# -- the HTTP libraries a client may send through --------------------------------------------


def _httpx2() -> list[ModuleType]:
    """[httpx2] when it is installed as a library of its own; [] under `alias_httpx()`, where
    `httpx` is httpx2 already, and where it is not installed."""
    if httpx.__name__ == "httpx2":
        return []
    try:
        import httpx2
    except ImportError:  # pragma: no cover - the dev group installs it
        return []
    return [httpx2]


# Each `both_stacks` test runs with the SDK's own httpx client, then with a caller's httpx2 one.
STACKS: list[ModuleType] = [httpx, *_httpx2()]


def given_http(stack: ModuleType, *, asynchronous: bool = False, **kwargs: Any) -> Any:
    """A caller's HTTP client of `stack` (the caller closes it), or None for httpx: the SDK's
    own client then."""
    if stack is httpx and not kwargs:
        return None
    return (stack.AsyncClient if asynchronous else stack.Client)(**kwargs)


@contextmanager
def sync_client(stack: ModuleType, **options: Any) -> Iterator[SomiaClient]:
    """A SomiaClient sending through `stack` (`given_http`, unless `http_client` is given);
    the HTTP client made here is closed at exit."""
    http = None if "http_client" in options else given_http(stack)
    options.setdefault("http_client", http)
    try:
        with SomiaClient(**options) as client:
            yield client
    finally:
        if http is not None:
            http.close()


@asynccontextmanager
async def async_client(stack: ModuleType, **options: Any) -> AsyncIterator[AsyncSomiaClient]:
    """An AsyncSomiaClient sending through `stack` (`given_http`, unless `http_client` is
    given), made inside the event loop that uses it; the HTTP client made here is closed at
    exit."""
    http = None if "http_client" in options else given_http(stack, asynchronous=True)
    options.setdefault("http_client", http)
    try:
        async with AsyncSomiaClient(**options) as client:
            yield client
    finally:
        if http is not None:
            await http.aclose()


def _served_by(stack: ModuleType, handler: Handler) -> Callable[[Any], Any]:
    """`handler`, written with httpx's types, as the handler of a `stack.MockTransport`: its
    requests, answers and failures mirrored into httpx's types and back."""
    if stack is httpx:
        return handler

    def serve(request: Any) -> Any:
        mirrored = httpx.Request(
            request.method,
            str(request.url),
            headers=request.headers.raw,
            content=request.read(),
            extensions=request.extensions,
        )
        try:
            answer = handler(mirrored)
        except httpx.HTTPError as exc:
            raise getattr(stack, type(exc).__name__)(str(exc)) from None
        body = answer.read()
        return stack.Response(answer.status_code, headers=answer.headers.raw, content=body)

    return serve


# -- the scripted loopback server -----------------------------------------------------------


@attrs.frozen
class Reply:
    """A complete answer."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    reason: str = "X"


OK = Reply(200, SESSION)
END = b"data: true\n\n"  # the end event


@attrs.frozen
class Drop:
    """Read the request, then close the connection without answering."""


@attrs.frozen
class Raw:
    """Read the request, send `data` as it is, then close the connection."""

    data: bytes


@attrs.frozen
class Stall:
    """Read the request, then send nothing for `seconds` (or until the server stops)."""

    seconds: float


@attrs.frozen
class Trickle:
    """Read the request, then send `data` (an answer, head included: see `render`) one byte
    every `every` seconds; then close the connection, or with `hold` send nothing more until
    the server stops."""

    data: bytes
    every: float
    hold: bool = False


@attrs.frozen
class Hold:
    """A part of `Events`: send nothing more until the server stops."""


HOLD = Hold()


@attrs.frozen
class Repeat:
    """A part of `Events`: send `data` (as one chunk) every `every` seconds, until the server
    stops or the client goes away (a keep-alive flood)."""

    data: bytes
    every: float


@attrs.frozen
class Events:
    """A chunked `text/event-stream` answer.

    Each part is raw bytes (sent as one chunk), a float (a pause in seconds), a
    threading.Event (wait for the test to set it), a `Repeat` or HOLD. `finish` is "close" (a
    proper end of the chunked body, sent after the last part), "with-last" (the end sent in
    one write with the last part) or "cut" (the connection is closed mid-body).
    """

    parts: Sequence[bytes | float | threading.Event | Hold | Repeat]
    finish: str = "close"
    status: int = 200


Action = Reply | Drop | Raw | Stall | Trickle | Events


@attrs.frozen
class Received:
    """A request the server read."""

    method: str
    target: str
    headers: dict[str, str]  # lower-cased names; the last value of a repeated header
    body: bytes
    connection: int = 0  # which accepted connection it came on, counted from 0
    peer: int = 0  # the client's port: requests on one connection share it
    header_lines: tuple[tuple[str, str], ...] = ()  # every header as sent, repeats included

    def json(self) -> Any:
        return json.loads(self.body)

    def values(self, name: str) -> list[str]:
        """Every value sent under `name`, in any letter case."""
        return [value for key, value in self.header_lines if key.lower() == name.lower()]


class ScriptedServer:
    """Answers request N with action N (500 when unscripted); `received` lists the requests.

    With `tls` (see `loopback_tls`) it speaks HTTPS.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self.actions: deque[Action] = deque()
        self.received: list[Received] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: list[socket.socket] = []
        self._accepted = 0
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self._sock.getsockname()[1]}"

    def script(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(conn)
            thread = threading.Thread(
                target=self._connection, args=(conn, self._accepted), daemon=True
            )
            self._accepted += 1
            thread.start()
            self._threads.append(thread)

    def _read_request(self, conn: socket.socket, buffer: bytearray, number: int) -> Received | None:
        while b"\r\n\r\n" not in buffer:
            data = conn.recv(65536)
            if not data:
                return None
            buffer += data
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        header_lines = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            header_lines.append((name.strip(), value.strip()))
        headers = {name.lower(): value for name, value in header_lines}
        length = int(headers.get("content-length", "0"))
        body = bytearray(rest)
        while len(body) < length:
            data = conn.recv(65536)
            if not data:
                return None
            body += data
        buffer[:] = body[length:]
        peer = conn.getpeername()[1]
        return Received(
            method, target, headers, bytes(body[:length]), number, peer, tuple(header_lines)
        )

    def _connection(self, conn: socket.socket, number: int) -> None:
        buffer = bytearray()
        if self._tls is not None:
            try:
                conn = self._tls.wrap_socket(conn, server_side=True)
            except OSError:  # the client gave up during the handshake
                conn.close()
                return
            self._connections.append(conn)
        with conn:
            while not self._stop.is_set():
                try:
                    request = self._read_request(conn, buffer, number)
                except OSError:
                    return
                if request is None:
                    return
                self.received.append(request)
                action = self.actions.popleft() if self.actions else Reply(500, b"unscripted")
                try:
                    if not self._act(conn, action):
                        return
                except OSError:
                    return

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _wait_for(self, event: threading.Event) -> None:
        # Two events cannot be waited on at once; short waits keep stop() prompt.
        deadline = time.monotonic() + 10
        while not self._stop.is_set() and time.monotonic() < deadline:
            if event.wait(0.02):
                return

    def _act(self, conn: socket.socket, action: Action) -> bool:
        """Perform one action; False when the connection must close afterwards."""
        if isinstance(action, Drop):
            return False
        if isinstance(action, Raw):
            conn.sendall(action.data)
            return False
        if isinstance(action, Stall):
            self._pause(action.seconds)
            return False
        if isinstance(action, Trickle):
            for index in range(len(action.data)):
                if self._stop.is_set():
                    return False
                conn.sendall(action.data[index : index + 1])
                self._pause(action.every)
            if action.hold:
                self._stop.wait()
            return False
        if isinstance(action, Reply):
            conn.sendall(render(action))
            return True
        head = (
            f"HTTP/1.1 {action.status} X\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\nX-Somia-Session-Id: s-scripted\r\n\r\n"
        )
        conn.sendall(head.encode())
        last = len(action.parts) - 1
        for index, part in enumerate(action.parts):
            if self._stop.is_set():
                return False
            if isinstance(part, float):
                self._pause(part)
            elif isinstance(part, threading.Event):
                self._wait_for(part)
            elif isinstance(part, Hold):
                self._stop.wait()
                return False
            elif isinstance(part, Repeat):
                while not self._stop.is_set():
                    conn.sendall(b"%x\r\n%s\r\n" % (len(part.data), part.data))
                    self._pause(part.every)
                return False
            else:
                data = b"%x\r\n%s\r\n" % (len(part), part)
                if index == last and action.finish == "with-last":
                    data += b"0\r\n\r\n"
                conn.sendall(data)
        if action.finish == "cut":
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if action.finish != "with-last":
            conn.sendall(b"0\r\n\r\n")
        return True

    def start(self) -> ScriptedServer:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop at once: end every pause and close every connection."""
        self._stop.set()
        for sock in [self._sock, *self._connections]:
            with suppress(OSError):  # already closed by its peer
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=2)


def render(reply: Reply) -> bytes:
    """A complete answer as the bytes sent on the wire, head and body."""
    body = reply.body
    headers = dict(reply.headers)
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    head = f"HTTP/1.1 {reply.status} {reply.reason}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


def loopback_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """TLS contexts for a loopback server and its clients: a self-signed certificate for
    127.0.0.1 (tests/loopback-tls.pem, test use only)."""
    pem = str(Path(__file__).with_name("loopback-tls.pem"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(pem)
    return server, ssl.create_default_context(cafile=pem)


@contextmanager
def scripted_server(tls: ssl.SSLContext | None = None) -> Iterator[ScriptedServer]:
    server = ScriptedServer(tls).start()
    try:
        yield server
    finally:
        server.stop()


def sse(data: Any, *, event: str | None = None) -> bytes:
    """One SSE event whose data is `data` as JSON."""
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data)}\n\n".encode()


def chunk(message: str, session_id: str = "s-scripted", *, pending: bool = True) -> bytes:
    """A chunk event with a cumulative message."""
    return sse({"session_id": session_id, "message": message, "pending": pending})


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- one way to run a call, sync or async ---------------------------------------------------


class Driver:
    """Calls on one open client, each run to completion; streams are asked for and read."""

    def __init__(self, client: SomiaClient | AsyncSomiaClient, runner: asyncio.Runner | None):
        self.client = client
        self._runner = runner

    def _await(self, value: Any) -> Any:
        """`value`, or what it gives when awaited on the async client's loop."""
        return value if self._runner is None else self._runner.run(value)

    def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """The answer of `client.sessions.<method>`; a stream comes back unread."""
        return self._await(getattr(self.client.sessions, method)(*args, **kwargs))

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """The answer of `client.request(...)`; a stream comes back as its list of events."""
        answer = self._await(self.client.request(*args, **kwargs))
        if not kwargs.get("stream"):
            return answer
        if self._runner is None:
            with answer:
                return list(answer)

        async def read() -> list[Any]:
            async with answer:
                return [event async for event in answer]

        return self._runner.run(read())

    def events(self, method: str, /, *args: Any, **kwargs: Any) -> list[Any]:
        """Every event of a streamed call; an error that ends the stream is raised."""
        events: list[Any] = self._read(method, args, kwargs, "events")
        return events

    def events_and_error(self, method: str, /, *args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
        """The events of a streamed call and the SomiaError that ended it (or None)."""
        got: list[Any] = []
        try:
            self._read(method, args, kwargs, "events", into=got)
        except somia.SomiaError as exc:
            return got, exc
        return got, None

    def final(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """A streamed call's final_response()."""
        return self._read(method, args, kwargs, "final")

    def deltas(self, method: str, /, *args: Any, **kwargs: Any) -> list[str]:
        """A streamed call's text_deltas()."""
        deltas: list[str] = self._read(method, args, kwargs, "deltas")
        return deltas

    def _read(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        how: str,
        into: list[Any] | None = None,
    ) -> Any:
        got: list[Any] = [] if into is None else into
        open_stream = getattr(self.client.sessions, method)
        if self._runner is None:
            stream = open_stream(*args, stream=True, **kwargs)
            if how == "final":
                with stream:
                    return stream.final_response()
            got.extend(stream if how == "events" else stream.text_deltas())
            return got

        async def read() -> Any:
            stream = await open_stream(*args, stream=True, **kwargs)
            if how == "final":
                async with stream:
                    return await stream.final_response()
            async for item in stream if how == "events" else stream.text_deltas():
                got.append(item)
            return got

        return self._runner.run(read())


class Sdk:
    """One of the two clients, driven from sync test code (the `sdk` fixture gives both),
    sending through `stack` (httpx: the SDK's own client; httpx2: a caller's client).

    A target is a base URL (real HTTP) or an httpx.MockTransport handler (base URL `BASE`).
    Client options default to the key `KEY`, a 5 s timeout and a 1 ms retry backoff. An
    `http_client` a test gives is of `stack` (`sdk.stack.Client(...)`).
    """

    def __init__(self, name: str, stack: ModuleType = httpx) -> None:
        self.name = name
        self.is_async = name == "async"
        self.stack = stack

    def __repr__(self) -> str:
        return self.name if self.stack is httpx else f"{self.name}-{self.stack.__name__}"

    @contextmanager
    def connect(self, target: str | Handler, **options: Any) -> Iterator[Driver]:
        """An open client of this kind; closed, with any http_client it was given, at exit."""
        options = client_options(**options)
        stack = self.stack
        if isinstance(target, str):
            options.setdefault("base_url", target)
        else:
            options.setdefault("base_url", BASE)
            transport = stack.MockTransport(_served_by(stack, target))
            options["http_client"] = given_http(
                stack, asynchronous=self.is_async, transport=transport
            )
        if "http_client" not in options:
            options["http_client"] = given_http(stack)  # an async twin is made below
        http = options.get("http_client")
        if not self.is_async:
            try:
                with SomiaClient(**options) as client:
                    yield Driver(client, None)
            finally:
                if http is not None:
                    http.close()
            return
        with asyncio.Runner() as runner:
            if isinstance(http, stack.Client):
                options["http_client"] = http = _async_twin(stack, http)
            async_client = AsyncSomiaClient(**options)
            try:
                yield Driver(async_client, runner)
            finally:
                runner.run(async_client.aclose())
                if http is not None:
                    runner.run(http.aclose())

    def call(
        self,
        target: str | Handler,
        method: str,
        /,
        *args: Any,
        client: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call on a fresh client; a streamed answer comes back as its list of events."""
        with self.connect(target, **(client or {})) as driver:
            if kwargs.pop("stream", False):
                return driver.events(method, *args, **kwargs)
            return driver.call(method, *args, **kwargs)


def _async_twin(stack: ModuleType, http: Any) -> Any:
    """An AsyncClient like a sync one a test gave: its redirect setting and response hooks."""

    def twin(hook: Callable[[httpx.Response], Any]) -> Callable[[httpx.Response], Any]:
        async def run(response: httpx.Response) -> None:
            if getattr(hook, "reads_body", False):
                await response.aread()
            hook(response)

        return run

    http.close()
    return stack.AsyncClient(
        follow_redirects=http.follow_redirects,
        event_hooks={"response": [twin(hook) for hook in http.event_hooks["response"]]},
    )


ROOT = Path(__file__).resolve().parent.parent


def client_options(**overrides: Any) -> dict[str, Any]:
    """A test client's options: the key `KEY`, a 5 s timeout and a 1 ms retry backoff."""
    return {"api_key": KEY, "retry_backoff_seconds": 0.001, "timeout": 5.0, **overrides}


def documented_fields(
    operation_id: str = "createSession", *, answer: str | None = None
) -> set[str]:
    """The top-level fields the shipped document lists for an operation's request body, or,
    with `answer` (a media type), for its 200 answer of that type: read, never restated."""
    document = _document.shipped()
    operation = document.operation(operation_id)
    if answer is None:
        schema = document.request_schema(operation)
    elif answer == "text/event-stream":
        schema = document.chunk_schema(operation)
    else:
        schema = document.answer_schemas(operation)[answer]
    return set(document.properties(schema))


PUBLIC_PACKAGES = ["somia", "somia.testing", "somia.batch"]


def public_packages() -> list[ModuleType]:
    """The public packages that exist (somia.batch once it lands), imported."""
    found = []
    for name in PUBLIC_PACKAGES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a package that exists but fails to import is an error
                raise
    return found
