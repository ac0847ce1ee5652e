"""The loopback server of `python -m scripts.bench`, run as its own process so that its CPU
is not counted as the client's: `python -m scripts._bench_server`.

A minimal HTTP/1.1 server on raw asyncio (keep-alive, Content-Length request bodies). The
request path chooses the answer; the SDK appends its own path to a base URL, so a base URL
such as `http://127.0.0.1:PORT/stream/2000/120/1` selects a scenario for every call:

- `POST /json/...`: a session answer as JSON (Content-Length).
- `POST /stream/EVENTS/SIZE/PER_CHUNK/...`: a `text/event-stream` body, chunked: EVENTS
  chunk events whose message has SIZE characters, then `data: true`. PER_CHUNK events share
  one HTTP chunk (1: one chunk per event, as a streaming ASGI server sends them).

It prints `bench server on http://127.0.0.1:PORT` once listening on a free port, binds
127.0.0.1 only, and exits on SIGTERM/SIGINT, when its parent process goes away, or after
15 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal

_SESSION = "s-bench-0001"
_MAX_SECONDS = 900  # a run of the bench takes minutes
_MAX_EVENTS = 50_000_000
_WRITE_BYTES = 64 * 1024
_VOCABULARY = ("token", "stream", "agent", "wörld", "naïve", "の", "💡", "data", "and", "the")
_MESSAGES = 64
_UNITS = 8

JSON_BODY = json.dumps(
    {
        "session_id": _SESSION,
        "message": "You said: hello",
        "history": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "You said: hello"},
        ],
        "metadata": {},
        "pending": False,
        "finished": False,
    },
    separators=(",", ":"),
).encode()

_JSON_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    f"Content-Length: {len(JSON_BODY)}\r\n"
    "X-Request-Id: req_bench\r\n"
    f"X-Somia-Session-Id: {_SESSION}\r\n"
    "\r\n"
).encode()
_STREAM_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n"
    "X-Request-Id: req_bench\r\n"
    f"X-Somia-Session-Id: {_SESSION}\r\n"
    "\r\n"
).encode()
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_END = b"data: true\n\n"
_LAST_CHUNK = b"0\r\n\r\n"


def message_text(size: int, seed: int) -> str:
    """A token-like text of exactly `size` characters (some of them non-ASCII)."""
    words: list[str] = []
    length = 0
    index = seed
    while length < size:
        word = _VOCABULARY[index % len(_VOCABULARY)] + " "
        words.append(word)
        length += len(word)
        index = (index * 7 + 3) % 1009
    return "".join(words)[:size]


def event_bytes(size: int, seed: int) -> bytes:
    """One chunk event of the stream, SSE-framed."""
    chunk: dict[str, object] = {"session_id": _SESSION, "message": message_text(size, seed)}
    chunk |= {"history": [], "pending": True}
    return b"data: %s\n\n" % json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode()


def framed(payload: bytes) -> bytes:
    """`payload` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


async def _write(writer: asyncio.StreamWriter, events: int, size: int, per_chunk: int) -> None:
    pieces = [event_bytes(size, seed) for seed in range(_MESSAGES)]
    per_chunk = max(1, min(per_chunk, events))
    units = [
        framed(b"".join(pieces[(unit * per_chunk + i) % _MESSAGES] for i in range(per_chunk)))
        for unit in range(_UNITS)
    ]
    per_write = max(1, _WRITE_BYTES // len(units[0]))
    block = b"".join(units[i % _UNITS] for i in range(per_write))
    chunks, rest = divmod(events, per_chunk)
    for _ in range(chunks // per_write):
        writer.write(block)
        await writer.drain()
    writer.write(b"".join(units[i % _UNITS] for i in range(chunks % per_write)))
    if rest:
        writer.write(framed(b"".join(pieces[i % _MESSAGES] for i in range(rest))))


async def _answer(writer: asyncio.StreamWriter, path: str) -> None:
    kind, *params = path.split("?", 1)[0].strip("/").split("/")
    if kind == "json":
        writer.write(_JSON_HEAD + JSON_BODY)
    elif kind == "stream" and len(params) >= 3 and all(p.isdigit() for p in params[:3]):
        events, size, per_chunk = (int(value) for value in params[:3])
        writer.write(_STREAM_HEAD)
        await _write(writer, min(events, _MAX_EVENTS), max(size, 1), max(per_chunk, 1))
        writer.write(framed(_END) + _LAST_CHUNK)
    else:
        writer.write(_NOT_FOUND)
    await writer.drain()


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            await _answer(writer, head.split(b" ", 2)[1].decode("latin-1"))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError):
        pass
    finally:
        writer.close()


async def _watch_parent(stop: asyncio.Event, parent: int) -> None:
    for _ in range(_MAX_SECONDS * 2):
        if os.getppid() != parent:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
            return
    stop.set()


async def serve() -> None:
    """Serve on a free port of 127.0.0.1 until a signal, the parent's exit or `_MAX_SECONDS`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(_connection, "127.0.0.1", 0, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"bench server on http://127.0.0.1:{bound}", flush=True)
    watcher = asyncio.create_task(_watch_parent(stop, os.getppid()))
    async with server:
        await stop.wait()
    watcher.cancel()


if __name__ == "__main__":
    asyncio.run(serve())
