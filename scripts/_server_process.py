"""A loopback server in a child process, for `make demo` and `make bench`: read the line it
announces itself with, and stop it, every wait bounded."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time


def first_line(proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    """The first line `proc` writes to stdout, or None if it ends or `timeout` passes first."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1024)  # not proc.stdout.read: it would wait for more
        if not chunk:
            return None
        data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


def announced_url(proc: subprocess.Popen[bytes], timeout: float) -> str | None:
    """The http://127.0.0.1:PORT that `proc` names in its first line (the fake server's
    "Fake Somia server on ...", http.server's "Serving HTTP on ..."), or None."""
    found = re.search(r"http://127\.0\.0\.1:\d+", first_line(proc, timeout) or "")
    return found.group(0) if found else None


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop `proc` (SIGTERM, then SIGKILL if it lingers) and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()
