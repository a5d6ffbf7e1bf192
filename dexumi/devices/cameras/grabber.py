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
every `reconnect_interval_s`; the outage is a `GapEvent`. The thread, buffer and reconnect loop are
`StreamWorker`'s (shared with the encoder driver).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

from dexumi.devices.cameras.base import CameraLost, CameraSource, frame_stamp
from dexumi.devices.stream_worker import Backoff, StreamWorker
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame, GapEvent, StreamStats

log = logging.getLogger(__name__)


@dataclass
class GrabberConfig:
    buffer_frames: int = 600  # 10 s at 60 fps: the consumer is far behind long before this fills
    gap_factor: float = 1.5  # a timestamp step above this many periods is a gap
    reconnect: bool = True
    reconnect_interval_s: float = 0.5


class FrameGrabber(StreamWorker[CameraFrame]):
    """`start()`, then `read()` frames as they come; `stats()` for health; `close()` to end."""

    def __init__(self, source: CameraSource, config: GrabberConfig | None = None) -> None:
        cfg = config or GrabberConfig()
        every = cfg.reconnect_interval_s
        super().__init__(
            source.name,
            StreamStats(source.name),
            cfg.buffer_frames,
            unit="frames",
            reconnect=cfg.reconnect,
            backoff=Backoff(every, every, 1.0),
            log_name=f"camera {source.name}",
        )
        self.source = source
        self.config = cfg
        self._latest: CameraFrame | None = None
        self._last_index: int | None = None
        self._last_t: float | None = None
        self._index_offset = 0
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
        self._start_thread(self._run, suffix="grabber")
        return self

    def close(self) -> None:
        self._stop_thread()
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
                if not self._reconnect(
                    str(exc),
                    close=self.source.close,
                    reopen=self.source.open,
                    errors=(DexumiError,),
                    resume=self._resume,
                    lost="lost",
                    back="reopened",
                    gap="camera lost",
                ):
                    if not self.config.reconnect:
                        self.error = str(exc)
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
        self._wake_readers()

    def _resume(self) -> bool:
        self._last_t = None  # timestamps restart with the device: do not compare across the outage
        return True

    def _on_frame(self, frame: CameraFrame) -> None:
        s = self._stats
        period = self.source.granted.period_s if self.source.granted else 0.0
        t = frame_stamp(frame)
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
        since_last = t - self._last_t if self._last_t is not None else 0.0
        if period > 0 and since_last > self.config.gap_factor * period:
            late = max(1, int(round(since_last / period)) - 1)
        if not self.source.counts_frames:
            self._index_offset += late
            frame.index += self._index_offset  # a jump downstream shows the estimated loss
            jump = late
        elif late and not jump:
            self.stalls += 1
            s.gap_events.append(
                GapEvent(self._last_rx or frame.grab_time, frame.grab_time, 0, "frames late, none lost")
            )
            log.info(
                "camera %s: %.1f ms between frames %d and %d, none lost",
                self.name,
                since_last * 1e3,
                frame.index - 1,
                frame.index,
            )
        if jump > 0:
            s.gaps += 1
            s.missing_samples += jump
            s.gap_events.append(
                GapEvent(
                    self._last_rx or frame.grab_time,
                    frame.grab_time,
                    jump,
                    "dropped frames" if self.source.counts_frames else "timestamp gap",
                )
            )
            log.warning("camera %s: %d frame(s) dropped before frame %d", self.name, jump, frame.index)
        self._last_index, self._last_t = frame.index, t
        self._push(frame, 1, f"frame {frame.index}")
        with self._lock:
            self._latest = frame
            s.frames += 1
            s.samples = s.frames
            self._mark_rx_locked(frame.grab_time, 1)

    # ----------------------------------------------------------------------------------- consumer API
    def read(self, timeout: float = 0.0, max_frames: int | None = None) -> list[CameraFrame]:
        """Buffered frames in order (waiting up to `timeout` for the first one)."""
        return self._take(timeout, max_frames, wait=not self.finished.is_set())

    def latest(self) -> CameraFrame | None:
        """The newest frame (for a live view: decode it at display rate, not every frame)."""
        return self._latest

    @property
    def dropped(self) -> int:
        return self._stats.missing_samples

    def stats(self) -> StreamStats:
        with self._lock:
            s = replace(self._stats, gap_events=list(self._stats.gap_events))
        return self._health(s, s.frames)
