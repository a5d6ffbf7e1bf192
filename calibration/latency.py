"""Camera-vs-encoder latency of a calibration recording, with its uncertainty (`dexumi.latency` does the
cross-correlation). The camera films the exoskeleton while the collector moves the fingers irregularly.

Motion signals: for the sim camera, the fingers' flexion measured from its pixels against the same
per-finger flexion of the calibrated encoder angles; for a real camera, optical-flow motion energy against
the joints' total speed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from dexumi import latency as core
from dexumi.devices.cameras.base import CameraSource, exposure_times, frame_stamp
from dexumi.finger_bars import finger_flexion
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame
from dexumi.vocab import FrameEncoding

log = logging.getLogger(__name__)


@dataclass
class LatencyResult:
    stream: str
    latency_s: float
    uncertainty_s: float
    peak_correlation: float
    frames: int
    method: str

    def summary(self) -> str:
        return (
            f"{self.stream}: latency {1e3 * self.latency_s:.2f} ± {1e3 * self.uncertainty_s:.2f} ms "
            f"(r={self.peak_correlation:.3f}, {self.frames} frames, {self.method})"
        )


class FrameCollector:
    """Reads a camera source in its own thread until stopped or the source ends."""

    def __init__(self, source: CameraSource, until: float | None = None) -> None:
        self.source = source
        self.until = until
        self.frames: list[CameraFrame] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"calib-{source.name}", daemon=True)

    def start(self) -> FrameCollector:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self.frames.append(frame)
                if self.until is not None and frame_stamp(frame) >= self.until:
                    break
        except DexumiError as exc:
            self.error = str(exc)

    def stop(self, timeout: float = 5.0) -> list[CameraFrame]:
        self._stop.set()
        self._thread.join(timeout)
        return self.frames

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def _grey(f: CameraFrame) -> np.ndarray:
    """A frame's image (JPEG decoded at 1/4 size, grey)."""
    import cv2

    if f.encoding != FrameEncoding.JPEG:
        return np.asarray(f.data)
    img = cv2.imdecode(np.frombuffer(f.data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if img is None:
        raise DexumiError("latency calibration: a camera frame is not a valid JPEG")
    return np.asarray(img)


def frame_times(frames: list[CameraFrame], host_clock_device_time: bool) -> np.ndarray:
    return exposure_times(frames, host_clock_device_time)


def latency_from_sim_frames(
    stream: str,
    frames: list[CameraFrame],
    enc_times: np.ndarray,
    enc_angles: np.ndarray,
    search_s: float = 0.3,
    block_s: float = 2.0,
) -> LatencyResult:
    """Sim camera: flexion measured from the JPEG pixels vs the encoder's per-finger flexion."""
    if len(frames) < 30:
        raise DexumiError(f"latency: only {len(frames)} frames from {stream}; record longer")
    cam = core.flexion_from_jpegs([f.data for f in frames], reduce=4)
    est = core.estimate_latency(
        enc_times, finger_flexion(enc_angles), frame_times(frames, True), cam, search_s=search_s, block_s=block_s
    )
    return LatencyResult(
        stream, est.latency_s, est.uncertainty_s, est.peak_correlation, len(frames), "finger flexion from images"
    )


def latency_from_motion(
    stream: str,
    frames: list[CameraFrame],
    enc_times: np.ndarray,
    enc_angles: np.ndarray,
    host_clock_device_time: bool = False,
    search_s: float = 0.5,
    block_s: float = 3.0,
) -> LatencyResult:
    """Any camera: optical-flow motion energy of the images vs the encoder's total joint speed."""
    images = [_grey(f) for f in frames]
    energy = core.motion_energy(images)
    speed = core.joint_speed(enc_times, enc_angles)
    est = core.estimate_latency(
        enc_times,
        speed,
        core.motion_energy_times(frame_times(frames, host_clock_device_time)),
        energy,
        search_s=search_s,
        block_s=block_s,
    )
    return LatencyResult(
        stream,
        est.latency_s,
        est.uncertainty_s,
        est.peak_correlation,
        len(frames),
        "optical-flow energy vs joint speed",
    )


@dataclass
class FlashSchedule:
    """On-screen flashing pattern for camera-vs-host latency: the screen toggles at known host times; the
    camera's mean brightness steps later by the latency (plus the display's own lag, which this includes)."""

    period_s: float = 0.5
    toggles: list[float] = field(default_factory=list)

    def level(self, t: np.ndarray) -> np.ndarray:
        """Screen brightness (0/1) at host times t, given the recorded toggle times."""
        k = np.searchsorted(np.asarray(self.toggles), np.asarray(t), side="right")
        return (k % 2).astype(np.float64)


def latency_from_flashes(
    schedule: FlashSchedule, frame_t: np.ndarray, brightness: np.ndarray, search_s: float = 0.3
) -> core.LatencyEstimate:
    """Camera-vs-host latency from a filmed flashing screen (brightness per frame against the toggles)."""
    grid = np.arange(frame_t[0] - 1.0, frame_t[-1] + 1.0, 1e-3)
    return core.estimate_latency(grid, schedule.level(grid), frame_t, brightness, search_s=search_s, block_s=2.0)
