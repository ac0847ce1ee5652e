"""Serving a fake over real HTTP with uvicorn: in a background thread, or in the foreground."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from somia.testing._fake import FakeSomia, ReceivedRequest
from somia.testing._faults import StreamCut

if TYPE_CHECKING:
    from somia.testing._faults import Faults

__all__ = ["FakeServer", "bind", "serve"]

_MISSING_EXTRA = "the fake Somia server needs the testing extra: pip install 'somia[testing]'"

# Streams still open when the server stops get this long to finish before they are cancelled.
_GRACE_SECONDS = 0.25


class _HideStreamCuts(logging.Filter):
    """Drop uvicorn's traceback for a stream the fake cut on purpose, or cut by stopping."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_cut(record.exc_info[1]))


def _is_cut(exc: BaseException | None) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cut(inner) for inner in exc.exceptions)
    # uvicorn cancels a request only when the server stops (serve() says so in one line).
    return isinstance(exc, StreamCut | asyncio.CancelledError)


def _hide_stream_cuts() -> None:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideStreamCuts) for f in uvicorn_logger.filters):
        uvicorn_logger.addFilter(_HideStreamCuts())


def bind(host: str, port: int) -> socket.socket:
    """Open the listening socket (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Made with IPPROTO_TCP (socket.create_server leaves it 0): asyncio sets TCP_NODELAY only
    # on connections accepted from such a socket. Without it, an answer's body waited for the
    # client's delayed ACK of its head: about 40 ms per answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return sock


def base_url_of(sock: socket.socket) -> str:
    """The http:// URL of a bound socket."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def serve(
    fake: FakeSomia,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """Serve `fake` on `sock` with uvicorn until `stop` is set, then shut down quickly."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ImportError(_MISSING_EXTRA) from exc

    _hide_stream_cuts()
    config = uvicorn.Config(
        fake.app,
        lifespan="off",
        log_config=None,
        access_log=False,
        http="h11",
        ws="none",
        loop="asyncio",
    )
    config.load()
    server = uvicorn.Server(config)
    # uvicorn's own serve() polls for exit every 0.1 s and sleeps 0.1 s more on shutdown;
    # driving startup and shutdown here makes a stop take milliseconds.
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    on_ready()
    try:
        await stop.wait()
    finally:
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        tasks = set(server.server_state.tasks)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=_GRACE_SECONDS)
            if late:
                logging.getLogger("somia.testing").info(
                    "stopping: %d unfinished answer(s) cut short", len(late)
                )
            for task in late:
                task.cancel()
        for listener in server.servers:
            await listener.wait_closed()


class FakeServer:
    """A fake Somia server running over HTTP on loopback in a background thread.

    Use it as a context manager, or call `start()` and `stop()`.
    """

    def __init__(self, fake: FakeSomia | None = None, *, host: str = "127.0.0.1", port: int = 0):
        self.fake = fake if fake is not None else FakeSomia()
        self.host = host
        self._requested_port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        """The server's base URL, such as `http://127.0.0.1:54321`."""
        if self._sock is None:
            raise RuntimeError("the server is not running")
        return base_url_of(self._sock)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._sock is None:
            raise RuntimeError("the server is not running")
        return int(self._sock.getsockname()[1])

    @property
    def api_key(self) -> str:
        """The API key the server accepts."""
        return self.fake.api_key

    @property
    def api_key_header(self) -> str:
        """The header the API key goes in."""
        return self.fake.api_key_header

    @property
    def headers(self) -> dict[str, str]:
        """The authentication header, ready for an HTTP client."""
        return {self.fake.api_key_header: self.fake.api_key}

    @property
    def faults(self) -> Faults:
        """The fault injection queue of the fake."""
        return self.fake.faults

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request the fake received, oldest first."""
        return self.fake.requests

    def start(self) -> Self:
        """Start serving; return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        self._sock = bind(self.host, self._requested_port)
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="somia-fake-server", daemon=True)
        self._thread.start()
        # Waits on uvicorn being started (or the thread dying), never on a fixed sleep.
        while not self._ready.wait(0.05):
            if not self._thread.is_alive():
                break
        if not self._ready.is_set():
            self._thread.join()
            self._thread = None
            self._sock.close()
            self._sock = None
            why = f": {self._error}" if self._error is not None else ""
            raise RuntimeError(f"the fake Somia server did not start{why}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join()
        self._thread = None
        self._loop = None
        self._stop = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._sock is not None and self._thread else "stopped"
        return f"<FakeServer {where}>"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start(); a thread cannot raise to its caller
            self._error = exc
            logging.getLogger("somia.testing").debug("server thread ended", exc_info=True)

    async def _main(self) -> None:
        assert self._sock is not None
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await serve(self.fake, self._sock, on_ready=self._ready.set, stop=self._stop)
