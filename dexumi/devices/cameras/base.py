"""The one small interface every camera source implements (like LeRobot's `Camera`).

A source is opened, read frame by frame, and closed. `read()` blocks until the next frame and returns a
`CameraFrame` (JPEG bytes for MJPG pass-through, or a BGR image), or `None` when a finite source (a file)
has ended. A live camera that stops delivering raises `CameraLost`; the grabber then records a gap and
reopens it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dexumi.errors import DexumiError
from dexumi.types import CameraFrame

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------ the camera timestamp rule (the one)
def frame_stamp(frame: CameraFrame) -> float:
    """The frame's own time: the source's timestamp when it gives one, else the grab time. For spacing
    (gaps, windows) on the source's clock — not necessarily the host's."""
    return frame.device_time if frame.device_time is not None else frame.grab_time


def host_stamp(frame: CameraFrame, device_time_is_host_clock: bool) -> float:
    """The frame's time on the host clock: its device time if the source stamps with the host clock (V4L2
    buffer timestamps), else the grab time."""
    return frame.device_time if device_time_is_host_clock and frame.device_time is not None else frame.grab_time


def exposure_times(
    frames: Sequence[CameraFrame], device_time_is_host_clock: bool, latency_s: float = 0.0
) -> np.ndarray:
    """Exposure times on the recording clock: `host_stamp` − the camera's latency."""
    return np.array([host_stamp(f, device_time_is_host_clock) for f in frames], np.float64) - latency_s


class CameraLost(DexumiError):
    """The camera stopped delivering frames (unplugged, driver error)."""


@dataclass(frozen=True)
class CameraSettings:
    """Image size, frame rate and pixel format: asked for, or granted (read back after open)."""

    width: int
    height: int
    fps: float
    fourcc: str = "MJPG"

    @property
    def period_s(self) -> float:
        return 1.0 / self.fps if self.fps > 0 else 0.0


def report_mismatch(name: str, asked: CameraSettings, granted: CameraSettings) -> list[str]:
    """Warn about every setting the camera did not grant; returns the messages (for status displays)."""
    notes = []
    if (asked.width, asked.height) != (granted.width, granted.height):
        notes.append(f"asked {asked.width}x{asked.height}, got {granted.width}x{granted.height}")
    if asked.fps and granted.fps and abs(asked.fps - granted.fps) > 0.01 * asked.fps:
        notes.append(f"asked {asked.fps:g} fps, got {granted.fps:g} fps")
    if asked.fourcc and granted.fourcc and asked.fourcc != granted.fourcc:
        notes.append(f"asked {asked.fourcc}, got {granted.fourcc or '?'}")
    for n in notes:
        log.warning("camera %s: %s; using what it granted", name, n)
    return notes


class CameraSource(ABC):
    """Open with `open()` (or `with`), then `read()` frames; `granted` says what the source really delivers."""

    #: True when `CameraFrame.index` is the source's own frame counter (a jump is an exact drop count);
    #: False when the source cannot tell, so drops must be found from timestamp gaps.
    counts_frames: bool = True
    #: True when `CameraFrame.device_time` is on the host monotonic clock (V4L2 buffer time, sim camera).
    device_time_is_host_clock: bool = False

    def __init__(self, name: str, spec: str) -> None:
        self.name = name
        self.spec = spec
        self.granted: CameraSettings | None = None  # set by open(), kept after close()
        self.mismatches: list[str] = []
        self.opened = False

    @abstractmethod
    def open(self) -> CameraSource:
        """Start the source; sets `granted`. Raises DexumiError with a one-line reason."""

    @abstractmethod
    def read(self) -> CameraFrame | None:
        """Block until the next frame; None when a finite source has ended. Raises CameraLost."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def __enter__(self) -> CameraSource:
        return self if self.opened else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r}, granted={self.granted})"
