"""The stream-worker base (dexumi/devices/stream_worker.py) on its own: buffer, overflow, reconnect, gaps.

The encoder driver and the camera grabber are tested against the emulator and the sim cameras
(test_link.py, test_cameras.py); this drives the base with a small source whose truth is known exactly.
"""

from __future__ import annotations

import threading
import time

import pytest

from dexumi.devices.stream_worker import Backoff, StreamWorker
from dexumi.types import StreamStats


class Lost(Exception):
    pass


class Source:
    """Yields 0, 1, 2, ...; `unplug()` makes reads fail until `replug()`; opens are timed."""

    def __init__(self, fail_opens: int = 0) -> None:
        self.n = 0
        self.plugged = True
        self.fail_opens = fail_opens
        self.open_times: list[float] = []
        self.closed = 0

    def read(self) -> int:
        if not self.plugged:
            raise Lost("unplugged")
        time.sleep(0.001)
        self.n += 1
        return self.n - 1

    def open(self) -> None:
        self.open_times.append(time.monotonic())
        if self.fail_opens > 0:
            self.fail_opens -= 1
            raise Lost("still gone")
        self.plugged = True

    def close(self) -> None:
        self.closed += 1


class Worker(StreamWorker[int]):
    def __init__(self, src: Source, capacity: int, backoff: Backoff, reconnect: bool = True) -> None:
        super().__init__("w", StreamStats("w"), capacity, unit="items", reconnect=reconnect, backoff=backoff)
        self.src = src
        self.ended = threading.Event()

    def start(self) -> Worker:
        self._start_thread(self._run, suffix="test")
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self.src.read()
            except Lost as exc:
                if not self._reconnect(str(exc), close=self.src.close, reopen=self.src.open, errors=(Lost,)):
                    break
                continue
            self._push(item, 1, f"item {item}", rx_time=time.monotonic())
        self.ended.set()


def test_lossless_in_order_and_overflow_counted_exactly(caplog):
    src = Source()
    w = Worker(src, capacity=50, backoff=Backoff(0.01, 0.01)).start()
    deadline = time.monotonic() + 10
    while src.n < 120 and time.monotonic() < deadline:
        time.sleep(0.005)
    w._stop_thread()
    got = w._take(0.0)
    assert got == list(range(50))  # the first 50, in order; the rest counted, never silently lost
    assert w._stats.overflows == src.n - 50 > 0
    assert "buffer full (50 items)" in caplog.text
    assert w._take(0.0) == []


def test_take_in_parts_keeps_the_count():
    src = Source()
    w = Worker(src, capacity=30, backoff=Backoff(0.01, 0.01)).start()
    got: list[int] = []
    deadline = time.monotonic() + 10
    while len(got) < 200 and time.monotonic() < deadline:
        got += w._take(0.05, max_items=7)
    w._stop_thread()
    got += w._take(0.0)
    assert got == list(range(len(got))) and w._stats.overflows + len(got) == src.n


def test_reconnect_backs_off_and_records_the_outage():
    src = Source(fail_opens=4)
    w = Worker(src, capacity=10_000, backoff=Backoff(0.02, 0.06, factor=2.0)).start()
    time.sleep(0.05)
    t_lost = time.monotonic()
    src.plugged = False
    assert _until(lambda: w._stats.reconnects == 1, 10)
    w._stop_thread()
    # waits of 0.02, 0.04, 0.06 (capped), 0.06, 0.06 before the 5 opens: each gap at least that long
    gaps = [b - a for a, b in zip([t_lost, *src.open_times], src.open_times)]
    assert len(src.open_times) == 5
    for got, least in zip(gaps, (0.02, 0.04, 0.06, 0.06, 0.06)):
        assert got >= least - 0.002
    (gap,) = w._stats.gap_events
    assert gap.reason == "link lost: unplugged" and gap.end >= src.open_times[-1]
    assert t_lost - 0.5 <= gap.start <= src.open_times[0]  # the last item before the unplug
    assert w._stats.connected and src.closed == 1
    items = w._take(0.0)
    assert items == list(range(len(items)))  # nothing lost or repeated across the outage


def test_no_reconnect_ends_the_thread():
    src = Source()
    w = Worker(src, capacity=100, backoff=Backoff(0.01, 0.01), reconnect=False).start()
    time.sleep(0.02)
    src.plugged = False
    assert w.ended.wait(5)
    assert not w._stats.connected and w._stats.reconnects == 0 and src.open_times == []


def test_stop_during_back_off_is_prompt():
    src = Source(fail_opens=10**6)
    w = Worker(src, capacity=100, backoff=Backoff(5.0, 5.0)).start()
    src.plugged = False
    time.sleep(0.05)
    t = time.monotonic()
    w._stop_thread()
    assert time.monotonic() - t < 1.0 and w.ended.is_set()


@pytest.mark.parametrize("first,cap,factor", [(0.05, 0.25, 1.5), (0.5, 0.5, 1.0)])
def test_backoff_sequence(first, cap, factor):
    d = Backoff(first, cap, factor).delays()
    seq = []
    for _ in range(8):
        seq.append(d.current)
        d.failed()
    want, x = [], first
    for _ in range(8):
        want.append(x)
        x = min(cap, x * factor)
    assert seq == pytest.approx(want)


def _until(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()
