"""The one small interface every wrist-pose source implements (the cameras' lifecycle, docs/pose.md).

A source is made from a spec string (`make_pose`), opened, read sample by sample and closed; `reconnect()`
closes and reopens it after `PoseLost`. `read(timeout)` blocks until the next `PoseSample` (None on
timeout). A simulated source also gives `truth()`: every sample it generated, including the ones it
dropped, so tests count losses against the truth.

Conventions (every source): position in metres, orientation a unit quaternion **scalar-last** `(x, y, z,
w)` (scipy's `Rotation.from_quat` order) of the tracked frame in the source's world frame. Device time in
seconds on the source's own clock; host time = host monotonic seconds when the sample arrived.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

#: Tracking states (ARKit's `ARCamera.TrackingState` reduced to three): the pose is good, usable with care
#: (ARKit "limited", a tracker occluded for a moment), or absent.
TRACKING, LIMITED, LOST = 0, 1, 2
STATE_NAMES = {TRACKING: "tracking", LIMITED: "limited", LOST: "lost"}
STATE_CODES = {v: k for k, v in STATE_NAMES.items()}


class PoseLost(DexumiError):
    """The pose source stopped delivering (unplugged, network gone, app closed)."""


@dataclass(frozen=True)
class PoseSample:
    """One pose as it arrived. `position` (3,) m, `orientation` (4,) quaternion x, y, z, w.

    `index` is the source's sequence number (a jump is an exact count of dropped samples; -1: unknown).
    `mapped_time` is the device time mapped onto the host clock by the source's online clock fit (NaN
    before there is one); the recording remaps with the final fit (`dexumi.pose.pose_times`).
    When `state` is LOST, position and orientation are NaN.
    """

    index: int
    device_time: float
    host_time: float
    position: np.ndarray
    orientation: np.ndarray
    state: int = TRACKING
    quality: float = 1.0  # 0..1, the source's confidence (1 when it does not say)
    mapped_time: float = float("nan")

    @property
    def tracking(self) -> bool:
        return self.state != LOST


class PoseSource(ABC):
    """Open with `open()` (or `with`), then `read()` samples; `close()` is safe twice."""

    #: True when `PoseSample.index` is the source's own counter (gaps are exact drop counts).
    counts_samples: bool = True

    def __init__(self, name: str, spec: str) -> None:
        self.name = name
        self.spec = spec
        self.opened = False
        self.rate_hz: float | None = None  # nominal sample rate, when known

    @abstractmethod
    def open(self) -> PoseSource:
        """Start the source. Raises DexumiError with a one-line reason."""

    @abstractmethod
    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        """Block up to `timeout` s for the next sample (None on timeout). Raises PoseLost."""

    @abstractmethod
    def close(self) -> None:
        """Release the device / socket / thread; safe to call twice."""

    def reconnect(self) -> PoseSource:
        """Close and reopen (after PoseLost); the sequence numbers may restart."""
        self.close()
        return self.open()

    def truth(self) -> np.ndarray | None:
        """Simulated sources: a record of every generated sample (see the source); real ones: None."""
        return None

    def __enter__(self) -> PoseSource:
        return self if self.opened else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


def samples_to_arrays(samples: list[PoseSample]) -> dict[str, np.ndarray]:
    """Column arrays of samples: index, device_time, host_time, mapped_time, position, orientation, state,
    quality (what `/raw/pose/<name>` stores)."""
    n = len(samples)
    return {"index": np.fromiter((s.index for s in samples), np.int64, n),
            "device_time": np.fromiter((s.device_time for s in samples), np.float64, n),
            "host_time": np.fromiter((s.host_time for s in samples), np.float64, n),
            "mapped_time": np.fromiter((s.mapped_time for s in samples), np.float64, n),
            "position": np.array([s.position for s in samples], np.float64).reshape(n, 3),
            "orientation": np.array([s.orientation for s in samples], np.float64).reshape(n, 4),
            "state": np.fromiter((s.state for s in samples), np.uint8, n),
            "quality": np.fromiter((s.quality for s in samples), np.float32, n)}
