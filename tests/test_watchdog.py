"""somia._liveness's watchdog: one thread for every wait, alarms re-armed lazily, and stopped
alarms swept out of its heap. (Through the public API, tests/test_liveness.py and
tests/test_total_timeout.py hold streams and calls to their limits.)"""

from __future__ import annotations

import threading
import time

from somia import _liveness
from somia._liveness import Alarm, unwatch, watch


class FakeSocket:
    """Records when it was shut down, as the watchdog shuts a socket down."""

    def __init__(self) -> None:
        self.shut = threading.Event()
        self.at = 0.0

    def shutdown(self, how: int) -> None:
        self.at = time.monotonic()
        self.shut.set()


def test_an_alarm_fires_once_its_expiry_has_passed() -> None:
    sock = FakeSocket()
    alarm = Alarm(lambda: sock)
    alarm.expires = time.monotonic() + 0.2
    watch(alarm)
    assert sock.shut.wait(5)
    assert sock.at >= alarm.expires
    assert alarm.fired


def test_an_alarm_moved_on_fires_only_at_its_new_expiry() -> None:
    sock = FakeSocket()
    alarm = Alarm(lambda: sock)
    alarm.expires = time.monotonic() + 0.1
    watch(alarm)
    alarm.expires = moved = time.monotonic() + 0.5  # progress: a plain store, no lock
    assert sock.shut.wait(5)
    assert sock.at >= moved


def test_a_paused_alarm_fires_only_after_it_resumes() -> None:
    sock = FakeSocket()
    alarm = Alarm(lambda: sock, period=0.05)
    alarm.expires = time.monotonic()  # expired, but the caller has the events
    alarm.paused = True
    watch(alarm)
    resumed: list[float] = []

    def resume() -> None:
        resumed.append(time.monotonic())
        alarm.paused = False  # still expired the moment it resumes

    threading.Timer(0.3, resume).start()
    assert sock.shut.wait(5)
    assert sock.at >= resumed[0]


def test_an_alarm_stopped_in_time_never_fires() -> None:
    sock, other = FakeSocket(), FakeSocket()
    alarm, later = Alarm(lambda: sock), Alarm(lambda: other)
    alarm.expires = time.monotonic() + 0.1
    later.expires = alarm.expires + 0.2
    watch(alarm)
    watch(later)
    unwatch(alarm)
    assert other.shut.wait(5)  # the watchdog went past the stopped alarm's time
    assert not sock.shut.is_set()
    assert not alarm.fired


def test_stopped_alarms_are_swept_out_of_the_heap() -> None:
    far = time.monotonic() + 3600
    alarms = [Alarm(lambda: None) for _ in range(5000)]
    for alarm in alarms:
        alarm.expires = far
        watch(alarm)
        unwatch(alarm)
    heap = _liveness._dog()._heap
    assert len(heap) < 2 * 1024 + 100
