"""The suite's own harness: the scripted server stops at once, whatever it is pausing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from tests.harness import HOLD, Events, ScriptedServer, Stall, chunk


def _wait_until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.005)


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(Stall(60.0), id="stall"),
        pytest.param(Events([chunk("a"), 60.0]), id="pause"),
        pytest.param(Events([chunk("a"), threading.Event()]), id="event"),
        pytest.param(Events([chunk("a"), HOLD]), id="hold"),
    ],
)
def test_stop_ends_every_pause_at_once(action: Stall | Events) -> None:
    server = ScriptedServer().start()
    server.script(action)
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        _wait_until(lambda: server.received)
        started = time.monotonic()
        server.stop()
        took = time.monotonic() - started
    assert took < 0.5
