"""A simulated wrist camera that films the simulated exoskeleton's motion.

Frame k is *captured* at `t_k = start + k / fps` and shows five fingers whose flexion follows the same
motion model as the emulator (`make_motion(motion, joints, seed)` at `t_k - epoch`); it is *delivered*
(stamped, returned by `read()`) `latency` later, as a real camera pipeline delivers an exposure late. The
frame number is drawn as a 24-bit code strip and as text (the picture: `dexumi.finger_bars`). Frames are
JPEG-encoded like a UVC camera's MJPG. Rendering is cheap: the scene is drawn at a quarter of the size, upscaled
and encoded.

`drop=P` makes the camera skip frames with probability P (their index still advances, so drops are
visible in the index); a reader later than `buffers` frames loses the oldest frames the same way (a V4L2
queue overrun). `truth()` gives every frame's capture and delivery time and whether it was lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from dexumi.devices.cameras.base import CameraSettings, CameraSource
from dexumi.errors import DexumiError
from dexumi.finger_bars import HandRenderer, finger_flexion
from dexumi.types import CameraFrame
from firmware_bridge.emulator.motion import make_motion

log = logging.getLogger(__name__)

TRUTH_DTYPE = np.dtype([("index", "<i8"), ("capture_time", "<f8"), ("deliver_time", "<f8"), ("lost", "u1")])


@dataclass
class SimCameraConfig:
    name: str = "sim"
    latency_s: float = 0.0
    fps: float = 30.0
    width: int = 640
    height: int = 480
    seed: int = 0
    epoch: float | None = None  # host monotonic time at which the motion starts (default: when opened)
    drop: float = 0.0
    motion: str = "grasp"
    joints: int = 16  # the emulator's default (v1: one joint per channel)
    quality: int = 80
    frames: int | None = None  # end after this many frames (None: run until closed)
    buffers: int = 4  # frames the 'driver' queues before a late reader loses the oldest

    def validate(self) -> None:
        if not (self.fps > 0 and self.width >= 64 and self.height >= 48):
            raise DexumiError(
                f"sim camera: fps must be > 0 and size at least 64x48 (got {self.width}x"
                f"{self.height} at {self.fps:g} fps)"
            )
        if not 0 <= self.drop < 1:
            raise DexumiError(f"sim camera: drop must be in [0, 1), got {self.drop:g}")
        if self.latency_s < 0:
            raise DexumiError(f"sim camera: latency must be >= 0, got {self.latency_s:g} s")
        if not 1 <= self.quality <= 100:
            raise DexumiError(f"sim camera: quality must be 1..100, got {self.quality}")


class SimCamera(CameraSource):
    """The simulated camera; frames are JPEG bytes with `device_time` = the (exact) delivery time."""

    counts_frames = True
    device_time_is_host_clock = True

    def __init__(self, config: SimCameraConfig | None = None, spec: str = "sim") -> None:
        config = config or SimCameraConfig()
        config.validate()
        super().__init__(config.name, spec)
        self.config = config
        self.motion = make_motion(config.motion, config.joints, config.seed)
        self.renderer = HandRenderer(config.width, config.height, config.quality)
        self.epoch = 0.0
        self.start_time = 0.0
        self._next = 0
        self._drop_rng = np.random.default_rng(config.seed + 4242)
        self._lost = bytearray()  # the truth log: one bit per frame reached (times follow from the index)

    @property
    def period_s(self) -> float:
        return 1.0 / self.config.fps

    def open(self, start_time: float | None = None) -> SimCamera:
        c = self.config
        self.start_time = time.monotonic() if start_time is None else start_time
        self.epoch = c.epoch if c.epoch is not None else self.start_time
        self.granted = CameraSettings(c.width, c.height, c.fps, "MJPG")
        self._next = 0
        self._lost = bytearray()
        self.opened = True
        return self

    def capture_time(self, index: np.ndarray | int) -> np.ndarray | float:
        return self.start_time + np.asarray(index) * self.period_s

    def flexion_at(self, t: np.ndarray) -> np.ndarray:
        """Per-finger flexion (n, 5) shown at capture times t (host monotonic)."""
        return finger_flexion(self.motion.angles(np.atleast_1d(np.asarray(t, np.float64)) - self.epoch))

    def read(self) -> CameraFrame | None:
        if not self.opened:
            raise DexumiError(f"camera {self.spec!r} is not open")
        c = self.config
        while True:
            k = self._next
            if c.frames is not None and k >= c.frames:
                return None
            self._next += 1
            cap_t = float(self.capture_time(k))
            deliver_t = cap_t + c.latency_s
            lost = bool(c.drop and self._drop_rng.random() < c.drop)
            if not lost and time.monotonic() - deliver_t > c.buffers * self.period_s:
                lost = True  # the reader is so late that the queue overran
                log.debug("sim camera %s: queue overrun at frame %d", self.name, k)
            if lost:
                self._mark_lost(k)
            if not lost:
                break
        data = self.renderer.jpeg(self.flexion_at(np.array([cap_t]))[0], k)
        delay = deliver_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return CameraFrame(self.name, k, time.monotonic(), data, "jpeg", c.width, c.height, deliver_t)

    def _mark_lost(self, k: int) -> None:
        if len(self._lost) <= k // 8:
            self._lost.extend(bytes(max(k // 8 + 1 - len(self._lost), 4096)))
        self._lost[k // 8] |= 1 << (k % 8)

    def truth(self) -> np.ndarray:
        """Every frame the camera reached so far: index, capture_time, deliver_time, lost.

        Capture and delivery times follow from the index, so the camera keeps one bit per frame (lost or
        not): ~0.5 KB per minute at 60 fps, not a record per frame."""
        n = self._next
        out = np.zeros(n, dtype=TRUTH_DTYPE)
        k = np.arange(n)
        out["index"] = k
        out["capture_time"] = self.capture_time(k)
        out["deliver_time"] = out["capture_time"] + self.config.latency_s
        lost = np.unpackbits(np.frombuffer(bytes(self._lost), np.uint8), bitorder="little")[:n]
        out["lost"][: len(lost)] = lost
        return out

    def close(self) -> None:
        self.opened = False
