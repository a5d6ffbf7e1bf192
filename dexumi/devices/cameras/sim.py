"""A simulated wrist camera that films the simulated exoskeleton's motion.

Frame k is *captured* at `t_k = start + k / fps` and shows five fingers whose flexion follows the same
motion model as the emulator (`make_motion(motion, joints, seed)` at `t_k - epoch`); it is *delivered*
(stamped, returned by `read()`) `latency` later, as a real camera pipeline delivers an exposure late. The
frame number is drawn as a 24-bit code strip and as text. Frames are JPEG-encoded like a UVC camera's
MJPG. Rendering is cheap: the scene is drawn at a quarter of the size, upscaled and encoded.

`drop=P` makes the camera skip frames with probability P (their index still advances, so drops are
visible in the index); a reader later than `buffers` frames loses the oldest frames the same way (a V4L2
queue overrun). `truth()` gives every frame's capture and delivery time and whether it was lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from dexumi.devices.cameras.base import CameraSettings, CameraSource
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame
from firmware_bridge.emulator.motion import make_motion
from firmware_bridge.fingers import FINGERS, finger_of_joint

log = logging.getLogger(__name__)

CODE_BITS = 24
_BG = 40  # background grey level
_STRIP = (0.0, 0.07)  # frame-number code strip, fraction of the height
_CELLS = (0.24, 0.92)  # finger cells, fraction of the height
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


def finger_flexion(angles: np.ndarray) -> np.ndarray:
    """Per-finger flexion (n, 5): the mean of each finger's joints, as the drawing shows it."""
    angles = np.atleast_2d(angles)
    finger = finger_of_joint(angles.shape[1])
    return np.stack(
        [
            angles[:, finger == f].mean(axis=1) if np.any(finger == f) else np.zeros(len(angles))
            for f in range(len(FINGERS))
        ],
        axis=1,
    )


def _cell(f: int, w: int, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of finger f's cell in an image of w × h."""
    cw = w / len(FINGERS)
    return int(round(f * cw)), int(round(_CELLS[0] * h)), int(round((f + 1) * cw)), int(round(_CELLS[1] * h))


def _pivot(f: int, w: int, h: int) -> tuple[float, float, float]:
    """Pivot (x, y) and finger length at size w × h."""
    cw = w / len(FINGERS)
    ch = (_CELLS[1] - _CELLS[0]) * h
    return (f + 0.5) * cw, (_CELLS[0] * h + _CELLS[1] * h) / 2, 0.4 * min(cw, ch)


class HandRenderer:
    """Draws five fingers at given flexion plus the frame number; `jpeg()` gives the camera's bytes."""

    def __init__(self, width: int, height: int, quality: int = 80) -> None:
        self.width, self.height, self.quality = width, height, quality
        self.rw, self.rh = max(64, width // 4), max(48, height // 4)
        base = np.full((self.rh, self.rw, 3), _BG, np.uint8)
        cv2.rectangle(base, (0, int(0.96 * self.rh)), (self.rw, self.rh), (90, 110, 150), -1)  # palm edge
        self.base = base

    def render(self, flexion: np.ndarray, number: int) -> np.ndarray:
        """BGR image of the full size."""
        img = self.base.copy()
        w, h = self.rw, self.rh
        y1 = max(1, int(round(_STRIP[1] * h)))
        bw = w / CODE_BITS
        for b in range(CODE_BITS):
            if (number >> (CODE_BITS - 1 - b)) & 1:
                img[:y1, int(round(b * bw)) : int(round((b + 1) * bw))] = 235
            else:
                img[:y1, int(round(b * bw)) : int(round((b + 1) * bw))] = 15
        cv2.putText(
            img,
            f"#{number}",
            (2, int(0.2 * h)),
            cv2.FONT_HERSHEY_PLAIN,
            max(0.6, h / 200),
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        shift = 4  # sub-pixel coordinates (1/16 px): smooth motion, measurable flexion
        thick = max(2, int(round(0.1 * w / len(FINGERS))))
        for f, theta in enumerate(flexion[: len(FINGERS)]):
            px, py, length = _pivot(f, w, h)
            tx, ty = px + length * np.sin(theta), py - length * np.cos(theta)
            # OpenCV puts pixel i's centre at i; our layout (and resize) at i + 0.5
            p0 = (int(round((px - 0.5) * 16)), int(round((py - 0.5) * 16)))
            p1 = (int(round((tx - 0.5) * 16)), int(round((ty - 0.5) * 16)))
            cv2.line(img, p0, p1, (235, 235, 235), thick, cv2.LINE_AA, shift)
        return cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_LINEAR)

    def jpeg(self, flexion: np.ndarray, number: int) -> bytes:
        ok, buf = cv2.imencode(".jpg", self.render(flexion, number), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise DexumiError("sim camera: JPEG encoding failed")
        return buf.tobytes()


def measure_flexion(image: np.ndarray) -> np.ndarray:
    """Each finger's flexion (5,) measured from a sim-camera image (any size): the angle of the centroid of
    the bright pixels in the finger's cell about its pivot. Reads only pixels — no ground truth."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    out = np.empty(len(FINGERS))
    for f in range(len(FINGERS)):
        x0, y0, x1, y1 = _cell(f, w, h)
        roi = np.clip(gray[y0:y1, x0:x1].astype(np.float32) - (_BG + 20), 0, None)
        m = cv2.moments(roi)
        if m["m00"] <= 0:
            out[f] = np.nan
            continue
        px, py, _ = _pivot(f, w, h)
        # pixel centres are at +0.5 in the drawing's coordinates
        cx, cy = m["m10"] / m["m00"] + x0 + 0.5, m["m01"] / m["m00"] + y0 + 0.5
        out[f] = np.arctan2(cx - px, py - cy)
    return out


def read_frame_number(image: np.ndarray) -> int:
    """The frame number from the code strip of a sim-camera image (any size)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    row = gray[: max(1, int(_STRIP[1] * h * 0.8))].mean(axis=0)
    bw = w / CODE_BITS
    bits = [row[int((b + 0.5) * bw)] > 128 for b in range(CODE_BITS)]
    return int("".join("1" if b else "0" for b in bits), 2)


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
