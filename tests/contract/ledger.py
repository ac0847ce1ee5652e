"""Every request of a contract run goes through the `Ledger`: its budget, deadline and cost.

It refuses to send once the paid turns reach the budget or the deadline has passed (raising
`StopRun`), counts what was sent and what may have run an agent turn, reads each answer
whole (a stream event by event), and writes the `curl` command that reproduces a request
with the key shown as `$SOMIA_API_KEY`.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from somia._sse import ServerSentEvent, SSEDecoder
from tests.contract.settings import KEY_VARIABLE, Target

EVENT_STREAM = "text/event-stream"
_TRANSPORT_HEADERS = {"user-agent", "accept-encoding", "connection", "content-length", "host"}
_LARGE = 4096
_PATIENCE = 30.0
"""The longest Retry-After a run waits out before sending again (429 and 503 ran nothing)."""
_TRIES = 3


class StopRun(BaseException):
    """The run must stop now (budget or deadline). A BaseException, so that Hypothesis and
    schemathesis let it through instead of reporting it as a failing example."""

    def __init__(self, check: str, line: str) -> None:
        super().__init__(line)
        self.check = check
        self.line = line


@dataclass
class Exchange:
    """A request the run sent and what came back (`response` None: no answer)."""

    probe: str
    request: httpx.Request
    response: httpx.Response | None = None
    error: BaseException | None = None
    events: list[ServerSentEvent] | None = None
    """The events of an event-stream answer, in order."""
    complete: bool = True
    """The body was read to its end (False: cut off, or a read error)."""
    body: bytes = field(default=b"", repr=False)
    seconds: float = 0.0

    def read_response(self) -> httpx.Response:
        """The answer as a read httpx response (for schemathesis' checks)."""
        assert self.response is not None
        response = httpx.Response(
            self.response.status_code,
            headers=self.response.headers,
            content=self.body,
            request=self.request,
        )
        response.elapsed = datetime.timedelta(seconds=self.seconds)
        return response

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code

    @property
    def media(self) -> str:
        if self.response is None:
            return ""
        value: str = self.response.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()

    @property
    def line(self) -> str:
        """The request in a few words: method and path."""
        return f"{self.request.method} {self.request.url.raw_path.decode('ascii', 'replace')}"

    def got(self) -> str:
        """The answer in a few words: status and the start of the body."""
        if self.response is None:
            return f"no answer ({type(self.error).__name__}: {self.error})"
        text = self.body[:160].decode("utf-8", errors="replace")
        return f"{self.status} {text!r}" if text else str(self.status)


def utf8_json(value: Any) -> bytes:
    """JSON as the SDK sends it: UTF-8, not \\u escapes (a lone surrogate needs one)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


def ran_a_turn(status: int | None) -> bool:
    """Whether an answer (None: none came) may have run the agent: 2xx, and 5xx but 503."""
    if status is None:
        return True
    return 200 <= status < 300 or (status >= 500 and status != 503)


class Ledger:
    """Sends every request of a run, within its budget of paid turns and its deadline."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.started = time.monotonic()
        self.requests_sent = 0
        self.turns_spent = 0
        self.spent_on: Counter[str] = Counter()
        """The paid turns spent per group of promises."""
        self.client = httpx.Client(timeout=target.request_timeout, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def check(self) -> None:
        """StopRun when the deadline has passed or the budget is spent."""
        if self.elapsed >= self.target.deadline:
            raise StopRun(
                "deadline",
                f"the run's deadline of {self.target.deadline:g} s passed after "
                f"{self.requests_sent} requests (SOMIA_CONTRACT_DEADLINE sets it)",
            )
        if self.turns_spent >= self.target.budget:
            raise StopRun(
                "budget",
                f"the budget of {self.target.budget} paid turns is spent after "
                f"{self.requests_sent} requests: the deployment ran turns where the document "
                "promises none (see the failures above); nothing more was sent",
            )

    def send(self, request: httpx.Request, probe: str) -> Exchange:
        """Send `request`. Any request could start a turn on a broken server, so none is sent
        once the turns spent reach the budget; a 429 or 503 (nothing ran) is waited out."""
        for attempt in range(_TRIES):
            self.check()
            self.requests_sent += 1
            exchange = self._send_once(request, probe)
            if ran_a_turn(exchange.status):
                self.turns_spent += 1
                self.spent_on[group_of(probe)] += 1
            wait = _retry_after(exchange)
            if wait is None or attempt == _TRIES - 1 or self.elapsed + wait > self.target.deadline:
                return exchange
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, request: httpx.Request, probe: str) -> Exchange:
        left = max(self.target.deadline - self.elapsed, 0.1)
        timeout = min(self.target.request_timeout, left)
        request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        exchange = Exchange(probe, request)
        started = time.monotonic()
        try:
            response = self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            exchange.error = exc
            return exchange
        exchange.response = response
        decoder = SSEDecoder() if exchange.media == EVENT_STREAM else None
        body = bytearray()
        events: list[ServerSentEvent] = []
        try:
            for chunk in response.iter_raw():
                body += chunk
                if decoder is not None:
                    events += decoder.feed(chunk)
        except httpx.HTTPError as exc:
            exchange.error = exc
            exchange.complete = False
        finally:
            response.close()
            exchange.seconds = time.monotonic() - started
        exchange.body = bytes(body)
        if decoder is not None:
            exchange.events = events
        return exchange

    def refund(self, probe: str) -> None:
        """Give back the turn of `probe`'s answer, known to have run nothing (a replay)."""
        self.turns_spent -= 1
        self.spent_on[group_of(probe)] -= 1

    def reproduce(self, exchange: Exchange) -> str:
        """A `curl` command that sends the same request; the key shows as `$SOMIA_API_KEY`."""
        request = exchange.request
        key = self.target.api_key
        url = str(request.url)
        parts = ["curl", "-sS", "-i", "-X", request.method, self._quote(url, key)]
        for name, value in request.headers.multi_items():
            if name.lower() in _TRANSPORT_HEADERS:
                continue
            parts += ["-H", self._quote(f"{name}: {value}", key)]
        content = request.content
        if len(content) > _LARGE:  # as gzip in base64: a long body of repeats is short so
            packed = base64.b64encode(gzip.compress(content, mtime=0)).decode()
            head = f"printf %s {packed} | base64 -d | gunzip |"
            return f"{head} {' '.join(parts)} -H 'Expect:' --data-binary @-"
        if content:
            parts += ["--data-binary", shlex.quote(content.decode("utf-8", "replace"))]
        return " ".join(parts)

    @staticmethod
    def _quote(text: str, key: str) -> str:
        if not key or key not in text:
            return shlex.quote(text)
        # In double quotes, so that the shell fills in the variable.
        escaped = [
            piece.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
            for piece in text.split(key)
        ]
        return '"' + f"${KEY_VARIABLE}".join(escaped) + '"'


def group_of(probe: str) -> str:
    """The group of a probe's or a watched rule's id (`operation/group/slug`)."""
    parts = probe.split("/")
    return parts[1] if len(parts) > 2 else probe


def _retry_after(exchange: Exchange) -> float | None:
    """Seconds to wait before sending again: a 429 or 503 with a short Retry-After."""
    if exchange.status not in (429, 503) or exchange.response is None:
        return None
    value = exchange.response.headers.get("retry-after", "").strip()
    try:
        seconds = (
            float(value)
            if value.replace(".", "", 1).isdigit()
            else (parsedate_to_datetime(value).timestamp() - time.time())
        )
    except (TypeError, ValueError):
        return None
    return max(seconds, 0.0) if seconds <= _PATIENCE else None
