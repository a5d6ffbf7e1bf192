"""The one reader-thread base of dexumi's streams (the encoder driver, the camera grabber).

What both need and do the same way: a daemon thread with a clean start/stop, a bounded lossless buffer the
consumer drains (a full buffer counts and logs its overflow, never drops silently), reconnect with back-off
after the device is lost, and a `GapEvent` for each outage. Subclasses read and decode; this class holds
the thread, the buffer and the reconnect loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from dexumi.types import GapEvent, StreamStats

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Wait `first_s` before the first reopen, then `factor` times longer each failure, at most `cap_s`."""

    first_s: float
    cap_s: float
    factor: float = 1.5

    def delays(self) -> _Delays:
        return _Delays(self)


class _Delays:
    def __init__(self, b: Backoff) -> None:
        self._b, self.current = b, b.first_s

    def failed(self) -> None:
        self.current = min(self._b.cap_s, self.current * self._b.factor)


class StreamWorker(Generic[T]):
    """A reader thread filling a bounded buffer of items of type T (each `size` units long)."""

    def __init__(
        self,
        name: str,
        stats: StreamStats,
        capacity: int,
        *,
        unit: str,
        reconnect: bool,
        backoff: Backoff,
        log_name: str | None = None,
    ) -> None:
        self.name = name
        self._unit = unit  # what the capacity counts: "samples", "frames"
        self._log_name = log_name or name
        self._stats = stats
        self._capacity = capacity
        self._reconnect_enabled = reconnect
        self._backoff = backoff
        self._buffer: deque[T] = deque()
        self._buffered = 0  # units (samples, frames) in the buffer
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_rx: float | None = None  # host time of the first item (set by `_mark_rx`)
        self._first_size = 0  # and its size
        self._last_rx: float | None = None

    # ------------------------------------------------------------------------------------------ thread
    def _start_thread(self, target: Callable[..., None], *args: object, suffix: str) -> None:
        self._thread = threading.Thread(target=target, args=args, name=f"{self.name}-{suffix}", daemon=True)
        self._thread.start()

    def _stop_thread(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    # ------------------------------------------------------------------------------------------ buffer
    def _push(self, item: T, size: int, what: str, rx_time: float | None = None) -> bool:
        """Buffer `item`; False, counted as `size` overflows and logged, when the buffer is full.

        `what` names the lost item in the log line ("3 samples", "frame 17"). With `rx_time`, a buffered
        item also marks the stream's receive times (see `_mark_rx`)."""
        with self._ready:
            if self._buffered + size > self._capacity:
                self._stats.overflows += size
                log.error(
                    "%s: buffer full (%d %s): the consumer is not keeping up; %s lost",
                    self._log_name,
                    self._buffered,
                    self._unit,
                    what,
                )
                return False
            self._buffer.append(item)
            self._buffered += size
            if rx_time is not None:
                self._mark_rx_locked(rx_time, size)
            self._ready.notify_all()
        return True

    def _mark_rx(self, rx_time: float, size: int = 1) -> None:
        """Note that `size` units arrived at host time `rx_time` (for rate and data age)."""
        with self._lock:
            self._mark_rx_locked(rx_time, size)

    def _mark_rx_locked(self, rx_time: float, size: int) -> None:
        if self._first_rx is None:
            self._first_rx, self._first_size = rx_time, size
        self._last_rx = rx_time

    def _take(self, timeout: float, max_items: int | None = None, wait: bool = True) -> list[T]:
        """Buffered items in order, waiting up to `timeout` for the first one (when `wait`)."""
        with self._ready:
            if not self._buffer and timeout > 0 and wait:
                self._ready.wait(timeout)
            if max_items is None or max_items >= len(self._buffer):
                out = list(self._buffer)
                self._buffer.clear()
                self._buffered = 0
                return out
            out = [self._buffer.popleft() for _ in range(max_items)]
            self._buffered -= max_items
            return out

    def _wake_readers(self) -> None:
        with self._ready:
            self._ready.notify_all()

    # --------------------------------------------------------------------------------------- reconnect
    def _reconnect(
        self,
        why: str,
        *,
        close: Callable[[], None],
        reopen: Callable[[], object],
        errors: tuple[type[BaseException], ...],
        resume: Callable[[], bool] | None = None,
        lost: str = "link lost",
        back: str = "reconnected",
        gap: str = "link lost",
    ) -> bool:
        """The device was lost: record it, reopen with back-off until it is back or the worker is stopped.

        Returns False when the thread should end (reconnect off, or stopped); True to go on reading —
        also when `resume()` (restarting the stream after the reopen) says the device is not back yet."""
        lost_at = self._last_rx if self._last_rx is not None else time.monotonic()
        self._set_connected(False)
        log.warning("%s: %s (%s)", self._log_name, lost, why)
        close()
        if not self._reconnect_enabled:
            return False
        delay = self._backoff.delays()
        while not self._stop.wait(delay.current):
            try:
                reopen()
            except errors:
                delay.failed()
                continue
            break
        if self._stop.is_set():
            return False
        if resume is not None and not resume():
            return True
        back_at = time.monotonic()
        self._set_connected(True)
        self._stats.reconnects += 1
        self._stats.gap_events.append(GapEvent(lost_at, back_at, None, f"{gap}: {why}"))
        log.warning("%s: %s after %.2f s", self._log_name, back, back_at - lost_at)
        return True

    def _set_connected(self, connected: bool) -> None:
        self._stats.connected = connected

    # ------------------------------------------------------------------------------------------ health
    def _health(self, s: StreamStats, count: int) -> StreamStats:
        """Fill `s.rate_hz` (units after the first item per second) and `s.last_data_age_s`."""
        with self._lock:
            first, last, first_n = self._first_rx, self._last_rx, self._first_size
        if first is not None and last is not None and last > first:
            s.rate_hz = (count - first_n) / (last - first)
        if last is not None:
            s.last_data_age_s = time.monotonic() - last
        return s
