"""The flat sim camera's picture: five finger bars at the fingers' flexion and a frame-number code strip.

`HandRenderer` draws it; `measure_flexion` and `read_frame_number` read it back from pixels alone (no ground
truth), which is what the latency estimate and the frame-store tests measure. A module of its own, below the
devices and the episode file, because both the camera and the episode's latency self-check use it.
"""

from __future__ import annotations

import cv2
import numpy as np

from dexumi.errors import DexumiError
from firmware_bridge.fingers import FINGERS, finger_of_joint

CODE_BITS = 24
_BG = 40  # background grey level
_STRIP = (0.0, 0.07)  # frame-number code strip, fraction of the height
_CELLS = (0.24, 0.92)  # finger cells, fraction of the height


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
