"""One grabber thread per camera: frames into a bounded, lossless buffer, with drop detection.

Drops are found two ways and never guessed at nominal fps:
- from the source's frame counter, when it has one (`counts_frames`): an index jump of n is exactly n
  frames lost;
- from timestamp gaps against the granted period (the source's own timestamps when it gives them, else
  host grab times): a gap of about k periods is k − 1 frames lost. For sources without a counter this is
  the drop count, and the grabber renumbers `frame.index` so the jump shows downstream too. For sources
  with one, a timestamp gap without an index jump is a stall (frames late, none lost) and is only logged.

If the consumer falls so far behind that the buffer is full, further frames are counted as overflows
and logged as errors — never dropped silently. A camera that stops delivering (`CameraLost`) is reopened
every `reconnect_interval_s`; the outage is a `GapEvent`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from dexumi.devices.cameras.base import CameraLost, CameraSource
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame, GapEvent, StreamStats

log = logging.getLogger(__name__)


@dataclass
class GrabberConfig:
    buffer_frames: int = 600  # 10 s at 60 fps: the consumer is far behind long before this fills
    gap_factor: float = 1.5  # a timestamp step above this many periods is a gap
    reconnect: bool = True
    reconnect_interval_s: float = 0.5


class FrameGrabber:
    """`start()`, then `read()` frames as they come; `stats()` for health; `close()` to end."""

    def __init__(self, source: CameraSource, config: GrabberConfig | None = None) -> None:
        self.source = source
        self.config = config or GrabberConfig()
        self.name = source.name
        self._buffer: deque[CameraFrame] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats = StreamStats(source.name)
        self._latest: CameraFrame | None = None
        self._last_index: int | None = None
        self._last_t: float | None = None
        self._index_offset = 0
        self._first_grab: float | None = None
        self._last_grab: float | None = None
        self.stalls = 0  # timestamp gaps with no frame lost (counted sources only)
        self.finished = threading.Event()  # the source ended (end of file) or failed for good
        self.error: str | None = None

    # ------------------------------------------------------------------------------------------ life
    def start(self) -> FrameGrabber:
        if not self.source.opened:
            self.source.open()
        g = self.source.granted
        self._stats.connected = True
        self._stats.nominal_rate_hz = g.fps if g else 0.0
        self._stats.protocol = "MJPG" if g and g.fourcc == "MJPG" else (g.fourcc if g else "")
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-grabber", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.source.close()
        self._stats.connected = False

    def __enter__(self) -> FrameGrabber:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except CameraLost as exc:
                if not self._reconnect(str(exc)):
                    break
                continue
            except Exception as exc:  # noqa: BLE001 - the thread must report, not die silently
                self.error = f"{type(exc).__name__}: {exc}"
                log.error("camera %s: grabber stopped: %s", self.name, self.error)
                break
            if frame is None:
                log.info("camera %s: source ended after %d frames", self.name, self._stats.frames)
                break
            self._on_frame(frame)
        self.finished.set()
        with self._ready:
            self._ready.notify_all()

    def _reconnect(self, why: str) -> bool:
        lost_at = self._last_grab if self._last_grab is not None else time.monotonic()
        self._stats.connected = False
        log.warning("camera %s: lost (%s)", self.name, why)
        self.source.close()
        if not self.config.reconnect:
            self.error = why
            return False
        while not self._stop.wait(self.config.reconnect_interval_s):
            try:
                self.source.open()
            except DexumiError:
                continue
            back = time.monotonic()
            self._stats.connected = True
            self._stats.reconnects += 1
            self._stats.gap_events.append(GapEvent(lost_at, back, None, "camera lost: " + why))
            self._last_t = None  # timestamps restart with the device: do not compare across the outage
            log.warning("camera %s: reopened after %.2f s", self.name, back - lost_at)
            return True
        return False

    def _on_frame(self, frame: CameraFrame) -> None:
        s = self._stats
        period = self.source.granted.period_s if self.source.granted else 0.0
        t = frame.device_time if frame.device_time is not None else frame.grab_time
        jump = 0
        if self.source.counts_frames and self._last_index is not None:
            jump = frame.index - self._last_index - 1
            if jump < 0:
                if jump == -1:
                    s.duplicates += 1
                else:
                    s.out_of_order += 1
                log.warning("camera %s: frame index went from %d to %d", self.name, self._last_index, frame.index)
                jump = 0
        late = 0
        if self._last_t is not None and period > 0 and t - self._last_t > self.config.gap_factor * period:
            late = max(1, int(round((t - self._last_t) / period)) - 1)
        if not self.source.counts_frames:
            self._index_offset += late
            frame.index += self._index_offset  # a jump downstream shows the estimated loss
            jump = late
        elif late and not jump:
            self.stalls += 1
            s.gap_events.append(GapEvent(self._last_grab or frame.grab_time, frame.grab_time, 0,
                                         "frames late, none lost"))
            log.info("camera %s: %.1f ms between frames %d and %d, none lost", self.name,
                     (t - self._last_t) * 1e3, frame.index - 1, frame.index)  # type: ignore[operator]
        if jump > 0:
            s.gaps += 1
            s.missing_samples += jump
            s.gap_events.append(GapEvent(self._last_grab or frame.grab_time, frame.grab_time, jump,
                                         "dropped frames" if self.source.counts_frames else "timestamp gap"))
            log.warning("camera %s: %d frame(s) dropped before frame %d", self.name, jump, frame.index)
        self._last_index, self._last_t = frame.index, t
        with self._ready:
            if len(self._buffer) >= self.config.buffer_frames:
                s.overflows += 1
                log.error("camera %s: buffer full (%d frames): the consumer is not keeping up; frame %d lost",
                          self.name, len(self._buffer), frame.index)
            else:
                self._buffer.append(frame)
                self._ready.notify_all()
            self._latest = frame
            s.frames += 1
            s.samples = s.frames
            if self._first_grab is None:
                self._first_grab = frame.grab_time
            self._last_grab = frame.grab_time

    # ----------------------------------------------------------------------------------- consumer API
    def read(self, timeout: float = 0.0, max_frames: int | None = None) -> list[CameraFrame]:
        """Buffered frames in order (waiting up to `timeout` for the first one)."""
        with self._ready:
            if not self._buffer and timeout > 0 and not self.finished.is_set():
                self._ready.wait(timeout)
            n = len(self._buffer) if max_frames is None else min(max_frames, len(self._buffer))
            return [self._buffer.popleft() for _ in range(n)]

    def latest(self) -> CameraFrame | None:
        """The newest frame (for a live view: decode it at display rate, not every frame)."""
        return self._latest

    @property
    def dropped(self) -> int:
        return self._stats.missing_samples

    def stats(self) -> StreamStats:
        with self._lock:
            s = replace(self._stats, gap_events=list(self._stats.gap_events))
            first, last = self._first_grab, self._last_grab
        if first is not None and last is not None and last > first:
            s.rate_hz = (s.frames - 1) / (last - first)
        if last is not None:
            s.last_data_age_s = time.monotonic() - last
        return s
