"""A tiny HTTP/1.1 server on loopback that answers each request with the next scripted action.

Raw sockets, so tests can do what a well-behaved server never does: drop a connection after
reading the request, stall, or cut a chunked body in the middle.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs


@attrs.frozen
class Reply:
    """A complete answer."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    reason: str = "X"


@attrs.frozen
class Drop:
    """Read the request, then close the connection without answering."""


@attrs.frozen
class Raw:
    """Read the request, send `data` as it is, then close the connection."""

    data: bytes


@attrs.frozen
class Stall:
    """Read the request, then send nothing for `seconds`."""

    seconds: float


@attrs.frozen
class Hold:
    """A part of `Events`: send nothing more until the server stops."""


HOLD = Hold()


@attrs.frozen
class Events:
    """A chunked `text/event-stream` answer.

    Each part is raw bytes (sent as one chunk), a float (a pause in seconds), a
    threading.Event (wait for the test to set it) or HOLD. `finish` is "close" (a proper end
    of the chunked body, sent after the last part), "with-last" (the end sent in one write
    with the last part) or "cut" (the connection is closed mid-body).
    """

    parts: Sequence[bytes | float | threading.Event | Hold]
    finish: str = "close"
    status: int = 200


@attrs.frozen
class Received:
    """A request the server read."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int = 0  # which accepted connection it came on, counted from 0
    peer: int = 0  # the client's port: requests on one connection share it

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers request N with action N; `received` lists the requests in order."""

    def __init__(self) -> None:
        self.actions: deque[Reply | Drop | Raw | Stall | Events] = deque()
        self.received: list[Received] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepted = 0
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def script(self, *actions: Reply | Drop | Raw | Stall | Events) -> None:
        self.actions.extend(actions)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
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
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = bytearray(rest)
        while len(body) < length:
            data = conn.recv(65536)
            if not data:
                return None
            body += data
        buffer[:] = body[length:]
        peer = conn.getpeername()[1]
        return Received(method, target, headers, bytes(body[:length]), number, peer)

    def _connection(self, conn: socket.socket, number: int) -> None:
        buffer = bytearray()
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

    def _act(self, conn: socket.socket, action: Reply | Drop | Raw | Stall | Events) -> bool:
        """Perform one action; False when the connection must close afterwards."""
        if isinstance(action, Drop):
            return False
        if isinstance(action, Raw):
            conn.sendall(action.data)
            return False
        if isinstance(action, Stall):
            self._stop.wait(action.seconds)
            return False
        if isinstance(action, Reply):
            body = action.body
            headers = dict(action.headers)
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            head = f"HTTP/1.1 {action.status} {action.reason}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            conn.sendall(head.encode("latin-1") + b"\r\n" + body)
            return True
        head = (
            f"HTTP/1.1 {action.status} X\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\nX-Somia-Session-Id: s-scripted\r\n\r\n"
        )
        conn.sendall(head.encode())
        last = len(action.parts) - 1
        for index, part in enumerate(action.parts):
            if isinstance(part, float):
                time.sleep(part)
            elif isinstance(part, threading.Event):
                part.wait(10)
            elif isinstance(part, Hold):
                self._stop.wait()
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
        self._stop.set()
        self._sock.close()
        for thread in self._threads:
            thread.join(timeout=2)


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
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
