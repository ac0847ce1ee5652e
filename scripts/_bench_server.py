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
`--max-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

_SESSION = "s-bench-0001"
_MAX_REQUESTS_PER_CONNECTION = 10_000_000
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


async def _stream(writer: asyncio.StreamWriter, params: list[str]) -> bool:
    try:
        events, size, per_chunk = (int(value) for value in params[:3])
    except ValueError:
        return False
    if not (0 <= events <= _MAX_EVENTS and 1 <= size <= 10_000_000 and per_chunk >= 1):
        return False
    writer.write(_STREAM_HEAD)
    await _write(writer, events, size, per_chunk)
    writer.write(framed(_END) + _LAST_CHUNK)
    await writer.drain()
    return True


def _parse_head(head: bytes) -> tuple[str, int]:
    """Path and Content-Length of a request head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    path = parts[1] if len(parts) == 3 else ""
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return path, length


async def _answer(writer: asyncio.StreamWriter, path: str) -> None:
    segments = path.split("?", 1)[0].strip("/").split("/")
    if segments[0] == "json":
        writer.write(_JSON_HEAD + JSON_BODY)
    elif segments[0] == "stream" and await _stream(writer, segments[1:]):
        return
    else:
        writer.write(_NOT_FOUND)
    await writer.drain()


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        for _ in range(_MAX_REQUESTS_PER_CONNECTION):
            head = await reader.readuntil(b"\r\n\r\n")
            path, length = _parse_head(head)
            if length:
                await reader.readexactly(length)
            await _answer(writer, path)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _watch_parent(stop: asyncio.Event, parent: int, max_seconds: float) -> None:
    for _ in range(max(1, int(max_seconds * 2))):
        if os.getppid() != parent:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
            return
    stop.set()


async def serve(max_seconds: float) -> None:
    """Serve on a free port of 127.0.0.1 until a signal, the parent's exit or `max_seconds`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await asyncio.start_server(_connection, "127.0.0.1", 0, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"bench server on http://127.0.0.1:{bound}", flush=True)
    watcher = asyncio.create_task(_watch_parent(stop, os.getppid(), max_seconds))
    async with server:
        await stop.wait()
    watcher.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="exit after this long")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
