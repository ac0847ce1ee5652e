"""Time limits that hold however slowly bytes trickle in: a call's total timeout and the wait
for a stream's answer to start (`Deadline`), and a stream's idle timeout (an `Alarm` per
stream).

httpcore applies its timeouts to each read, and any byte restarts them. So one watchdog
thread per process keeps the alarms of the waits in progress, in a heap ordered by expiry,
and interrupts a wait whose alarm has expired by shutting its socket down (found through
`somia._http`, only then). An alarm is re-armed lazily: whoever waits moves its `expires`
forward with a plain attribute store, and the watchdog, woken at the old expiry, only puts
it back in the heap. So a wait costs one heap entry, whatever the events it sees.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from somia._errors import RequestTimeoutError, StreamTimeoutError
from somia._http import (
    capped_timeout,
    interrupt,
    pending_socket,
    response_socket,
    timeout_phase,
    trace_attempt,
    with_read_timeout,
)

INF = float("inf")
# How often an expired deadline looks again for a socket to shut down, when its attempt has
# none yet (waiting for a connection from the pool, or connecting: those are bounded by their
# capped timeouts, but the reads after them are not).
_LOOK_AGAIN = 0.1
_SWEEP_AT = 1024  # stopped alarms the heap may hold before they are swept out
_LONGEST_WAIT = 3600.0  # the watchdog's longest sleep (a Condition cannot wait for ever)


class Alarm:
    """A wait the watchdog interrupts once `expires` (a `time.monotonic()` time) has passed.

    While `paused` (a stream's events are with the caller), the watchdog looks again
    `period` seconds later. `find()` gives the socket to shut
    down; None when there is none yet (then, with `retry`, the watchdog looks again that many
    seconds later), False when there is nothing to interrupt at all. `fired` says whether the
    watchdog shut a socket down.
    """

    __slots__ = ("expires", "find", "fired", "paused", "period", "retry", "stopped")

    def __init__(
        self, find: Callable[[], Any], *, period: float = 1.0, retry: float | None = None
    ) -> None:
        self.expires = INF
        self.find = find
        self.period = period
        self.retry = retry
        self.fired = False
        self.paused = False
        self.stopped = True


def _nothing() -> bool:
    return False


class _Watchdog:
    """The process's one thread that fires expired alarms (started on first use)."""

    def __init__(self) -> None:
        import heapq  # here: `import somia` stays free of it

        self._push, self._pop, self._heapify = heapq.heappush, heapq.heappop, heapq.heapify
        # Reentrant: a stream finalised by the garbage collector while this thread holds
        # the lock may stop its alarm.
        self.lock = threading.RLock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()  # ties never compare alarms
        self._thread: threading.Thread | None = None
        self._stale = 0  # alarms stopped since the heap was last swept (about)

    def watch(self, alarm: Alarm) -> None:
        """Fire `alarm` once its `expires` has passed, until `unwatch`."""
        with self.lock:
            alarm.stopped = False
            when = min(alarm.expires, time.monotonic() + _LONGEST_WAIT)
            entry = (when, next(self._order), alarm)
            self._push(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="somia-watchdog")
                self._thread.daemon = True
                self._thread.start()
            elif self._heap[0] is entry:
                self._wake.notify()

    def unwatch(self, alarm: Alarm) -> None:
        """Never fire `alarm` from now on (it leaves the heap when its time comes)."""
        with self.lock:
            alarm.stopped = True
            alarm.find = _nothing  # what it watched need not live until then
            # A stopped alarm waits in the heap until its time: with many short streams
            # under a long idle timeout, sweep them out once they are most of it.
            self._stale += 1
            heap = self._heap
            if self._stale > _SWEEP_AT and self._stale * 2 > len(heap):
                heap[:] = [entry for entry in heap if not entry[2].stopped]
                self._heapify(heap)
                self._stale = 0

    def _run(self) -> None:
        heap = self._heap
        with self.lock:
            while True:
                if not heap:
                    self._wake.wait()
                    continue
                when, _, alarm = heap[0]
                if alarm.stopped:
                    self._pop(heap)
                    continue
                now = time.monotonic()
                if when > now:
                    self._wake.wait(min(when - now, _LONGEST_WAIT))
                    continue
                self._pop(heap)
                expires = alarm.expires
                if alarm.paused or expires > now:  # paused, or moved on: look again then
                    again = now + alarm.period if alarm.paused else expires
                    self._push(heap, (min(again, now + _LONGEST_WAIT), next(self._order), alarm))
                    continue
                try:
                    target = alarm.find()
                except Exception:  # a private path that broke: nothing to interrupt
                    target = False
                alarm.fired = True  # before the interrupted reader wakes up and looks
                if interrupt(target):
                    alarm.stopped = True
                    continue
                alarm.fired = False
                if target is None and alarm.retry is not None:
                    self._push(heap, (now + alarm.retry, next(self._order), alarm))
                else:
                    alarm.stopped = True


_watchdog: _Watchdog | None = None


def _dog() -> _Watchdog:
    global _watchdog  # made on first use
    if _watchdog is None:
        _watchdog = _Watchdog()
    return _watchdog


def _after_fork_in_child() -> None:
    global _watchdog  # the parent's thread does not exist here; its alarms are the parent's
    _watchdog = None


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def watch(alarm: Alarm) -> None:
    """Arm `alarm` (see `_Watchdog.watch`)."""
    _dog().watch(alarm)


def unwatch(alarm: Alarm) -> None:
    """Disarm `alarm`; once this returns, the watchdog will not interrupt its wait."""
    _dog().unwatch(alarm)


def stream_read_timeout(
    response: httpx.Response, read: float | None, idle: float | None, *, capped: bool
) -> None:
    """A stream's events are read under the read timeout `read` (not what a total timeout left
    of it when the request was sent, when `capped`), or its idle timeout when that is shorter:
    a read that waits longer cannot end in time for an event of the answer anyway."""
    if idle is not None and (read is None or idle < read):
        with_read_timeout(response, idle)
    elif capped:
        with_read_timeout(response, read)


class _Attempt:
    """What an attempt in flight uses, for the watchdog to find its socket."""

    __slots__ = ("head", "http", "request", "response", "sent", "streams", "wait")

    def __init__(
        self, http: httpx.Client | httpx.AsyncClient, request: httpx.Request, wait: float | None
    ) -> None:
        self.http = http
        self.request = request
        self.streams: list[Any] = []  # network streams of the new connections it opened
        self.response: httpx.Response | None = None  # once its answer began
        self.sent = False  # the request went out whole: the turn may have run
        self.wait = wait  # how long its answer may take to start once it is sent (a stream's)
        self.head: Alarm | None = None  # that wait's alarm, armed when sending starts

    def sending(self, find: Callable[[], Any]) -> None:
        """The request starts going out: from now on, its answer has `wait` seconds to start
        (`find`: the attempt's socket, for the watchdog)."""
        if self.wait is not None:
            self.head = Alarm(find, retry=_LOOK_AGAIN)
            self.head.expires = time.monotonic() + self.wait
            watch(self.head)


class Deadline:
    """The time limits of one call, started when the call starts: its total timeout
    (`total_timeout`), and for a stream, the wait for each attempt's answer to start.

    The total timeout bounds every attempt and the waits between them, until the answer starts
    (a stream's response head) or, for a JSON answer, until it is read whole. Each attempt's
    timeouts are capped to the time left (`cap`). A stream's idle timeout (`idle`) bounds each
    attempt from when its request starts going out until its answer starts (or, for an error
    status, is read whole): bytes of a response head are not events. The watchdog interrupts
    the attempt in flight when either is up, however slowly its bytes come.
    """

    __slots__ = ("_attempt", "alarm", "capped", "expires", "head_out", "idle", "sent", "total")

    def __init__(self, total: float | None, idle: float | None = None) -> None:
        self.total = total
        self.idle = idle
        self.head_out = False  # the last attempt's answer did not start within `idle`
        self.expires = INF if total is None else time.monotonic() + total
        self.capped: tuple[str, ...] = ()  # the phases the last cap() shortened
        self.sent = False  # the last attempt's request went out whole
        self._attempt: _Attempt | None = None  # the attempt in flight
        self.alarm = Alarm(self._socket, retry=_LOOK_AGAIN)
        if total is not None:
            self.alarm.expires = self.expires
            watch(self.alarm)

    def left(self) -> float:
        """Seconds left (negative once expired)."""
        return self.expires - time.monotonic()

    def cap(self, timeout: httpx.Timeout, what: str, attempts: int) -> httpx.Timeout:
        """`timeout` with each phase capped to the time left; raises once none is left."""
        if self.total is None:
            return timeout
        left = self.left()
        if left <= 0:
            raise self.expired(what, attempts)
        capped, self.capped = capped_timeout(timeout, left)
        return capped

    def begin(self, http: httpx.Client | httpx.AsyncClient, request: httpx.Request) -> None:
        """Watch the attempt about to send `request` on `http`."""
        attempt = _Attempt(http, request, self.idle)
        request.extensions["trace"] = trace_attempt(http, attempt, self._socket)
        with _dog().lock:
            self._attempt = attempt

    def answered(self, response: httpx.Response) -> None:
        """The attempt's answer began: its body is read on `response`'s connection."""
        with _dog().lock:
            if self._attempt is not None:
                self._attempt.response = response

    def settle(self) -> None:
        """The attempt is over, or its stream began: call this before its connection goes
        back to the pool, or to the stream. `head_out` then says whether its answer was late."""
        with _dog().lock:
            attempt = self._attempt
            if attempt is not None:
                self.sent = attempt.sent
                head = attempt.head
                if head is not None:
                    self.head_out = head.fired
                    if not head.stopped:
                        unwatch(head)
            self._attempt = None

    def stop(self) -> None:
        """The call is over (answered, or failed): never interrupt anything of it again."""
        self.settle()
        if not self.alarm.stopped:
            unwatch(self.alarm)

    def _socket(self) -> Any:
        # Called by the watchdog, holding its lock.
        attempt = self._attempt
        if attempt is None:  # between attempts: the next one's cap() sees the time is up
            return False
        if attempt.response is not None:
            return response_socket(attempt.response)
        return pending_socket(attempt.http, attempt.request, attempt.streams)

    def cut_short(self, exc: BaseException) -> bool:
        """Whether `exc` ended an attempt because the total timeout ran out."""
        return self.alarm.fired or timeout_phase(exc) in self.capped

    def late(self) -> bool:
        """Whether the attempt in flight (or the last, settled) was interrupted because its
        answer did not start within the stream's idle timeout."""
        attempt = self._attempt
        if attempt is not None and attempt.head is not None:
            return attempt.head.fired
        return self.head_out

    def fits(self, delay: float) -> bool:
        """Whether a wait of `delay` seconds leaves time for another attempt."""
        return delay < self.left()

    def check(self, what: str, attempts: int) -> None:
        """Raise once expired; called between reads of an answer."""
        if time.monotonic() >= self.expires:
            raise self.expired(what, attempts, reading=True)

    def expired(
        self, what: str, attempts: int, *, reading: bool = False, waiting: str = ""
    ) -> RequestTimeoutError:
        """The error for a call out of time after `attempts` attempts.

        `reading`: it ran out while the answer was awaited or read (the turn may have run);
        `waiting`: the retry wait that did not fit, and why it was due.
        """
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if waiting:
            how = f"would be reached during the wait before a retry ({waiting}), after {tries}"
        else:
            how = f"was reached after {tries}"
        text = f"{what}: the total timeout of {self.total:g} s {how}"
        if reading:
            text += "; it ran out while reading the answer, so the turn may have run"
        return RequestTimeoutError(text)

    def late_error(self, what: str, attempts: int) -> StreamTimeoutError:
        """The error for a stream whose answer did not start within its idle timeout."""
        tries = f" (attempt {attempts})" if attempts > 1 else ""
        attempt = self._attempt
        if self.sent or (attempt is not None and attempt.sent):
            sent = "the request was sent, so the turn may have run"
        else:
            sent = "the request was still being sent"
        return StreamTimeoutError(
            f"{what}: no answer came within its stream_idle_timeout of {self.idle:g} s after "
            f"the request started going out{tries} (bytes of a response head are not "
            f"events); {sent}",
            events_received=0,
            last_chunk=None,
        )
